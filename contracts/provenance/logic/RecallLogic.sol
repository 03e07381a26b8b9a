// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IProvenanceRegistry as P} from "../IProvenanceRegistry.sol";
import {IConsortiumRegistry} from "../../identity/IConsortiumRegistry.sol";
import {ProvenanceStorage} from "../ProvenanceStorage.sol";
import {ProvenanceCore} from "../ProvenanceCore.sol";
import {Roles} from "../../common/Roles.sol";

/// @title Recalls (external library of ProvenanceRegistry)
/// @notice Runs by delegatecall in the registry's context: its storage, its events, its address.
library RecallLogic {
    /// @notice See ProvenanceRegistry.recall.
    function recall(IConsortiumRegistry registry, address sender, bytes32 batchId, string calldata reason) external {
        P.Batch storage b = ProvenanceStorage.layout().batches[batchId];
        if (b.status == P.BatchStatus.None) revert P.ProvenanceUnknownBatch(batchId);
        if (b.recall != P.RecallState.None) revert P.ProvenanceAlreadyRecalled(batchId);
        uint64 org = 0;
        if (!ProvenanceCore.isGovernor(registry, sender)) {
            uint256 roles = registry.effectiveRoles(sender);
            org = registry.agent(sender).orgId;
            bool producer = org == b.producer && (roles & ProvenanceCore.MAKERS) != 0;
            if (!producer && (roles & Roles.AUDITOR) == 0) revert P.ProvenanceNotAllowedToRecall(sender, batchId);
        }
        b.recall = P.RecallState.Direct;
        ProvenanceCore.flagUnit(batchId);
        emit P.Recalled(batchId, org, reason);
    }

    /// @notice See ProvenanceRegistry.propagateRecall.
    function propagateRecall(bytes32[] calldata parents, bytes32[] calldata children) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        if (parents.length != children.length) revert P.ProvenanceLengthMismatch();
        ProvenanceCore.checkCount(parents.length, ProvenanceCore.MAX_BATCH_ITEMS * 2);
        for (uint256 i = 0; i < parents.length; ++i) {
            if (s.batches[parents[i]].recall == P.RecallState.None) revert P.ProvenanceNotRecalled(parents[i]);
            if (!s.edges[ProvenanceCore.edgeKey(parents[i], children[i])])
                revert P.ProvenanceNotAnEdge(parents[i], children[i]);
            P.Batch storage child = s.batches[children[i]];
            if (child.recall != P.RecallState.None) continue;
            child.recall = P.RecallState.Propagated;
            ProvenanceCore.flagUnit(children[i]);
            emit P.RecallPropagated(children[i], parents[i]);
        }
    }
}
