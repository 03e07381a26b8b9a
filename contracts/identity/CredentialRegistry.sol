// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ICredentialRegistry} from "./ICredentialRegistry.sol";
import {IConsortiumRegistry} from "./IConsortiumRegistry.sol";
import {RelayContext} from "../common/RelayContext.sol";
import {Roles} from "../common/Roles.sol";

/// @title Credential registry
/// @notice See {ICredentialRegistry}. Governance is the consortium registry's GOVERNOR_ROLE, so one
/// council governs both. Invariants: issuerOrg != subjectOrg for every credential; every credential
/// was issued by an organisation allowed its type at the time; a live list holds at most
/// MAX_LIVE_PER_ISSUER entries of one issuer and MAX_LIVE in all, and every valid credential of a
/// subject and type is in its live list.
contract CredentialRegistry is ICredentialRegistry, RelayContext {
    /// @dev keccak256("GOVERNOR_ROLE"), as ConsortiumRegistry.GOVERNOR_ROLE.
    bytes32 private constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @dev A certificate and its renewal (issued before the current one lapses) per issuer.
    uint256 private constant MAX_LIVE_PER_ISSUER = 2;
    uint256 private constant MAX_LIVE = 16;

    IConsortiumRegistry public immutable registry;

    uint256 private _count;
    mapping(uint256 credentialId => Credential) private _credentials;
    mapping(uint64 subjectOrg => mapping(bytes32 credentialType => uint256[])) private _bySubject;
    mapping(uint64 subjectOrg => mapping(bytes32 credentialType => uint256[])) private _live;
    mapping(uint64 issuerOrg => mapping(bytes32 credentialType => bool)) private _mayIssue;

    constructor(IConsortiumRegistry registry_, address trustedForwarder_) RelayContext(trustedForwarder_) {
        registry = registry_;
    }

    /// @inheritdoc ICredentialRegistry
    function issueCredential(
        bytes32 credentialType,
        uint64 subjectOrg,
        bytes32 claimHash,
        uint64 validFrom,
        uint64 validUntil
    ) external returns (uint256 credentialId) {
        address sender = _msgSender();
        uint64 issuerOrg = registry.requireAgent(sender, Roles.CERTIFIER);
        if (credentialType == bytes32(0)) revert CredentialEmptyType();
        if (!_mayIssue[issuerOrg][credentialType]) revert CredentialTypeNotAllowed(issuerOrg, credentialType);
        if (subjectOrg == 0 || subjectOrg > registry.organisationCount()) revert CredentialUnknownSubject(subjectOrg);
        if (subjectOrg == issuerOrg) revert CredentialSelfCertification(issuerOrg);
        if (validUntil <= validFrom || validUntil <= block.timestamp) revert CredentialInvalidWindow(validFrom, validUntil);
        _pruneAndCheckRoom(subjectOrg, credentialType, issuerOrg);

        credentialId = ++_count;
        _credentials[credentialId] = Credential({
            credentialType: credentialType,
            issuerOrg: issuerOrg,
            subjectOrg: subjectOrg,
            validFrom: validFrom,
            validUntil: validUntil,
            revokedAt: 0,
            claimHash: claimHash,
            issuedBy: sender
        });
        _bySubject[subjectOrg][credentialType].push(credentialId);
        _live[subjectOrg][credentialType].push(credentialId);
        emit CredentialIssued(credentialId, credentialType, subjectOrg, issuerOrg, claimHash, validFrom, validUntil, sender);
    }

    /// @inheritdoc ICredentialRegistry
    function revokeCredential(uint256 credentialId, string calldata reason) external {
        address sender = _msgSender();
        Credential storage c = _requireCredential(credentialId);
        // Governance can revoke what an issuer that was suspended or lost its certifier role no
        // longer can.
        if (!_isGovernor(sender)) {
            uint64 senderOrg = registry.requireAgent(sender, Roles.CERTIFIER);
            if (senderOrg != c.issuerOrg) revert CredentialNotIssuer(sender, credentialId);
        }
        if (c.revokedAt != 0) revert CredentialAlreadyRevoked(credentialId);
        c.revokedAt = uint64(block.timestamp);
        emit CredentialRevoked(credentialId, c.issuerOrg, reason, sender);
    }

    /// @inheritdoc ICredentialRegistry
    function setCertifierType(uint64 issuerOrg, bytes32 credentialType, bool allowed) external {
        address sender = _msgSender();
        if (!_isGovernor(sender)) revert CredentialNotGovernor(sender);
        if (credentialType == bytes32(0)) revert CredentialEmptyType();
        if (issuerOrg == 0 || issuerOrg > registry.organisationCount()) revert CredentialUnknownIssuer(issuerOrg);
        _mayIssue[issuerOrg][credentialType] = allowed;
        emit CertifierTypeSet(issuerOrg, credentialType, allowed, sender);
    }

    /// @inheritdoc ICredentialRegistry
    function mayIssue(uint64 issuerOrg, bytes32 credentialType) external view returns (bool) {
        return _mayIssue[issuerOrg][credentialType];
    }

    /// @inheritdoc ICredentialRegistry
    function credential(uint256 credentialId) external view returns (Credential memory) {
        return _requireCredential(credentialId);
    }

    /// @inheritdoc ICredentialRegistry
    function credentialCount() external view returns (uint256) {
        return _count;
    }

    /// @inheritdoc ICredentialRegistry
    function isValid(uint256 credentialId) public view returns (bool) {
        Credential storage c = _credentials[credentialId];
        return
            c.issuerOrg != 0 &&
            c.revokedAt == 0 &&
            c.validFrom <= block.timestamp &&
            block.timestamp < c.validUntil;
    }

    /// @inheritdoc ICredentialRegistry
    function hasValidCredential(uint64 subjectOrg, bytes32 credentialType) external view returns (bool) {
        // At most MAX_LIVE entries (issueCredential keeps the bound).
        uint256[] storage ids = _live[subjectOrg][credentialType];
        for (uint256 i = ids.length; i > 0; --i) {
            if (isValid(ids[i - 1])) return true;
        }
        return false;
    }

    /// @inheritdoc ICredentialRegistry
    function credentialsOf(uint64 subjectOrg, bytes32 credentialType) external view returns (uint256[] memory) {
        return _bySubject[subjectOrg][credentialType];
    }

    /// @inheritdoc ICredentialRegistry
    function liveCredentialsOf(uint64 subjectOrg, bytes32 credentialType) external view returns (uint256[] memory) {
        return _live[subjectOrg][credentialType];
    }

    /// @dev Drops expired and revoked entries from the live list (swap-and-pop; the list holds at
    /// most MAX_LIVE entries), then refuses a new entry beyond the per-issuer or total bound. The
    /// per-issuer bound keeps one certifier from filling the list against the others.
    function _pruneAndCheckRoom(uint64 subjectOrg, bytes32 credentialType, uint64 issuerOrg) private {
        uint256[] storage ids = _live[subjectOrg][credentialType];
        uint256 ofIssuer = 0;
        uint256 i = 0;
        while (i < ids.length) {
            Credential storage c = _credentials[ids[i]];
            if (c.revokedAt != 0 || c.validUntil <= block.timestamp) {
                ids[i] = ids[ids.length - 1];
                ids.pop();
                continue;
            }
            if (c.issuerOrg == issuerOrg) ++ofIssuer;
            ++i;
        }
        if (ofIssuer >= MAX_LIVE_PER_ISSUER) {
            revert CredentialTooManyLive(subjectOrg, credentialType, issuerOrg, MAX_LIVE_PER_ISSUER);
        }
        if (ids.length >= MAX_LIVE) revert CredentialTooManyLive(subjectOrg, credentialType, issuerOrg, MAX_LIVE);
    }

    function _isGovernor(address account) private view returns (bool) {
        return IAccessControl(address(registry)).hasRole(GOVERNOR_ROLE, account);
    }

    function _requireCredential(uint256 credentialId) private view returns (Credential storage c) {
        c = _credentials[credentialId];
        if (c.issuerOrg == 0) revert CredentialUnknown(credentialId);
    }
}
