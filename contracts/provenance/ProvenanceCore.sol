// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IProvenanceRegistry as P} from "./IProvenanceRegistry.sol";
import {IConsortiumRegistry} from "../identity/IConsortiumRegistry.sol";
import {ProvenanceStorage} from "./ProvenanceStorage.sol";
import {Roles} from "../common/Roles.sol";

/// @title The provenance registry's shared internals
/// @notice Internal functions the registry and its logic libraries both use, compiled into each
/// that calls them. They read and write ProvenanceStorage and emit the registry's events (under
/// delegatecall, from the registry's address).
library ProvenanceCore {
    /// @dev Governance is the consortium registry's: one GOVERNOR_ROLE for the whole deployment.
    bytes32 internal constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    uint256 internal constant MAX_BATCH_ITEMS = 64;
    bytes32 internal constant SPLIT = "SPLIT";
    /// @dev returnOffers value of a recalled batch offered back to its producer (any of its GLNs).
    bytes32 internal constant RETURN_TO_PRODUCER = bytes32(uint256(1));

    uint256 internal constant HANDLERS =
        Roles.PRODUCER | Roles.PROCESSOR | Roles.CARRIER | Roles.RECEIVER | Roles.BUYER | Roles.INTEGRATION;
    uint256 internal constant MAKERS = Roles.PRODUCER | Roles.PROCESSOR | Roles.INTEGRATION;
    uint256 internal constant OBSERVERS = HANDLERS | Roles.AUDITOR;

    function setUnit(bytes3 unit, uint8 dimension, uint64 toBase) internal {
        if (dimension > 3) revert P.ProvenanceUnknownUnit(unit);
        ProvenanceStorage.layout().units[unit] = P.UnitOfMeasure(dimension, toBase);
        emit P.UnitOfMeasureSet(unit, dimension, toBase);
    }

    function setKind(bytes32 kind, bool enabled, uint16 toleranceBps) internal {
        ProvenanceStorage.layout().kinds[kind] = P.TransformKind(enabled, toleranceBps);
        emit P.TransformKindSet(kind, enabled, toleranceBps);
    }

    function isGovernor(IConsortiumRegistry registry, address account) internal view returns (bool) {
        return IAccessControl(address(registry)).hasRole(GOVERNOR_ROLE, account);
    }

    /// @dev A new lot's first portion, owned and held by `org`, which must still hold the company
    /// prefix its product was registered under.
    function registerLot(
        IConsortiumRegistry registry,
        P.NewLot calldata lot,
        uint64 org,
        ProvenanceStorage.RegisterCache memory cache
    ) internal returns (bytes32 id) {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        ProvenanceStorage.ProductRecord memory p = s.products[lot.gtin];
        if (p.org == 0) revert P.ProvenanceUnknownProduct(lot.gtin);
        if (p.org != org) revert P.ProvenanceForeignPrefix(lot.gtin, org);
        // Within one call, the licence of a product checked once holds for its further lots.
        if (cache.gtin != lot.gtin) {
            if (registry.prefixHolder(prefixKey(p.prefix, p.prefixLength)) != org) {
                revert P.ProvenancePrefixWithdrawn(lot.gtin, org);
            }
            cache.gtin = lot.gtin;
        }
        if (!isLotNumber(bytes(lot.lot))) revert P.ProvenanceInvalidLot(lot.lot);
        if (lot.quantity == 0) revert P.ProvenanceInvalidQuantity(0);
        if (lot.quantity > type(uint64).max) revert P.ProvenanceQuantityRange(lot.quantity);
        if (bytes(lot.gln).length != 0) {
            // Likewise a location found to be the organisation's.
            bytes32 glnHash = keccak256(bytes(lot.gln));
            if (glnHash != cache.glnHash) {
                checkLocation(registry, lot.gln, org);
                cache.glnHash = glnHash;
            }
        }
        id = keccak256(abi.encode(lot.gtin, lot.lot));
        if (s.batches[id].status != P.BatchStatus.None) revert P.ProvenanceLotExists(id);
        uint32 org32 = p.org; // == org
        // Ranges checked above: quantity < 2^64; a registered product's GTIN < 10^14 < 2^48.
        s.batches[id] = ProvenanceStorage.BatchRecord({
            quantity: uint64(lot.quantity),
            owner: org32,
            custodian: org32,
            producer: org32,
            gtin: uint48(lot.gtin),
            splits: 0,
            status: P.BatchStatus.Active,
            recall: P.RecallState.None
        });
        emit P.LotRegistered(id, lot.gtin, org, lot.lot, lot.quantity, lot.gln, lot.metadataHash);
    }

    /// @dev The consortium registry's key of a company prefix: keccak256("prefix:" ‖ its digits),
    /// from the digits kept left-aligned in a bytes12.
    function prefixKey(bytes12 prefix, uint8 length) internal pure returns (bytes32 key) {
        // Hashes 7 + length (≤ 19) bytes written as scratch above the free memory pointer, which
        // stays where it was: nothing allocated is overwritten.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, "prefix:")
            mstore(add(ptr, 7), prefix)
            key := keccak256(ptr, add(7, length))
        }
    }

    function offer(
        IConsortiumRegistry registry,
        bytes32 batchId,
        uint128 quantity,
        uint64 from,
        uint64 to,
        P.HandoverKind kind
    ) internal {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        ProvenanceStorage.BatchRecord storage b = requireUsable(batchId);
        if (kind != P.HandoverKind.Custody && b.owner != from) revert P.ProvenanceNotOwner(batchId, from);
        if (kind != P.HandoverKind.Ownership && b.custodian != from) revert P.ProvenanceNotCustodian(batchId, from);
        if (quantity == 0 || quantity > b.quantity)
            revert P.ProvenanceInsufficientQuantity(batchId, b.quantity, quantity);
        requireOrganisation(registry, to, from);
        b.status = P.BatchStatus.InTransit;
        s.offers[batchId] = P.Offer(quantity, to, kind);
        emit P.HandoverOffered(batchId, from, to, kind, quantity);
    }

    function complete(
        IConsortiumRegistry registry,
        bytes32 batchId,
        P.Offer memory pending,
        string calldata gln,
        address acceptedBy
    ) internal returns (bytes32 moved) {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        checkLocation(registry, gln, pending.to);
        ProvenanceStorage.BatchRecord storage b = s.batches[batchId];
        if (b.recall != P.RecallState.None) {
            // A recall that arrived while the batch was in transit stops the hand-over, unless the
            // offer returns the recalled goods to their producer or to the disposal site it names.
            bytes32 site = s.returnOffers[batchId];
            if (site == 0) revert P.ProvenanceBatchRecalled(batchId);
            if (site != RETURN_TO_PRODUCER && keccak256(bytes(gln)) != site)
                revert P.ProvenanceNotDisposalSite(gln, pending.to);
            delete s.returnOffers[batchId];
        }
        delete s.offers[batchId];
        b.status = P.BatchStatus.Active;
        moved = pending.quantity < b.quantity ? splitOff(batchId, pending.quantity) : batchId;
        ProvenanceStorage.BatchRecord storage m = s.batches[moved];
        uint64 from = pending.kind == P.HandoverKind.Ownership ? m.owner : m.custodian;
        // The receiver is an active organisation (checked at the offer): its id fits 32 bits.
        uint32 to = toOrg32(pending.to);
        if (pending.kind != P.HandoverKind.Custody) {
            recordTransfer(moved, m.owner, pending.to, pending.quantity);
            m.owner = to;
        }
        if (pending.kind != P.HandoverKind.Ownership) m.custodian = to;
        emit P.HandedOver(moved, from, pending.to, pending.kind, pending.quantity, gln, acceptedBy);
    }

    /// @dev A sale: ownership of `quantity` of `batchId` passed from `from` to `to` now.
    function recordTransfer(bytes32 batchId, uint64 from, uint64 to, uint128 quantity) internal {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        uint64 index = s.transferCount++;
        bytes32 id = keccak256(abi.encode(batchId, index));
        s.transfers[id] = P.Transfer(from, to, uint64(block.timestamp), quantity);
        emit P.OwnershipTransferred(batchId, index, from, to, quantity);
    }

    /// @dev A portion of `quantity` split off `parentId`: same owner, custodian, producer, recall
    /// state and claims.
    function splitOff(bytes32 parentId, uint128 quantity) internal returns (bytes32 child) {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        ProvenanceStorage.BatchRecord storage parent = s.batches[parentId];
        if (quantity == 0 || quantity >= parent.quantity) {
            revert P.ProvenanceInsufficientQuantity(parentId, parent.quantity, quantity);
        }
        uint32 index = parent.splits;
        child = keccak256(abi.encode(parentId, index));
        // Checked above: 0 < quantity < parent.quantity < 2^64.
        unchecked {
            parent.quantity -= uint64(quantity);
        }
        parent.splits = index + 1;
        ProvenanceStorage.BatchRecord memory copy = parent;
        copy.quantity = uint64(quantity);
        copy.splits = 0;
        s.batches[child] = copy;
        s.parentOf[child] = parentId;
        uint256 claims = s.batchClaims[parentId];
        if (claims != 0) s.batchClaims[child] = claims;
        emit P.BatchSplit(parentId, child, index, quantity);
        addEdge(parentId, child, SPLIT, quantity);
    }

    function consume(bytes32 batchId, ProvenanceStorage.BatchRecord storage b, uint128 quantity) internal {
        if (quantity == 0 || quantity > b.quantity)
            revert P.ProvenanceInsufficientQuantity(batchId, b.quantity, quantity);
        // Checked above: quantity <= b.quantity < 2^64.
        unchecked {
            b.quantity -= uint64(quantity);
        }
        if (b.quantity == 0) b.status = P.BatchStatus.Consumed;
        emit P.QuantityConsumed(batchId, quantity, b.quantity);
    }

    function addEdge(bytes32 from, bytes32 to, bytes32 kind, uint128 quantity) internal {
        ProvenanceStorage.layout().edges[edgeKey(from, to)] = true;
        emit P.LineageEdge(from, to, kind, quantity);
    }

    function edgeKey(bytes32 from, bytes32 to) internal pure returns (bytes32) {
        return keccak256(abi.encode(from, to));
    }

    /// @dev Counts a batch that became recalled in its logistic unit, if packed.
    function flagUnit(bytes32 batchId) internal {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        bytes32 unitKey = s.unitOf[batchId];
        if (unitKey != 0) {
            s.unitRecall[unitKey] = batchId;
            ++s.unitRecallCount[unitKey];
        }
    }

    /// @dev Uncounts a batch whose recall was lifted from its logistic unit, if packed.
    function unflagUnit(bytes32 batchId) internal {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        bytes32 unitKey = s.unitOf[batchId];
        if (unitKey != 0 && --s.unitRecallCount[unitKey] == 0) delete s.unitRecall[unitKey];
    }

    /// @dev An active, unrecalled batch outside any logistic unit.
    function requireUsable(bytes32 batchId) internal view returns (ProvenanceStorage.BatchRecord storage b) {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        b = s.batches[batchId];
        if (b.status != P.BatchStatus.Active) {
            if (b.status == P.BatchStatus.None) revert P.ProvenanceUnknownBatch(batchId);
            revert P.ProvenanceNotActive(batchId, b.status);
        }
        if (b.recall != P.RecallState.None) revert P.ProvenanceBatchRecalled(batchId);
        if (s.unitOf[batchId] != 0) revert P.ProvenanceInUnit(batchId, s.unitOf[batchId]);
    }

    /// @dev A usable batch that `org` both owns and holds.
    function requireHolder(
        bytes32 batchId,
        uint64 org
    ) internal view returns (ProvenanceStorage.BatchRecord storage b) {
        b = requireUsable(batchId);
        if (b.owner != org) revert P.ProvenanceNotOwner(batchId, org);
        if (b.custodian != org) revert P.ProvenanceNotCustodian(batchId, org);
    }

    function custodianOf(bytes32 batchId, uint64 custodian) internal view returns (uint64) {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        bytes32 unitKey = s.unitOf[batchId];
        return unitKey == 0 ? custodian : s.unitCustodian[unitKey];
    }

    function requireOrganisation(IConsortiumRegistry registry, uint64 to, uint64 from) internal view {
        if (to == from) revert P.ProvenanceSelfHandover(to);
        if (!registry.isOrganisationActive(to)) revert P.ProvenanceUnknownOrganisation(to);
    }

    function checkLocation(IConsortiumRegistry registry, string calldata gln, uint64 org) internal view {
        if (bytes(gln).length != 0 && registry.orgOfLocation(gln) != org) revert P.ProvenanceForeignLocation(gln, org);
    }

    function checkCount(uint256 count, uint256 max) internal pure {
        if (count > max) revert P.ProvenanceTooMany(count, max);
    }

    /// @dev Organisation ids are sequential from 1 (ConsortiumRegistry): 2^32 of them is the
    /// documented range of a packed batch record.
    function toOrg32(uint64 org) internal pure returns (uint32) {
        if (org > type(uint32).max) revert P.ProvenanceUnknownOrganisation(org);
        return uint32(org);
    }

    /// @dev GS1 AI (10): 1–20 characters of GS1 AI encodable character set 82.
    function isLotNumber(bytes calldata lot) internal pure returns (bool) {
        if (lot.length == 0 || lot.length > 20) return false;
        for (uint256 i = 0; i < lot.length; ++i) {
            bytes1 c = lot[i];
            bool ok =
                (c >= "0" && c <= "9") ||
                    (c >= "A" && c <= "Z") ||
                    (c >= "a" && c <= "z") ||
                    (c >= "%" && c <= "/") ||
                    (c >= ":" && c <= "?") ||
                    c == "!" ||
                    c == 0x22 || // the double quote
                    c == "_";
            if (!ok) return false;
        }
        return true;
    }
}
