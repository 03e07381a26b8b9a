// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IProvenanceRegistry as P} from "../IProvenanceRegistry.sol";
import {IConsortiumRegistry} from "../../identity/IConsortiumRegistry.sol";
import {ProvenanceStorage} from "../ProvenanceStorage.sol";
import {ProvenanceCore} from "../ProvenanceCore.sol";

/// @title Custody hand-overs, splits and ends (external library of ProvenanceRegistry)
/// @notice Runs by delegatecall in the registry's context: its storage, its events, its address.
library CustodyLogic {
    /// @notice See ProvenanceRegistry.offer.
    function offer(
        IConsortiumRegistry registry,
        address sender,
        bytes32 batchId,
        uint128 quantity,
        uint64 to,
        P.HandoverKind kind
    ) external {
        uint64 from = registry.requireAgent(sender, ProvenanceCore.HANDLERS);
        ProvenanceCore.offer(registry, batchId, quantity, from, to, kind);
    }

    /// @notice See ProvenanceRegistry.accept.
    function accept(
        IConsortiumRegistry registry,
        address sender,
        bytes32 batchId,
        uint128 quantity,
        P.HandoverKind kind,
        string calldata gln
    ) external returns (bytes32) {
        uint64 receiver = registry.requireAgent(sender, ProvenanceCore.HANDLERS);
        P.Offer memory pending = ProvenanceStorage.layout().offers[batchId];
        if (pending.to == 0) revert P.ProvenanceNoOffer(batchId);
        if (pending.to != receiver) revert P.ProvenanceNotReceiver(batchId, receiver);
        if (pending.quantity != quantity || pending.kind != kind) {
            revert P.ProvenanceOfferChanged(batchId, pending.quantity, pending.kind);
        }
        return ProvenanceCore.complete(registry, batchId, pending, gln, sender);
    }

    /// @notice See ProvenanceRegistry.cancelOffer.
    function cancelOffer(
        IConsortiumRegistry registry,
        address sender,
        bytes32 batchId,
        string calldata reason
    ) external {
        uint64 org = registry.requireAgent(sender, ProvenanceCore.HANDLERS);
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        P.Offer memory pending = s.offers[batchId];
        if (pending.to == 0) revert P.ProvenanceNoOffer(batchId);
        ProvenanceStorage.BatchRecord storage b = s.batches[batchId];
        uint64 from = pending.kind == P.HandoverKind.Ownership ? b.owner : b.custodian;
        if (org != pending.to && org != from) revert P.ProvenanceNotReceiver(batchId, org);
        delete s.offers[batchId];
        delete s.returnOffers[batchId];
        b.status = P.BatchStatus.Active;
        emit P.HandoverCancelled(batchId, org, reason);
    }

    /// @notice See ProvenanceRegistry.split.
    function split(
        IConsortiumRegistry registry,
        address sender,
        bytes32 batchId,
        uint128[] calldata quantities
    ) external returns (bytes32[] memory children) {
        uint64 org = registry.requireAgent(sender, ProvenanceCore.HANDLERS);
        ProvenanceCore.checkCount(quantities.length, ProvenanceCore.MAX_BATCH_ITEMS);
        ProvenanceCore.requireHolder(batchId, org);
        children = new bytes32[](quantities.length);
        for (uint256 i = 0; i < quantities.length; ++i) children[i] = ProvenanceCore.splitOff(batchId, quantities[i]);
    }

    /// @notice See ProvenanceRegistry.end.
    function end(
        IConsortiumRegistry registry,
        address sender,
        bytes32 batchId,
        bool destroyed,
        string calldata reason
    ) external {
        uint64 org = registry.requireAgent(sender, ProvenanceCore.HANDLERS);
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        ProvenanceStorage.BatchRecord storage b = s.batches[batchId];
        if (b.status == P.BatchStatus.None) revert P.ProvenanceUnknownBatch(batchId);
        if (b.owner != org) revert P.ProvenanceNotOwner(batchId, org);
        if (ProvenanceCore.custodianOf(batchId, b.custodian) != org) revert P.ProvenanceNotCustodian(batchId, org);
        if (b.status != P.BatchStatus.Active) revert P.ProvenanceNotActive(batchId, b.status);
        if (s.unitOf[batchId] != 0) revert P.ProvenanceInUnit(batchId, s.unitOf[batchId]);
        b.status = destroyed ? P.BatchStatus.Destroyed : P.BatchStatus.Consumed;
        emit P.BatchEnded(batchId, b.status, reason);
    }
}
