// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Sharing registry: who may read which of an organisation's off-chain records, and where
/// each organisation's node serves them
/// @notice Off-chain records (EPCIS events, production runs, order terms) stay with the node of the
/// organisation that captured them. An organisation shares them by a grant: read access for another
/// organisation to record classes, over a scope (everything, one GTIN, or one lot with everything
/// made from it), until an expiry. Grants are on-chain so every node enforces the same rules and the
/// grantor can prove what it shared; appointing an auditor is such a grant. Each organisation's
/// admin also publishes the URL of its node, where grantees fetch what they were granted.
interface ISharingRegistry {
    enum ScopeKind {
        All, // every record of the grantor (scope = 0)
        Gtin, // records about lots of one GTIN (scope = the GTIN)
        Lot // records about one lot and everything made from it (scope = the lot's id)
    }

    struct Grant {
        uint64 grantor;
        uint64 grantee;
        uint8 classes; // bit set of record classes (CLASS_*)
        ScopeKind scopeKind;
        uint64 expiresAt;
        uint64 revokedAt; // 0: not revoked
        bytes32 scope;
    }

    /// @notice `grantor` gave `grantee` read access to `classes` of its records over the scope.
    event GrantIssued(
        uint256 indexed grantId,
        uint64 indexed grantor,
        uint64 indexed grantee,
        uint8 classes,
        ScopeKind scopeKind,
        bytes32 scope,
        uint64 expiresAt,
        address by
    );
    /// @notice A grant ended early, by its grantor or renounced by its grantee.
    event GrantRevoked(uint256 indexed grantId, uint64 indexed by, address account);
    /// @notice An organisation published (or cleared, with an empty url) the URL of its node.
    event ServiceUrlSet(uint64 indexed orgId, string url, address by);

    error SharingUnknownGrantee(uint64 grantee);
    error SharingSelfGrant(uint64 org);
    error SharingInvalidClasses(uint8 classes);
    error SharingInvalidScope(ScopeKind scopeKind, bytes32 scope);
    error SharingInvalidExpiry(uint64 expiresAt);
    error SharingUnknownGrant(uint256 grantId);
    error SharingNotParty(uint256 grantId, uint64 org);
    error SharingAlreadyRevoked(uint256 grantId);
    error SharingNotOrgAdmin(address account, uint64 orgId);
    error SharingInvalidUrl(string url);

    /// @notice The sender's organisation (the sender must be its org admin) grants `grantee` read
    /// access to `classes` over the scope until `expiresAt` (in the future). Returns the grant id.
    function grant(
        uint64 grantee,
        uint8 classes,
        ScopeKind scopeKind,
        bytes32 scope,
        uint64 expiresAt
    ) external returns (uint256 grantId);

    /// @notice Ends a grant: an org admin of its grantor (revocation) or of its grantee (renouncing).
    function revoke(uint256 grantId) external;

    /// @notice Publishes the URL of `orgId`'s node (http or https, at most 256 bytes; empty clears it).
    /// The sender must be an org admin of `orgId`.
    function setServiceUrl(uint64 orgId, string calldata url) external;

    function grantOf(uint256 grantId) external view returns (Grant memory);

    function grantCount() external view returns (uint256);

    /// @notice Whether the grant is in force now (issued, not revoked, not expired, grantor active).
    function isInForce(uint256 grantId) external view returns (bool);

    function serviceUrl(uint64 orgId) external view returns (string memory);
}
