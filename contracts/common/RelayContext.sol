// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";

/// @title AccessControl that reads the sender through ERC-2771
/// @notice Every Lotline contract inherits this so that calls relayed by the trusted forwarder are
/// attributed to the wallet that signed them, for both governance roles and agent checks.
abstract contract RelayContext is AccessControl, ERC2771Context {
    constructor(address trustedForwarder_) ERC2771Context(trustedForwarder_) {}

    function _msgSender() internal view virtual override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view virtual override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view virtual override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
