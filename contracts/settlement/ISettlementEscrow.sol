// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Escrowed purchase orders paid for recorded sales
/// @notice A buyer organisation orders a quantity of a GTIN from a seller organisation at a price
/// per unit, in a plain ERC-20, with a delivery deadline, an inspection window, optionally an
/// arbiter organisation (one governance allows the auditor role), and a fallback for disputes
/// nobody decides (a timeout and a default split). The buyer funds the escrow; the seller records
/// deliveries by naming **sales** the provenance registry recorded — accepted hand-overs of
/// ownership of a batch of that GTIN from the seller's organisation to the buyer's, made after the
/// order was funded (docs/adr/0008). Each sale counts toward at most one order, once. After the
/// inspection window the delivered value is credited to the seller organisation, the rest to the
/// buying organisation once the order closes; nothing is released while a delivered batch (or an
/// ancestor on its split chain) is recalled. A rejection or a recall opens a dispute that the
/// arbiter (governance when there is none, or it no longer may audit) settles with a split, or
/// that falls back to the order's default split after its timeout.
///
/// Money belongs to organisations: credits are owed to an organisation, withdrawn by its treasury
/// agents to the payout address its org admin set. Pull payments only.
///
/// States (docs in README): Created → Funded → Delivered → Completed, with Cancelled (before
/// funding), Refunded (nothing delivered by the deadline), Disputed → Resolved, Frozen → Resolved.
interface ISettlementEscrow {
    enum OrderStatus {
        None,
        Created,
        Funded,
        Delivered,
        Disputed,
        Frozen,
        Completed,
        Refunded,
        Resolved,
        Cancelled
    }

    struct Order {
        uint64 buyer;
        uint64 seller;
        uint64 arbiter; // 0: none (governance decides disputes)
        uint32 inspectionWindow; // seconds
        OrderStatus status;
        address token;
        uint64 gtin;
        uint16 defaultSellerShareBps; // the contested value's split when a dispute times out
        uint128 quantity; // fixed-point, the product's unit (3 decimals)
        uint128 pricePerUnit; // token base units per whole unit of quantity
        uint128 delivered;
        uint128 paidQuantity; // delivered quantity already credited to the seller
        uint128 contested; // delivered quantity under dispute or frozen
        uint128 held; // tokens this order still holds in escrow
        uint64 deliveryDeadline;
        uint64 inspectionEnds;
        uint64 fundedAt; // sales before this instant do not count
        uint64 decideBy; // while Disputed or Frozen: when the default split may be applied
        uint32 disputeTimeout; // seconds from a rejection or freeze to decideBy
        bytes32 termsHash; // commercial terms kept off-chain
    }

    struct OrderTerms {
        uint64 seller;
        uint64 arbiter;
        address token;
        uint64 gtin;
        uint128 quantity;
        uint128 pricePerUnit;
        uint64 deliveryDeadline;
        uint32 inspectionWindow;
        uint32 disputeTimeout;
        uint16 defaultSellerShareBps;
        bytes32 termsHash;
    }

    /// @notice A sale recorded by the provenance registry (its `OwnershipTransferred` event).
    struct Sale {
        bytes32 batchId;
        uint64 index;
    }

