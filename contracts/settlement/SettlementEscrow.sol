// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ISettlementEscrow} from "./ISettlementEscrow.sol";
import {IConsortiumRegistry} from "../identity/IConsortiumRegistry.sol";
import {IProvenanceRegistry} from "../provenance/IProvenanceRegistry.sol";
import {ProvenanceRegistry} from "../provenance/ProvenanceRegistry.sol";
import {Roles} from "../common/Roles.sol";

/// @title Settlement escrow
/// @notice See {ISettlementEscrow}. Invariants (checked by a property test after every step):
/// - the escrow's balance of a token = Σ `held` of its orders + Σ `owed` in it;
/// - `paidQuantity + contested ≤ delivered` and `held` only decreases after funding;
/// - a batch counts toward at most one order, once; an order pays out at most its funded amount.
/// Checks → effects → interactions; token transfers only in fund and withdraw, behind the guard.
contract SettlementEscrow is ISettlementEscrow, ERC2771Context, ReentrancyGuard {
    using SafeERC20 for IERC20;

    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    uint256 public constant MAX_BATCHES_PER_DELIVERY = 32;
    /// @dev How far up the split chain deliver looks for an already counted ancestor.
    uint256 public constant MAX_SPLIT_DEPTH = 16;
    uint256 private constant MAX_SPLIT_SCAN = 64;
    uint256 private constant UNIT = 10 ** 3; // quantities have 3 decimals (ProvenanceRegistry)

    IConsortiumRegistry public immutable registry;
    ProvenanceRegistry public immutable provenance;

    uint256 private _orderCount;
    mapping(uint256 orderId => Order) private _orders;
    mapping(bytes32 batchId => uint256 orderId) private _batchOrder;
    // How many portions had been split off a batch when it was counted: later ones are its goods.
    mapping(bytes32 batchId => uint32 splits) private _splitsAtCount;
    mapping(address token => mapping(address account => uint256)) private _owed;

    constructor(
        IConsortiumRegistry registry_,
        ProvenanceRegistry provenance_,
        address trustedForwarder_
    ) ERC2771Context(trustedForwarder_) {
        registry = registry_;
        provenance = provenance_;
    }

    /// @inheritdoc ISettlementEscrow
    function createOrder(OrderTerms calldata terms) external returns (uint256 orderId) {
        uint64 buyer = registry.requireAgent(_msgSender(), Roles.BUYER);
        if (
            terms.quantity == 0 ||
            terms.pricePerUnit == 0 ||
            terms.token == address(0) ||
            terms.deliveryDeadline <= block.timestamp ||
            terms.seller == buyer ||
            terms.arbiter == buyer ||
            terms.arbiter == terms.seller
        ) revert SettlementInvalidTerms();
        // The order's value must be positive and fit `held` (uint128): a larger one would be pulled
        // in full at funding but recorded truncated, stranding the difference in the escrow.
        uint256 total = (uint256(terms.quantity) * terms.pricePerUnit) / UNIT;
        if (total == 0 || total > type(uint128).max) revert SettlementInvalidTerms();
        if (!registry.isOrganisationActive(terms.seller)) revert SettlementUnknownOrganisation(terms.seller);
        if (terms.arbiter != 0 && !registry.isOrganisationActive(terms.arbiter)) {
            revert SettlementUnknownOrganisation(terms.arbiter);
        }
        orderId = ++_orderCount;
        Order storage o = _orders[orderId];
        o.buyer = buyer;
        o.seller = terms.seller;
        o.arbiter = terms.arbiter;
        o.inspectionWindow = terms.inspectionWindow;
        o.status = OrderStatus.Created;
        o.token = terms.token;
        o.gtin = terms.gtin;
        o.quantity = terms.quantity;
        o.pricePerUnit = terms.pricePerUnit;
        o.deliveryDeadline = terms.deliveryDeadline;
        o.termsHash = terms.termsHash;
        emit OrderCreated(
            orderId,
            buyer,
            terms.seller,
            terms.arbiter,
            terms.token,
            terms.gtin,
            terms.quantity,
            terms.pricePerUnit,
            terms.deliveryDeadline,
            terms.inspectionWindow,
            terms.termsHash
        );
    }

    /// @inheritdoc ISettlementEscrow
    function fund(uint256 orderId) external nonReentrant {
        _fund(orderId);
    }

    /// @inheritdoc ISettlementEscrow
    function fundWithPermit(uint256 orderId, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external nonReentrant {
        // Checked before the permit: an unknown order has no token to call (the call would revert
        // without a reason), a closed one nothing to fund.
        Order storage o = _requireStatus(orderId, OrderStatus.Created);
        // A permit front-run by someone else still leaves the allowance: ignore its failure and
        // let transferFrom decide (OpenZeppelin's recommended pattern).
        try IERC20Permit(o.token).permit(_msgSender(), address(this), _value(o, o.quantity), deadline, v, r, s) {} catch {}
        _fund(orderId);
    }

    /// @inheritdoc ISettlementEscrow
    function cancel(uint256 orderId) external {
        Order storage o = _requireStatus(orderId, OrderStatus.Created);
        uint64 org = registry.requireAgent(_msgSender(), Roles.ALL);
        if (org != o.buyer && org != o.seller) revert SettlementNotBuyer(orderId, org);
        _setStatus(orderId, o, OrderStatus.Cancelled);
        emit OrderCancelled(orderId, org);
    }

    /// @inheritdoc ISettlementEscrow
    function deliver(uint256 orderId, bytes32[] calldata batchIds) external {
        Order storage o = _orders[orderId];
        if (o.status != OrderStatus.Funded && o.status != OrderStatus.Delivered) revert SettlementWrongStatus(orderId, o.status);
        uint64 org = registry.requireAgent(_msgSender(), Roles.ALL);
        if (org != o.seller) revert SettlementNotSeller(orderId, org);
        if (block.timestamp > o.deliveryDeadline) revert SettlementDeadlinePassed(orderId, o.deliveryDeadline);
        if (batchIds.length == 0 || batchIds.length > MAX_BATCHES_PER_DELIVERY) {
            revert SettlementTooManyBatches(batchIds.length, MAX_BATCHES_PER_DELIVERY);
        }
        uint128 added = 0;
        for (uint256 i = 0; i < batchIds.length; ++i) {
            bytes32 batchId = batchIds[i];
            IProvenanceRegistry.Batch memory b = provenance.batch(batchId);
            if (b.gtin != o.gtin) revert SettlementWrongGtin(batchId, b.gtin);
            if (b.custodian != o.buyer) revert SettlementNotInBuyerCustody(batchId, b.custodian);
            if (b.recall != IProvenanceRegistry.RecallState.None) revert SettlementBatchRecalled(batchId);
            _requireNotCounted(batchId);
            _batchOrder[batchId] = orderId;
            if (b.splits != 0) _splitsAtCount[batchId] = b.splits;
            added += b.quantity;
            emit DeliveryRecorded(orderId, batchId, b.quantity, uint64(block.timestamp) + o.inspectionWindow);
        }
        o.delivered += added;
        if (o.sellerWallet == address(0)) o.sellerWallet = _msgSender();
        o.inspectionEnds = uint64(block.timestamp) + o.inspectionWindow;
        if (o.status != OrderStatus.Delivered) _setStatus(orderId, o, OrderStatus.Delivered);
    }

    /// @inheritdoc ISettlementEscrow
    function acceptDelivery(uint256 orderId) external {
        Order storage o = _requireStatus(orderId, OrderStatus.Delivered);
        _requireBuyer(orderId, o);
        _payDelivered(orderId, o);
        _close(orderId, o, OrderStatus.Completed);
    }

    /// @inheritdoc ISettlementEscrow
    function reject(uint256 orderId, uint128 quantity, string calldata reason) external {
        Order storage o = _requireStatus(orderId, OrderStatus.Delivered);
        _requireBuyer(orderId, o);
        if (block.timestamp >= o.inspectionEnds) revert SettlementInspectionOver(orderId, o.inspectionEnds);
        if (o.arbiter == 0) revert SettlementNoArbiter(orderId);
        if (quantity == 0 || quantity > _unpaid(o)) revert SettlementInvalidQuantity(orderId, quantity);
        o.contested = quantity;
        _setStatus(orderId, o, OrderStatus.Disputed);
        emit DeliveryRejected(orderId, quantity, reason);
    }

    /// @inheritdoc ISettlementEscrow
    function release(uint256 orderId) external {
        Order storage o = _requireStatus(orderId, OrderStatus.Delivered);
        if (block.timestamp < o.inspectionEnds) revert SettlementInspectionRunning(orderId, o.inspectionEnds);
        _payDelivered(orderId, o);
        if (o.delivered >= o.quantity || block.timestamp > o.deliveryDeadline) _close(orderId, o, OrderStatus.Completed);
    }

    /// @inheritdoc ISettlementEscrow
    function refund(uint256 orderId) external {
        Order storage o = _requireStatus(orderId, OrderStatus.Funded);
        if (block.timestamp <= o.deliveryDeadline) revert SettlementDeadlineNotPassed(orderId, o.deliveryDeadline);
        _close(orderId, o, OrderStatus.Refunded);
    }

    /// @inheritdoc ISettlementEscrow
    function freeze(uint256 orderId, bytes32 batchId) external {
        Order storage o = _orders[orderId];
        if (o.status != OrderStatus.Delivered && o.status != OrderStatus.Disputed) {
            revert SettlementWrongStatus(orderId, o.status);
        }
        if (_batchOrder[batchId] != orderId) revert SettlementBatchNotInOrder(batchId, orderId);
        if (!provenance.isRecalled(batchId)) revert SettlementBatchNotRecalled(batchId);
        // Everything delivered and not yet paid is in question until the arbiter decides.
        o.contested = _unpaid(o);
        _setStatus(orderId, o, OrderStatus.Frozen);
        emit OrderFrozen(orderId, batchId);
    }

    /// @inheritdoc ISettlementEscrow
    function resolve(uint256 orderId, uint16 sellerShareBps) external {
        Order storage o = _orders[orderId];
        if (o.status != OrderStatus.Disputed && o.status != OrderStatus.Frozen) revert SettlementWrongStatus(orderId, o.status);
        if (sellerShareBps > 10_000) revert SettlementInvalidShare(sellerShareBps);
        address sender = _msgSender();
        uint64 by = 0;
        // Governance decides when the order has no arbiter, or its arbiter is no longer an active
        // member: funds must never be locked for want of a decider.
        if (o.arbiter == 0 || !registry.isOrganisationActive(o.arbiter)) {
            if (!IAccessControl(address(registry)).hasRole(GOVERNOR_ROLE, sender)) revert SettlementNotArbiter(orderId, sender);
        } else {
            by = registry.requireAgent(sender, Roles.AUDITOR);
            if (by != o.arbiter) revert SettlementNotArbiter(orderId, sender);
        }
        uint128 contested = o.contested;
        uint128 uncontested = _unpaid(o) - contested;
        uint256 toSeller = _value(o, uncontested) + (_value(o, contested) * sellerShareBps) / 10_000;
        o.paidQuantity += uncontested + contested;
        o.contested = 0;
        _credit(orderId, o, o.sellerWallet, toSeller, true);
        emit DisputeResolved(orderId, by, sellerShareBps);
        _close(orderId, o, OrderStatus.Resolved);
    }

    /// @inheritdoc ISettlementEscrow
    function withdraw(address token) external nonReentrant {
        address account = _msgSender();
        uint256 amount = _owed[token][account];
        if (amount == 0) revert SettlementNothingToWithdraw(account, token);
        _owed[token][account] = 0;
        emit Withdrawn(account, token, amount);
        IERC20(token).safeTransfer(account, amount);
    }

    // ─── views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc ISettlementEscrow
    function order(uint256 orderId) external view returns (Order memory) {
        return _orders[orderId];
    }

    function orderCount() external view returns (uint256) {
        return _orderCount;
    }

    /// @inheritdoc ISettlementEscrow
    function orderOfBatch(bytes32 batchId) external view returns (uint256) {
        return _batchOrder[batchId];
    }

    /// @inheritdoc ISettlementEscrow
    function owed(address token, address account) external view returns (uint256) {
        return _owed[token][account];
    }

    /// @inheritdoc ISettlementEscrow
    function valueOf(uint256 orderId, uint128 quantity) external view returns (uint256) {
        return _value(_orders[orderId], quantity);
    }

    // ─── internals ─────────────────────────────────────────────────────────────────────────────

    /// @dev A batch counts once, and so does every portion split off a counted batch after it was
    /// counted: the buyer splitting delivered goods must not let the seller deliver them again.
    /// Portions split off before their parent was counted are distinct goods and may count.
    function _requireNotCounted(bytes32 batchId) private view {
        bytes32 child = 0;
        bytes32 current = batchId;
        for (uint256 depth = 0; depth <= MAX_SPLIT_DEPTH && current != 0; ++depth) {
            uint256 counted = _batchOrder[current];
            if (counted != 0 && (child == 0 || _splitAfterCount(current, child))) {
                revert SettlementBatchAlreadyCounted(current, counted);
            }
            child = current;
            current = provenance.parentOf(current);
        }
    }

    /// @dev Whether `child` is a portion split off `parent` after `parent` was counted, i.e. its
    /// index is at least the number of splits at counting. Bounded: beyond MAX_SPLIT_SCAN later
    /// splits the answer is conservatively yes.
    function _splitAfterCount(bytes32 parent, bytes32 child) private view returns (bool) {
        uint32 atCount = _splitsAtCount[parent];
        uint32 nowSplits = provenance.batch(parent).splits;
        if (nowSplits - atCount > MAX_SPLIT_SCAN) return true;
        for (uint32 index = atCount; index < nowSplits; ++index) {
            if (keccak256(abi.encode(parent, index)) == child) return true;
        }
        return false;
    }

    function _fund(uint256 orderId) private {
        Order storage o = _requireStatus(orderId, OrderStatus.Created);
        _requireBuyer(orderId, o);
        uint256 amount = _value(o, o.quantity);
        address from = _msgSender();
        // Fits: createOrder refuses terms whose value exceeds uint128.
        o.held = uint128(amount);
        o.buyerWallet = from;
        _setStatus(orderId, o, OrderStatus.Funded);
        emit OrderFunded(orderId, from, amount);
        IERC20(o.token).safeTransferFrom(from, address(this), amount);
    }

    /// @dev Credits the seller for delivered quantity not yet paid (capped at the order).
    function _payDelivered(uint256 orderId, Order storage o) private {
        uint128 unpaid = _unpaid(o);
        if (unpaid == 0) return;
        o.paidQuantity += unpaid;
        _credit(orderId, o, o.sellerWallet, _value(o, unpaid), true);
    }

    /// @dev Ends the order: whatever it still holds goes back to the buyer.
    function _close(uint256 orderId, Order storage o, OrderStatus status) private {
        if (o.held > 0) _credit(orderId, o, o.buyerWallet, o.held, false);
        _setStatus(orderId, o, status);
    }

    function _credit(uint256 orderId, Order storage o, address account, uint256 amount, bool toSeller) private {
        if (amount == 0) return;
        // Never more than the order holds: rounding in _value cannot overdraw the escrow.
        if (amount > o.held) amount = o.held;
        o.held -= uint128(amount);
        _owed[o.token][account] += amount;
        emit Credited(orderId, account, amount, toSeller);
    }

    /// @dev Delivered quantity (up to the ordered quantity) not yet credited to the seller.
    function _unpaid(Order storage o) private view returns (uint128) {
        uint128 payable_ = o.delivered < o.quantity ? o.delivered : o.quantity;
        return payable_ > o.paidQuantity ? payable_ - o.paidQuantity : 0;
    }

    function _value(Order storage o, uint128 quantity) private view returns (uint256) {
        return (uint256(quantity) * o.pricePerUnit) / UNIT;
    }

    function _requireStatus(uint256 orderId, OrderStatus status) private view returns (Order storage o) {
        o = _orders[orderId];
        if (o.status == OrderStatus.None) revert SettlementUnknownOrder(orderId);
        if (o.status != status) revert SettlementWrongStatus(orderId, o.status);
    }

    function _requireBuyer(uint256 orderId, Order storage o) private view {
        uint64 org = registry.requireAgent(_msgSender(), Roles.BUYER);
        if (org != o.buyer) revert SettlementNotBuyer(orderId, org);
    }

    function _setStatus(uint256 orderId, Order storage o, OrderStatus status) private {
        o.status = status;
        emit OrderStatusChanged(orderId, status);
    }
}
