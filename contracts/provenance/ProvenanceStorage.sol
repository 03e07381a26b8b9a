// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IProvenanceRegistry} from "./IProvenanceRegistry.sol";

/// @title The provenance registry's storage, shared with its external logic libraries
/// @notice ProvenanceRegistry keeps all its state in one struct at a fixed (ERC-7201) slot, so the
/// libraries it calls by delegatecall (AcceptanceLogic, TransformLogic, RecallLogic) read and write
/// the same records and emit their events from the registry's address (docs/adr/0009).
library ProvenanceStorage {
    /// @notice A batch in one storage slot. Ranges (docs/adr/0009): quantity < 2^64 in fixed point
    /// (1.8e16 units at 3 decimals), organisation ids < 2^32, GTIN-14 < 10^14 < 2^48, splits < 2^32.
    /// External views and events keep IProvenanceRegistry's wider types.
    struct BatchRecord {
        uint64 quantity;
        uint32 owner;
        uint32 custodian;
        uint32 producer;
        uint48 gtin;
        uint32 splits;
        IProvenanceRegistry.BatchStatus status;
        IProvenanceRegistry.RecallState recall;
    }

    /// @notice A product in one storage slot: its organisation (< 2^32) and unit, its net content
    /// per unit (< 2^48 in fixed point; 0: none, mass balance uses its unit), and the GS1 company
    /// prefix its GTIN was registered under (up to 12 ASCII digits, left-aligned), so new lots check
    /// the licence still holds.
    struct ProductRecord {
        uint32 org;
        bytes3 unit;
        bytes3 netUnit;
        uint48 netPerUnit;
        bytes12 prefix;
        uint8 prefixLength;
    }

    /// @notice What a call registering several lots already checked: the last product whose licence
    /// held and the last location found to be the organisation's (a memory cache, never stored).
    struct RegisterCache {
        uint64 gtin;
        bytes32 glnHash;
    }

    /// @custom:storage-location erc7201:lotline.storage.Provenance
    struct Layout {
        mapping(bytes3 unit => IProvenanceRegistry.UnitOfMeasure) units;
        mapping(bytes32 kind => IProvenanceRegistry.TransformKind) kinds;
        mapping(uint64 gtin => ProductRecord) products;
        mapping(bytes32 batchId => BatchRecord) batches;
        mapping(bytes32 batchId => IProvenanceRegistry.Offer) offers;
        mapping(bytes32 edgeKey => bool) edges;
        // The batch each portion was split off (settlement walks it so goods are never paid twice).
        mapping(bytes32 child => bytes32 parent) parentOf;
        mapping(bytes32 batchId => bytes32 unitKey) unitOf;
        mapping(bytes32 unitKey => uint64 custodian) unitCustodian;
        // A recalled batch inside each unit and how many there are: lets the unit contract refuse
        // hand-overs of a unit holding recalled goods without looping over its contents.
        mapping(bytes32 unitKey => bytes32 batchId) unitRecall;
        mapping(bytes32 unitKey => uint256 count) unitRecallCount;
        // Ownership transfers (sales) by id; the count is the next transfer's index.
        uint64 transferCount;
        mapping(bytes32 transferId => IProvenanceRegistry.Transfer) transfers;
        // EIP-712 acceptance nonces: a bitmap per signer (word => 256 nonces), Permit2-style.
        mapping(address signer => mapping(uint256 wordPos => uint256 bits)) nonceBitmap;
        // Recall authority and withdrawal (docs/adr/0009).
        mapping(bytes32 batchId => uint64 org) recaller; // for a direct recall: the recalling org (0: governance)
        mapping(bytes32 edgeKey => bool) propagatedEdge; // the recall of `from` went along this edge
        mapping(bytes32 batchId => uint32 count) recalledParents; // propagated edges reaching the batch
        mapping(uint64 producerOrg => mapping(uint64 auditorOrg => uint8 by)) recallAuditors; // 1 org, 2 governance
        mapping(bytes32 glnKey => bool) disposalSites;
        mapping(bytes32 batchId => bytes32 glnKey) returnOffers; // a recalled batch offered back (RETURN_TO_PRODUCER or a site)
        mapping(bytes32 batchId => bool) disposalConsent;
        // Claims (docs/adr/0009): claim name => bit (1-based), bit => credential type, batch => bits.
        uint8 claimCount;
        mapping(bytes32 claim => uint8 bit) claimBits;
        mapping(uint8 bit => bytes32 credentialType) claimCredential;
        mapping(bytes32 batchId => uint256 bits) batchClaims;
        // Allocation rule of each transformation kind for footprints (AllocationRuleSet; 0: none set).
        mapping(bytes32 kind => uint8 rule) allocationRules;
    }

    // keccak256(abi.encode(uint256(keccak256("lotline.storage.Provenance")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant SLOT = 0x483dc6139c4d5869417cc657cfee0795e10174e0b82483017a90487f5b041200;

    function layout() internal pure returns (Layout storage s) {
        // Assigning a storage pointer to a constant slot is the ERC-7201 pattern; nothing else is written.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            s.slot := SLOT
        }
    }
}
