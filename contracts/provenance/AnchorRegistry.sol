// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IAnchorRegistry} from "./IAnchorRegistry.sol";
import {IConsortiumRegistry} from "../identity/IConsortiumRegistry.sol";
import {Roles} from "../common/Roles.sol";

/// @title Anchor registry
/// @notice See {IAnchorRegistry}. Invariant: an anchor, once stored, never changes.
contract AnchorRegistry is IAnchorRegistry, ERC2771Context {
    IConsortiumRegistry public immutable registry;
    mapping(bytes32 root => Anchor) private _anchors;

    constructor(IConsortiumRegistry registry_, address trustedForwarder_) ERC2771Context(trustedForwarder_) {
        registry = registry_;
    }

    /// @inheritdoc IAnchorRegistry
    function anchor(bytes32 kind, bytes32 root, uint32 count, string calldata uri) external {
        uint64 org = registry.requireAgent(_msgSender(), Roles.ALL);
        if (count == 0 || root == bytes32(0)) revert AnchorEmpty();
        if (_anchors[root].blockNumber != 0) revert AnchorExists(root);
        _anchors[root] = Anchor(kind, org, uint64(block.number), count);
        emit Anchored(root, kind, org, count, uri, _msgSender());
    }

    /// @inheritdoc IAnchorRegistry
    function anchorOf(bytes32 root) external view returns (Anchor memory) {
        return _anchors[root];
    }
}
