// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Anchors of off-chain records
/// @notice An anchor is the Merkle root (OpenZeppelin's StandardMerkleTree format: leaves are
/// double-hashed ABI-encoded values) of a batch of off-chain records of one kind — EPCIS events,
/// production runs, product master data, model hashes. Anyone holding a record and its proof can
/// check it against the root here: the record is unaltered and existed by the anchor's block.
interface IAnchorRegistry {
    struct Anchor {
        bytes32 kind;
        uint64 org;
        uint64 blockNumber;
        uint32 count;
    }

    event Anchored(bytes32 indexed root, bytes32 indexed kind, uint64 indexed org, uint32 count, string uri, address by);

    error AnchorExists(bytes32 root);
    error AnchorEmpty();

    /// @notice Anchors `root` over `count` records of `kind`; `uri` says where they can be fetched.
    /// The sender must be an active agent; a root is anchored once.
    function anchor(bytes32 kind, bytes32 root, uint32 count, string calldata uri) external;

    /// @notice The anchor of `root` (blockNumber 0 if none).
    function anchorOf(bytes32 root) external view returns (Anchor memory);
}
