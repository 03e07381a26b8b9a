// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Escrowed purchase orders released by verified delivery
/// @notice A buyer organisation orders a quantity of a GTIN from a seller organisation at a price
/// per unit, in an ERC-20, with a delivery deadline, an inspection window and optionally an arbiter
/// organisation (an auditor). The buyer funds the escrow; the seller records deliveries by naming
/// batches of that GTIN whose custody the buyer holds on the provenance registry (each batch counts
/// once, toward one order); after the inspection window the delivered value is credited to the
/// seller, the rest refunded to the buyer once the order closes. A rejection opens a dispute the
/// arbiter settles with a split; a recalled delivered batch freezes the order until the arbiter
/// resolves it. Payments are pull-based: `withdraw` sends what an address is owed.
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
        uint64 arbiter; // 0: none
        uint32 inspectionWindow; // seconds
        OrderStatus status;
        address token;
        uint64 gtin;
        uint128 quantity; // fixed-point, the product's unit (3 decimals)
        uint128 pricePerUnit; // token base units per whole unit of quantity
        uint128 delivered;
        uint128 paidQuantity; // delivered quantity already credited to the seller
        uint128 contested; // delivered quantity under dispute or frozen
        uint64 deliveryDeadline;
        uint64 inspectionEnds;
        uint128 held; // tokens this order still holds in escrow
        address buyerWallet; // funded the order; receives refunds
        address sellerWallet; // recorded the first delivery; receives payment
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
        bytes32 termsHash;
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
    event OrderFunded(uint256 indexed orderId, address indexed from, uint256 amount);
    event OrderCancelled(uint256 indexed orderId, uint64 indexed by);
    event DeliveryRecorded(uint256 indexed orderId, bytes32 indexed batchId, uint128 quantity, uint64 inspectionEnds);
    event DeliveryRejected(uint256 indexed orderId, uint128 quantity, string reason);
    event OrderFrozen(uint256 indexed orderId, bytes32 indexed batchId);
    event DisputeResolved(uint256 indexed orderId, uint64 indexed by, uint16 sellerShareBps);
    event OrderStatusChanged(uint256 indexed orderId, OrderStatus status);
    /// @notice `amount` of the order's escrow is now owed to `account` (withdraw to collect).
    event Credited(uint256 indexed orderId, address indexed account, uint256 amount, bool toSeller);
    event Withdrawn(address indexed account, address indexed token, uint256 amount);

    error SettlementUnknownOrder(uint256 orderId);
    error SettlementWrongStatus(uint256 orderId, OrderStatus status);
    error SettlementNotBuyer(uint256 orderId, uint64 org);
    error SettlementNotSeller(uint256 orderId, uint64 org);
    error SettlementNotArbiter(uint256 orderId, address account);
    error SettlementInvalidTerms();
    error SettlementUnknownOrganisation(uint64 org);
    error SettlementWrongGtin(bytes32 batchId, uint64 gtin);
    error SettlementNotInBuyerCustody(bytes32 batchId, uint64 custodian);
    error SettlementBatchRecalled(bytes32 batchId);
    error SettlementBatchAlreadyCounted(bytes32 batchId, uint256 orderId);
    error SettlementBatchNotInOrder(bytes32 batchId, uint256 orderId);
    error SettlementBatchNotRecalled(bytes32 batchId);
    error SettlementDeadlinePassed(uint256 orderId, uint64 deadline);
    error SettlementDeadlineNotPassed(uint256 orderId, uint64 deadline);
    error SettlementInspectionOver(uint256 orderId, uint64 inspectionEnds);
    error SettlementInspectionRunning(uint256 orderId, uint64 inspectionEnds);
    error SettlementInvalidQuantity(uint256 orderId, uint128 quantity);
    error SettlementNoArbiter(uint256 orderId);
    error SettlementInvalidShare(uint16 sellerShareBps);
    error SettlementNothingToWithdraw(address account, address token);
    error SettlementTooManyBatches(uint256 count, uint256 max);

    /// @notice The sender (a buyer agent) orders from `terms.seller`. Returns the order id.
    /// @dev Reverts with SettlementInvalidTerms for a zero quantity, price or token, a deadline not in
    /// the future, a seller or arbiter that is the buyer, an arbiter that is the seller, or a total
    /// value (quantity × price) that rounds to zero or exceeds uint128.
    function createOrder(OrderTerms calldata terms) external returns (uint256 orderId);

    /// @notice Funds a Created order from the sender's wallet (after an approval).
    function fund(uint256 orderId) external;

    /// @notice Funds with an ERC-2612 permit signed by the sender, so funding can be relayed.
    function fundWithPermit(uint256 orderId, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Cancels a Created (unfunded) order: the buyer or the seller.
    function cancel(uint256 orderId) external;

    /// @notice The seller records delivered batches (at most MAX_BATCHES_PER_DELIVERY).
    function deliver(uint256 orderId, bytes32[] calldata batchIds) external;

    /// @notice The buyer accepts what was delivered, before the inspection window ends; the order
    /// closes: the seller is credited the delivered value, the buyer the rest.
    function acceptDelivery(uint256 orderId) external;

    /// @notice The buyer rejects part of what was delivered during the inspection window: a
    /// dispute for the arbiter.
    function reject(uint256 orderId, uint128 quantity, string calldata reason) external;

    /// @notice After the inspection window: credits the seller for the delivered quantity not yet
    /// paid; closes the order (refunding the rest) when all was delivered or the deadline passed.
    function release(uint256 orderId) external;

    /// @notice After the deadline with nothing delivered: the buyer's funds are returned.
    function refund(uint256 orderId) external;

    /// @notice Freezes an order one of whose delivered batches is recalled (anyone may call).
    function freeze(uint256 orderId, bytes32 batchId) external;

    /// @notice The arbiter (an auditor agent of the arbiter organisation; governance when the
    /// order has none) settles a dispute or a freeze: the seller gets `sellerShareBps` of the
    /// contested value plus the uncontested delivered value; the buyer the rest.
    function resolve(uint256 orderId, uint16 sellerShareBps) external;

    /// @notice Sends the sender everything it is owed in `token`.
    function withdraw(address token) external;

    function order(uint256 orderId) external view returns (Order memory);

    function orderOfBatch(bytes32 batchId) external view returns (uint256);

    function owed(address token, address account) external view returns (uint256);

    /// @notice The token value of `quantity` at the order's price.
    function valueOf(uint256 orderId, uint128 quantity) external view returns (uint256);
}
