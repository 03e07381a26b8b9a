// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// @title A hostile ERC-20 that calls back into a contract in the middle of a transfer
/// @notice Not part of a Lotline deployment: the settlement tests order in it to show that the
/// escrow's guarded functions refuse re-entry and that its other functions already see the state
/// the interrupted call wrote (checks → effects → interactions). `arm` sets a one-shot call that
/// the next transfer makes after moving the balances; a revert of that call reverts the transfer.
contract ReentrantToken is ERC20 {
    address private _target;
    bytes private _payload;

    constructor() ERC20("Reentrant test token", "RNT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice The next transfer (or transferFrom) calls `target` with `payload`, once.
    function arm(address target, bytes calldata payload) external {
        _target = target;
        _payload = payload;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address target = _target;
        if (target == address(0)) return;
        _target = address(0);
        Address.functionCall(target, _payload);
    }
}
