// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IProvenanceRegistry as P} from "../IProvenanceRegistry.sol";
import {IConsortiumRegistry} from "../../identity/IConsortiumRegistry.sol";
import {ProvenanceStorage} from "../ProvenanceStorage.sol";
import {ProvenanceCore} from "../ProvenanceCore.sol";
import {GS1} from "../../common/GS1.sol";

/// @title Products and governance tables (external library of ProvenanceRegistry)
/// @notice Runs by delegatecall in the registry's context: its storage, its events, its address.
library ProductLogic {
    /// @notice See ProvenanceRegistry.registerProduct; `org` is the sender's organisation.
    function registerProduct(
        IConsortiumRegistry registry,
        uint64 org,
        uint64 gtin,
        bytes3 unit,
        bytes32 masterDataHash
    ) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        if (s.products[gtin].org != 0) revert P.ProvenanceProductExists(gtin);
        bytes memory digits = _gtinDigits(gtin);
        // The company prefix follows the indicator digit; the check digit is not part of it.
        (uint64 holder, ) = registry.orgOfKey(string(_slice(digits, 1, 13)));
        if (holder != org) revert P.ProvenanceForeignPrefix(gtin, org);
        if (s.units[unit].toBase == 0) revert P.ProvenanceUnknownUnit(unit);
        s.products[gtin] = P.Product(org, unit);
        emit P.ProductRegistered(gtin, org, unit, masterDataHash);
    }

    function setUnitOfMeasure(bytes3 unit, uint8 dimension, uint64 toBase) external {
        ProvenanceCore.setUnit(unit, dimension, toBase);
    }

    function setTransformKind(bytes32 kind, bool enabled, uint16 toleranceBps) external {
        ProvenanceCore.setKind(kind, enabled, toleranceBps);
    }

    /// @dev The 14 digits of a GTIN-14 with a valid check digit.
    function _gtinDigits(uint64 gtin) private pure returns (bytes memory digits) {
        if (gtin == 0 || gtin > 99_999_999_999_999) revert P.ProvenanceInvalidGtin(gtin);
        digits = bytes(Strings.toString(gtin));
        if (digits.length < 14) digits = abi.encodePacked(new bytes(14 - digits.length), digits);
        for (uint256 i = 0; i < 14; ++i) if (digits[i] == 0) digits[i] = "0";
        if (!GS1.hasValidCheckDigit(digits)) revert P.ProvenanceInvalidGtin(gtin);
    }

    function _slice(bytes memory data, uint256 start, uint256 end_) private pure returns (bytes memory out) {
        out = new bytes(end_ - start);
        for (uint256 i = start; i < end_; ++i) out[i - start] = data[i];
    }
}
