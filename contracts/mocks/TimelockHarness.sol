// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Brings OpenZeppelin's TimelockController into the build so tests and production deployments
// can put consortium governance behind it.
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
