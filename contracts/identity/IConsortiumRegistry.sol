// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Consortium registry: organisations, their GS1 keys and their agents
/// @notice Consortium governance admits and suspends organisations, licenses GS1 company prefixes
/// to them and decides which business roles each may hold. Each organisation's admins bind wallets
/// (agents) to it with roles and an optional expiry. Other Lotline contracts ask this registry
/// whether the sender may act. Events carry every value needed to rebuild the state off-chain.
interface IConsortiumRegistry {
    enum OrgStatus {
        None,
        Active,
        Suspended
    }

    struct Organisation {
        string name;
        bytes32 metadataHash;
        OrgStatus status;
        uint256 allowedRoles;
        uint64 admittedAt;
    }

    struct Agent {
        uint64 orgId;
        uint64 expiresAt; // 0: no expiry
        uint256 roles;
    }

    /// @notice Emitted when governance admits an organisation.
    event OrganisationAdmitted(uint64 indexed orgId, string name, bytes32 metadataHash, uint256 allowedRoles);
    /// @notice Emitted when an organisation's name or metadata hash changed.
    event OrganisationUpdated(uint64 indexed orgId, string name, bytes32 metadataHash);
    /// @notice Emitted when governance changed the roles an organisation may hold.
    event AllowedRolesChanged(uint64 indexed orgId, uint256 allowedRoles);
    /// @notice Emitted when governance suspended an organisation; all its agents are blocked.
    event OrganisationSuspended(uint64 indexed orgId, string reason);
    /// @notice Emitted when governance lifted a suspension.
    event OrganisationReinstated(uint64 indexed orgId);
    /// @notice Emitted when a GS1 company prefix was licensed to an organisation.
    event CompanyPrefixAdded(uint64 indexed orgId, string prefix, uint8 prefixLength);
    /// @notice Emitted when a GS1 company prefix was withdrawn from an organisation.
    event CompanyPrefixRemoved(uint64 indexed orgId, string prefix);
    /// @notice Emitted when an organisation registered a location (GLN).
    event LocationAdded(uint64 indexed orgId, string gln);
    /// @notice Emitted when an organisation removed a location (GLN).
    event LocationRemoved(uint64 indexed orgId, string gln);
    /// @notice Emitted when an agent was bound to an organisation or its roles or expiry changed.
    event AgentSet(address indexed agent, uint64 indexed orgId, uint256 roles, uint64 expiresAt, address indexed by);
    /// @notice Emitted when an agent was unbound from its organisation.
    event AgentRemoved(address indexed agent, uint64 indexed orgId, address indexed by);

    error IdentityUnknownOrganisation(uint64 orgId);
    error IdentityOrganisationSuspended(uint64 orgId);
    error IdentityOrganisationNotSuspended(uint64 orgId);
    error IdentityEmptyName();
    error IdentityNotOrgAdmin(address account, uint64 orgId);
    error IdentityRolesNotAllowed(uint64 orgId, uint256 roles);
    error IdentityInvalidRoles(uint256 roles);
    error IdentityInvalidAgent(address agent);
    error IdentityAgentBoundElsewhere(address agent, uint64 orgId);
    error IdentityUnknownAgent(address agent);
    error IdentityInvalidExpiry(uint64 expiresAt);
    error IdentityUnauthorizedAgent(address account, uint256 neededRoles);
    error IdentityInvalidCompanyPrefix(string prefix);
    error IdentityCompanyPrefixTaken(string prefix, uint64 orgId);
    error IdentityUnknownCompanyPrefix(string prefix, uint64 orgId);
    error IdentityCompanyPrefixInUse(string prefix, string gln);
    error IdentityInvalidGln(string gln);
    error IdentityGlnTaken(string gln, uint64 orgId);
    error IdentityGlnOutsidePrefixes(string gln, uint64 orgId);
    error IdentityUnknownGln(string gln, uint64 orgId);

    // ─── governance ────────────────────────────────────────────────────────────────────────────

