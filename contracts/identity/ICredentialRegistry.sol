// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Credentials issued by certifier organisations
/// @notice A certifier (an agent holding the certifier role) issues a credential of a type (a
/// short string such as "ISO14001" or "ORGANIC", encoded as bytes32) to another organisation, with
/// a hash of the claim (the certificate itself stays off-chain) and a validity window. The issuing
/// organisation's certifiers can revoke it. Anyone can check validity; later contracts gate
/// actions on it.
interface ICredentialRegistry {
    struct Credential {
        bytes32 credentialType;
        uint64 issuerOrg;
        uint64 subjectOrg;
        uint64 validFrom;
        uint64 validUntil;
        uint64 revokedAt; // 0: not revoked
        bytes32 claimHash;
        address issuedBy;
    }

    /// @notice Emitted when a certifier issued a credential.
    event CredentialIssued(
        uint256 indexed credentialId,
        bytes32 indexed credentialType,
        uint64 indexed subjectOrg,
        uint64 issuerOrg,
        bytes32 claimHash,
        uint64 validFrom,
        uint64 validUntil,
        address issuedBy
    );
    /// @notice Emitted when the issuing organisation revoked a credential.
    event CredentialRevoked(uint256 indexed credentialId, uint64 indexed issuerOrg, string reason, address revokedBy);

    error CredentialUnknown(uint256 credentialId);
    error CredentialUnknownSubject(uint64 subjectOrg);
    error CredentialSelfCertification(uint64 orgId);
    error CredentialInvalidWindow(uint64 validFrom, uint64 validUntil);
    error CredentialEmptyType();
    error CredentialAlreadyRevoked(uint256 credentialId);
    error CredentialNotIssuer(address account, uint256 credentialId);

    /// @notice Issues a credential; the sender must be an active certifier agent of an
    /// organisation other than `subjectOrg`. Returns the credential id (sequential from 1).
    function issueCredential(
        bytes32 credentialType,
        uint64 subjectOrg,
        bytes32 claimHash,
        uint64 validFrom,
        uint64 validUntil
    ) external returns (uint256 credentialId);

    /// @notice Revokes a credential; the sender must be an active certifier agent of the issuer.
    function revokeCredential(uint256 credentialId, string calldata reason) external;

    function credential(uint256 credentialId) external view returns (Credential memory);

    function credentialCount() external view returns (uint256);

    /// @notice True when the credential exists, is not revoked and the time is within its window.
    function isValid(uint256 credentialId) external view returns (bool);

    /// @notice True when `subjectOrg` holds at least one valid credential of `credentialType`.
    function hasValidCredential(uint64 subjectOrg, bytes32 credentialType) external view returns (bool);

    /// @notice Ids of every credential of `credentialType` ever issued to `subjectOrg`.
    function credentialsOf(uint64 subjectOrg, bytes32 credentialType) external view returns (uint256[] memory);
}
