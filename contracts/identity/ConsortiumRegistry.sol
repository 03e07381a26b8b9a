// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "./IConsortiumRegistry.sol";
import {RelayContext} from "../common/RelayContext.sol";
import {Roles} from "../common/Roles.sol";
import {GS1} from "../common/GS1.sol";

/// @title Consortium registry
/// @notice See {IConsortiumRegistry}. Governance (GOVERNOR_ROLE) is a TimelockController or a
/// multisig in production and one account in the demo.
/// Invariants: a wallet is an agent of at most one organisation, and of one only with its consent
/// (it accepted a proposal, or governance named it first admin while it was bound nowhere); a
/// company prefix or GLN belongs to at most one organisation; an agent's effective roles ⊆ its
/// organisation's allowed business roles ∪ {ORG_ADMIN, TREASURY}, never INTEGRATION.
contract ConsortiumRegistry is IConsortiumRegistry, RelayContext {
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    uint256 private constant MIN_PREFIX_LENGTH = 4;
    uint256 private constant MAX_PREFIX_LENGTH = 12;
    uint256 private constant GLN_LENGTH = 13;
    /// @dev Organisation ids stay within 32 bits so that other contracts may pack them tightly.
    uint64 private constant MAX_ORG_ID = type(uint32).max;
    uint256 private constant BUSINESS = Roles.ALL & ~Roles.INTERNAL;

    /// @dev What every permission check reads about an organisation, in one slot (status 1 byte,
    /// admittedAt 8, allowedRoles 16: roles use 10 bits); name and metadata hash apart.
    struct OrgRecord {
        OrgStatus status;
        uint64 admittedAt;
        uint128 allowedRoles;
        bytes32 metadataHash;
        string name;
    }

    /// @dev An agent binding in one slot (orgId 8 bytes, expiresAt 8, roles 16).
    struct AgentRecord {
        uint64 orgId;
        uint64 expiresAt;
        uint128 roles;
    }

    /// @dev A pending binding in one slot (proposedBy 20 bytes, expiresAt 8, roles 4).
    struct ProposalRecord {
        address proposedBy;
        uint64 expiresAt;
        uint32 roles;
    }

    uint64 private _orgCount;
    mapping(uint64 orgId => OrgRecord) private _orgs;
    mapping(uint64 orgId => string[]) private _prefixes;
    mapping(uint64 orgId => string[]) private _glns;
    mapping(bytes32 prefixKey => uint64 orgId) private _prefixOwner;
    // For each digit string (keyed like a prefix): how many held prefixes strictly extend it. Lets a
    // licence be refused in constant time when a longer held prefix starts with it.
    mapping(bytes32 prefixKey => uint256 count) private _extensionCount;
    mapping(bytes32 glnKey => uint64 orgId) private _glnOwner;
    // 1-based positions in _prefixes/_glns, so removal is swap-and-pop in constant time.
    mapping(bytes32 key => uint256 position) private _position;
    mapping(address account => AgentRecord) private _agents;
    mapping(address account => mapping(uint64 orgId => ProposalRecord)) private _proposals;

    constructor(address governor, address trustedForwarder_) RelayContext(trustedForwarder_) {
        _grantRole(DEFAULT_ADMIN_ROLE, governor);
        _grantRole(GOVERNOR_ROLE, governor);
    }

    modifier onlyOrgAdmin(uint64 orgId) {
        _checkOrgAdmin(_msgSender(), orgId);
        _;
    }

    // ─── governance ────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsortiumRegistry
    function admitOrganisation(
        string calldata name,
        string[] calldata prefixes,
        bytes32 metadataHash,
        uint256 allowedRoles,
        address firstAdmin
    ) external onlyRole(GOVERNOR_ROLE) returns (uint64 orgId) {
        if (bytes(name).length == 0) revert IdentityEmptyName();
        _checkRoleSet(allowedRoles);
        if (_orgCount >= MAX_ORG_ID) revert IdentityOrganisationLimit(MAX_ORG_ID);
        orgId = ++_orgCount;
        OrgRecord storage org = _orgs[orgId];
        org.status = OrgStatus.Active;
        org.admittedAt = uint64(block.timestamp);
        // _checkRoleSet bounds the set to 10 bits.
        org.allowedRoles = uint128(allowedRoles);
        org.metadataHash = metadataHash;
        org.name = name;
        emit OrganisationAdmitted(orgId, name, metadataHash, allowedRoles);
        for (uint256 i = 0; i < prefixes.length; ++i) _addCompanyPrefix(orgId, prefixes[i]);
        if (firstAdmin != address(0)) {
            // Governance names the first admin in public (a timelocked proposal is visible for its
            // whole delay) and the wallet can leave at once, so binding a wallet that is bound
            // nowhere needs no separate acceptance. A wallet bound elsewhere only by its own
            // acceptance gets a proposal instead: admission never reverts on the wallet's state.
            if (_agents[firstAdmin].orgId == 0) _setAgent(firstAdmin, orgId, Roles.ORG_ADMIN, 0);
            else _propose(firstAdmin, orgId, Roles.ORG_ADMIN, 0);
        }
    }

    /// @inheritdoc IConsortiumRegistry
    function setAllowedRoles(uint64 orgId, uint256 allowedRoles) external onlyRole(GOVERNOR_ROLE) {
        _requireKnown(orgId);
        _checkRoleSet(allowedRoles);
        // _checkRoleSet bounds the set to 10 bits.
        _orgs[orgId].allowedRoles = uint128(allowedRoles);
        emit AllowedRolesChanged(orgId, allowedRoles);
    }

    /// @inheritdoc IConsortiumRegistry
    function suspendOrganisation(uint64 orgId, string calldata reason) external onlyRole(GOVERNOR_ROLE) {
        _requireActive(orgId);
        _orgs[orgId].status = OrgStatus.Suspended;
        emit OrganisationSuspended(orgId, reason);
    }

    /// @inheritdoc IConsortiumRegistry
    function reinstateOrganisation(uint64 orgId) external onlyRole(GOVERNOR_ROLE) {
        _requireKnown(orgId);
        if (_orgs[orgId].status != OrgStatus.Suspended) revert IdentityOrganisationNotSuspended(orgId);
        _orgs[orgId].status = OrgStatus.Active;
        emit OrganisationReinstated(orgId);
    }

    /// @inheritdoc IConsortiumRegistry
    function addCompanyPrefix(uint64 orgId, string calldata prefix) external onlyRole(GOVERNOR_ROLE) {
        _requireKnown(orgId);
        _addCompanyPrefix(orgId, prefix);
    }

    /// @inheritdoc IConsortiumRegistry
    function removeCompanyPrefix(uint64 orgId, string calldata prefix) external onlyRole(GOVERNOR_ROLE) {
        bytes32 key = _prefixKey(prefix);
        if (_prefixOwner[key] != orgId || orgId == 0) revert IdentityUnknownCompanyPrefix(prefix, orgId);
        // A GLN left under a withdrawn prefix would belong to one organisation by location and to
        // nobody (or a later licensee) by key.
        string[] storage glns = _glns[orgId];
        for (uint256 i = 0; i < glns.length; ++i) {
            if (GS1.startsWith(bytes(glns[i]), bytes(prefix))) revert IdentityCompanyPrefixInUse(prefix, glns[i]);
        }
        delete _prefixOwner[key];
        _countExtensions(bytes(prefix), false);
        _removeFromList(_prefixes[orgId], key, _prefixKey);
        emit CompanyPrefixRemoved(orgId, prefix);
    }

    // ─── organisation admins ───────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsortiumRegistry
    function updateOrganisation(uint64 orgId, string calldata name, bytes32 metadataHash) external onlyOrgAdmin(orgId) {
        if (bytes(name).length == 0) revert IdentityEmptyName();
        OrgRecord storage org = _orgs[orgId];
        org.name = name;
        org.metadataHash = metadataHash;
        emit OrganisationUpdated(orgId, name, metadataHash);
    }

    /// @inheritdoc IConsortiumRegistry
    function addLocation(uint64 orgId, string calldata gln) external onlyOrgAdmin(orgId) {
        bytes memory raw = bytes(gln);
        if (!GS1.isDigits(raw, GLN_LENGTH, GLN_LENGTH) || !GS1.hasValidCheckDigit(raw)) revert IdentityInvalidGln(gln);
        (uint64 prefixOrg, ) = _orgOfKey(raw);
        if (prefixOrg != orgId) revert IdentityGlnOutsidePrefixes(gln, orgId);
        bytes32 key = _glnKey(gln);
        uint64 holder = _glnOwner[key];
        if (holder != 0) revert IdentityGlnTaken(gln, holder);
        _glnOwner[key] = orgId;
        _glns[orgId].push(gln);
        _position[key] = _glns[orgId].length;
        emit LocationAdded(orgId, gln);
    }

    /// @inheritdoc IConsortiumRegistry
    function removeLocation(uint64 orgId, string calldata gln) external onlyOrgAdmin(orgId) {
        bytes32 key = _glnKey(gln);
        if (_glnOwner[key] != orgId) revert IdentityUnknownGln(gln, orgId);
        delete _glnOwner[key];
        _removeFromList(_glns[orgId], key, _glnKey);
        emit LocationRemoved(orgId, gln);
    }

    /// @inheritdoc IConsortiumRegistry
    function setAgent(address account, uint64 orgId, uint256 roles, uint64 expiresAt) external onlyOrgAdmin(orgId) {
        if (account == address(0)) revert IdentityInvalidAgent(account);
        if (expiresAt != 0 && expiresAt <= block.timestamp) revert IdentityInvalidExpiry(expiresAt);
        _checkRoleSet(roles);
        uint256 disallowed = roles & ~(uint256(_orgs[orgId].allowedRoles) | Roles.INTERNAL);
        if (disallowed != 0) revert IdentityRolesNotAllowed(orgId, disallowed);
        // Only the wallet can make itself an agent: binding it unasked would let one member claim
        // another's (or a stranger's) key, attribute its signatures to itself, or block a binding
        // the wallet is about to take. An agent of this organisation is updated directly.
        if (_agents[account].orgId == orgId) _setAgent(account, orgId, roles, expiresAt);
        else _propose(account, orgId, roles, expiresAt);
    }

    /// @inheritdoc IConsortiumRegistry
    function acceptAgent(uint64 orgId, uint256 roles, uint64 expiresAt) external {
        address account = _msgSender();
        ProposalRecord memory p = _proposals[account][orgId];
        if (p.proposedBy == address(0)) revert IdentityNoAgentProposal(account, orgId);
        if (p.roles != roles || p.expiresAt != expiresAt) {
            revert IdentityAgentProposalMismatch(account, orgId, p.roles, p.expiresAt);
        }
        _requireActive(orgId);
        uint64 boundTo = _agents[account].orgId;
        if (boundTo != 0 && boundTo != orgId) revert IdentityAgentBoundElsewhere(account, boundTo);
        if (expiresAt != 0 && expiresAt <= block.timestamp) revert IdentityInvalidExpiry(expiresAt);
        delete _proposals[account][orgId];
        _agents[account] = AgentRecord({orgId: orgId, expiresAt: expiresAt, roles: p.roles});
        emit AgentProposalAccepted(account, orgId);
        emit AgentSet(account, orgId, roles, expiresAt, p.proposedBy);
    }

    /// @inheritdoc IConsortiumRegistry
    function cancelAgentProposal(address account, uint64 orgId) external {
        address sender = _msgSender();
        if (_proposals[account][orgId].proposedBy == address(0)) revert IdentityNoAgentProposal(account, orgId);
        if (sender != account) _checkOrgAdmin(sender, orgId);
        delete _proposals[account][orgId];
        emit AgentProposalCancelled(account, orgId, sender);
    }

    /// @inheritdoc IConsortiumRegistry
    function leaveOrganisation() external {
        address account = _msgSender();
        uint64 orgId = _agents[account].orgId;
        if (orgId == 0) revert IdentityUnknownAgent(account);
        delete _agents[account];
        emit AgentLeft(account, orgId);
    }

    /// @inheritdoc IConsortiumRegistry
    function removeAgent(address account) external {
        uint64 orgId = _agents[account].orgId;
        if (orgId == 0) revert IdentityUnknownAgent(account);
        _checkOrgAdmin(_msgSender(), orgId);
        delete _agents[account];
        emit AgentRemoved(account, orgId, _msgSender());
    }

    // ─── views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsortiumRegistry
    function organisationCount() external view returns (uint64) {
        return _orgCount;
    }

    /// @inheritdoc IConsortiumRegistry
    function organisation(uint64 orgId) external view returns (Organisation memory) {
        _requireKnown(orgId);
        OrgRecord storage org = _orgs[orgId];
        return
            Organisation({
                name: org.name,
                metadataHash: org.metadataHash,
                status: org.status,
                allowedRoles: org.allowedRoles,
                admittedAt: org.admittedAt
            });
    }

    /// @inheritdoc IConsortiumRegistry
    function companyPrefixes(uint64 orgId) external view returns (string[] memory) {
        return _prefixes[orgId];
    }

    /// @inheritdoc IConsortiumRegistry
    function locations(uint64 orgId) external view returns (string[] memory) {
        return _glns[orgId];
    }

    /// @inheritdoc IConsortiumRegistry
    function orgOfCompanyPrefix(string calldata prefix) external view returns (uint64) {
        return _prefixOwner[_prefixKey(prefix)];
    }

    /// @inheritdoc IConsortiumRegistry
    function prefixHolder(bytes32 prefixKey) external view returns (uint64) {
        return _prefixOwner[prefixKey];
    }

    /// @inheritdoc IConsortiumRegistry
    function orgOfKey(string calldata key) external view returns (uint64, uint8) {
        return _orgOfKey(bytes(key));
    }

    /// @inheritdoc IConsortiumRegistry
    function orgOfLocation(string calldata gln) external view returns (uint64) {
        return _glnOwner[_glnKey(gln)];
    }

    /// @inheritdoc IConsortiumRegistry
    function agent(address account) external view returns (Agent memory) {
        AgentRecord memory a = _agents[account];
        return Agent({orgId: a.orgId, expiresAt: a.expiresAt, roles: a.roles});
    }

    /// @inheritdoc IConsortiumRegistry
    function agentProposal(address account, uint64 orgId) external view returns (AgentProposal memory) {
        ProposalRecord memory p = _proposals[account][orgId];
        return AgentProposal({roles: p.roles, expiresAt: p.expiresAt, proposedBy: p.proposedBy});
    }

    /// @inheritdoc IConsortiumRegistry
    function isOrganisationActive(uint64 orgId) public view returns (bool) {
        return _orgs[orgId].status == OrgStatus.Active;
    }

    /// @inheritdoc IConsortiumRegistry
    function effectiveRoles(address account) public view returns (uint256 roles) {
        (roles, ) = _effectiveRoles(account);
    }

    /// @inheritdoc IConsortiumRegistry
    function requireAgent(address account, uint256 anyOfRoles) public view returns (uint64 orgId) {
        uint256 roles;
        (roles, orgId) = _effectiveRoles(account);
        if (roles & anyOfRoles == 0) revert IdentityUnauthorizedAgent(account, anyOfRoles);
    }

    // ─── internals ─────────────────────────────────────────────────────────────────────────────

    /// @dev Two storage reads: the agent's slot and its organisation's first slot. INTEGRATION is
    /// translated into the organisation's allowed business roles, so a contract accepting a
    /// business role accepts the node's key exactly where governance allowed the organisation.
    function _effectiveRoles(address account) private view returns (uint256 roles, uint64 orgId) {
        AgentRecord memory a = _agents[account];
        orgId = a.orgId;
        if (orgId == 0) return (0, 0);
        if (a.expiresAt != 0 && a.expiresAt <= block.timestamp) return (0, orgId);
        OrgRecord storage org = _orgs[orgId];
        if (org.status != OrgStatus.Active) return (0, orgId);
        uint256 business = uint256(org.allowedRoles) & BUSINESS;
        uint256 held = a.roles;
        roles = held & (business | Roles.ORG_ADMIN | Roles.TREASURY);
        if (held & Roles.INTEGRATION != 0) roles |= business;
    }

    function _setAgent(address account, uint64 orgId, uint256 roles, uint64 expiresAt) private {
        // Callers checked `roles` against Roles.ALL (10 bits).
        _agents[account] = AgentRecord({orgId: orgId, expiresAt: expiresAt, roles: uint128(roles)});
        emit AgentSet(account, orgId, roles, expiresAt, _msgSender());
    }

    function _propose(address account, uint64 orgId, uint256 roles, uint64 expiresAt) private {
        // Callers checked `roles` against Roles.ALL (10 bits).
        _proposals[account][orgId] = ProposalRecord({proposedBy: _msgSender(), expiresAt: expiresAt, roles: uint32(roles)});
        emit AgentProposed(account, orgId, roles, expiresAt, _msgSender());
    }

    function _addCompanyPrefix(uint64 orgId, string calldata prefix) private {
        bytes memory raw = bytes(prefix);
        if (!GS1.isDigits(raw, MIN_PREFIX_LENGTH, MAX_PREFIX_LENGTH)) revert IdentityInvalidCompanyPrefix(prefix);
        bytes32 key = _prefixKey(prefix);
        if (_prefixOwner[key] != 0) revert IdentityCompanyPrefixTaken(prefix, _prefixOwner[key]);
        // GS1 allocates prefixes so that none starts another; refuse a licence that would make a
        // key ambiguous by extending a shorter prefix already held.
        (uint64 shorterHolder, ) = _orgOfKey(raw);
        if (shorterHolder != 0) revert IdentityCompanyPrefixTaken(prefix, shorterHolder);
        // Likewise refuse a licence that a longer prefix already held would extend.
        if (_extensionCount[key] != 0) revert IdentityCompanyPrefixTaken(prefix, _holderOfExtension(raw));
        _prefixOwner[key] = orgId;
        _countExtensions(raw, true);
        _prefixes[orgId].push(prefix);
        _position[key] = _prefixes[orgId].length;
        emit CompanyPrefixAdded(orgId, prefix, uint8(raw.length));
    }

    /// @dev Adds (or removes) `prefix` to the extension count of each of its shorter heads.
    function _countExtensions(bytes memory prefix, bool add) private {
        for (uint256 length = MIN_PREFIX_LENGTH; length < prefix.length; ++length) {
            bytes32 headKey = keccak256(abi.encodePacked("prefix:", GS1.head(prefix, length)));
            if (add) ++_extensionCount[headKey];
            else --_extensionCount[headKey];
        }
    }

    /// @dev An organisation holding a prefix longer than `stem` that starts with it. Walks every
    /// organisation's prefixes, so it is only called on the revert path to name the holder.
    function _holderOfExtension(bytes memory stem) private view returns (uint64) {
        for (uint64 orgId = 1; orgId <= _orgCount; ++orgId) {
            string[] storage held = _prefixes[orgId];
            for (uint256 i = 0; i < held.length; ++i) {
                bytes memory prefix = bytes(held[i]);
                if (prefix.length > stem.length && GS1.startsWith(prefix, stem)) return orgId;
            }
        }
        return 0;
    }

    function _orgOfKey(bytes memory key) private view returns (uint64, uint8) {
        uint256 longest = key.length < MAX_PREFIX_LENGTH ? key.length : MAX_PREFIX_LENGTH;
        for (uint256 length = MIN_PREFIX_LENGTH; length <= longest; ++length) {
            uint64 holder = _prefixOwner[keccak256(abi.encodePacked("prefix:", GS1.head(key, length)))];
            if (holder != 0) return (holder, uint8(length));
        }
        return (0, 0);
    }

    function _removeFromList(
        string[] storage list,
        bytes32 key,
        function(string memory) pure returns (bytes32) keyOf
    ) private {
        uint256 index = _position[key] - 1;
        uint256 last = list.length - 1;
        if (index != last) {
            list[index] = list[last];
            _position[keyOf(list[index])] = index + 1;
        }
        list.pop();
        delete _position[key];
    }

    function _prefixKey(string memory prefix) private pure returns (bytes32) {
        return keccak256(abi.encodePacked("prefix:", prefix));
    }

    function _glnKey(string memory gln) private pure returns (bytes32) {
        return keccak256(abi.encodePacked("gln:", gln));
    }

    /// @dev Governance may act for any known organisation (e.g. to remove a compromised key of a
    /// suspended one); an org admin only for its own active organisation.
    function _checkOrgAdmin(address account, uint64 orgId) private view {
        if (hasRole(GOVERNOR_ROLE, account)) return _requireKnown(orgId);
        _requireActive(orgId);
        if (_agents[account].orgId != orgId || effectiveRoles(account) & Roles.ORG_ADMIN == 0) {
            revert IdentityNotOrgAdmin(account, orgId);
        }
    }

    function _checkRoleSet(uint256 roles) private pure {
        if (roles & ~Roles.ALL != 0) revert IdentityInvalidRoles(roles);
    }

    function _requireKnown(uint64 orgId) private view {
        if (_orgs[orgId].status == OrgStatus.None) revert IdentityUnknownOrganisation(orgId);
    }

    function _requireActive(uint64 orgId) private view {
        _requireKnown(orgId);
        if (_orgs[orgId].status == OrgStatus.Suspended) revert IdentityOrganisationSuspended(orgId);
    }
}