    /// @notice Admits an organisation with its company prefixes and first admin agent.
    /// @dev Governance only. `allowedRoles` lists business roles; org-admin and integration are
    /// always allowed. Returns the new organisation id (sequential from 1).
    function admitOrganisation(
        string calldata name,
        string[] calldata companyPrefixes,
        bytes32 metadataHash,
        uint256 allowedRoles,
        address firstAdmin
    ) external returns (uint64 orgId);

    /// @notice Sets which business roles an organisation may hold. Agents' roles outside the new
    /// set stop counting at once (effective roles are the intersection). Governance only.
    function setAllowedRoles(uint64 orgId, uint256 allowedRoles) external;

    /// @notice Suspends an organisation: every action of its agents is refused. Governance only.
    function suspendOrganisation(uint64 orgId, string calldata reason) external;

    /// @notice Lifts a suspension. Governance only.
    function reinstateOrganisation(uint64 orgId) external;

    /// @notice Licenses a GS1 company prefix (4–12 digits) to an organisation. Governance only.
    function addCompanyPrefix(uint64 orgId, string calldata prefix) external;

    /// @notice Withdraws a GS1 company prefix. Governance only. Refused while one of the
    /// organisation's locations (GLNs) lies under it: remove those first.
    function removeCompanyPrefix(uint64 orgId, string calldata prefix) external;

    // ─── organisation admins (or governance) ──────────────────────────────────────────────────

    /// @notice Changes an organisation's name and metadata hash.
    function updateOrganisation(uint64 orgId, string calldata name, bytes32 metadataHash) external;

    /// @notice Registers a location; the GLN must carry a valid check digit and start with one of
    /// the organisation's company prefixes.
    function addLocation(uint64 orgId, string calldata gln) external;

    /// @notice Removes a location.
    function removeLocation(uint64 orgId, string calldata gln) external;

    /// @notice Binds `agent` to `orgId` (or updates it) with `roles` and `expiresAt` (0 = none).
    /// Only roles the organisation is allowed; a wallet belongs to at most one organisation.
    function setAgent(address agent, uint64 orgId, uint256 roles, uint64 expiresAt) external;

    /// @notice Unbinds `agent` from its organisation.
    function removeAgent(address agent) external;

    // ─── views ─────────────────────────────────────────────────────────────────────────────────

    function organisationCount() external view returns (uint64);

    function organisation(uint64 orgId) external view returns (Organisation memory);

    function companyPrefixes(uint64 orgId) external view returns (string[] memory);

    function locations(uint64 orgId) external view returns (string[] memory);

    /// @notice The organisation holding exactly this company prefix (0 if none).
    function orgOfCompanyPrefix(string calldata prefix) external view returns (uint64);

    /// @notice The organisation whose company prefix starts `key` (a GTIN without its indicator
    /// digit, a GLN, an SSCC body), trying every licensed prefix length; 0 if none.
    function orgOfKey(string calldata key) external view returns (uint64 orgId, uint8 prefixLength);

    /// @notice The organisation holding the company prefix keyed `prefixKey` =
    /// keccak256(abi.encodePacked("prefix:", prefix)) (0 if none): a cheap licence check.
    function prefixHolder(bytes32 prefixKey) external view returns (uint64);

    /// @notice The organisation that registered this GLN (0 if none).
    function orgOfLocation(string calldata gln) external view returns (uint64);

    function agent(address account) external view returns (Agent memory);

    function isOrganisationActive(uint64 orgId) external view returns (bool);

    /// @notice The roles `account` may use now: none if unbound, expired or its organisation is
    /// suspended; otherwise its roles within what its organisation is allowed.
    function effectiveRoles(address account) external view returns (uint256);

    /// @notice Reverts with IdentityUnauthorizedAgent unless `account` may use at least one of
    /// `anyOfRoles` now; returns its organisation.
    function requireAgent(address account, uint256 anyOfRoles) external view returns (uint64 orgId);
}
