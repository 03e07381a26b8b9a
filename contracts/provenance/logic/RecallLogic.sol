// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IProvenanceRegistry as P} from "../IProvenanceRegistry.sol";
import {IConsortiumRegistry} from "../../identity/IConsortiumRegistry.sol";
import {ProvenanceStorage} from "../ProvenanceStorage.sol";
import {ProvenanceCore} from "../ProvenanceCore.sol";
import {Roles} from "../../common/Roles.sol";

/// @title Governed recalls (external library of ProvenanceRegistry)
/// @notice Runs by delegatecall in the registry's context: its storage, its events, its address.
/// Recall authority (docs/adr/0009): governance; an agent with the producer or processor role of
/// the lot's producing organisation; an auditor of an organisation that the producer's org admin
/// or governance appointed for that producer. A batch is recalled while it is recalled directly
/// or while at least one propagated edge from a recalled parent reaches it (`recalledParents`).
library RecallLogic {
    uint256 private constant RECALLERS = Roles.PRODUCER | Roles.PROCESSOR;
    uint8 private constant BY_ORGANISATION = 1;
    uint8 private constant BY_GOVERNANCE = 2;

    /// @notice See ProvenanceRegistry.recall.
    function recall(IConsortiumRegistry registry, address sender, bytes32 batchId, string calldata reason) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        ProvenanceStorage.BatchRecord storage b = s.batches[batchId];
        if (b.status == P.BatchStatus.None) revert P.ProvenanceUnknownBatch(batchId);
        if (b.recall == P.RecallState.Direct) revert P.ProvenanceAlreadyRecalled(batchId);
        (bool allowed, uint64 org) = _mayRecall(registry, sender, b.producer);
        if (!allowed) revert P.ProvenanceNotAllowedToRecall(sender, batchId);
        bool wasClear = b.recall == P.RecallState.None;
        b.recall = P.RecallState.Direct;
        s.recaller[batchId] = org;
        if (wasClear) ProvenanceCore.flagUnit(batchId);
        emit P.Recalled(batchId, org, reason);
    }

    /// @notice See ProvenanceRegistry.withdrawRecall.
    function withdrawRecall(
        IConsortiumRegistry registry,
        address sender,
        bytes32 batchId,
        string calldata reason
    ) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        ProvenanceStorage.BatchRecord storage b = s.batches[batchId];
        if (b.recall != P.RecallState.Direct) revert P.ProvenanceNotDirectlyRecalled(batchId);
        uint64 by = 0;
        if (!ProvenanceCore.isGovernor(registry, sender)) {
            // The recalling organisation, through an agent that may still recall this lot.
            (bool allowed, uint64 org) = _mayRecall(registry, sender, b.producer);
            if (!allowed || org == 0 || org != s.recaller[batchId])
                revert P.ProvenanceNotAllowedToWithdraw(sender, batchId);
            by = org;
        }
        delete s.recaller[batchId];
        if (s.recalledParents[batchId] != 0) {
            b.recall = P.RecallState.Propagated;
        } else {
            b.recall = P.RecallState.None;
            _lift(batchId);
        }
        emit P.RecallWithdrawn(batchId, by, reason);
    }

    /// @notice See ProvenanceRegistry.propagateRecall.
    function propagateRecall(bytes32[] calldata parents, bytes32[] calldata children) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        _checkPairs(parents, children);
        for (uint256 i = 0; i < parents.length; ++i) {
            if (s.batches[parents[i]].recall == P.RecallState.None) revert P.ProvenanceNotRecalled(parents[i]);
            bytes32 key = ProvenanceCore.edgeKey(parents[i], children[i]);
            if (!s.edges[key]) revert P.ProvenanceNotAnEdge(parents[i], children[i]);
            if (s.propagatedEdge[key]) continue;
            s.propagatedEdge[key] = true;
            ++s.recalledParents[children[i]];
            ProvenanceStorage.BatchRecord storage child = s.batches[children[i]];
            if (child.recall == P.RecallState.None) {
                child.recall = P.RecallState.Propagated;
                ProvenanceCore.flagUnit(children[i]);
            }
            emit P.RecallPropagated(children[i], parents[i]);
        }
    }

    /// @notice See ProvenanceRegistry.propagateWithdrawal.
    function propagateWithdrawal(bytes32[] calldata parents, bytes32[] calldata children) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        _checkPairs(parents, children);
        for (uint256 i = 0; i < parents.length; ++i) {
            bytes32 key = ProvenanceCore.edgeKey(parents[i], children[i]);
            if (!s.propagatedEdge[key]) revert P.ProvenanceEdgeNotPropagated(parents[i], children[i]);
            if (s.batches[parents[i]].recall != P.RecallState.None) revert P.ProvenanceStillRecalled(parents[i]);
            delete s.propagatedEdge[key];
            bool lifted = false;
            // Counted when the edge was propagated, so at least 1.
            if (--s.recalledParents[children[i]] == 0) {
                ProvenanceStorage.BatchRecord storage child = s.batches[children[i]];
                if (child.recall == P.RecallState.Propagated) {
                    child.recall = P.RecallState.None;
                    _lift(children[i]);
                    lifted = true;
                }
            }
            emit P.RecallWithdrawalPropagated(children[i], parents[i], lifted);
        }
    }

    /// @notice See ProvenanceRegistry.appointRecallAuditor.
    function appointRecallAuditor(
        IConsortiumRegistry registry,
        address sender,
        uint64 producerOrg,
        uint64 auditorOrg
    ) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        bool byGovernance = ProvenanceCore.isGovernor(registry, sender);
        if (!byGovernance) _requireOrgAdmin(registry, sender, producerOrg);
        if (s.recallAuditors[producerOrg][auditorOrg] != 0)
            revert P.ProvenanceAlreadyAppointed(producerOrg, auditorOrg);
        if (!registry.isOrganisationActive(auditorOrg)) revert P.ProvenanceUnknownOrganisation(auditorOrg);
        s.recallAuditors[producerOrg][auditorOrg] = byGovernance ? BY_GOVERNANCE : BY_ORGANISATION;
        emit P.RecallAuditorAppointed(producerOrg, auditorOrg, byGovernance);
    }

    /// @notice See ProvenanceRegistry.revokeRecallAuditor.
    function revokeRecallAuditor(
        IConsortiumRegistry registry,
        address sender,
        uint64 producerOrg,
        uint64 auditorOrg
    ) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        uint8 appointedBy = s.recallAuditors[producerOrg][auditorOrg];
        if (appointedBy == 0) revert P.ProvenanceNotAppointed(producerOrg, auditorOrg);
        bool byGovernance = ProvenanceCore.isGovernor(registry, sender);
        if (!byGovernance) {
            // A producer cannot dismiss the auditors governance set over it.
            _requireOrgAdmin(registry, sender, producerOrg);
            if (appointedBy == BY_GOVERNANCE) revert P.ProvenanceNotGovernor(sender);
        }
        delete s.recallAuditors[producerOrg][auditorOrg];
        emit P.RecallAuditorRevoked(producerOrg, auditorOrg, byGovernance);
    }

    /// @notice See ProvenanceRegistry.setDisposalSite (governance checked by the caller).
    function setDisposalSite(IConsortiumRegistry registry, string calldata gln, bool registered) external {
        uint64 org = registry.orgOfLocation(gln);
        if (registered && org == 0) revert P.ProvenanceForeignLocation(gln, 0);
        ProvenanceStorage.layout().disposalSites[keccak256(bytes(gln))] = registered;
        emit P.DisposalSiteSet(gln, org, registered);
    }

    /// @notice See ProvenanceRegistry.returnRecalled.
    function returnRecalled(
        IConsortiumRegistry registry,
        address sender,
        bytes32 batchId,
        uint64 to,
        string calldata gln
    ) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        uint64 org = registry.requireAgent(sender, ProvenanceCore.HANDLERS);
        ProvenanceStorage.BatchRecord storage b = _requireRecalledAtRest(batchId);
        if (b.custodian != org) revert P.ProvenanceNotCustodian(batchId, org);
        bytes32 site = ProvenanceCore.RETURN_TO_PRODUCER;
        if (to != b.producer) {
            site = keccak256(bytes(gln));
            if (!s.disposalSites[site] || registry.orgOfLocation(gln) != to)
                revert P.ProvenanceNotDisposalSite(gln, to);
        }
        ProvenanceCore.requireOrganisation(registry, to, org);
        b.status = P.BatchStatus.InTransit;
        s.offers[batchId] = P.Offer(b.quantity, to, P.HandoverKind.Custody);
        s.returnOffers[batchId] = site;
        emit P.HandoverOffered(batchId, org, to, P.HandoverKind.Custody, b.quantity);
        emit P.RecallReturnOffered(batchId, to, gln);
    }

    /// @notice See ProvenanceRegistry.consentToDisposal.
    function consentToDisposal(IConsortiumRegistry registry, address sender, bytes32 batchId) external {
        uint64 org = registry.requireAgent(sender, ProvenanceCore.HANDLERS);
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        ProvenanceStorage.BatchRecord storage b = s.batches[batchId];
        if (b.recall == P.RecallState.None) revert P.ProvenanceNotRecalled(batchId);
        if (b.owner != org) revert P.ProvenanceNotOwner(batchId, org);
        s.disposalConsent[batchId] = true;
        emit P.DisposalConsented(batchId, org);
    }

    /// @notice See ProvenanceRegistry.endRecalled.
    function endRecalled(
        IConsortiumRegistry registry,
        address sender,
        bytes32 batchId,
        string calldata reason
    ) external {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        ProvenanceStorage.BatchRecord storage b = _requireRecalledAtRest(batchId);
        if (!ProvenanceCore.isGovernor(registry, sender)) {
            uint64 org = registry.requireAgent(sender, ProvenanceCore.HANDLERS);
            if (b.custodian != org) revert P.ProvenanceNotCustodian(batchId, org);
            if (b.owner != org && !s.disposalConsent[batchId]) revert P.ProvenanceNoDisposalConsent(batchId, org);
        }
        b.status = P.BatchStatus.Destroyed;
        emit P.BatchEnded(batchId, P.BatchStatus.Destroyed, reason);
    }

    /// @dev Governance, or an agent of the producing organisation with the producer or processor
    /// role, or an auditor of an organisation appointed for the producer. `org` is 0 for governance.
    function _mayRecall(
        IConsortiumRegistry registry,
        address sender,
        uint64 producer
    ) private view returns (bool allowed, uint64 org) {
        if (ProvenanceCore.isGovernor(registry, sender)) return (true, 0);
        uint256 roles = registry.effectiveRoles(sender);
        org = registry.agent(sender).orgId;
        if (org == producer && (roles & RECALLERS) != 0) return (true, org);
        allowed = (roles & Roles.AUDITOR) != 0 && ProvenanceStorage.layout().recallAuditors[producer][org] != 0;
    }

    function _requireOrgAdmin(IConsortiumRegistry registry, address sender, uint64 org) private view {
        if (registry.agent(sender).orgId != org || (registry.effectiveRoles(sender) & Roles.ORG_ADMIN) == 0) {
            revert P.ProvenanceNotOrgAdmin(sender, org);
        }
    }

    /// @dev A recalled batch that is not in transit, not packed and not ended.
    function _requireRecalledAtRest(bytes32 batchId) private view returns (ProvenanceStorage.BatchRecord storage b) {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        b = s.batches[batchId];
        if (b.status == P.BatchStatus.None) revert P.ProvenanceUnknownBatch(batchId);
        if (b.recall == P.RecallState.None) revert P.ProvenanceNotRecalled(batchId);
        if (b.status != P.BatchStatus.Active) revert P.ProvenanceNotActive(batchId, b.status);
        if (s.unitOf[batchId] != 0) revert P.ProvenanceInUnit(batchId, s.unitOf[batchId]);
    }

    /// @dev The batch is no longer recalled: it leaves its unit's recall count, and a pending
    /// return offer becomes an ordinary custody offer.
    function _lift(bytes32 batchId) private {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        ProvenanceCore.unflagUnit(batchId);
        delete s.returnOffers[batchId];
        delete s.disposalConsent[batchId];
    }

    function _checkPairs(bytes32[] calldata parents, bytes32[] calldata children) private pure {
        if (parents.length != children.length) revert P.ProvenanceLengthMismatch();
        ProvenanceCore.checkCount(parents.length, ProvenanceCore.MAX_BATCH_ITEMS * 2);
    }
}
