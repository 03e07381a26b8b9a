// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IProvenanceRegistry} from "./IProvenanceRegistry.sol";
import {IConsortiumRegistry} from "../identity/IConsortiumRegistry.sol";
import {ICredentialRegistry} from "../identity/ICredentialRegistry.sol";
import {Roles} from "../common/Roles.sol";
import {ILogisticUnits} from "./ILogisticUnits.sol";
import {ProvenanceStorage} from "./ProvenanceStorage.sol";
import {ProvenanceCore} from "./ProvenanceCore.sol";
import {ProductLogic} from "./logic/ProductLogic.sol";
import {CustodyLogic} from "./logic/CustodyLogic.sol";
import {AcceptanceLogic} from "./logic/AcceptanceLogic.sol";
import {TransformLogic} from "./logic/TransformLogic.sol";
import {RecallLogic} from "./logic/RecallLogic.sol";

/// @title Provenance registry
/// @notice See {IProvenanceRegistry} and docs/adr/0006, 0009. Invariants:
/// - a batch's quantity only decreases, by splits, consumption and transformation inputs;
/// - every portion but a lot's first has exactly one `split` edge from its parent;
/// - a recalled (or propagated) batch cannot be handed over, split, packed or transformed, except
///   back to its producer or to a disposal site governance registered;
/// - a batch is recalled iff it is recalled directly or a propagated edge from a recalled parent
///   reaches it;
/// - a batch inside a logistic unit has the unit's custodian and moves only with the unit.
/// Products, signed acceptances, transformations and recalls run in external libraries by
/// delegatecall on this contract's storage (ProvenanceStorage), so every event still comes from
/// this address and the contract keeps 2 KB under the size limit.
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
    /// @notice Where claims (ORGANIC, …) find their producers' credentials.
    ICredentialRegistry public immutable credentials;

    /// @notice The logistic-unit (SSCC) contract, deployed just before this one for this one (its
    /// constructor names this contract's address): it alone moves batches in and out of units, so
    /// a packed batch's custodian is read here without a call.
    ILogisticUnits public immutable logisticUnits;

    constructor(
        IConsortiumRegistry registry_,
        ICredentialRegistry credentials_,
        ILogisticUnits logisticUnits_,
        address trustedForwarder_
    ) ERC2771Context(trustedForwarder_) EIP712("LotlineProvenance", "1") {
        registry = registry_;
        credentials = credentials_;
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

    /// @notice Sets the allocation rule footprints apply to transformations of an enabled `kind`
    /// (see {AllocationRuleSet}: 0 clears it, 1 mass, 2 dry matter, 3 economic, 4 none).
    function setAllocationRule(bytes32 kind, uint8 rule) external onlyGovernor {
        ProductLogic.setAllocationRule(kind, rule);
    }

    /// @notice Defines (or redefines) a claim lots may carry, backed by credentials of
    /// `credentialType` held by the lot's producer; 0 retires it (no batch carries it any more).
    function defineClaim(bytes32 claim, bytes32 credentialType) external onlyGovernor {
        ProductLogic.defineClaim(claim, credentialType);
    }

    /// @notice Registers (or deregisters) a GLN as a disposal site: recalled goods may be handed
    /// there (besides back to their producer), and nowhere else.
    function setDisposalSite(string calldata gln, bool registered) external onlyGovernor {
        RecallLogic.setDisposalSite(registry, gln, registered);
    }

    // ─── products and lots ─────────────────────────────────────────────────────────────────────

    /// @notice Registers a product (GTIN-14) of the sender's organisation, which must hold the GS1
    /// company prefix the GTIN starts with; `masterDataHash` commits to its off-chain master data.
    /// Lots of it can be registered only while the organisation still holds that prefix.
    function registerProduct(uint64 gtin, bytes3 unit, bytes32 masterDataHash) external {
        uint64 org = registry.requireAgent(_msgSender(), MAKERS);
        ProductLogic.registerProduct(registry, org, gtin, unit, 0, 0, masterDataHash);
    }

    /// @notice registerProduct with the product's net content per unit: `perUnit` (QUANTITY_DECIMALS
    /// decimals) of `netUnit`, e.g. a case (H87) of 10.000 KGM, a litre of milk of 1.030 KGM. Mass
    /// balance converts the product's quantities through it. Set once, with the product.
    function registerProductWithNetContent(
        uint64 gtin,
        bytes3 unit,
        bytes3 netUnit,
        uint64 perUnit,
        bytes32 masterDataHash
    ) external {
        uint64 org = registry.requireAgent(_msgSender(), MAKERS);
        if (perUnit == 0) revert ProvenanceInvalidQuantity(0);
        ProductLogic.registerProduct(registry, org, gtin, unit, netUnit, perUnit, masterDataHash);
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
        ProvenanceStorage.RegisterCache memory cache;
        for (uint256 i = 0; i < lots.length; ++i) lotIds[i] = ProvenanceCore.registerLot(registry, lots[i], org, cache);
    }

    /// @notice Puts claim `claim` on a batch of the sender's organisation's making; its producer
    /// must hold a valid credential of the claim's type (see hasClaim: only while it does).
    function addClaim(bytes32 batchId, bytes32 claim) external {
        ProductLogic.addClaim(registry, credentials, _msgSender(), batchId, claim);
    }

    // ─── custody ───────────────────────────────────────────────────────────────────────────────

    /// @notice Offers `quantity` of a batch to `to`: custody, ownership or both. The batch is in
    /// transit until the receiver accepts (or rejects, or the sender cancels).
    function offer(bytes32 batchId, uint128 quantity, uint64 to, HandoverKind kind) external {
        CustodyLogic.offer(registry, _msgSender(), batchId, quantity, to, kind);
    }

    /// @notice Accepts the pending offer of `quantity` of a batch, of `kind`, for the sender's
    /// organisation, at location `gln` (one of the receiver's GLNs, or empty). Reverts when the
    /// pending offer is for anything else (a sender cannot swap the deal in front of the receiver).
    /// Returns the batch that changed hands: the batch itself, or a portion split off it.
    function accept(
        bytes32 batchId,
        uint128 quantity,
        HandoverKind kind,
        string calldata gln
    ) external returns (bytes32) {
        return CustodyLogic.accept(registry, _msgSender(), batchId, quantity, kind, gln);
    }

    /// @notice Withdraws a pending offer: the sender cancels or the receiver rejects it.
    function cancelOffer(bytes32 batchId, string calldata reason) external {
        CustodyLogic.cancelOffer(registry, _msgSender(), batchId, reason);
    }

    /// @notice Hands over in one call with the receiver's EIP-712 acceptance, signed by an active
    /// agent (`a.signer`) of `a.to` over (batchId, quantity, fromOrg, toOrg, kind, gln, nonce,
    /// deadline); `a.from` must be the sender's organisation and the nonce unused.
    function handOverWithAcceptance(Acceptance calldata a, bytes calldata signature) external returns (bytes32) {
        uint64 from = registry.requireAgent(_msgSender(), HANDLERS);
        return AcceptanceLogic.handOverWithAcceptance(registry, _domainSeparatorV4(), from, a, signature);
    }

    /// @notice Revokes acceptances the sender signed: marks nonces `mask` of word `wordPos` used.
    function invalidateAcceptanceNonces(uint256 wordPos, uint256 mask) external {
        AcceptanceLogic.invalidateNonces(_msgSender(), wordPos, mask);
    }

    // ─── lineage ───────────────────────────────────────────────────────────────────────────────

    /// @notice Splits portions off a batch held and owned by the sender's organisation.
    function split(bytes32 batchId, uint128[] calldata quantities) external returns (bytes32[] memory) {
        return CustodyLogic.split(registry, _msgSender(), batchId, quantities);
    }

    /// @notice Consumes stated quantities of input batches (held and owned by the sender's
    /// organisation) into new output lots of its own products, recording an edge from every input
    /// to every output. Every output is in a dimension its inputs have (through products' net
    /// content), and balances per dimension within the kind's tolerance. Outputs carry the claims
    /// every input carries validly and the sender's organisation is certified for.
    function transform(
        bytes32 kind,
        bytes32[] calldata inputs,
        uint128[] calldata inputQuantities,
        NewLot[] calldata outputs,
        bytes32 metadataHash
    ) external returns (bytes32[] memory outputIds) {
        uint64 org = registry.requireAgent(_msgSender(), MAKERS);
        outputIds = TransformLogic.transform(registry, credentials, org, kind, inputs, inputQuantities, outputs);
        emit Transformed(keccak256(abi.encode(inputs, outputIds)), kind, org, metadataHash);
    }

    /// @notice Ends a batch's life: consumed (used up outside a recorded transformation) or
    /// destroyed. Only its owner, while holding it.
    function end(bytes32 batchId, bool destroyed, string calldata reason) external {
        CustodyLogic.end(registry, _msgSender(), batchId, destroyed, reason);
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
        ProvenanceStorage.BatchRecord storage b = ProvenanceStorage.layout().batches[batchId];
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

    /// @notice Recalls a batch (or upgrades a propagated recall to a direct one): by governance, an
    /// agent with the producer or processor role of its producing organisation, or an auditor of
    /// an organisation appointed for that producer (appointRecallAuditor).
    function recall(bytes32 batchId, string calldata reason) external {
        RecallLogic.recall(registry, _msgSender(), batchId, reason);
    }

    /// @notice Withdraws a direct recall, with a reason: by governance or the recalling
    /// organisation (through an agent that may still recall the lot). Propagate the withdrawal
    /// with propagateWithdrawal.
    function withdrawRecall(bytes32 batchId, string calldata reason) external {
        RecallLogic.withdrawRecall(registry, _msgSender(), batchId, reason);
    }

    /// @notice Propagates a recall along stored lineage edges, a chunk at a time; anyone may
    /// submit. Each `parents[i]` must be recalled (directly or by propagation) and `parents[i] →
    /// children[i]` a stored edge; edges already propagated are skipped. Every edge from a
    /// recalled parent counts, also into an already recalled child (see propagateWithdrawal).
    function propagateRecall(bytes32[] calldata parents, bytes32[] calldata children) external {
        RecallLogic.propagateRecall(parents, children);
    }

    /// @notice Propagates recall withdrawals along propagated edges, a chunk at a time; anyone may
    /// submit. Each `parents[i]` must no longer be recalled and `parents[i] → children[i]` an
    /// edge its recall went along; the child is lifted once no propagated edge reaches it and it
    /// is not recalled directly.
    function propagateWithdrawal(bytes32[] calldata parents, bytes32[] calldata children) external {
        RecallLogic.propagateWithdrawal(parents, children);
    }

    /// @notice Lets the auditors of `auditorOrg` recall the lots of `producerOrg`: by the
    /// producer's org admin or by governance.
    function appointRecallAuditor(uint64 producerOrg, uint64 auditorOrg) external {
        RecallLogic.appointRecallAuditor(registry, _msgSender(), producerOrg, auditorOrg);
    }

    /// @notice Ends an appointment: governance any, the producer's org admin its own.
    function revokeRecallAuditor(uint64 producerOrg, uint64 auditorOrg) external {
        RecallLogic.revokeRecallAuditor(registry, _msgSender(), producerOrg, auditorOrg);
    }

    /// @notice The custodian of a recalled batch offers its custody (all of it) back to its
    /// producer, or to organisation `to` at the disposal site `gln`; the receiver accepts it
    /// with accept() (at that `gln` for a disposal site).
    function returnRecalled(bytes32 batchId, uint64 to, string calldata gln) external {
        RecallLogic.returnRecalled(registry, _msgSender(), batchId, to, gln);
    }

    /// @notice The owner of a recalled batch lets its custodian destroy it (endRecalled).
    function consentToDisposal(bytes32 batchId) external {
        RecallLogic.consentToDisposal(registry, _msgSender(), batchId);
    }

    /// @notice Destroys a recalled batch: by its custodian (with the owner's consent, unless it
    /// owns it) or by governance.
    function endRecalled(bytes32 batchId, string calldata reason) external {
        RecallLogic.endRecalled(registry, _msgSender(), batchId, reason);
    }

    // ─── logistic units: hooks for the LogisticUnits contract ─────────────────────────────────

    /// @notice Marks batches held by `org` as packed into `unitKey` (LogisticUnits only).
    function packHook(bytes32 unitKey, uint64 org, bytes32[] calldata batchIds) external onlyUnits {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        s.unitCustodian[unitKey] = org;
        for (uint256 i = 0; i < batchIds.length; ++i) {
            ProvenanceStorage.BatchRecord storage b = ProvenanceCore.requireUsable(batchIds[i]);
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
        // The unit's custodian is an active organisation's id, set through the units contract.
        uint32 custodian = ProvenanceCore.toOrg32(s.unitCustodian[unitKey]);
        for (uint256 i = 0; i < batchIds.length; ++i) {
            s.batches[batchIds[i]].custodian = custodian;
            delete s.unitOf[batchIds[i]];
        }
        delete s.unitCustodian[unitKey];
        delete s.unitRecall[unitKey];
        delete s.unitRecallCount[unitKey];
    }

    // ─── views ─────────────────────────────────────────────────────────────────────────────────

    function batch(bytes32 batchId) external view returns (Batch memory) {
        ProvenanceStorage.BatchRecord memory r = ProvenanceStorage.layout().batches[batchId];
        return
            Batch({
                quantity: r.quantity,
                owner: r.owner,
                custodian: ProvenanceCore.custodianOf(batchId, r.custodian),
                gtin: r.gtin,
                producer: r.producer,
                splits: r.splits,
                status: r.status,
                recall: r.recall
            });
    }

    function product(uint64 gtin) external view returns (Product memory) {
        ProvenanceStorage.ProductRecord storage p = ProvenanceStorage.layout().products[gtin];
        return Product(p.org, p.unit);
    }

    /// @notice A product's net content per unit (perUnit 0: none).
    function netContent(uint64 gtin) external view returns (bytes3 netUnit, uint64 perUnit) {
        ProvenanceStorage.ProductRecord storage p = ProvenanceStorage.layout().products[gtin];
        return (p.netUnit, p.netPerUnit);
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

    /// @notice How many propagated edges from recalled parents reach the batch.
    function recalledParents(bytes32 batchId) external view returns (uint32) {
        return ProvenanceStorage.layout().recalledParents[batchId];
    }

    /// @notice 0: not appointed; 1: by the producer's org admin; 2: by governance.
    function recallAuditor(uint64 producerOrg, uint64 auditorOrg) external view returns (uint8) {
        return ProvenanceStorage.layout().recallAuditors[producerOrg][auditorOrg];
    }

    function isDisposalSite(string calldata gln) external view returns (bool) {
        return ProvenanceStorage.layout().disposalSites[keccak256(bytes(gln))];
    }

    /// @notice True when the batch carries `claim` and its producer holds a valid credential of
    /// the claim's type now.
    function hasClaim(bytes32 batchId, bytes32 claim) external view returns (bool) {
        ProvenanceStorage.Layout storage s = ProvenanceStorage.layout();
        uint8 bit = s.claimBits[claim];
        bytes32 credentialType = s.claimCredential[bit];
        if (bit == 0 || credentialType == 0 || (s.batchClaims[batchId] >> (bit - 1)) & 1 == 0) return false;
        return credentials.hasValidCredential(s.batches[batchId].producer, credentialType);
    }

    /// @notice The bit set of claims put on the batch (validity: see hasClaim).
    function claimsOf(bytes32 batchId) external view returns (uint256) {
        return ProvenanceStorage.layout().batchClaims[batchId];
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

    /// @notice The allocation rule governance set for `kind` (0: none set).
    function allocationRule(bytes32 kind) external view returns (uint8) {
        return ProvenanceStorage.layout().allocationRules[kind];
    }

    /// @notice The id of a lot (and of its first portion).
    function lotId(uint64 gtin, string calldata lot) external pure returns (bytes32) {
        return keccak256(abi.encode(gtin, lot));
    }

    /// @notice The id of the `index`-th portion split off `parent`.
    function portionId(bytes32 parent, uint32 index) external pure returns (bytes32) {
        return keccak256(abi.encode(parent, index));
    }

    /// @notice Word `wordPos` of `signer`'s acceptance nonce bitmap (bit set: nonce used or revoked).
    function nonceBitmap(address signer, uint256 wordPos) external view returns (uint256) {
        return ProvenanceStorage.layout().nonceBitmap[signer][wordPos];
    }
}
