// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Consortium registry: organisations, their GS1 keys and their agents
/// @notice Consortium governance admits and suspends organisations, licenses GS1 company prefixes
/// to them and decides which business roles each may hold. Each organisation's admins bind wallets
/// (agents) to it with roles and an optional expiry; a wallet joins only with its consent (the admin
/// proposes, the wallet accepts) and may leave at any time. Other Lotline contracts ask this
/// registry whether the sender may act. Events carry every value needed to rebuild the state
/// off-chain.
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

    /// @notice A binding an organisation offered a wallet, waiting for the wallet's acceptance.
    struct AgentProposal {
        uint256 roles;
        uint64 expiresAt; // of the binding once accepted; 0: no expiry
        address proposedBy; // address(0): no proposal
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
    /// @notice Emitted when an agent was unbound from its organisation by an org admin or governance.
    event AgentRemoved(address indexed agent, uint64 indexed orgId, address indexed by);
    /// @notice Emitted when an organisation offered a wallet a binding; the wallet is not bound
    /// until it accepts. A later proposal of the same organisation replaces this one.
    event AgentProposed(address indexed agent, uint64 indexed orgId, uint256 roles, uint64 expiresAt, address indexed by);
    /// @notice Emitted when a wallet accepted an organisation's proposal; AgentSet follows.
    event AgentProposalAccepted(address indexed agent, uint64 indexed orgId);
    /// @notice Emitted when a proposal was withdrawn by the organisation or declined by the wallet.
    event AgentProposalCancelled(address indexed agent, uint64 indexed orgId, address indexed by);
    /// @notice Emitted when a wallet left its organisation of its own accord.
    event AgentLeft(address indexed agent, uint64 indexed orgId);

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
    error IdentityNoAgentProposal(address agent, uint64 orgId);
    error IdentityAgentProposalMismatch(address agent, uint64 orgId, uint256 proposedRoles, uint64 proposedExpiresAt);
    error IdentityOrganisationLimit(uint64 maxOrgId);

    // ─── governance ────────────────────────────────────────────────────────────────────────────

    /// @notice Admits an organisation with its company prefixes and first admin agent.
    /// @dev Governance only. `allowedRoles` lists business roles; org-admin, integration and
    /// treasury are always allowed. Returns the new organisation id (sequential from 1, at most
    /// 2^32 - 1 so that other contracts may pack it in 32 bits). The first admin is bound at once
    /// when the wallet is bound nowhere; otherwise it is offered the binding as a proposal, so the
    /// admission never depends on the state of the named wallet (a pending timelocked admission
    /// cannot be blocked by binding its first admin elsewhere).
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

    /// @notice Updates the roles and expiry (0 = none) of an agent of `orgId` at once; for any other
    /// wallet, records a proposal (AgentProposed) that binds only when the wallet accepts it.
    /// Only roles the organisation is allowed; a wallet belongs to at most one organisation.
    function setAgent(address agent, uint64 orgId, uint256 roles, uint64 expiresAt) external;

    /// @notice The sender accepts `orgId`'s proposal and becomes its agent. Names the proposed
    /// roles and expiry so that a proposal changed in front of the acceptance reverts instead of
    /// binding different terms. The sender must not be bound to another organisation (leave it
    /// first) and `orgId` must be active.
    function acceptAgent(uint64 orgId, uint256 roles, uint64 expiresAt) external;

    /// @notice Withdraws (an org admin of `orgId` or governance) or declines (the wallet itself)
    /// `orgId`'s proposal to `agent`.
    function cancelAgentProposal(address agent, uint64 orgId) external;

    /// @notice The sender leaves its organisation (allowed even while it is suspended).
    function leaveOrganisation() external;

    /// @notice Unbinds `agent` from its organisation (an org admin of it or governance).
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

    /// @notice `orgId`'s pending proposal to `account` (proposedBy == address(0): none).
    function agentProposal(address account, uint64 orgId) external view returns (AgentProposal memory);

    function isOrganisationActive(uint64 orgId) external view returns (bool);

    /// @notice The roles `account` may use now: none if unbound, expired or its organisation is
    /// suspended; otherwise its business roles within what its organisation is allowed, plus the
    /// org-admin and treasury roles it holds. Holding the integration role yields every business
    /// role the organisation is allowed (its node's key acts for it within its allowance); the
    /// integration bit itself never appears here.
    function effectiveRoles(address account) external view returns (uint256);

    /// @notice Reverts with IdentityUnauthorizedAgent unless `account` may use at least one of
    /// `anyOfRoles` now; returns its organisation.
    function requireAgent(address account, uint256 anyOfRoles) external view returns (uint64 orgId);
}
