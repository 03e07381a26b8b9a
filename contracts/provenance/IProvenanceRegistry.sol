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

    /// @notice A receiver's acceptance of a hand-over, signed with EIP-712 (see handOverWithAcceptance):
    /// `signer`, an agent of organisation `to`, accepts `quantity` of `batchId` from organisation
    /// `from` at `gln`. `nonce` is unordered (a bit in the signer's nonce bitmap: word `nonce >> 8`,
    /// bit `nonce & 0xff`), so acceptances signed concurrently do not cancel each other.
    struct Acceptance {
        bytes32 batchId;
        uint128 quantity;
        uint64 from;
        uint64 to;
        HandoverKind kind;
        string gln;
        address signer;
        uint256 nonce;
        uint256 deadline;
    }

    event UnitOfMeasureSet(bytes3 indexed unit, uint8 dimension, uint64 toBase);
    event TransformKindSet(bytes32 indexed kind, bool enabled, uint16 toleranceBps);
    /// @notice Governance set how a transformation of `kind` splits its burden among co-products in
    /// footprints (ISO 14044 §4.3.4): 0 no rule (each node's configured default applies), 1 mass,
    /// 2 dry matter (milk solids), 3 economic, 4 none (a process of this kind may not allocate).
    event AllocationRuleSet(bytes32 indexed kind, uint8 rule);
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
    /// @notice The recall of `from` reached `batchId` along the verified edge `from → batchId`.
    /// Emitted once per edge: a batch reached from two recalled parents gets two (it stays
    /// recalled until both recalls are withdrawn).
    event RecallPropagated(bytes32 indexed batchId, bytes32 indexed from);
    /// @notice The direct recall of `batchId` was withdrawn by organisation `by` (0: governance).
    /// The batch stays recalled (as propagated) while a recalled parent's edge still reaches it.
    event RecallWithdrawn(bytes32 indexed batchId, uint64 indexed by, string reason);
    /// @notice The withdrawal of `from`'s recall went along the edge `from → batchId`; `lifted`
    /// tells whether `batchId` is no longer recalled (false: another recall still reaches it).
    event RecallWithdrawalPropagated(bytes32 indexed batchId, bytes32 indexed from, bool lifted);
    /// @notice Organisation `auditorOrg`'s auditors may recall the lots of `producerOrg`, appointed
    /// by the producer's org admin or by governance.
    event RecallAuditorAppointed(uint64 indexed producerOrg, uint64 indexed auditorOrg, bool byGovernance);
    event RecallAuditorRevoked(uint64 indexed producerOrg, uint64 indexed auditorOrg, bool byGovernance);
    /// @notice Governance registered (or deregistered) a GLN as a site where recalled goods may go.
    event DisposalSiteSet(string gln, uint64 indexed org, bool registered);
    /// @notice The custodian of recalled `batchId` offered it back to `to` (its producer, or the
    /// organisation of the disposal site `gln`); the receiver accepts with accept().
    event RecallReturnOffered(bytes32 indexed batchId, uint64 indexed to, string gln);
    /// @notice The owner of recalled `batchId` consented to its custodian destroying it.
    event DisposalConsented(bytes32 indexed batchId, uint64 indexed owner);
    /// @notice A product's net content per unit (`perUnit`, QUANTITY_DECIMALS decimals, of `netUnit`):
    /// the conversion mass balance uses for it.
    event ProductNetContentSet(uint64 indexed gtin, bytes3 netUnit, uint64 perUnit);
    /// @notice Governance defined claim `claim` (e.g. "ORGANIC"), backed by credentials of
    /// `credentialType` (0: retired); `bit` is its position in a batch's claim set.
    event ClaimDefined(bytes32 indexed claim, bytes32 credentialType, uint8 bit);
    event ClaimAdded(bytes32 indexed batchId, bytes32 indexed claim, uint64 indexed org);
    /// @notice A transformation output carries the claims (a bit set) every input carried validly.
    event ClaimsCarried(bytes32 indexed batchId, uint256 claims);
    /// @notice `signer` invalidated the acceptance nonces `mask` of bitmap word `wordPos`.
    event AcceptanceNoncesInvalidated(address indexed signer, uint256 wordPos, uint256 mask);

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
    /// @notice An allocation rule outside 0–4 (see {AllocationRuleSet}).
    error ProvenanceInvalidAllocationRule(bytes32 kind, uint8 rule);
    error ProvenanceMassBalance(uint8 dimension, uint256 inputBase, uint256 outputBase, uint16 toleranceBps);
    error ProvenanceTooMany(uint256 count, uint256 max);
    error ProvenanceLengthMismatch();
    error ProvenanceInUnit(bytes32 batchId, bytes32 unitKey);
    error ProvenanceNotAnEdge(bytes32 from, bytes32 to);
    error ProvenanceNotRecalled(bytes32 batchId);
    error ProvenanceAlreadyRecalled(bytes32 batchId);
    error ProvenanceNotAllowedToRecall(address account, bytes32 batchId);
    error ProvenanceNotGovernor(address account);
    error ProvenanceNotDirectlyRecalled(bytes32 batchId);
    error ProvenanceNotAllowedToWithdraw(address account, bytes32 batchId);
    error ProvenanceEdgeNotPropagated(bytes32 from, bytes32 to);
    error ProvenanceStillRecalled(bytes32 batchId);
    error ProvenanceNotOrgAdmin(address account, uint64 org);
    error ProvenanceAlreadyAppointed(uint64 producerOrg, uint64 auditorOrg);
    error ProvenanceNotAppointed(uint64 producerOrg, uint64 auditorOrg);
    error ProvenanceNotDisposalSite(string gln, uint64 to);
    error ProvenanceNoDisposalConsent(bytes32 batchId, uint64 custodian);
    error ProvenanceOfferChanged(bytes32 batchId, uint128 quantity, HandoverKind kind);
    error ProvenanceDimensionMismatch(uint64 gtin, uint8 dimension);
    error ProvenanceUnknownClaim(bytes32 claim);
    error ProvenanceTooManyClaims();
    error ProvenanceClaimNotCertified(bytes32 claim, uint64 org);
    error ProvenancePrefixWithdrawn(uint64 gtin, uint64 org);
    error ProvenanceNonceUsed(address signer, uint256 nonce);
    error ProvenanceWrongSender(uint64 signedFrom, uint64 sender);
    error ProvenanceQuantityRange(uint128 quantity);

    /// @notice The sale (batchId, index); `at` is 0 when there is none.
    function transfer(bytes32 batchId, uint64 index) external view returns (Transfer memory);
}
