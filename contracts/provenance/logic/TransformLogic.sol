// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IProvenanceRegistry as P} from "../IProvenanceRegistry.sol";
import {IConsortiumRegistry} from "../../identity/IConsortiumRegistry.sol";
import {ProvenanceStorage} from "../ProvenanceStorage.sol";
import {ProvenanceCore} from "../ProvenanceCore.sol";

/// @title Transformations (external library of ProvenanceRegistry)
/// @notice Runs by delegatecall in the registry's context: its storage, its events, its address.
library TransformLogic {
    /// @notice See ProvenanceRegistry.transform; `org` is the sender's organisation.
    function transform(
        IConsortiumRegistry registry,
        uint64 org,
        bytes32 kind,
        bytes32[] calldata inputs,
        uint128[] calldata inputQuantities,
        P.NewLot[] calldata outputs,
        bytes32 metadataHash
    ) external returns (bytes32[] memory outputIds) {
        P.TransformKind memory rule = ProvenanceStorage.layout().kinds[kind];
        if (!rule.enabled) revert P.ProvenanceUnknownTransformKind(kind);
        if (inputs.length != inputQuantities.length || inputs.length == 0 || outputs.length == 0) {
            revert P.ProvenanceLengthMismatch();
        }
        ProvenanceCore.checkCount(inputs.length * outputs.length, ProvenanceCore.MAX_BATCH_ITEMS);

        uint256[4] memory inBase = _consumeInputs(org, inputs, inputQuantities);
        uint256[4] memory outBase;
        (outputIds, outBase) = _registerOutputs(registry, org, outputs);
        _checkMassBalance(inBase, outBase, rule.toleranceBps);
        _recordEdges(kind, inputs, inputQuantities, outputs, outputIds);
        emit P.Transformed(keccak256(abi.encode(inputs, outputIds)), kind, org, metadataHash);
    }

    function _consumeInputs(
        uint64 org,
        bytes32[] calldata inputs,
        uint128[] calldata inputQuantities
    ) private returns (uint256[4] memory inBase) {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        for (uint256 i = 0; i < inputs.length; ++i) {
            P.Batch storage b = ProvenanceCore.requireHolder(inputs[i], org);
            _addBase(s, inBase, s.products[b.gtin].unit, inputQuantities[i]);
            ProvenanceCore.consume(inputs[i], b, inputQuantities[i]);
        }
    }

    function _registerOutputs(
        IConsortiumRegistry registry,
        uint64 org,
        P.NewLot[] calldata outputs
    ) private returns (bytes32[] memory outputIds, uint256[4] memory outBase) {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        outputIds = new bytes32[](outputs.length);
        for (uint256 j = 0; j < outputs.length; ++j) {
            outputIds[j] = ProvenanceCore.registerLot(registry, outputs[j], org);
            _addBase(s, outBase, s.products[outputs[j].gtin].unit, outputs[j].quantity);
        }
    }

    /// @dev Dimension 0 is "not convertible": nothing to compare. A dimension only outputs have
    /// (pieces made from kilograms) cannot be balanced either.
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

    function _addBase(
        ProvenanceStorage.Layout storage s,
        uint256[4] memory sums,
        bytes3 unit,
        uint128 quantity
    ) private view {
        P.UnitOfMeasure memory u = s.units[unit];
        if (u.dimension != 0 && u.dimension < 4) sums[u.dimension] += uint256(quantity) * u.toBase;
    }
}
