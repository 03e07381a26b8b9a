// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IProvenanceRegistry as P} from "../IProvenanceRegistry.sol";
import {IConsortiumRegistry} from "../../identity/IConsortiumRegistry.sol";
import {ICredentialRegistry} from "../../identity/ICredentialRegistry.sol";
import {ProvenanceStorage} from "../ProvenanceStorage.sol";
import {ProvenanceCore} from "../ProvenanceCore.sol";

/// @title Transformations (external library of ProvenanceRegistry)
/// @notice Runs by delegatecall in the registry's context: its storage, its events, its address.
library TransformLogic {
    /// @notice See ProvenanceRegistry.transform; `org` is the sender's organisation. The registry
    /// emits Transformed.
    function transform(
        IConsortiumRegistry registry,
        ICredentialRegistry credentials,
        uint64 org,
        bytes32 kind,
        bytes32[] calldata inputs,
        uint128[] calldata inputQuantities,
        P.NewLot[] calldata outputs
    ) external returns (bytes32[] memory outputIds) {
        if (!ProvenanceStorage.layout().kinds[kind].enabled) revert P.ProvenanceUnknownTransformKind(kind);
        if (inputs.length != inputQuantities.length || inputs.length == 0 || outputs.length == 0) {
            revert P.ProvenanceLengthMismatch();
        }
        ProvenanceCore.checkCount(inputs.length * outputs.length, ProvenanceCore.MAX_BATCH_ITEMS);
        (uint256[4] memory inBase, uint256 claims) = _consumeInputs(credentials, org, inputs, inputQuantities);
        outputIds = _registerOutputs(registry, kind, inBase, org, outputs, claims);
        _recordEdges(kind, inputs, inputQuantities, outputs, outputIds);
    }

    /// @dev Consumes the inputs; returns their base amounts per dimension and the claims every
    /// input carries validly (its producer's credential still valid) that `org` is certified for too.
    function _consumeInputs(
        ICredentialRegistry credentials,
        uint64 org,
        bytes32[] calldata inputs,
        uint128[] calldata inputQuantities
    ) private returns (uint256[4] memory inBase, uint256 claims) {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        claims = type(uint256).max;
        for (uint256 i = 0; i < inputs.length; ++i) {
            ProvenanceStorage.BatchRecord storage b = ProvenanceCore.requireHolder(inputs[i], org);
            (uint8 dimension, uint256 base) = _toBase(s, s.products[b.gtin], inputQuantities[i]);
            if (dimension != 0) inBase[dimension] += base;
            if (claims != 0) claims &= _validClaims(s, credentials, s.batchClaims[inputs[i]], b.producer);
            ProvenanceCore.consume(inputs[i], b, inputQuantities[i]);
        }
        if (claims != 0) claims = _validClaims(s, credentials, claims, org);
    }

    /// @dev Registers the outputs, each in a dimension the inputs have, and checks mass balance
    /// per dimension within the kind's tolerance.
    function _registerOutputs(
        IConsortiumRegistry registry,
        bytes32 kind,
        uint256[4] memory inBase,
        uint64 org,
        P.NewLot[] calldata outputs,
        uint256 claims
    ) private returns (bytes32[] memory outputIds) {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        uint256[4] memory outBase;
        outputIds = new bytes32[](outputs.length);
        ProvenanceStorage.RegisterCache memory cache;
        for (uint256 j = 0; j < outputs.length; ++j) {
            outputIds[j] = ProvenanceCore.registerLot(registry, outputs[j], org, cache);
            (uint8 dimension, uint256 base) = _toBase(s, s.products[outputs[j].gtin], outputs[j].quantity);
            // An output in a dimension no input has (pieces from kilograms, or a unit that converts
            // to nothing) could not be balanced: mass balance would be dodged by changing dimension.
            if (dimension == 0 || inBase[dimension] == 0)
                revert P.ProvenanceDimensionMismatch(outputs[j].gtin, dimension);
            outBase[dimension] += base;
            if (claims != 0) {
                s.batchClaims[outputIds[j]] = claims;
                emit P.ClaimsCarried(outputIds[j], claims);
            }
        }
        _checkMassBalance(inBase, outBase, s.kinds[kind].toleranceBps);
    }

    /// @dev A quantity of a product in its base dimension: through its net content per unit when
    /// it has one (pieces of 10 kg, litres of 1.03 kg), else through its own unit.
    function _toBase(
        ProvenanceStorage.Layout storage s,
        ProvenanceStorage.ProductRecord storage p,
        uint128 quantity
    ) private view returns (uint8 dimension, uint256 base) {
        if (p.netPerUnit != 0) {
            P.UnitOfMeasure memory net = s.units[p.netUnit];
            // Net content has QUANTITY_DECIMALS (3) decimals like quantities: divide once.
            return (net.dimension, (uint256(quantity) * p.netPerUnit * net.toBase) / 1e3);
        }
        P.UnitOfMeasure memory u = s.units[p.unit];
        return (u.dimension, uint256(quantity) * u.toBase);
    }

    /// @dev The claims of `bits` whose credential type `org` holds a valid credential of now.
    function _validClaims(
        ProvenanceStorage.Layout storage s,
        ICredentialRegistry credentials,
        uint256 bits,
        uint64 org
    ) private view returns (uint256 valid) {
        for (uint256 bit = 1; bits != 0; ++bit) {
            if (bits & 1 != 0) {
                bytes32 credentialType = s.claimCredential[uint8(bit)];
                if (credentialType != 0 && credentials.hasValidCredential(org, credentialType)) valid |= 1 << (bit - 1);
            }
            bits >>= 1;
        }
    }

    function _checkMassBalance(uint256[4] memory inBase, uint256[4] memory outBase, uint16 toleranceBps) private pure {
        for (uint8 d = 1; d < 4; ++d) {
            // Widened first: 10_000 + toleranceBps in uint16 overflows above 55,535 bps.
            if (inBase[d] != 0 && outBase[d] * 10_000 > inBase[d] * (10_000 + uint256(toleranceBps))) {
                revert P.ProvenanceMassBalance(d, inBase[d], outBase[d], toleranceBps);
            }
        }
    }

    /// @dev An edge from every input to every output, carrying the input's quantity attributed to
    /// that output (in proportion to the outputs' quantities), in the input's unit.
    function _recordEdges(
        bytes32 kind,
        bytes32[] calldata inputs,
        uint128[] calldata inputQuantities,
        P.NewLot[] calldata outputs,
        bytes32[] memory outputIds
    ) private {
        uint256 totalOut = 0;
        for (uint256 j = 0; j < outputs.length; ++j) totalOut += outputs[j].quantity;
        for (uint256 i = 0; i < inputs.length; ++i) {
            for (uint256 j = 0; j < outputs.length; ++j) {
                ProvenanceCore.addEdge(
                    inputs[i],
                    outputIds[j],
                    kind,
                    uint128((uint256(inputQuantities[i]) * outputs[j].quantity) / totalOut)
                );
            }
        }
    }
}