    event OrderCreated(
        uint256 indexed orderId,
        uint64 indexed buyer,
        uint64 indexed seller,
        uint64 arbiter,
        address token,
        uint64 gtin,
        uint128 quantity,
        uint128 pricePerUnit,
        uint64 deliveryDeadline,
        uint32 inspectionWindow,
        bytes32 termsHash
    );
    /// @notice The order's dispute fallback: `disputeTimeout` seconds after a rejection or a freeze
    /// anyone may apply `defaultSellerShareBps` (emitted with OrderCreated).
    event DisputeTermsSet(uint256 indexed orderId, uint32 disputeTimeout, uint16 defaultSellerShareBps);
    event OrderFunded(uint256 indexed orderId, address indexed from, uint256 amount);
    event OrderCancelled(uint256 indexed orderId, uint64 indexed by);
    /// @notice Sale (batchId, saleIndex) of `quantity` counts toward the order.
    event DeliveryRecorded(
        uint256 indexed orderId,
        bytes32 indexed batchId,
        uint64 indexed saleIndex,
        uint128 quantity,
        uint64 inspectionEnds
    );
    event DeliveryRejected(uint256 indexed orderId, uint128 quantity, string reason, uint64 decideBy);
    event OrderFrozen(uint256 indexed orderId, bytes32 indexed batchId, uint64 decideBy);
    /// @notice The arbiter organisation `by` (0: governance) settled a dispute or a freeze.
    event DisputeResolved(uint256 indexed orderId, uint64 indexed by, uint16 sellerShareBps);
    /// @notice Nobody decided by `decideBy`: the order's default split was applied.
    event DisputeFellBack(uint256 indexed orderId, uint16 sellerShareBps);
    event OrderStatusChanged(uint256 indexed orderId, OrderStatus status);
    /// @notice `amount` of the order's escrow is now owed to organisation `org` (its treasury withdraws).
    event Credited(uint256 indexed orderId, uint64 indexed org, uint256 amount, bool toSeller);
    /// @notice An org admin (`by`) of `org` set where its withdrawals are paid.
    event PayoutAddressSet(uint64 indexed org, address indexed payout, address by);
    /// @notice A treasury agent (`by`) of `org` withdrew `amount` of `token` to `to`, the payout address.
    event Withdrawn(uint64 indexed org, address indexed token, address indexed to, uint256 amount, address by);

    error SettlementUnknownOrder(uint256 orderId);
    error SettlementWrongStatus(uint256 orderId, OrderStatus status);
    error SettlementNotBuyer(uint256 orderId, uint64 org);
    error SettlementNotSeller(uint256 orderId, uint64 org);
    error SettlementNotArbiter(uint256 orderId, address account);
    error SettlementInvalidTerms();
    error SettlementUnknownOrganisation(uint64 org);
    /// @notice The named arbiter is not an organisation governance allows the auditor role.
    error SettlementArbiterNotAuditor(uint64 arbiter);
    error SettlementWrongGtin(bytes32 batchId, uint64 gtin);
    /// @notice The registry recorded no sale (batchId, index): custody alone, an offer not yet
    /// accepted, or a made-up index.
    error SettlementUnknownSale(bytes32 batchId, uint64 index);
    error SettlementSaleNotFromSeller(bytes32 batchId, uint64 index, uint64 from);
    error SettlementSaleNotToBuyer(bytes32 batchId, uint64 index, uint64 to);
    error SettlementSaleBeforeFunding(bytes32 batchId, uint64 index, uint64 at, uint64 fundedAt);
    error SettlementSaleAlreadyCounted(bytes32 batchId, uint64 index, uint256 orderId);
    /// @notice `batchId` is recalled, or `recalled`, an ancestor on its split chain, is.
    error SettlementBatchRecalled(bytes32 batchId, bytes32 recalled);
    error SettlementBatchNotInOrder(bytes32 batchId, uint256 orderId);
    error SettlementBatchNotRecalled(bytes32 batchId);
    error SettlementDeadlinePassed(uint256 orderId, uint64 deadline);
    error SettlementDeadlineNotPassed(uint256 orderId, uint64 deadline);
    error SettlementInspectionOver(uint256 orderId, uint64 inspectionEnds);
    error SettlementInspectionRunning(uint256 orderId, uint64 inspectionEnds);
    error SettlementDecisionNotDue(uint256 orderId, uint64 decideBy);
    error SettlementInvalidQuantity(uint256 orderId, uint128 quantity);
    error SettlementInvalidShare(uint16 sellerShareBps);
    error SettlementTooManyBatches(uint256 count, uint256 max);
    /// @notice Less arrived than the order's value: a fee-on-transfer (or otherwise non-plain) token.
    error SettlementFeeOnTransfer(address token, uint256 expected, uint256 received);
    error SettlementInvalidPayoutAddress(address payout);
    error SettlementNoPayoutAddress(uint64 org);
    error SettlementNothingToWithdraw(uint64 org, address token);

