// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Anchors of off-chain records
/// @notice An anchor is the Merkle root (OpenZeppelin's StandardMerkleTree format: leaves are
/// double-hashed ABI-encoded values) of a batch of off-chain records of one kind — EPCIS events,
/// production runs, product master data, model hashes. Anyone holding a record and its proof can
/// check it against the root here: the record is unaltered and existed by the anchor's block.
///
/// Anchors are keyed by (organisation, root): a root says nothing by itself about who vouches for
/// it, and members compete. A rival that copies a root from the mempool and anchors it first gets
/// an anchor of its own organisation, which neither blocks the owner's anchor nor stands for it;
/// every proof names the organisation whose anchor it relies on and checks `anchorOf(org, root)`.
interface IAnchorRegistry {
    /// @dev `org` repeats the key so that a returned anchor names its organisation by itself.
    struct Anchor {
        bytes32 kind;
        uint64 org;
        uint64 blockNumber;
        uint32 count;
    }

    /// @notice `org` anchored `root` over `count` records of `kind` (sent by its agent `by`).
    event Anchored(bytes32 indexed root, bytes32 indexed kind, uint64 indexed org, uint32 count, string uri, address by);

    /// @notice Organisation `org` anchored `root` before (an anchor is stored once per organisation).
    error AnchorExists(uint64 org, bytes32 root);
    /// @notice A root must be non-zero and commit to at least one record.
    error AnchorEmpty();

    /// @notice Anchors `root` over `count` records of `kind` for the sender's organisation; `uri`
    /// says where they can be fetched. The sender must be an active agent; an organisation anchors
    /// a root once. Other organisations' anchors of the same root do not matter.
    function anchor(bytes32 kind, bytes32 root, uint32 count, string calldata uri) external;

    /// @notice The anchor of `root` by organisation `org` (blockNumber 0 if `org` never anchored it,
    /// whatever other organisations did).
    function anchorOf(uint64 org, bytes32 root) external view returns (Anchor memory);
}
