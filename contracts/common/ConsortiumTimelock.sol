// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title Consortium governance timelock
/// @notice OpenZeppelin's TimelockController, named for Lotline. In production it holds the
/// registry's GOVERNOR_ROLE: members' multisig proposes, and every admission, suspension or
/// licence change waits `minDelay` seconds in public before it can execute.
contract ConsortiumTimelock is TimelockController {
    constructor(
        uint256 minDelay,
        address[] memory proposers,
        address[] memory executors,
        address admin
    ) TimelockController(minDelay, proposers, executors, admin) {}
}
