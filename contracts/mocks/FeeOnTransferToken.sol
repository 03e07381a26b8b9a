// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title An ERC-20 that burns a fee from every transfer
/// @notice Not part of a Lotline deployment: the settlement tests order in it to show that the
/// escrow refuses funding it would not be paid in full (docs/adr/0008: plain ERC-20s only).
contract FeeOnTransferToken is ERC20 {
    uint16 private immutable _feeBps;

    constructor(uint16 feeBps) ERC20("Fee-on-transfer test token", "FEE") {
        _feeBps = feeBps;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) return super._update(from, to, value);
        uint256 fee = (value * _feeBps) / 10_000;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}
