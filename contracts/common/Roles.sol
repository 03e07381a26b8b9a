// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Agent roles as bit flags
/// @notice An agent holds a set of roles; a set is the bitwise OR of these flags. Bit flags let one
/// storage word hold an agent's roles and let "is this set allowed for the organisation" be one AND.
/// The service mirrors this table in services/chain/roles.ts; keep the two in the same order.
library Roles {
    uint256 internal constant PRODUCER = 1 << 0;
    uint256 internal constant PROCESSOR = 1 << 1;
    uint256 internal constant CARRIER = 1 << 2;
    uint256 internal constant RECEIVER = 1 << 3;
    uint256 internal constant BUYER = 1 << 4;
    uint256 internal constant AUDITOR = 1 << 5;
    uint256 internal constant CERTIFIER = 1 << 6;
    uint256 internal constant ORG_ADMIN = 1 << 7;
    uint256 internal constant INTEGRATION = 1 << 8;
    /// @dev Withdraws the organisation's settlement proceeds and refunds to its payout address.
    uint256 internal constant TREASURY = 1 << 9;

    /// @dev Roles every organisation may hold: someone must manage its agents, and its own
    /// service's integration key acts only for it. Governance decides the business roles.
    uint256 internal constant INTERNAL = ORG_ADMIN | INTEGRATION | TREASURY;
    uint256 internal constant ALL = (1 << 10) - 1;
}
