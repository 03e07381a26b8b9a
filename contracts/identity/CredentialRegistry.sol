// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ICredentialRegistry} from "./ICredentialRegistry.sol";
import {IConsortiumRegistry} from "./IConsortiumRegistry.sol";
import {RelayContext} from "../common/RelayContext.sol";
import {Roles} from "../common/Roles.sol";

/// @title Credential registry
/// @notice See {ICredentialRegistry}. Invariant: issuerOrg != subjectOrg for every credential.
contract CredentialRegistry is ICredentialRegistry, RelayContext {
    IConsortiumRegistry public immutable registry;

    uint256 private _count;
    mapping(uint256 credentialId => Credential) private _credentials;
    mapping(uint64 subjectOrg => mapping(bytes32 credentialType => uint256[])) private _bySubject;

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
        if (subjectOrg == 0 || subjectOrg > registry.organisationCount()) revert CredentialUnknownSubject(subjectOrg);
        if (subjectOrg == issuerOrg) revert CredentialSelfCertification(issuerOrg);
        if (validUntil <= validFrom || validUntil <= block.timestamp) revert CredentialInvalidWindow(validFrom, validUntil);

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
        emit CredentialIssued(credentialId, credentialType, subjectOrg, issuerOrg, claimHash, validFrom, validUntil, sender);
    }

    /// @inheritdoc ICredentialRegistry
    function revokeCredential(uint256 credentialId, string calldata reason) external {
        address sender = _msgSender();
        Credential storage c = _requireCredential(credentialId);
        uint64 senderOrg = registry.requireAgent(sender, Roles.CERTIFIER);
        if (senderOrg != c.issuerOrg) revert CredentialNotIssuer(sender, credentialId);
        if (c.revokedAt != 0) revert CredentialAlreadyRevoked(credentialId);
        c.revokedAt = uint64(block.timestamp);
        emit CredentialRevoked(credentialId, c.issuerOrg, reason, sender);
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
        // Bounded in practice: only certifiers add entries, a handful per organisation and type.
        uint256[] storage ids = _bySubject[subjectOrg][credentialType];
        for (uint256 i = ids.length; i > 0; --i) {
            if (isValid(ids[i - 1])) return true;
        }
        return false;
    }

    /// @inheritdoc ICredentialRegistry
    function credentialsOf(uint64 subjectOrg, bytes32 credentialType) external view returns (uint256[] memory) {
        return _bySubject[subjectOrg][credentialType];
    }

    function _requireCredential(uint256 credentialId) private view returns (Credential storage c) {
        c = _credentials[credentialId];
        if (c.issuerOrg == 0) revert CredentialUnknown(credentialId);
    }
}
