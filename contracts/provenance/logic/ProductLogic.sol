// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IProvenanceRegistry as P} from "../IProvenanceRegistry.sol";
import {IConsortiumRegistry} from "../../identity/IConsortiumRegistry.sol";
import {ICredentialRegistry} from "../../identity/ICredentialRegistry.sol";
import {ProvenanceStorage} from "../ProvenanceStorage.sol";
import {ProvenanceCore} from "../ProvenanceCore.sol";
import {GS1} from "../../common/GS1.sol";
import {Roles} from "../../common/Roles.sol";

/// @title Products, claims and governance tables (external library of ProvenanceRegistry)
/// @notice Runs by delegatecall in the registry's context: its storage, its events, its address.
library ProductLogic {
    /// @notice See ProvenanceRegistry.registerProduct and registerProductWithNetContent; `org` is
    /// the sender's organisation; `netPerUnit` 0 registers no net content.
    function registerProduct(
        IConsortiumRegistry registry,
        uint64 org,
        uint64 gtin,
        bytes3 unit,
        bytes3 netUnit,
        uint64 netPerUnit,
        bytes32 masterDataHash
    ) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        if (s.products[gtin].org != 0) revert P.ProvenanceProductExists(gtin);
        bytes memory digits = _gtinDigits(gtin);
        // The company prefix follows the indicator digit; the check digit is not part of it.
        (uint64 holder, uint8 prefixLength) = registry.orgOfKey(string(_slice(digits, 1, 13)));
        if (holder != org) revert P.ProvenanceForeignPrefix(gtin, org);
        if (s.units[unit].toBase == 0) revert P.ProvenanceUnknownUnit(unit);
        if (netPerUnit != 0) {
            P.UnitOfMeasure memory net = s.units[netUnit];
            if (net.toBase == 0 || net.dimension == 0) revert P.ProvenanceUnknownUnit(netUnit);
            if (netPerUnit > type(uint48).max) revert P.ProvenanceQuantityRange(netPerUnit);
        }
        s.products[gtin] = ProvenanceStorage.ProductRecord({
            org: ProvenanceCore.toOrg32(org),
            unit: unit,
            netUnit: netPerUnit == 0 ? bytes3(0) : netUnit,
            // Checked above: netPerUnit < 2^48.
            netPerUnit: uint48(netPerUnit),
            prefix: _prefixDigits(digits, prefixLength),
            prefixLength: prefixLength
        });
        emit P.ProductRegistered(gtin, org, unit, masterDataHash);
        if (netPerUnit != 0) emit P.ProductNetContentSet(gtin, netUnit, netPerUnit);
    }

    function setUnitOfMeasure(bytes3 unit, uint8 dimension, uint64 toBase) external {
        ProvenanceCore.setUnit(unit, dimension, toBase);
    }

    function setTransformKind(bytes32 kind, bool enabled, uint16 toleranceBps) external {
        ProvenanceCore.setKind(kind, enabled, toleranceBps);
    }

    /// @notice See ProvenanceRegistry.setAllocationRule (governance checked by the caller).
    function setAllocationRule(bytes32 kind, uint8 rule) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        if (rule > 4) revert P.ProvenanceInvalidAllocationRule(kind, rule);
        if (!s.kinds[kind].enabled) revert P.ProvenanceUnknownTransformKind(kind);
        s.allocationRules[kind] = rule;
        emit P.AllocationRuleSet(kind, rule);
    }

    /// @notice See ProvenanceRegistry.defineClaim (governance checked by the caller).
    function defineClaim(bytes32 claim, bytes32 credentialType) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        if (claim == 0) revert P.ProvenanceUnknownClaim(claim);
        uint8 bit = s.claimBits[claim];
        if (bit == 0) {
            if (s.claimCount == type(uint8).max) revert P.ProvenanceTooManyClaims();
            bit = ++s.claimCount;
            s.claimBits[claim] = bit;
        }
        s.claimCredential[bit] = credentialType;
        emit P.ClaimDefined(claim, credentialType, bit);
    }

    /// @notice See ProvenanceRegistry.addClaim.
    function addClaim(
        IConsortiumRegistry registry,
        ICredentialRegistry credentials,
        address sender,
        bytes32 batchId,
        bytes32 claim
    ) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        uint64 org = registry.requireAgent(sender, Roles.PRODUCER | Roles.PROCESSOR);
        ProvenanceStorage.BatchRecord storage b = s.batches[batchId];
        if (b.status == P.BatchStatus.None) revert P.ProvenanceUnknownBatch(batchId);
        if (b.producer != org) revert P.ProvenanceNotOwner(batchId, org);
        uint8 bit = s.claimBits[claim];
        bytes32 credentialType = s.claimCredential[bit];
        if (bit == 0 || credentialType == 0) revert P.ProvenanceUnknownClaim(claim);
        if (!credentials.hasValidCredential(org, credentialType)) revert P.ProvenanceClaimNotCertified(claim, org);
        s.batchClaims[batchId] |= 1 << (bit - 1);
        emit P.ClaimAdded(batchId, claim, org);
    }

    /// @dev The 14 digits of a GTIN-14 with a valid check digit.
    function _gtinDigits(uint64 gtin) private pure returns (bytes memory digits) {
        if (gtin == 0 || gtin > 99_999_999_999_999) revert P.ProvenanceInvalidGtin(gtin);
        digits = bytes(Strings.toString(gtin));
        if (digits.length < 14) digits = abi.encodePacked(new bytes(14 - digits.length), digits);
        for (uint256 i = 0; i < 14; ++i) if (digits[i] == 0) digits[i] = "0";
        if (!GS1.hasValidCheckDigit(digits)) revert P.ProvenanceInvalidGtin(gtin);
    }

    /// @dev The company prefix (the `length` ≤ 12 digits after the indicator), left-aligned.
    function _prefixDigits(bytes memory digits, uint8 length) private pure returns (bytes12 prefix) {
        for (uint256 i = 0; i < length; ++i) prefix |= bytes12(digits[i + 1]) >> (8 * i);
    }

    function _slice(bytes memory data, uint256 start, uint256 end_) private pure returns (bytes memory out) {
        out = new bytes(end_ - start);
        for (uint256 i = start; i < end_; ++i) out[i - start] = data[i];
    }
}
