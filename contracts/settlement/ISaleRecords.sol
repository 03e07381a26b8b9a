// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IProvenanceRegistry} from "../provenance/IProvenanceRegistry.sol";

/// @title What the escrow reads from the provenance registry
/// @notice The settlement escrow depends only on these views: the registry's record of sales, a
/// batch's product and recall state, and the split chain. Keeping the dependency this narrow lets
/// the registry be split or reorganised without touching the escrow (docs/adr/0008).
interface ISaleRecords {
    /// @notice The sale (batchId, index); `at` is 0 when there is none.
    function transfer(bytes32 batchId, uint64 index) external view returns (IProvenanceRegistry.Transfer memory);

    function batch(bytes32 batchId) external view returns (IProvenanceRegistry.Batch memory);

    /// @notice True when the batch is recalled, directly or through its lineage.
    function isRecalled(bytes32 batchId) external view returns (bool);

    /// @notice The batch `batchId` was split off (zero for a lot's first portion).
    function parentOf(bytes32 batchId) external view returns (bytes32);
}
