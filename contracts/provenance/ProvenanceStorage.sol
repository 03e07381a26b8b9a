// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IProvenanceRegistry} from "./IProvenanceRegistry.sol";

/// @title The provenance registry's storage, shared with its external logic libraries
/// @notice ProvenanceRegistry keeps all its state in one struct at a fixed (ERC-7201) slot, so the
/// libraries it calls by delegatecall (AcceptanceLogic, TransformLogic, RecallLogic) read and write
/// the same records and emit their events from the registry's address (docs/adr/0009).
library ProvenanceStorage {
    /// @custom:storage-location erc7201:lotline.storage.Provenance
    struct Layout {
        mapping(bytes3 unit => IProvenanceRegistry.UnitOfMeasure) units;
        mapping(bytes32 kind => IProvenanceRegistry.TransformKind) kinds;
        mapping(uint64 gtin => IProvenanceRegistry.Product) products;
        mapping(bytes32 batchId => IProvenanceRegistry.Batch) batches;
        mapping(bytes32 batchId => IProvenanceRegistry.Offer) offers;
        mapping(bytes32 edgeKey => bool) edges;
        // The batch each portion was split off (settlement walks it so goods are never paid twice).
        mapping(bytes32 child => bytes32 parent) parentOf;
        mapping(bytes32 batchId => bytes32 unitKey) unitOf;
        mapping(bytes32 unitKey => uint64 custodian) unitCustodian;
        // A recalled batch inside each unit, if any: lets the unit contract refuse hand-overs of a
        // unit holding recalled goods without looping over its contents.
        mapping(bytes32 unitKey => bytes32 batchId) unitRecall;
        // Ownership transfers (sales) by id; the count is the next transfer's index.
        uint64 transferCount;
        mapping(bytes32 transferId => IProvenanceRegistry.Transfer) transfers;
        // EIP-712 acceptance nonces.
        mapping(address signer => uint256) nonces;
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
