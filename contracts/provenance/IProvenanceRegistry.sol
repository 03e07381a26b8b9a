// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Provenance registry: products, lots and their portions, custody, lineage, recall
/// @notice Identity of goods (docs/adr/0006): a lot is `lotId = keccak256(abi.encode(gtin, lot))`
/// and is its own first portion; a portion split off batch `p` is `keccak256(abi.encode(p, k))`.
/// Quantities are fixed-point with QUANTITY_DECIMALS decimals in the product's UN/CEFACT Rec 20
/// unit. Owner and custodian are organisations and are distinct. Events carry every value the
/// index needs (docs/events.md).
interface IProvenanceRegistry {
    enum BatchStatus {
        None,
        Active,
        InTransit,
        Consumed,
        Destroyed
    }

    enum RecallState {
        None,
        Direct,
        Propagated
    }

    enum HandoverKind {
        Custody,
        Ownership,
        Both
    }

    struct Batch {
        uint128 quantity;
        uint64 owner;
        uint64 custodian;
        uint64 gtin;
        uint64 producer;
        uint32 splits;
        BatchStatus status;
        RecallState recall;
    }

    struct Product {
        uint64 org;
        bytes3 unit;
    }

    struct Offer {
        uint128 quantity;
        uint64 to;
        HandoverKind kind;
    }

    /// @notice A sale recorded by the registry: ownership of `quantity` of a batch passed from
    /// organisation `from` to `to` at time `at` (an accepted Ownership or Both hand-over).
    struct Transfer {
        uint64 from;
        uint64 to;
        uint64 at;
        uint128 quantity;
    }

    struct UnitOfMeasure {
        uint8 dimension; // 0: not convertible
        uint64 toBase; // factor to the dimension's base unit
    }

    struct TransformKind {
        bool enabled;
        uint16 toleranceBps; // outputs may exceed inputs by this much, per dimension
    }

    /// @notice A new lot (or transformation output) to register.
    struct NewLot {
        uint64 gtin;
        string lot;
        uint128 quantity;
        string gln;
        bytes32 metadataHash;
    }

    /// @notice A receiver's acceptance of a hand-over, signed with EIP-712 (see handOverWithAcceptance).
    struct Acceptance {
        bytes32 batchId;
        uint128 quantity;
        uint64 to;
        HandoverKind kind;
        string gln;
        address signer;
        uint256 deadline;
    }

    event UnitOfMeasureSet(bytes3 indexed unit, uint8 dimension, uint64 toBase);
    event TransformKindSet(bytes32 indexed kind, bool enabled, uint16 toleranceBps);
    event ProductRegistered(uint64 indexed gtin, uint64 indexed org, bytes3 unit, bytes32 masterDataHash);
    event ProductUpdated(uint64 indexed gtin, bytes32 masterDataHash);
    /// @notice A lot's first portion was created (by registration or as a transformation output).
    event LotRegistered(
        bytes32 indexed lotId,
        uint64 indexed gtin,
        uint64 indexed producer,
        string lot,
        uint128 quantity,
        string gln,
        bytes32 metadataHash
    );
    /// @notice A portion was split off `parent` (a partial hand-over or an explicit split).
    event BatchSplit(bytes32 indexed parent, bytes32 indexed child, uint32 index, uint128 quantity);
    event HandoverOffered(
        bytes32 indexed batchId,
        uint64 indexed from,
        uint64 indexed to,
        HandoverKind kind,
        uint128 quantity
    );
    event HandoverCancelled(bytes32 indexed batchId, uint64 indexed by, string reason);
    /// @notice Custody and/or ownership of `batchId` passed to `to` (the accepted portion).
    event HandedOver(
        bytes32 indexed batchId,
        uint64 indexed from,
        uint64 indexed to,
        HandoverKind kind,
        uint128 quantity,
        string gln,
        address acceptedBy
    );
    /// @notice Ownership of `quantity` of `batchId` passed from `from` to `to`: the registry's
    /// record of a sale, named by (batchId, index) in settlement deliveries.
    event OwnershipTransferred(bytes32 indexed batchId, uint64 indexed index, uint64 from, uint64 to, uint128 quantity);
    /// @notice Material flowed from `from` to `to` (split, transformation or merge).
    event LineageEdge(bytes32 indexed from, bytes32 indexed to, bytes32 kind, uint128 quantity);
    event Transformed(bytes32 indexed transformationId, bytes32 indexed kind, uint64 indexed org, bytes32 metadataHash);
    event QuantityConsumed(bytes32 indexed batchId, uint128 quantity, uint128 remaining);
    event BatchEnded(bytes32 indexed batchId, BatchStatus status, string reason);
    event Observed(
        bytes32 indexed batchId,
        bytes32 indexed eventHash,
        bytes32 bizStep,
        string gln,
        bytes32 dataHash,
        uint64 org
    );
    event Recalled(bytes32 indexed batchId, uint64 indexed by, string reason);
    event RecallPropagated(bytes32 indexed batchId, bytes32 indexed from);

    error ProvenanceInvalidGtin(uint64 gtin);
    error ProvenanceForeignPrefix(uint64 gtin, uint64 org);
    error ProvenanceUnknownProduct(uint64 gtin);
    error ProvenanceProductExists(uint64 gtin);
    error ProvenanceUnknownUnit(bytes3 unit);
    error ProvenanceInvalidLot(string lot);
    error ProvenanceLotExists(bytes32 lotId);
    error ProvenanceInvalidQuantity(uint128 quantity);
    error ProvenanceForeignLocation(string gln, uint64 org);
    error ProvenanceUnknownBatch(bytes32 batchId);
    error ProvenanceNotActive(bytes32 batchId, BatchStatus status);
    error ProvenanceBatchRecalled(bytes32 batchId);
    error ProvenanceNotCustodian(bytes32 batchId, uint64 org);
    error ProvenanceNotOwner(bytes32 batchId, uint64 org);
    error ProvenanceInsufficientQuantity(bytes32 batchId, uint128 available, uint128 requested);
    error ProvenanceNoOffer(bytes32 batchId);
    error ProvenanceNotReceiver(bytes32 batchId, uint64 org);
    error ProvenanceSelfHandover(uint64 org);
    error ProvenanceUnknownOrganisation(uint64 org);
    error ProvenanceExpiredSignature(uint256 deadline);
    error ProvenanceInvalidSignature(address signer, uint64 expectedOrg);
    error ProvenanceUnknownTransformKind(bytes32 kind);
    error ProvenanceMassBalance(uint8 dimension, uint256 inputBase, uint256 outputBase, uint16 toleranceBps);
    error ProvenanceTooMany(uint256 count, uint256 max);
    error ProvenanceLengthMismatch();
    error ProvenanceInUnit(bytes32 batchId, bytes32 unitKey);
    error ProvenanceNotAnEdge(bytes32 from, bytes32 to);
    error ProvenanceNotRecalled(bytes32 batchId);
    error ProvenanceAlreadyRecalled(bytes32 batchId);
    error ProvenanceNotAllowedToRecall(address account, bytes32 batchId);
    error ProvenanceNotGovernor(address account);

    /// @notice The sale (batchId, index); `at` is 0 when there is none.
    function transfer(bytes32 batchId, uint64 index) external view returns (Transfer memory);
}
