// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// @title OpenZeppelin ERC-721 with an open mint, as a gas reference
/// @notice Not part of a Lotline deployment: scripts/gas/measure.ts mints with it beside lot
/// registration so docs/gas.md compares both on the same network and EVM target.
contract ERC721Mock is ERC721 {
    constructor() ERC721("Lotline gas reference", "LGR") {}

    function mint(address to, uint256 tokenId) external {
        _mint(to, tokenId);
    }
}
