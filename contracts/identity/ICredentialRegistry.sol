// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Credentials issued by certifier organisations
/// @notice A certifier (an agent holding the certifier role) issues a credential of a type (a
/// short string such as "ISO14001" or "ORGANIC", encoded as bytes32) to another organisation, with
/// a hash of the claim (the certificate itself stays off-chain) and a validity window. Governance
/// (the consortium registry's GOVERNOR_ROLE) decides which certifier organisation may issue which
/// types. The issuing organisation's certifiers, or governance, can revoke a credential. Anyone
/// can check validity in bounded time; other contracts gate actions on it.
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
    /// @notice Emitted when the issuing organisation or governance revoked a credential.
    event CredentialRevoked(uint256 indexed credentialId, uint64 indexed issuerOrg, string reason, address revokedBy);
    /// @notice Emitted when governance allowed (or stopped allowing) an organisation to issue a type.
    /// Credentials already issued stay valid until they expire or are revoked.
    event CertifierTypeSet(uint64 indexed issuerOrg, bytes32 indexed credentialType, bool allowed, address by);

    error CredentialUnknown(uint256 credentialId);
    error CredentialUnknownSubject(uint64 subjectOrg);
    error CredentialSelfCertification(uint64 orgId);
    error CredentialInvalidWindow(uint64 validFrom, uint64 validUntil);
    error CredentialEmptyType();
    error CredentialAlreadyRevoked(uint256 credentialId);
    error CredentialNotIssuer(address account, uint256 credentialId);
    error CredentialTypeNotAllowed(uint64 issuerOrg, bytes32 credentialType);
    error CredentialNotGovernor(address account);
    error CredentialUnknownIssuer(uint64 issuerOrg);
    error CredentialTooManyLive(uint64 subjectOrg, bytes32 credentialType, uint64 issuerOrg, uint256 limit);

    /// @notice Issues a credential; the sender must be an active certifier agent of an
    /// organisation other than `subjectOrg` that governance allowed to issue `credentialType`.
    /// Expired and revoked credentials of the subject and type leave the live list first; then at
    /// most 2 live credentials per issuer and 16 in all may remain per subject and type.
    /// Returns the credential id (sequential from 1).
    function issueCredential(
        bytes32 credentialType,
        uint64 subjectOrg,
        bytes32 claimHash,
        uint64 validFrom,
        uint64 validUntil
    ) external returns (uint256 credentialId);

    /// @notice Revokes a credential; the sender must be an active certifier agent of the issuer, or
    /// governance (which can revoke even when the issuer is suspended or no longer a certifier).
    function revokeCredential(uint256 credentialId, string calldata reason) external;

    /// @notice Allows (or stops allowing) `issuerOrg` to issue `credentialType`. Governance only.
    function setCertifierType(uint64 issuerOrg, bytes32 credentialType, bool allowed) external;

    /// @notice Whether governance allows `issuerOrg` to issue `credentialType`.
    function mayIssue(uint64 issuerOrg, bytes32 credentialType) external view returns (bool);

    function credential(uint256 credentialId) external view returns (Credential memory);

    function credentialCount() external view returns (uint256);

    /// @notice True when the credential exists, is not revoked and the time is within its window.
    function isValid(uint256 credentialId) external view returns (bool);

    /// @notice True when `subjectOrg` holds at least one valid credential of `credentialType`.
    /// Reads at most 16 credentials (the live list).
    function hasValidCredential(uint64 subjectOrg, bytes32 credentialType) external view returns (bool);

    /// @notice Ids of the credentials of `credentialType` that `subjectOrg` may still rely on (not
    /// pruned: valid, not yet valid, or expired or revoked since the last issue). At most 16.
    function liveCredentialsOf(uint64 subjectOrg, bytes32 credentialType) external view returns (uint256[] memory);

    /// @notice Ids of every credential of `credentialType` ever issued to `subjectOrg`.
    function credentialsOf(uint64 subjectOrg, bytes32 credentialType) external view returns (uint256[] memory);
}
