// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {ISharingRegistry} from "./ISharingRegistry.sol";
import {IConsortiumRegistry} from "../identity/IConsortiumRegistry.sol";
import {Roles} from "../common/Roles.sol";

/// @title Sharing registry
/// @notice See {ISharingRegistry}. Invariants: a grant's grantor is the organisation of the org
/// admin who issued it (nobody shares another organisation's records); a grant, once revoked, stays
/// revoked; only the grant's own parties end it.
contract SharingRegistry is ISharingRegistry, ERC2771Context {
    uint8 public constant CLASS_EPCIS = 1;
    uint8 public constant CLASS_PRODUCTION_RUN = 2;
    uint8 public constant CLASS_ORDER_TERMS = 4;
    uint8 public constant ALL_CLASSES = CLASS_EPCIS | CLASS_PRODUCTION_RUN | CLASS_ORDER_TERMS;
    uint256 public constant MAX_URL_LENGTH = 256;

    IConsortiumRegistry public immutable registry;

    uint256 private _grantCount;
    mapping(uint256 grantId => Grant) private _grants;
    mapping(uint64 orgId => string) private _serviceUrls;

    constructor(IConsortiumRegistry registry_, address trustedForwarder_) ERC2771Context(trustedForwarder_) {
        registry = registry_;
    }

    /// @inheritdoc ISharingRegistry
    function grant(
        uint64 grantee,
        uint8 classes,
        ScopeKind scopeKind,
        bytes32 scope,
        uint64 expiresAt
    ) external returns (uint256 grantId) {
        address sender = _msgSender();
        uint64 grantor = registry.requireAgent(sender, Roles.ORG_ADMIN);
        if (grantee == grantor) revert SharingSelfGrant(grantor);
        if (!registry.isOrganisationActive(grantee)) revert SharingUnknownGrantee(grantee);
        if (classes == 0 || classes & ~ALL_CLASSES != 0) revert SharingInvalidClasses(classes);
        if ((scopeKind == ScopeKind.All) != (scope == bytes32(0))) revert SharingInvalidScope(scopeKind, scope);
        if (expiresAt <= block.timestamp) revert SharingInvalidExpiry(expiresAt);
        grantId = ++_grantCount;
        _grants[grantId] = Grant(grantor, grantee, classes, scopeKind, expiresAt, 0, scope);
        emit GrantIssued(grantId, grantor, grantee, classes, scopeKind, scope, expiresAt, sender);
    }

    /// @inheritdoc ISharingRegistry
    function revoke(uint256 grantId) external {
        address sender = _msgSender();
        uint64 org = registry.requireAgent(sender, Roles.ORG_ADMIN);
        Grant storage g = _grants[grantId];
        if (g.grantor == 0) revert SharingUnknownGrant(grantId);
        if (org != g.grantor && org != g.grantee) revert SharingNotParty(grantId, org);
        if (g.revokedAt != 0) revert SharingAlreadyRevoked(grantId);
        g.revokedAt = uint64(block.timestamp);
        emit GrantRevoked(grantId, org, sender);
    }

    /// @inheritdoc ISharingRegistry
    function setServiceUrl(uint64 orgId, string calldata url) external {
        address sender = _msgSender();
        if (registry.requireAgent(sender, Roles.ORG_ADMIN) != orgId) revert SharingNotOrgAdmin(sender, orgId);
        if (bytes(url).length != 0 && !_isHttpUrl(bytes(url))) revert SharingInvalidUrl(url);
        _serviceUrls[orgId] = url;
        emit ServiceUrlSet(orgId, url, sender);
    }

    /// @inheritdoc ISharingRegistry
    function grantOf(uint256 grantId) external view returns (Grant memory) {
        return _grants[grantId];
    }

    /// @inheritdoc ISharingRegistry
    function grantCount() external view returns (uint256) {
        return _grantCount;
    }

    /// @inheritdoc ISharingRegistry
    function isInForce(uint256 grantId) external view returns (bool) {
        Grant storage g = _grants[grantId];
        return g.grantor != 0 && g.revokedAt == 0 && block.timestamp < g.expiresAt && registry.isOrganisationActive(g.grantor);
    }

    /// @inheritdoc ISharingRegistry
    function serviceUrl(uint64 orgId) external view returns (string memory) {
        return _serviceUrls[orgId];
    }

    /// @dev "http://" or "https://" followed by at least one character, printable ASCII, bounded.
    function _isHttpUrl(bytes calldata url) private pure returns (bool) {
        if (url.length > MAX_URL_LENGTH) return false;
        uint256 rest;
        if (_startsWith(url, "https://")) rest = 8;
        else if (_startsWith(url, "http://")) rest = 7;
        else return false;
        if (url.length == rest) return false;
        for (uint256 i = rest; i < url.length; ++i) {
            if (url[i] <= 0x20 || url[i] >= 0x7f) return false;
        }
        return true;
    }

    function _startsWith(bytes calldata data, bytes memory prefix) private pure returns (bool) {
        if (data.length < prefix.length) return false;
        for (uint256 i = 0; i < prefix.length; ++i) if (data[i] != prefix[i]) return false;
        return true;
    }
}
