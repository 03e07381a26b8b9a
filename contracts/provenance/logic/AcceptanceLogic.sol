// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IProvenanceRegistry as P} from "../IProvenanceRegistry.sol";
import {IConsortiumRegistry} from "../../identity/IConsortiumRegistry.sol";
import {ProvenanceStorage} from "../ProvenanceStorage.sol";
import {ProvenanceCore} from "../ProvenanceCore.sol";

/// @title Signed acceptances of hand-overs (external library of ProvenanceRegistry)
/// @notice Runs by delegatecall in the registry's context: its storage, its events, its address.
/// Nonces are unordered, Permit2-style: nonce n is bit `n & 0xff` of the signer's word `n >> 8`.
library AcceptanceLogic {
    bytes32 internal constant ACCEPTANCE_TYPEHASH = keccak256(
        "Acceptance(bytes32 batchId,uint128 quantity,uint64 fromOrg,uint64 toOrg,uint8 kind,"
        "string gln,uint256 nonce,uint256 deadline)"
    );

    /// @notice See ProvenanceRegistry.handOverWithAcceptance; `from` is the sender's organisation.
    function handOverWithAcceptance(
        IConsortiumRegistry registry,
        bytes32 domainSeparator,
        uint64 from,
        P.Acceptance calldata a,
        bytes calldata signature
    ) external returns (bytes32) {
        if (a.from != from) revert P.ProvenanceWrongSender(a.from, from);
        _verify(registry, domainSeparator, a, signature);
        ProvenanceCore.offer(registry, a.batchId, a.quantity, from, a.to, a.kind);
        return
            ProvenanceCore.complete(registry, a.batchId, ProvenanceStorage.layout().offers[a.batchId], a.gln, a.signer);
    }

    /// @notice See ProvenanceRegistry.invalidateAcceptanceNonces.
    function invalidateNonces(address signer, uint256 wordPos, uint256 mask) external {
        ProvenanceStorage.layout().nonceBitmap[signer][wordPos] |= mask;
        emit P.AcceptanceNoncesInvalidated(signer, wordPos, mask);
    }

    function _verify(
        IConsortiumRegistry registry,
        bytes32 domainSeparator,
        P.Acceptance calldata a,
        bytes calldata signature
    ) private {
        if (block.timestamp > a.deadline) revert P.ProvenanceExpiredSignature(a.deadline);
        _useNonce(a.signer, a.nonce);
        bytes32 structHash = keccak256(
            abi.encode(
                ACCEPTANCE_TYPEHASH,
                a.batchId,
                a.quantity,
                a.from,
                a.to,
                uint8(a.kind),
                keccak256(bytes(a.gln)),
                a.nonce,
                a.deadline
            )
        );
        bytes32 digest = MessageHashUtils.toTypedDataHash(domainSeparator, structHash);
        if (!SignatureChecker.isValidSignatureNow(a.signer, digest, signature)) {
            revert P.ProvenanceInvalidSignature(a.signer, a.to);
        }
        if (
            (registry.effectiveRoles(a.signer) & ProvenanceCore.HANDLERS) == 0 || registry.agent(a.signer).orgId != a.to
        ) {
            revert P.ProvenanceInvalidSignature(a.signer, a.to);
        }
    }

    function _useNonce(address signer, uint256 nonce) private {
        uint256 bit = 1 << (nonce & 0xff);
        mapping(uint256 => uint256) storage words = ProvenanceStorage.layout().nonceBitmap[signer];
        uint256 word = words[nonce >> 8];
        if (word & bit != 0) revert P.ProvenanceNonceUsed(signer, nonce);
        words[nonce >> 8] = word | bit;
    }
}
