// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IProvenanceRegistry} from "./IProvenanceRegistry.sol";
import {IConsortiumRegistry} from "../identity/IConsortiumRegistry.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Roles} from "../common/Roles.sol";
import {GS1} from "../common/GS1.sol";
import {ILogisticUnits} from "./ILogisticUnits.sol";

/// @title Provenance registry
/// @notice See {IProvenanceRegistry} and docs/adr/0006. Invariants:
/// - a batch's quantity only decreases, by splits, consumption and transformation inputs;
/// - every portion but a lot's first has exactly one `split` edge from its parent;
/// - a recalled (or propagated) batch cannot be handed over, split, packed or transformed;
/// - a batch inside a logistic unit has the unit's custodian and moves only with the unit.
contract ProvenanceRegistry is IProvenanceRegistry, ERC2771Context, EIP712, Nonces {
    /// @dev Governance is the consortium registry's: one GOVERNOR_ROLE for the whole deployment.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    uint8 public constant QUANTITY_DECIMALS = 3;
    uint256 public constant MAX_BATCH_ITEMS = 64;
    bytes32 public constant SPLIT = "SPLIT";
    bytes32 public constant ACCEPTANCE_TYPEHASH =
        keccak256(
            "Acceptance(bytes32 batchId,uint128 quantity,uint64 toOrg,uint8 kind,string gln,uint256 nonce,uint256 deadline)"
        );

    uint256 internal constant HANDLERS =
        Roles.PRODUCER | Roles.PROCESSOR | Roles.CARRIER | Roles.RECEIVER | Roles.BUYER | Roles.INTEGRATION;
    uint256 private constant MAKERS = Roles.PRODUCER | Roles.PROCESSOR | Roles.INTEGRATION;
    uint256 private constant OBSERVERS = HANDLERS | Roles.AUDITOR;

    IConsortiumRegistry public immutable registry;

    mapping(bytes3 unit => UnitOfMeasure) private _units;
    mapping(bytes32 kind => TransformKind) private _kinds;
    mapping(uint64 gtin => Product) private _products;
    mapping(bytes32 batchId => Batch) private _batches;
    mapping(bytes32 batchId => Offer) private _offers;
    mapping(bytes32 edgeKey => bool) private _edges;
    // The batch each portion was split off (settlement walks it so goods are never paid twice).
    mapping(bytes32 child => bytes32 parent) private _parentOf;
    mapping(bytes32 batchId => bytes32 unitKey) private _unitOf;
    mapping(bytes32 unitKey => uint64 custodian) private _unitCustodian;
    // A recalled batch inside each unit, if any: lets the unit contract refuse hand-overs of a
    // unit holding recalled goods without looping over its contents.
    mapping(bytes32 unitKey => bytes32 batchId) private _unitRecall;

    /// @notice The logistic-unit (SSCC) contract, deployed just before this one for this one (its
    /// constructor names this contract's address): it alone moves batches in and out of units, so
    /// a packed batch's custodian is read here without a call.
    ILogisticUnits public immutable logisticUnits;

    // Ownership transfers (sales) by id, so settlement pays for goods that passed from the seller
    // to the buyer, once per sale: see transfer(). The count is the next transfer's index.
    uint64 private _transferCount;
    mapping(bytes32 transferId => Transfer) private _transfers;

    constructor(
        IConsortiumRegistry registry_,
        ILogisticUnits logisticUnits_,
        address trustedForwarder_
    ) ERC2771Context(trustedForwarder_) EIP712("LotlineProvenance", "1") {
        registry = registry_;
        logisticUnits = logisticUnits_;
        // Defaults governance may change: UN/CEFACT Rec 20 units by dimension (1 mass in mg,
        // 2 volume in ml, 3 count) and the transformation kinds with their tolerance.
        _setUnit("MGM", 1, 1);
        _setUnit("GRM", 1, 1e3);
        _setUnit("KGM", 1, 1e6);
        _setUnit("TNE", 1, 1e9);
        _setUnit("LBR", 1, 453_592);
        _setUnit("MLT", 2, 1);
        _setUnit("LTR", 2, 1e3);
        _setUnit("MTQ", 2, 1e6);
        _setUnit("H87", 3, 1);
        _setUnit("C62", 3, 1);
        _setUnit("EA", 3, 1);
        _setKind("PROCESS", true, 200);
        _setKind("MERGE", true, 0);
        _setKind("REPACK", true, 0);
    }

    modifier onlyUnits() {
        if (msg.sender != address(logisticUnits)) revert ProvenanceNotGovernor(msg.sender);
        _;
    }

    modifier onlyGovernor() {
        if (!_isGovernor(_msgSender())) revert ProvenanceNotGovernor(_msgSender());
        _;
    }

    // ─── governance tables ─────────────────────────────────────────────────────────────────────

    /// @notice Sets a unit's dimension and factor to the dimension's base unit (mass balance).
    function setUnitOfMeasure(bytes3 unit, uint8 dimension, uint64 toBase) external onlyGovernor {
        _setUnit(unit, dimension, toBase);
    }

    /// @notice Enables a transformation kind with its mass-balance tolerance.
    function setTransformKind(bytes32 kind, bool enabled, uint16 toleranceBps) external onlyGovernor {
        _setKind(kind, enabled, toleranceBps);
    }

    // ─── products and lots ─────────────────────────────────────────────────────────────────────

    /// @notice Registers a product (GTIN-14) of the sender's organisation, which must hold the GS1
    /// company prefix the GTIN starts with; `masterDataHash` commits to its off-chain master data.
    function registerProduct(uint64 gtin, bytes3 unit, bytes32 masterDataHash) external {
        uint64 org = registry.requireAgent(_msgSender(), MAKERS);
        if (_products[gtin].org != 0) revert ProvenanceProductExists(gtin);
        bytes memory digits = _gtinDigits(gtin);
        // The company prefix follows the indicator digit; the check digit is not part of it.
        (uint64 holder, ) = registry.orgOfKey(string(_slice(digits, 1, 13)));
        if (holder != org) revert ProvenanceForeignPrefix(gtin, org);
        if (_units[unit].toBase == 0) revert ProvenanceUnknownUnit(unit);
        _products[gtin] = Product(org, unit);
        emit ProductRegistered(gtin, org, unit, masterDataHash);
    }

    /// @notice Commits to new master data of one of the sender organisation's products.
    function updateProduct(uint64 gtin, bytes32 masterDataHash) external {
        uint64 org = registry.requireAgent(_msgSender(), MAKERS);
        if (_products[gtin].org != org) revert ProvenanceForeignPrefix(gtin, org);
        emit ProductUpdated(gtin, masterDataHash);
    }

    /// @notice Registers lots of the sender organisation's products, owned and held by it.
    function registerLots(NewLot[] calldata lots) external returns (bytes32[] memory lotIds) {
        uint64 org = registry.requireAgent(_msgSender(), MAKERS);
        _checkCount(lots.length, MAX_BATCH_ITEMS);
        lotIds = new bytes32[](lots.length);
        for (uint256 i = 0; i < lots.length; ++i) lotIds[i] = _registerLot(lots[i], org);
    }

    // ─── custody ───────────────────────────────────────────────────────────────────────────────

    /// @notice Offers `quantity` of a batch to `to`: custody, ownership or both. The batch is in
    /// transit until the receiver accepts (or rejects, or the sender cancels).
    function offer(bytes32 batchId, uint128 quantity, uint64 to, HandoverKind kind) external {
        uint64 from = registry.requireAgent(_msgSender(), HANDLERS);
        _offer(batchId, quantity, from, to, kind);
    }

    /// @notice Accepts the pending offer of a batch for the sender's organisation, at location
    /// `gln` (one of the receiver's GLNs, or empty). Returns the batch that changed hands: the
    /// batch itself, or a portion split off it when the offer was for part of its quantity.
    function accept(bytes32 batchId, string calldata gln) external returns (bytes32) {
        uint64 receiver = registry.requireAgent(_msgSender(), HANDLERS);
        Offer memory pending = _offers[batchId];
        if (pending.to == 0) revert ProvenanceNoOffer(batchId);
        if (pending.to != receiver) revert ProvenanceNotReceiver(batchId, receiver);
        return _complete(batchId, pending, gln, _msgSender());
    }

    /// @notice Withdraws a pending offer: the sender cancels or the receiver rejects it.
    function cancelOffer(bytes32 batchId, string calldata reason) external {
        uint64 org = registry.requireAgent(_msgSender(), HANDLERS);
        Offer memory pending = _offers[batchId];
        if (pending.to == 0) revert ProvenanceNoOffer(batchId);
        Batch storage b = _batches[batchId];
        uint64 from = pending.kind == HandoverKind.Ownership ? b.owner : b.custodian;
        if (org != pending.to && org != from) revert ProvenanceNotReceiver(batchId, org);
        delete _offers[batchId];
        b.status = BatchStatus.Active;
        emit HandoverCancelled(batchId, org, reason);
    }

    /// @notice Hands over in one call with the receiver's EIP-712 acceptance, signed by an active
    /// agent (`a.signer`) of `a.to` over (batchId, quantity, toOrg, kind, gln, its nonce, deadline).
    function handOverWithAcceptance(Acceptance calldata a, bytes calldata signature) external returns (bytes32) {
        uint64 from = registry.requireAgent(_msgSender(), HANDLERS);
        _verifyAcceptance(a, signature);
        _offer(a.batchId, a.quantity, from, a.to, a.kind);
        return _complete(a.batchId, _offers[a.batchId], a.gln, a.signer);
    }

    // ─── lineage ───────────────────────────────────────────────────────────────────────────────

    /// @notice Splits portions off a batch held and owned by the sender's organisation.
    function split(bytes32 batchId, uint128[] calldata quantities) external returns (bytes32[] memory children) {
        uint64 org = registry.requireAgent(_msgSender(), HANDLERS);
        _checkCount(quantities.length, MAX_BATCH_ITEMS);
        _requireHolder(batchId, org);
        children = new bytes32[](quantities.length);
        for (uint256 i = 0; i < quantities.length; ++i) children[i] = _splitOff(batchId, quantities[i]);
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
    ) external returns (bytes32[] memory outputIds) {
        uint64 org = registry.requireAgent(_msgSender(), MAKERS);
        TransformKind memory rule = _kinds[kind];
        if (!rule.enabled) revert ProvenanceUnknownTransformKind(kind);
        if (inputs.length != inputQuantities.length || inputs.length == 0 || outputs.length == 0) {
            revert ProvenanceLengthMismatch();
        }
        _checkCount(inputs.length * outputs.length, MAX_BATCH_ITEMS);

        uint256[4] memory inBase;
        for (uint256 i = 0; i < inputs.length; ++i) {
            Batch storage b = _requireHolder(inputs[i], org);
            _addBase(inBase, _products[b.gtin].unit, inputQuantities[i]);
            _consume(inputs[i], b, inputQuantities[i]);
        }
        outputIds = new bytes32[](outputs.length);
        uint256[4] memory outBase;
        for (uint256 j = 0; j < outputs.length; ++j) {
            outputIds[j] = _registerLot(outputs[j], org);
            _addBase(outBase, _products[outputs[j].gtin].unit, outputs[j].quantity);
        }
        _checkMassBalance(inBase, outBase, rule.toleranceBps);
        _recordEdges(kind, inputs, inputQuantities, outputs, outputIds);
        bytes32 transformationId = keccak256(abi.encode(inputs, outputIds));
        emit Transformed(transformationId, kind, org, metadataHash);
    }

    /// @notice Ends a batch's life: consumed (used up outside a recorded transformation) or
    /// destroyed. Only its owner, while holding it.
    function end(bytes32 batchId, bool destroyed, string calldata reason) external {
        uint64 org = registry.requireAgent(_msgSender(), HANDLERS);
        Batch storage b = _batches[batchId];
        if (b.status == BatchStatus.None) revert ProvenanceUnknownBatch(batchId);
        if (b.owner != org) revert ProvenanceNotOwner(batchId, org);
        if (_custodianOf(batchId, b) != org) revert ProvenanceNotCustodian(batchId, org);
        if (b.status != BatchStatus.Active) revert ProvenanceNotActive(batchId, b.status);
        if (_unitOf[batchId] != 0) revert ProvenanceInUnit(batchId, _unitOf[batchId]);
        b.status = destroyed ? BatchStatus.Destroyed : BatchStatus.Consumed;
        emit BatchEnded(batchId, b.status, reason);
    }

    /// @notice Records an observation of a batch: an EPCIS event hash, business step, location
    /// and a data hash (a sensor summary, say), by its owner's or custodian's agent or an auditor.
    function observe(bytes32 batchId, bytes32 eventHash, bytes32 bizStep, string calldata gln, bytes32 dataHash) external {
        uint64 org = registry.requireAgent(_msgSender(), OBSERVERS);
        Batch storage b = _batches[batchId];
        if (b.status == BatchStatus.None) revert ProvenanceUnknownBatch(batchId);
        if (org != b.owner && org != _custodianOf(batchId, b) && (registry.effectiveRoles(_msgSender()) & Roles.AUDITOR) == 0) {
            revert ProvenanceNotCustodian(batchId, org);
        }
        emit Observed(batchId, eventHash, bizStep, gln, dataHash, org);
    }

    // ─── recall ────────────────────────────────────────────────────────────────────────────────

    /// @notice Recalls a batch: by an agent of its producer, an auditor, or governance.
    function recall(bytes32 batchId, string calldata reason) external {
        address sender = _msgSender();
        Batch storage b = _batches[batchId];
        if (b.status == BatchStatus.None) revert ProvenanceUnknownBatch(batchId);
        if (b.recall != RecallState.None) revert ProvenanceAlreadyRecalled(batchId);
        uint64 org = 0;
        if (!_isGovernor(sender)) {
            uint256 roles = registry.effectiveRoles(sender);
            org = registry.agent(sender).orgId;
            bool producer = org == b.producer && (roles & MAKERS) != 0;
            if (!producer && (roles & Roles.AUDITOR) == 0) revert ProvenanceNotAllowedToRecall(sender, batchId);
        }
        b.recall = RecallState.Direct;
        _flagUnit(batchId);
        emit Recalled(batchId, org, reason);
    }

    /// @notice Propagates a recall along stored lineage edges, a chunk at a time; anyone may
    /// submit. Each `parents[i]` must be recalled (directly or by propagation) and `parents[i] →
    /// children[i]` a stored edge; children already flagged are skipped.
    function propagateRecall(bytes32[] calldata parents, bytes32[] calldata children) external {
        if (parents.length != children.length) revert ProvenanceLengthMismatch();
        _checkCount(parents.length, MAX_BATCH_ITEMS * 2);
        for (uint256 i = 0; i < parents.length; ++i) {
            if (_batches[parents[i]].recall == RecallState.None) revert ProvenanceNotRecalled(parents[i]);
            if (!_edges[_edgeKey(parents[i], children[i])]) revert ProvenanceNotAnEdge(parents[i], children[i]);
            Batch storage child = _batches[children[i]];
            if (child.recall != RecallState.None) continue;
            child.recall = RecallState.Propagated;
            _flagUnit(children[i]);
            emit RecallPropagated(children[i], parents[i]);
        }
    }

    // ─── logistic units: hooks for the LogisticUnits contract this one deployed ───────────────

    /// @notice Marks batches held by `org` as packed into `unitKey` (LogisticUnits only).
    function packHook(bytes32 unitKey, uint64 org, bytes32[] calldata batchIds) external onlyUnits {
        _unitCustodian[unitKey] = org;
        for (uint256 i = 0; i < batchIds.length; ++i) {
            Batch storage b = _requireUsable(batchIds[i]);
            if (b.custodian != org) revert ProvenanceNotCustodian(batchIds[i], org);
            _unitOf[batchIds[i]] = unitKey;
        }
    }

    /// @notice Gives a unit's custody to `org` (LogisticUnits only).
    function unitCustodyHook(bytes32 unitKey, uint64 org) external onlyUnits {
        _unitCustodian[unitKey] = org;
    }

    /// @notice Returns unpacked batches to their unit's custodian, individually (LogisticUnits only).
    function unpackHook(bytes32 unitKey, bytes32[] calldata batchIds) external onlyUnits {
        uint64 custodian = _unitCustodian[unitKey];
        for (uint256 i = 0; i < batchIds.length; ++i) {
            _batches[batchIds[i]].custodian = custodian;
            delete _unitOf[batchIds[i]];
        }
        delete _unitCustodian[unitKey];
        delete _unitRecall[unitKey];
    }

    // ─── views ─────────────────────────────────────────────────────────────────────────────────

    function batch(bytes32 batchId) external view returns (Batch memory b) {
        b = _batches[batchId];
        b.custodian = _custodianOf(batchId, b);
    }

    function product(uint64 gtin) external view returns (Product memory) {
        return _products[gtin];
    }

    function pendingOffer(bytes32 batchId) external view returns (Offer memory) {
        return _offers[batchId];
    }

    function unitOf(bytes32 batchId) external view returns (bytes32) {
        return _unitOf[batchId];
    }

    function unitCustodian(bytes32 unitKey) external view returns (uint64) {
        return _unitCustodian[unitKey];
    }

    /// @notice A recalled batch inside the unit (zero if none).
    function unitRecall(bytes32 unitKey) external view returns (bytes32) {
        return _unitRecall[unitKey];
    }

    /// @notice True when the batch is recalled, directly or through its lineage (settlement uses it).
    function isRecalled(bytes32 batchId) external view returns (bool) {
        return _batches[batchId].recall != RecallState.None;
    }

    /// @inheritdoc IProvenanceRegistry
    function transfer(bytes32 batchId, uint64 index) external view returns (Transfer memory) {
        return _transfers[keccak256(abi.encode(batchId, index))];
    }

    /// @notice The batch `batchId` was split off (zero for a lot's first portion).
    function parentOf(bytes32 batchId) external view returns (bytes32) {
        return _parentOf[batchId];
    }

    function hasEdge(bytes32 from, bytes32 to) external view returns (bool) {
        return _edges[_edgeKey(from, to)];
    }

    function unitOfMeasure(bytes3 unit) external view returns (UnitOfMeasure memory) {
        return _units[unit];
    }

    function transformKind(bytes32 kind) external view returns (TransformKind memory) {
        return _kinds[kind];
    }

    /// @notice The id of a lot (and of its first portion).
    function lotId(uint64 gtin, string calldata lot) external pure returns (bytes32) {
        return keccak256(abi.encode(gtin, lot));
    }

    /// @notice The id of the `index`-th portion split off `parent`.
    function portionId(bytes32 parent, uint32 index) external pure returns (bytes32) {
        return keccak256(abi.encode(parent, index));
    }

    // ─── internals ─────────────────────────────────────────────────────────────────────────────

    function _setUnit(bytes3 unit, uint8 dimension, uint64 toBase) private {
        if (dimension > 3) revert ProvenanceUnknownUnit(unit);
        _units[unit] = UnitOfMeasure(dimension, toBase);
        emit UnitOfMeasureSet(unit, dimension, toBase);
    }

    function _setKind(bytes32 kind, bool enabled, uint16 toleranceBps) private {
        _kinds[kind] = TransformKind(enabled, toleranceBps);
        emit TransformKindSet(kind, enabled, toleranceBps);
    }

    function _flagUnit(bytes32 batchId) private {
        bytes32 unitKey = _unitOf[batchId];
        if (unitKey != 0) _unitRecall[unitKey] = batchId;
    }

    function _isGovernor(address account) private view returns (bool) {
        return IAccessControl(address(registry)).hasRole(GOVERNOR_ROLE, account);
    }

    function _verifyAcceptance(Acceptance calldata a, bytes calldata signature) private {
        if (block.timestamp > a.deadline) revert ProvenanceExpiredSignature(a.deadline);
        bytes32 structHash = keccak256(
            abi.encode(
                ACCEPTANCE_TYPEHASH,
                a.batchId,
                a.quantity,
                a.to,
                uint8(a.kind),
                keccak256(bytes(a.gln)),
                _useNonce(a.signer),
                a.deadline
            )
        );
        if (!SignatureChecker.isValidSignatureNow(a.signer, _hashTypedDataV4(structHash), signature)) {
            revert ProvenanceInvalidSignature(a.signer, a.to);
        }
        if ((registry.effectiveRoles(a.signer) & HANDLERS) == 0 || registry.agent(a.signer).orgId != a.to) {
            revert ProvenanceInvalidSignature(a.signer, a.to);
        }
    }

    function _registerLot(NewLot calldata lot, uint64 org) private returns (bytes32 id) {
        Product memory p = _products[lot.gtin];
        if (p.org == 0) revert ProvenanceUnknownProduct(lot.gtin);
        if (p.org != org) revert ProvenanceForeignPrefix(lot.gtin, org);
        if (!_isLotNumber(bytes(lot.lot))) revert ProvenanceInvalidLot(lot.lot);
        if (lot.quantity == 0) revert ProvenanceInvalidQuantity(0);
        _checkLocation(lot.gln, org);
        id = keccak256(abi.encode(lot.gtin, lot.lot));
        if (_batches[id].status != BatchStatus.None) revert ProvenanceLotExists(id);
        _batches[id] = Batch({
            quantity: lot.quantity,
            owner: org,
            custodian: org,
            gtin: lot.gtin,
            producer: org,
            splits: 0,
            status: BatchStatus.Active,
            recall: RecallState.None
        });
        emit LotRegistered(id, lot.gtin, org, lot.lot, lot.quantity, lot.gln, lot.metadataHash);
    }

    function _offer(bytes32 batchId, uint128 quantity, uint64 from, uint64 to, HandoverKind kind) private {
        Batch storage b = _requireUsable(batchId);
        if (kind != HandoverKind.Custody && b.owner != from) revert ProvenanceNotOwner(batchId, from);
        if (kind != HandoverKind.Ownership && b.custodian != from) revert ProvenanceNotCustodian(batchId, from);
        if (quantity == 0 || quantity > b.quantity) revert ProvenanceInsufficientQuantity(batchId, b.quantity, quantity);
        _requireOrganisation(to, from);
        b.status = BatchStatus.InTransit;
        _offers[batchId] = Offer(quantity, to, kind);
        emit HandoverOffered(batchId, from, to, kind, quantity);
    }

    function _complete(
        bytes32 batchId,
        Offer memory pending,
        string calldata gln,
        address acceptedBy
    ) private returns (bytes32 moved) {
        _checkLocation(gln, pending.to);
        Batch storage b = _batches[batchId];
        // A recall that arrived while the batch was in transit stops the hand-over.
        if (b.recall != RecallState.None) revert ProvenanceBatchRecalled(batchId);
        delete _offers[batchId];
        b.status = BatchStatus.Active;
        moved = pending.quantity < b.quantity ? _splitOff(batchId, pending.quantity) : batchId;
        Batch storage m = _batches[moved];
        uint64 from = pending.kind == HandoverKind.Ownership ? m.owner : m.custodian;
        if (pending.kind != HandoverKind.Custody) {
            _recordTransfer(moved, m.owner, pending.to, pending.quantity);
            m.owner = pending.to;
        }
        if (pending.kind != HandoverKind.Ownership) m.custodian = pending.to;
        emit HandedOver(moved, from, pending.to, pending.kind, pending.quantity, gln, acceptedBy);
    }

    /// @dev A sale: ownership of `quantity` of `batchId` passed from `from` to `to` now.
    function _recordTransfer(bytes32 batchId, uint64 from, uint64 to, uint128 quantity) private {
        uint64 index = _transferCount++;
        bytes32 id = keccak256(abi.encode(batchId, index));
        _transfers[id] = Transfer(from, to, uint64(block.timestamp), quantity);
        emit OwnershipTransferred(batchId, index, from, to, quantity);
    }

    function _splitOff(bytes32 parentId, uint128 quantity) private returns (bytes32 child) {
        Batch storage parent = _batches[parentId];
        if (quantity == 0 || quantity >= parent.quantity) {
            revert ProvenanceInsufficientQuantity(parentId, parent.quantity, quantity);
        }
        uint32 index = parent.splits;
        child = keccak256(abi.encode(parentId, index));
        // Checked above: quantity < parent.quantity.
        unchecked {
            parent.quantity -= quantity;
        }
        parent.splits = index + 1;
        Batch memory copy = parent;
        copy.quantity = quantity;
        copy.splits = 0;
        _batches[child] = copy;
        _parentOf[child] = parentId;
        emit BatchSplit(parentId, child, index, quantity);
        _addEdge(parentId, child, SPLIT, quantity);
    }

    function _consume(bytes32 batchId, Batch storage b, uint128 quantity) private {
        if (quantity == 0 || quantity > b.quantity) revert ProvenanceInsufficientQuantity(batchId, b.quantity, quantity);
        // Checked above: quantity <= b.quantity.
        unchecked {
            b.quantity -= quantity;
        }
        if (b.quantity == 0) b.status = BatchStatus.Consumed;
        emit QuantityConsumed(batchId, quantity, b.quantity);
    }

    /// @dev Dimension 0 is "not convertible": nothing to compare. A dimension only outputs have
    /// (pieces made from kilograms) cannot be balanced either.
    function _checkMassBalance(uint256[4] memory inBase, uint256[4] memory outBase, uint16 toleranceBps) private pure {
        for (uint8 d = 1; d < 4; ++d) {
            // Widened first: 10_000 + toleranceBps in uint16 overflows above 55,535 bps.
            if (inBase[d] != 0 && outBase[d] * 10_000 > inBase[d] * (10_000 + uint256(toleranceBps))) {
                revert ProvenanceMassBalance(d, inBase[d], outBase[d], toleranceBps);
            }
        }
    }

    /// @dev An edge from every input to every output, carrying the input's quantity attributed to
    /// that output (in proportion to the outputs' quantities), in the input's unit.
    function _recordEdges(
        bytes32 kind,
        bytes32[] calldata inputs,
        uint128[] calldata inputQuantities,
        NewLot[] calldata outputs,
        bytes32[] memory outputIds
    ) private {
        uint256 totalOut = 0;
        for (uint256 j = 0; j < outputs.length; ++j) totalOut += outputs[j].quantity;
        for (uint256 i = 0; i < inputs.length; ++i) {
            for (uint256 j = 0; j < outputs.length; ++j) {
                _addEdge(inputs[i], outputIds[j], kind, uint128((uint256(inputQuantities[i]) * outputs[j].quantity) / totalOut));
            }
        }
    }

    function _addEdge(bytes32 from, bytes32 to, bytes32 kind, uint128 quantity) private {
        _edges[_edgeKey(from, to)] = true;
        emit LineageEdge(from, to, kind, quantity);
    }

    function _edgeKey(bytes32 from, bytes32 to) private pure returns (bytes32) {
        return keccak256(abi.encode(from, to));
    }

    function _addBase(uint256[4] memory sums, bytes3 unit, uint128 quantity) private view {
        UnitOfMeasure memory u = _units[unit];
        if (u.dimension != 0 && u.dimension < 4) sums[u.dimension] += uint256(quantity) * u.toBase;
    }

    /// @dev An active, unrecalled batch outside any logistic unit.
    function _requireUsable(bytes32 batchId) private view returns (Batch storage b) {
        b = _batches[batchId];
        if (b.status != BatchStatus.Active) {
            if (b.status == BatchStatus.None) revert ProvenanceUnknownBatch(batchId);
            revert ProvenanceNotActive(batchId, b.status);
        }
        if (b.recall != RecallState.None) revert ProvenanceBatchRecalled(batchId);
        if (_unitOf[batchId] != 0) revert ProvenanceInUnit(batchId, _unitOf[batchId]);
    }

    /// @dev A usable batch that `org` both owns and holds.
    function _requireHolder(bytes32 batchId, uint64 org) private view returns (Batch storage b) {
        b = _requireUsable(batchId);
        if (b.owner != org) revert ProvenanceNotOwner(batchId, org);
        if (b.custodian != org) revert ProvenanceNotCustodian(batchId, org);
    }

    function _custodianOf(bytes32 batchId, Batch memory b) private view returns (uint64) {
        bytes32 unitKey = _unitOf[batchId];
        return unitKey == 0 ? b.custodian : _unitCustodian[unitKey];
    }

    function _requireOrganisation(uint64 to, uint64 from) private view {
        if (to == from) revert ProvenanceSelfHandover(to);
        if (!registry.isOrganisationActive(to)) revert ProvenanceUnknownOrganisation(to);
    }

    function _checkLocation(string calldata gln, uint64 org) private view {
        if (bytes(gln).length != 0 && registry.orgOfLocation(gln) != org) revert ProvenanceForeignLocation(gln, org);
    }

    function _checkCount(uint256 count, uint256 max) private pure {
        if (count > max) revert ProvenanceTooMany(count, max);
    }

    /// @dev The 14 digits of a GTIN-14 with a valid check digit.
    function _gtinDigits(uint64 gtin) private pure returns (bytes memory digits) {
        if (gtin == 0 || gtin > 99_999_999_999_999) revert ProvenanceInvalidGtin(gtin);
        digits = bytes(Strings.toString(gtin));
        if (digits.length < 14) digits = abi.encodePacked(new bytes(14 - digits.length), digits);
        for (uint256 i = 0; i < 14; ++i) if (digits[i] == 0) digits[i] = "0";
        if (!GS1.hasValidCheckDigit(digits)) revert ProvenanceInvalidGtin(gtin);
    }

    /// @dev GS1 AI (10): 1–20 characters of GS1 AI encodable character set 82.
    function _isLotNumber(bytes calldata lot) private pure returns (bool) {
        if (lot.length == 0 || lot.length > 20) return false;
        for (uint256 i = 0; i < lot.length; ++i) {
            bytes1 c = lot[i];
            bool ok = (c >= "0" && c <= "9") ||
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

    function _slice(bytes memory data, uint256 start, uint256 end_) private pure returns (bytes memory out) {
        out = new bytes(end_ - start);
        for (uint256 i = start; i < end_; ++i) out[i - start] = data[i];
    }
}