    /// @notice The sender (a buyer agent) orders from `terms.seller`. Returns the order id.
    /// @dev Reverts with SettlementInvalidTerms for a zero quantity, price or token, a deadline not in
    /// the future, a seller or arbiter that is the buyer, an arbiter that is the seller, a dispute
    /// timeout of zero or above MAX_DISPUTE_TIMEOUT, a default share above 10,000 bps, or a total
    /// value (quantity × price) that rounds to zero or exceeds uint128; with
    /// SettlementArbiterNotAuditor for an arbiter governance does not allow the auditor role.
    function createOrder(OrderTerms calldata terms) external returns (uint256 orderId);

    /// @notice Funds a Created order from the sender's wallet (after an approval). Reverts with
    /// SettlementFeeOnTransfer when the escrow received less than the order's value.
    function fund(uint256 orderId) external;

    /// @notice Funds with an ERC-2612 permit signed by the sender, so funding can be relayed.
    function fundWithPermit(uint256 orderId, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Cancels a Created (unfunded) order: the buyer or the seller.
    function cancel(uint256 orderId) external;

    /// @notice An agent of the seller records sales toward the order (at most
    /// MAX_BATCHES_PER_DELIVERY per call): each a sale of a batch of the ordered GTIN from the
    /// seller's organisation to the buyer's, at or after funding, not recalled (nor any ancestor on
    /// its split chain), not counted before.
    function deliver(uint256 orderId, Sale[] calldata sales) external;

    /// @notice The buyer accepts what was delivered; the order closes: the seller is credited the
    /// delivered value, the buyer the rest. Refused while a delivered batch is recalled.
    function acceptDelivery(uint256 orderId) external;

    /// @notice The buyer rejects part of what was delivered during the inspection window: a
    /// dispute for the arbiter (governance without one), due by now + the order's dispute timeout.
    function reject(uint256 orderId, uint128 quantity, string calldata reason) external;

    /// @notice After the inspection window: credits the seller for the delivered quantity not yet
    /// paid; closes the order (refunding the rest) when all was delivered or the deadline passed.
    /// Refused while a delivered batch is recalled (freeze the order instead).
    function release(uint256 orderId) external;

    /// @notice After the deadline with nothing delivered: the buyer's funds are credited back.
    function refund(uint256 orderId) external;

    /// @notice Freezes an order when `batchId` is recalled (or an ancestor on its split chain is)
    /// and `batchId` is a delivered batch of the order or a portion split off one (anyone may call).
    function freeze(uint256 orderId, bytes32 batchId) external;

    /// @notice The arbiter (an auditor agent of the arbiter organisation; governance when the
    /// order has none, or the arbiter is no longer an active organisation allowed to audit)
    /// settles a dispute or a freeze: the seller gets `sellerShareBps` of the contested value plus
    /// the uncontested delivered value; the buyer the rest.
    function resolve(uint256 orderId, uint16 sellerShareBps) external;

    /// @notice After `decideBy` of an undecided dispute or freeze (anyone may call): settles it
    /// with the order's default split.
    function resolveAfterTimeout(uint256 orderId) external;

    /// @notice An org admin sets where its organisation's withdrawals are paid.
    function setPayoutAddress(address payout) external;

    /// @notice A treasury agent withdraws everything the escrow owes its organisation in `token`
    /// to the organisation's payout address.
    function withdraw(address token) external;

    function order(uint256 orderId) external view returns (Order memory);

    /// @notice The order a sale counts toward (0: none).
    function orderOfSale(bytes32 batchId, uint64 index) external view returns (uint256);

    /// @notice The batches whose sales count toward the order, each once, in delivery order.
    function deliveredBatches(uint256 orderId) external view returns (bytes32[] memory);

    function owed(address token, uint64 org) external view returns (uint256);

    function payoutAddress(uint64 org) external view returns (address);

    /// @notice The token value of `quantity` at the order's price.
    function valueOf(uint256 orderId, uint128 quantity) external view returns (uint256);
}
