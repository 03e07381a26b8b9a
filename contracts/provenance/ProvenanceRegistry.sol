// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IProvenanceRegistry} from "./IProvenanceRegistry.sol";
import {IConsortiumRegistry} from "../identity/IConsortiumRegistry.sol";
import {Roles} from "../common/Roles.sol";
import {ILogisticUnits} from "./ILogisticUnits.sol";
import {ProvenanceStorage} from "./ProvenanceStorage.sol";
import {ProvenanceCore} from "./ProvenanceCore.sol";
import {ProductLogic} from "./logic/ProductLogic.sol";
import {AcceptanceLogic} from "./logic/AcceptanceLogic.sol";
import {TransformLogic} from "./logic/TransformLogic.sol";
import {RecallLogic} from "./logic/RecallLogic.sol";

/// @title Provenance registry
/// @notice See {IProvenanceRegistry} and docs/adr/0006. Invariants:
/// - a batch's quantity only decreases, by splits, consumption and transformation inputs;
/// - every portion but a lot's first has exactly one `split` edge from its parent;
/// - a recalled (or propagated) batch cannot be handed over, split, packed or transformed;
/// - a batch inside a logistic unit has the unit's custodian and moves only with the unit.
/// Signed acceptances, transformations and recalls run in external libraries (AcceptanceLogic,
/// TransformLogic, RecallLogic) by delegatecall on this contract's storage (ProvenanceStorage), so
/// every event still comes from this address and the contract stays under the size limit
/// (docs/adr/0009).
contract ProvenanceRegistry is IProvenanceRegistry, ERC2771Context, EIP712 {
    bytes32 public constant GOVERNOR_ROLE = ProvenanceCore.GOVERNOR_ROLE;
    uint8 public constant QUANTITY_DECIMALS = 3;
    uint256 public constant MAX_BATCH_ITEMS = ProvenanceCore.MAX_BATCH_ITEMS;
    bytes32 public constant SPLIT = ProvenanceCore.SPLIT;
    bytes32 public constant ACCEPTANCE_TYPEHASH = AcceptanceLogic.ACCEPTANCE_TYPEHASH;

    uint256 private constant HANDLERS = ProvenanceCore.HANDLERS;
    uint256 private constant MAKERS = ProvenanceCore.MAKERS;
    uint256 private constant OBSERVERS = ProvenanceCore.OBSERVERS;

    IConsortiumRegistry public immutable registry;

    /// @notice The logistic-unit (SSCC) contract, deployed just before this one for this one (its
    /// constructor names this contract's address): it alone moves batches in and out of units, so
    /// a packed batch's custodian is read here without a call.
    ILogisticUnits public immutable logisticUnits;

    constructor(
        IConsortiumRegistry registry_,
        ILogisticUnits logisticUnits_,
        address trustedForwarder_
    ) ERC2771Context(trustedForwarder_) EIP712("LotlineProvenance", "1") {
        registry = registry_;
        logisticUnits = logisticUnits_;
        // Defaults governance may change: UN/CEFACT Rec 20 units by dimension (1 mass in mg,
        // 2 volume in ml, 3 count) and the transformation kinds with their tolerance.
        ProvenanceCore.setUnit("MGM", 1, 1);
        ProvenanceCore.setUnit("GRM", 1, 1e3);
        ProvenanceCore.setUnit("KGM", 1, 1e6);
        ProvenanceCore.setUnit("TNE", 1, 1e9);
        ProvenanceCore.setUnit("LBR", 1, 453_592);
        ProvenanceCore.setUnit("MLT", 2, 1);
        ProvenanceCore.setUnit("LTR", 2, 1e3);
        ProvenanceCore.setUnit("MTQ", 2, 1e6);
        ProvenanceCore.setUnit("H87", 3, 1);
        ProvenanceCore.setUnit("C62", 3, 1);
        ProvenanceCore.setUnit("EA", 3, 1);
        ProvenanceCore.setKind("PROCESS", true, 200);
        ProvenanceCore.setKind("MERGE", true, 0);
        ProvenanceCore.setKind("REPACK", true, 0);
    }

    modifier onlyUnits() {
        if (msg.sender != address(logisticUnits)) revert ProvenanceNotGovernor(msg.sender);
        _;
    }

    modifier onlyGovernor() {
        if (!ProvenanceCore.isGovernor(registry, _msgSender())) revert ProvenanceNotGovernor(_msgSender());
        _;
    }

    // ─── governance tables ─────────────────────────────────────────────────────────────────────

    /// @notice Sets a unit's dimension and factor to the dimension's base unit (mass balance).
    function setUnitOfMeasure(bytes3 unit, uint8 dimension, uint64 toBase) external onlyGovernor {
        ProductLogic.setUnitOfMeasure(unit, dimension, toBase);
    }

    /// @notice Enables a transformation kind with its mass-balance tolerance.
    function setTransformKind(bytes32 kind, bool enabled, uint16 toleranceBps) external onlyGovernor {
        ProductLogic.setTransformKind(kind, enabled, toleranceBps);
    }

    // ─── products and lots ─────────────────────────────────────────────────────────────────────

    /// @notice Registers a product (GTIN-14) of the sender's organisation, which must hold the GS1
    /// company prefix the GTIN starts with; `masterDataHash` commits to its off-chain master data.
    function registerProduct(uint64 gtin, bytes3 unit, bytes32 masterDataHash) external {
        uint64 org = registry.requireAgent(_msgSender(), MAKERS);
        ProductLogic.registerProduct(registry, org, gtin, unit, masterDataHash);
    }

    /// @notice Commits to new master data of one of the sender organisation's products.
    function updateProduct(uint64 gtin, bytes32 masterDataHash) external {
        uint64 org = registry.requireAgent(_msgSender(), MAKERS);
        if (ProvenanceStorage.layout().products[gtin].org != org) revert ProvenanceForeignPrefix(gtin, org);
        emit ProductUpdated(gtin, masterDataHash);
    }

    /// @notice Registers lots of the sender organisation's products, owned and held by it.
    function registerLots(NewLot[] calldata lots) external returns (bytes32[] memory lotIds) {
        uint64 org = registry.requireAgent(_msgSender(), MAKERS);
        ProvenanceCore.checkCount(lots.length, MAX_BATCH_ITEMS);
        lotIds = new bytes32[](lots.length);
        for (uint256 i = 0; i < lots.length; ++i) lotIds[i] = ProvenanceCore.registerLot(registry, lots[i], org);
    }

    // ─── custody ───────────────────────────────────────────────────────────────────────────────

    /// @notice Offers `quantity` of a batch to `to`: custody, ownership or both. The batch is in
    /// transit until the receiver accepts (or rejects, or the sender cancels).
    function offer(bytes32 batchId, uint128 quantity, uint64 to, HandoverKind kind) external {
        uint64 from = registry.requireAgent(_msgSender(), HANDLERS);
        ProvenanceCore.offer(registry, batchId, quantity, from, to, kind);
    }

    /// @notice Accepts the pending offer of a batch for the sender's organisation, at location
    /// `gln` (one of the receiver's GLNs, or empty). Returns the batch that changed hands: the
    /// batch itself, or a portion split off it when the offer was for part of its quantity.
    function accept(bytes32 batchId, string calldata gln) external returns (bytes32) {
        uint64 receiver = registry.requireAgent(_msgSender(), HANDLERS);
        Offer memory pending = ProvenanceStorage.layout().offers[batchId];
        if (pending.to == 0) revert ProvenanceNoOffer(batchId);
        if (pending.to != receiver) revert ProvenanceNotReceiver(batchId, receiver);
        return ProvenanceCore.complete(registry, batchId, pending, gln, _msgSender());
    }

    /// @notice Withdraws a pending offer: the sender cancels or the receiver rejects it.
    function cancelOffer(bytes32 batchId, string calldata reason) external {
        uint64 org = registry.requireAgent(_msgSender(), HANDLERS);
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        Offer memory pending = s.offers[batchId];
        if (pending.to == 0) revert ProvenanceNoOffer(batchId);
        Batch storage b = s.batches[batchId];
        uint64 from = pending.kind == HandoverKind.Ownership ? b.owner : b.custodian;
        if (org != pending.to && org != from) revert ProvenanceNotReceiver(batchId, org);
        delete s.offers[batchId];
        b.status = BatchStatus.Active;
        emit HandoverCancelled(batchId, org, reason);
    }

    /// @notice Hands over in one call with the receiver's EIP-712 acceptance, signed by an active
    /// agent (`a.signer`) of `a.to` over (batchId, quantity, toOrg, kind, gln, its nonce, deadline).
    function handOverWithAcceptance(Acceptance calldata a, bytes calldata signature) external returns (bytes32) {
        uint64 from = registry.requireAgent(_msgSender(), HANDLERS);
        return AcceptanceLogic.handOverWithAcceptance(registry, _domainSeparatorV4(), from, a, signature);
    }

    // ─── lineage ───────────────────────────────────────────────────────────────────────────────

    /// @notice Splits portions off a batch held and owned by the sender's organisation.
    function split(bytes32 batchId, uint128[] calldata quantities) external returns (bytes32[] memory children) {
        uint64 org = registry.requireAgent(_msgSender(), HANDLERS);
        ProvenanceCore.checkCount(quantities.length, MAX_BATCH_ITEMS);
        ProvenanceCore.requireHolder(batchId, org);
        children = new bytes32[](quantities.length);
        for (uint256 i = 0; i < quantities.length; ++i) children[i] = ProvenanceCore.splitOff(batchId, quantities[i]);
    }

    /// @notice Consumes stated quantities of input batches (held and owned by the sender's
    /// organisation) into new output lots of its own products, recording an edge from every input
    /// to every output. Mass balance per dimension within the kind's tolerance.
    function transform(
        bytes32 kind,
        bytes32[] calldata inputs,
        uint128[] calldata inputQuantities,
        NewLot[] calldata outputs,
        bytes32 metadataHash
    ) external returns (bytes32[] memory) {
        uint64 org = registry.requireAgent(_msgSender(), MAKERS);
        return TransformLogic.transform(registry, org, kind, inputs, inputQuantities, outputs, metadataHash);
    }

    /// @notice Ends a batch's life: consumed (used up outside a recorded transformation) or
    /// destroyed. Only its owner, while holding it.
    function end(bytes32 batchId, bool destroyed, string calldata reason) external {
        uint64 org = registry.requireAgent(_msgSender(), HANDLERS);
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        Batch storage b = s.batches[batchId];
        if (b.status == BatchStatus.None) revert ProvenanceUnknownBatch(batchId);
        if (b.owner != org) revert ProvenanceNotOwner(batchId, org);
        if (ProvenanceCore.custodianOf(batchId, b.custodian) != org) revert ProvenanceNotCustodian(batchId, org);
        if (b.status != BatchStatus.Active) revert ProvenanceNotActive(batchId, b.status);
        if (s.unitOf[batchId] != 0) revert ProvenanceInUnit(batchId, s.unitOf[batchId]);
        b.status = destroyed ? BatchStatus.Destroyed : BatchStatus.Consumed;
        emit BatchEnded(batchId, b.status, reason);
    }

    /// @notice Records an observation of a batch: an EPCIS event hash, business step, location
    /// and a data hash (a sensor summary, say), by its owner's or custodian's agent or an auditor.
    function observe(
        bytes32 batchId,
        bytes32 eventHash,
        bytes32 bizStep,
        string calldata gln,
        bytes32 dataHash
    ) external {
        uint64 org = registry.requireAgent(_msgSender(), OBSERVERS);
        Batch storage b = ProvenanceStorage.layout().batches[batchId];
        if (b.status == BatchStatus.None) revert ProvenanceUnknownBatch(batchId);
        if (
            org != b.owner &&
            org != ProvenanceCore.custodianOf(batchId, b.custodian) &&
            (registry.effectiveRoles(_msgSender()) & Roles.AUDITOR) == 0
        ) {
            revert ProvenanceNotCustodian(batchId, org);
        }
        emit Observed(batchId, eventHash, bizStep, gln, dataHash, org);
    }

    // ─── recall ────────────────────────────────────────────────────────────────────────────────

    /// @notice Recalls a batch: by an agent of its producer, an auditor, or governance.
    function recall(bytes32 batchId, string calldata reason) external {
        RecallLogic.recall(registry, _msgSender(), batchId, reason);
    }

    /// @notice Propagates a recall along stored lineage edges, a chunk at a time; anyone may
    /// submit. Each `parents[i]` must be recalled (directly or by propagation) and `parents[i] →
    /// children[i]` a stored edge; children already flagged are skipped.
    function propagateRecall(bytes32[] calldata parents, bytes32[] calldata children) external {
        RecallLogic.propagateRecall(parents, children);
    }

    // ─── logistic units: hooks for the LogisticUnits contract ─────────────────────────────────

    /// @notice Marks batches held by `org` as packed into `unitKey` (LogisticUnits only).
    function packHook(bytes32 unitKey, uint64 org, bytes32[] calldata batchIds) external onlyUnits {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        s.unitCustodian[unitKey] = org;
        for (uint256 i = 0; i < batchIds.length; ++i) {
            Batch storage b = ProvenanceCore.requireUsable(batchIds[i]);
            if (b.custodian != org) revert ProvenanceNotCustodian(batchIds[i], org);
            s.unitOf[batchIds[i]] = unitKey;
        }
    }

    /// @notice Gives a unit's custody to `org` (LogisticUnits only).
    function unitCustodyHook(bytes32 unitKey, uint64 org) external onlyUnits {
        ProvenanceStorage.layout().unitCustodian[unitKey] = org;
    }

    /// @notice Returns unpacked batches to their unit's custodian, individually (LogisticUnits only).
    function unpackHook(bytes32 unitKey, bytes32[] calldata batchIds) external onlyUnits {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        uint64 custodian = s.unitCustodian[unitKey];
        for (uint256 i = 0; i < batchIds.length; ++i) {
            s.batches[batchIds[i]].custodian = custodian;
            delete s.unitOf[batchIds[i]];
        }
        delete s.unitCustodian[unitKey];
        delete s.unitRecall[unitKey];
    }

    // ─── views ─────────────────────────────────────────────────────────────────────────────────

    function batch(bytes32 batchId) external view returns (Batch memory b) {
        b = ProvenanceStorage.layout().batches[batchId];
        b.custodian = ProvenanceCore.custodianOf(batchId, b.custodian);
    }

    function product(uint64 gtin) external view returns (Product memory) {
        return ProvenanceStorage.layout().products[gtin];
    }

    function pendingOffer(bytes32 batchId) external view returns (Offer memory) {
        return ProvenanceStorage.layout().offers[batchId];
    }

    function unitOf(bytes32 batchId) external view returns (bytes32) {
        return ProvenanceStorage.layout().unitOf[batchId];
    }

    function unitCustodian(bytes32 unitKey) external view returns (uint64) {
        return ProvenanceStorage.layout().unitCustodian[unitKey];
    }

    /// @notice A recalled batch inside the unit (zero if none).
    function unitRecall(bytes32 unitKey) external view returns (bytes32) {
        return ProvenanceStorage.layout().unitRecall[unitKey];
    }

    /// @notice True when the batch is recalled, directly or through its lineage (settlement uses it).
    function isRecalled(bytes32 batchId) external view returns (bool) {
        return ProvenanceStorage.layout().batches[batchId].recall != RecallState.None;
    }

    /// @inheritdoc IProvenanceRegistry
    function transfer(bytes32 batchId, uint64 index) external view returns (Transfer memory) {
        return ProvenanceStorage.layout().transfers[keccak256(abi.encode(batchId, index))];
    }

    /// @notice The batch `batchId` was split off (zero for a lot's first portion).
    function parentOf(bytes32 batchId) external view returns (bytes32) {
        return ProvenanceStorage.layout().parentOf[batchId];
    }

    function hasEdge(bytes32 from, bytes32 to) external view returns (bool) {
        return ProvenanceStorage.layout().edges[ProvenanceCore.edgeKey(from, to)];
    }

    function unitOfMeasure(bytes3 unit) external view returns (UnitOfMeasure memory) {
        return ProvenanceStorage.layout().units[unit];
    }

    function transformKind(bytes32 kind) external view returns (TransformKind memory) {
        return ProvenanceStorage.layout().kinds[kind];
    }

    /// @notice The id of a lot (and of its first portion).
    function lotId(uint64 gtin, string calldata lot) external pure returns (bytes32) {
        return keccak256(abi.encode(gtin, lot));
    }

    /// @notice The id of the `index`-th portion split off `parent`.
    function portionId(bytes32 parent, uint32 index) external pure returns (bytes32) {
        return keccak256(abi.encode(parent, index));
    }

    /// @notice The next acceptance nonce of `signer`.
    function nonces(address signer) external view returns (uint256) {
        return ProvenanceStorage.layout().nonces[signer];
    }

    // ─── internals ─────────────────────────────────────────────────────────────────────────────
}
