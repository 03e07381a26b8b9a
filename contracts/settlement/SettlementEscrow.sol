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
import {ISaleRecords} from "./ISaleRecords.sol";
import {Roles} from "../common/Roles.sol";

/// @title Settlement escrow
/// @notice See {ISettlementEscrow} and docs/adr/0008. Invariants (checked against an independent
/// ledger model by a property test after every step):
/// - the escrow's balance of a token = Σ `held` of its orders + Σ `owed` in it;
/// - `paidQuantity + contested ≤ delivered` and `held` only decreases after funding;
/// - a sale counts toward at most one order, once; an order pays out at most its funded amount;
/// - nothing is credited to a seller by `release` or `acceptDelivery` while a delivered batch, or
///   an ancestor on its split chain within MAX_SPLIT_DEPTH, is recalled.
/// Checks → effects → interactions; token transfers only in fund and withdraw, behind the guard.
contract SettlementEscrow is ISettlementEscrow, ERC2771Context, ReentrancyGuard {
    using SafeERC20 for IERC20;

    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    uint256 public constant MAX_BATCHES_PER_DELIVERY = 32;
    /// @dev How many distinct batches an order may hold: release walks them all.
    uint256 public constant MAX_BATCHES_PER_ORDER = 64;
    /// @dev How far up a split chain the recall checks and freeze look.
    uint256 public constant MAX_SPLIT_DEPTH = 8;
    uint32 public constant MAX_DISPUTE_TIMEOUT = 365 days;
    uint16 private constant ALL_BPS = 10_000;
    uint256 private constant UNIT = 10 ** 3; // quantities have 3 decimals (ProvenanceRegistry)

    IConsortiumRegistry public immutable registry;
    ISaleRecords public immutable provenance;

    uint256 private _orderCount;
    mapping(uint256 orderId => Order) private _orders;
    mapping(bytes32 saleId => uint256 orderId) private _saleOrder;
    mapping(uint256 orderId => bytes32[]) private _orderBatches;
    mapping(uint256 orderId => mapping(bytes32 batchId => bool)) private _inOrder;
    mapping(address token => mapping(uint64 org => uint256)) private _owed;
    mapping(uint64 org => address) private _payout;

    constructor(
        IConsortiumRegistry registry_,
        ISaleRecords provenance_,
        address trustedForwarder_
    ) ERC2771Context(trustedForwarder_) {
        registry = registry_;
        provenance = provenance_;
    }

    /// @inheritdoc ISettlementEscrow
    function createOrder(OrderTerms calldata terms) external returns (uint256 orderId) {
        uint64 buyer = registry.requireAgent(_msgSender(), Roles.BUYER);
        _checkTerms(terms, buyer);
        orderId = ++_orderCount;
        Order storage o = _orders[orderId];
        o.buyer = buyer;
        o.seller = terms.seller;
        o.arbiter = terms.arbiter;
        o.inspectionWindow = terms.inspectionWindow;
        o.status = OrderStatus.Created;
        o.token = terms.token;
        o.gtin = terms.gtin;
        o.defaultSellerShareBps = terms.defaultSellerShareBps;
        o.quantity = terms.quantity;
        o.pricePerUnit = terms.pricePerUnit;
        o.deliveryDeadline = terms.deliveryDeadline;
        o.disputeTimeout = terms.disputeTimeout;
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
        emit DisputeTermsSet(orderId, terms.disputeTimeout, terms.defaultSellerShareBps);
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
    function deliver(uint256 orderId, Sale[] calldata sales) external {
        Order storage o = _orders[orderId];
        if (o.status != OrderStatus.Funded && o.status != OrderStatus.Delivered) revert SettlementWrongStatus(orderId, o.status);
        // Only the seller attributes its sales to its orders: the buyer (or anyone) could otherwise
        // steer a sale to the cheapest of two open orders between the same parties (ADR 0008).
        uint64 org = registry.requireAgent(_msgSender(), Roles.ALL);
        if (org != o.seller) revert SettlementNotSeller(orderId, org);
        if (block.timestamp > o.deliveryDeadline) revert SettlementDeadlinePassed(orderId, o.deliveryDeadline);
        if (sales.length == 0 || sales.length > MAX_BATCHES_PER_DELIVERY) {
            revert SettlementTooManyBatches(sales.length, MAX_BATCHES_PER_DELIVERY);
        }
        uint64 inspectionEnds = uint64(block.timestamp) + o.inspectionWindow;
        uint128 added = 0;
        for (uint256 i = 0; i < sales.length; ++i) {
            added += _countSale(orderId, o, sales[i], inspectionEnds);
        }
        o.delivered += added;
        o.inspectionEnds = inspectionEnds;
        if (o.status != OrderStatus.Delivered) _setStatus(orderId, o, OrderStatus.Delivered);
    }

    /// @inheritdoc ISettlementEscrow
    function acceptDelivery(uint256 orderId) external {
        Order storage o = _requireStatus(orderId, OrderStatus.Delivered);
        _requireBuyer(orderId, o);
        _requireNoRecall(orderId);
        _payDelivered(orderId, o);
        _close(orderId, o, OrderStatus.Completed);
    }

    /// @inheritdoc ISettlementEscrow
    function reject(uint256 orderId, uint128 quantity, string calldata reason) external {
        Order storage o = _requireStatus(orderId, OrderStatus.Delivered);
        _requireBuyer(orderId, o);
        if (block.timestamp >= o.inspectionEnds) revert SettlementInspectionOver(orderId, o.inspectionEnds);
        if (quantity == 0 || quantity > _unpaid(o)) revert SettlementInvalidQuantity(orderId, quantity);
        o.contested = quantity;
        uint64 decideBy = _startDispute(orderId, o, OrderStatus.Disputed);
        emit DeliveryRejected(orderId, quantity, reason, decideBy);
    }

    /// @inheritdoc ISettlementEscrow
    function release(uint256 orderId) external {
        Order storage o = _requireStatus(orderId, OrderStatus.Delivered);
        if (block.timestamp < o.inspectionEnds) revert SettlementInspectionRunning(orderId, o.inspectionEnds);
        _requireNoRecall(orderId);
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
        // Walk up from the named batch: it must reach a delivered batch of this order, and it or a
        // batch on the way (or above) must be recalled. Covers a recalled portion split off a
        // delivered batch and a delivered portion of a recalled lot.
        bool inOrder = false;
        bool recalled = false;
        bytes32 current = batchId;
        for (uint256 depth = 0; depth <= MAX_SPLIT_DEPTH && current != 0 && !(inOrder && recalled); ++depth) {
            if (!inOrder && _inOrder[orderId][current]) inOrder = true;
            if (!recalled && provenance.isRecalled(current)) recalled = true;
            current = provenance.parentOf(current);
        }
        if (!inOrder) revert SettlementBatchNotInOrder(batchId, orderId);
        if (!recalled) revert SettlementBatchNotRecalled(batchId);
        // Everything delivered and not yet paid is in question until someone decides.
        o.contested = _unpaid(o);
        uint64 decideBy = _startDispute(orderId, o, OrderStatus.Frozen);
        emit OrderFrozen(orderId, batchId, decideBy);
    }

    /// @inheritdoc ISettlementEscrow
    function resolve(uint256 orderId, uint16 sellerShareBps) external {
        Order storage o = _requireDispute(orderId);
        if (sellerShareBps > ALL_BPS) revert SettlementInvalidShare(sellerShareBps);
        address sender = _msgSender();
        uint64 by = 0;
        // Governance decides when the order has no arbiter, or its arbiter is no longer an active
        // organisation allowed to audit: funds must never be locked for want of a decider.
        if (o.arbiter == 0 || !registry.isOrganisationActive(o.arbiter) || !_mayAudit(o.arbiter)) {
            if (!IAccessControl(address(registry)).hasRole(GOVERNOR_ROLE, sender)) revert SettlementNotArbiter(orderId, sender);
        } else {
            by = registry.requireAgent(sender, Roles.AUDITOR);
            if (by != o.arbiter) revert SettlementNotArbiter(orderId, sender);
        }
        emit DisputeResolved(orderId, by, sellerShareBps);
        _settle(orderId, o, sellerShareBps);
    }

    /// @inheritdoc ISettlementEscrow
    function resolveAfterTimeout(uint256 orderId) external {
        Order storage o = _requireDispute(orderId);
        if (block.timestamp < o.decideBy) revert SettlementDecisionNotDue(orderId, o.decideBy);
        emit DisputeFellBack(orderId, o.defaultSellerShareBps);
        _settle(orderId, o, o.defaultSellerShareBps);
    }

    /// @inheritdoc ISettlementEscrow
    function setPayoutAddress(address payout) external {
        address sender = _msgSender();
        uint64 org = registry.requireAgent(sender, Roles.ORG_ADMIN);
        if (payout == address(0) || payout == address(this)) revert SettlementInvalidPayoutAddress(payout);
        _payout[org] = payout;
        emit PayoutAddressSet(org, payout, sender);
    }

    /// @inheritdoc ISettlementEscrow
    function withdraw(address token) external nonReentrant {
        address sender = _msgSender();
        // A removed, expired or suspended agent (or one of a suspended organisation) fails here.
        uint64 org = registry.requireAgent(sender, Roles.TREASURY);
        address to = _payout[org];
        if (to == address(0)) revert SettlementNoPayoutAddress(org);
        uint256 amount = _owed[token][org];
        if (amount == 0) revert SettlementNothingToWithdraw(org, token);
        _owed[token][org] = 0;
        emit Withdrawn(org, token, to, amount, sender);
        IERC20(token).safeTransfer(to, amount);
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
    function orderOfSale(bytes32 batchId, uint64 index) external view returns (uint256) {
        return _saleOrder[_saleId(batchId, index)];
    }

    /// @inheritdoc ISettlementEscrow
    function deliveredBatches(uint256 orderId) external view returns (bytes32[] memory) {
        return _orderBatches[orderId];
    }

    /// @inheritdoc ISettlementEscrow
    function owed(address token, uint64 org) external view returns (uint256) {
        return _owed[token][org];
    }

    /// @inheritdoc ISettlementEscrow
    function payoutAddress(uint64 org) external view returns (address) {
        return _payout[org];
    }

    /// @inheritdoc ISettlementEscrow
    function valueOf(uint256 orderId, uint128 quantity) external view returns (uint256) {
        return _value(_orders[orderId], quantity);
    }

    // ─── internals ─────────────────────────────────────────────────────────────────────────────

    /// @dev The checks createOrder documents (ISettlementEscrow).
    function _checkTerms(OrderTerms calldata terms, uint64 buyer) private view {
        if (
            terms.quantity == 0 ||
            terms.pricePerUnit == 0 ||
            terms.token == address(0) ||
            terms.deliveryDeadline <= block.timestamp ||
            terms.seller == buyer ||
            terms.arbiter == buyer ||
            terms.arbiter == terms.seller ||
            terms.disputeTimeout == 0 ||
            terms.disputeTimeout > MAX_DISPUTE_TIMEOUT ||
            terms.defaultSellerShareBps > ALL_BPS
        ) revert SettlementInvalidTerms();
        // The order's value must be positive and fit `held` (uint128): a larger one would be pulled
        // in full at funding but recorded truncated, stranding the difference in the escrow.
        uint256 total = (uint256(terms.quantity) * terms.pricePerUnit) / UNIT;
        if (total == 0 || total > type(uint128).max) revert SettlementInvalidTerms();
        if (!registry.isOrganisationActive(terms.seller)) revert SettlementUnknownOrganisation(terms.seller);
        if (terms.arbiter != 0) {
            if (!registry.isOrganisationActive(terms.arbiter)) revert SettlementUnknownOrganisation(terms.arbiter);
            if (!_mayAudit(terms.arbiter)) revert SettlementArbiterNotAuditor(terms.arbiter);
        }
    }

    /// @dev Checks one sale against the order and claims it; returns its quantity.
    function _countSale(uint256 orderId, Order storage o, Sale calldata sale, uint64 inspectionEnds) private returns (uint128) {
        bytes32 batchId = sale.batchId;
        IProvenanceRegistry.Transfer memory t = provenance.transfer(batchId, sale.index);
        if (t.at == 0) revert SettlementUnknownSale(batchId, sale.index);
        bytes32 saleId = _saleId(batchId, sale.index);
        uint256 counted = _saleOrder[saleId];
        if (counted != 0) revert SettlementSaleAlreadyCounted(batchId, sale.index, counted);
        if (t.from != o.seller) revert SettlementSaleNotFromSeller(batchId, sale.index, t.from);
        if (t.to != o.buyer) revert SettlementSaleNotToBuyer(batchId, sale.index, t.to);
        if (t.at < o.fundedAt) revert SettlementSaleBeforeFunding(batchId, sale.index, t.at, o.fundedAt);
        uint64 gtin = provenance.batch(batchId).gtin;
        if (gtin != o.gtin) revert SettlementWrongGtin(batchId, gtin);
        bytes32 recalled = _recalledOnSplitChain(batchId);
        if (recalled != 0) revert SettlementBatchRecalled(batchId, recalled);
        // solhint's reentrancy rule mistakes the registry's `transfer` view for a token transfer:
        // every call above is a STATICCALL to a view, which cannot re-enter or change state.
        // solhint-disable-next-line reentrancy
        _saleOrder[saleId] = orderId;
        if (!_inOrder[orderId][batchId]) {
            bytes32[] storage batches = _orderBatches[orderId];
            uint256 count = batches.length + 1;
            if (count > MAX_BATCHES_PER_ORDER) revert SettlementTooManyBatches(count, MAX_BATCHES_PER_ORDER);
            // solhint-disable-next-line reentrancy
            _inOrder[orderId][batchId] = true;
            batches.push(batchId);
        }
        emit DeliveryRecorded(orderId, batchId, sale.index, t.quantity, inspectionEnds);
        return t.quantity;
    }

    /// @dev The first recalled batch on the split chain from `batchId` up (itself included), at
    /// most MAX_SPLIT_DEPTH ancestors; zero when none is.
    function _recalledOnSplitChain(bytes32 batchId) private view returns (bytes32) {
        bytes32 current = batchId;
        for (uint256 depth = 0; depth <= MAX_SPLIT_DEPTH && current != 0; ++depth) {
            if (provenance.isRecalled(current)) return current;
            current = provenance.parentOf(current);
        }
        return 0;
    }

    /// @dev Bounded: at most MAX_BATCHES_PER_ORDER batches, each walked MAX_SPLIT_DEPTH up.
    function _requireNoRecall(uint256 orderId) private view {
        bytes32[] storage batches = _orderBatches[orderId];
        for (uint256 i = 0; i < batches.length; ++i) {
            bytes32 recalled = _recalledOnSplitChain(batches[i]);
            if (recalled != 0) revert SettlementBatchRecalled(batches[i], recalled);
        }
    }

    function _fund(uint256 orderId) private {
        Order storage o = _requireStatus(orderId, OrderStatus.Created);
        _requireBuyer(orderId, o);
        uint256 amount = _value(o, o.quantity);
        address from = _msgSender();
        IERC20 token = IERC20(o.token);
        // Fits: createOrder refuses terms whose value exceeds uint128.
        o.held = uint128(amount);
        o.fundedAt = uint64(block.timestamp);
        _setStatus(orderId, o, OrderStatus.Funded);
        emit OrderFunded(orderId, from, amount);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        // Solvency: `held` must be backed in full. A token that delivers less (a transfer fee, a
        // negative rebase) is refused here rather than leaving the escrow owing more than it has.
        uint256 received = token.balanceOf(address(this)) - before;
        if (received < amount) revert SettlementFeeOnTransfer(address(token), amount, received);
    }

    /// @dev Credits the seller for delivered quantity not yet paid (capped at the order).
    function _payDelivered(uint256 orderId, Order storage o) private {
        uint128 unpaid = _unpaid(o);
        if (unpaid == 0) return;
        o.paidQuantity += unpaid;
        _credit(orderId, o, o.seller, _value(o, unpaid), true);
    }

    function _startDispute(uint256 orderId, Order storage o, OrderStatus status) private returns (uint64 decideBy) {
        decideBy = uint64(block.timestamp) + o.disputeTimeout;
        o.decideBy = decideBy;
        _setStatus(orderId, o, status);
    }

    /// @dev Pays the uncontested delivered value and `sellerShareBps` of the contested value to the
    /// seller; the order closes and the rest goes back to the buyer.
    function _settle(uint256 orderId, Order storage o, uint16 sellerShareBps) private {
        uint128 contested = o.contested;
        uint128 uncontested = _unpaid(o) - contested;
        uint256 toSeller = _value(o, uncontested) + (_value(o, contested) * sellerShareBps) / ALL_BPS;
        o.paidQuantity += uncontested + contested;
        o.contested = 0;
        o.decideBy = 0;
        _credit(orderId, o, o.seller, toSeller, true);
        _close(orderId, o, OrderStatus.Resolved);
    }

    /// @dev Ends the order: whatever it still holds goes back to the buying organisation.
    function _close(uint256 orderId, Order storage o, OrderStatus status) private {
        if (o.held > 0) _credit(orderId, o, o.buyer, o.held, false);
        _setStatus(orderId, o, status);
    }

    function _credit(uint256 orderId, Order storage o, uint64 org, uint256 amount, bool toSeller) private {
        if (amount == 0) return;
        // Never more than the order holds: rounding in _value cannot overdraw the escrow.
        if (amount > o.held) amount = o.held;
        // Fits: amount ≤ held, a uint128.
        o.held -= uint128(amount);
        _owed[o.token][org] += amount;
        emit Credited(orderId, org, amount, toSeller);
    }

    /// @dev Delivered quantity (up to the ordered quantity) not yet credited to the seller.
    function _unpaid(Order storage o) private view returns (uint128) {
        uint128 payable_ = o.delivered < o.quantity ? o.delivered : o.quantity;
        return payable_ > o.paidQuantity ? payable_ - o.paidQuantity : 0;
    }

    function _value(Order storage o, uint128 quantity) private view returns (uint256) {
        return (uint256(quantity) * o.pricePerUnit) / UNIT;
    }

    /// @dev Whether governance allows the organisation the auditor role (its agents may hold it).
    function _mayAudit(uint64 org) private view returns (bool) {
        return registry.organisation(org).allowedRoles & Roles.AUDITOR != 0;
    }

    function _saleId(bytes32 batchId, uint64 index) private pure returns (bytes32) {
        return keccak256(abi.encode(batchId, index));
    }

    function _requireStatus(uint256 orderId, OrderStatus status) private view returns (Order storage o) {
        o = _orders[orderId];
        if (o.status == OrderStatus.None) revert SettlementUnknownOrder(orderId);
        if (o.status != status) revert SettlementWrongStatus(orderId, o.status);
    }

    function _requireDispute(uint256 orderId) private view returns (Order storage o) {
        o = _orders[orderId];
        if (o.status != OrderStatus.Disputed && o.status != OrderStatus.Frozen) revert SettlementWrongStatus(orderId, o.status);
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
