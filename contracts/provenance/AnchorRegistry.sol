// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IAnchorRegistry} from "./IAnchorRegistry.sol";
import {IConsortiumRegistry} from "../identity/IConsortiumRegistry.sol";
import {Roles} from "../common/Roles.sol";

/// @title Anchor registry
/// @notice See {IAnchorRegistry}. Invariants: an anchor, once stored, never changes; an anchor is
/// stored only under the organisation of the agent that sent it.
contract AnchorRegistry is IAnchorRegistry, ERC2771Context {
    IConsortiumRegistry public immutable registry;
    mapping(uint64 org => mapping(bytes32 root => Anchor)) private _anchors;

    constructor(IConsortiumRegistry registry_, address trustedForwarder_) ERC2771Context(trustedForwarder_) {
        registry = registry_;
    }

    /// @inheritdoc IAnchorRegistry
    function anchor(bytes32 kind, bytes32 root, uint32 count, string calldata uri) external {
        address sender = _msgSender();
        uint64 org = registry.requireAgent(sender, Roles.ALL);
        if (count == 0 || root == bytes32(0)) revert AnchorEmpty();
        if (_anchors[org][root].blockNumber != 0) revert AnchorExists(org, root);
        _anchors[org][root] = Anchor(kind, org, uint64(block.number), count);
        emit Anchored(root, kind, org, count, uri, sender);
    }

    /// @inheritdoc IAnchorRegistry
    function anchorOf(uint64 org, bytes32 root) external view returns (Anchor memory) {
        return _anchors[org][root];
    }
}
