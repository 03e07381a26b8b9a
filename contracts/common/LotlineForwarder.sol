// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title Lotline's ERC-2771 forwarder
/// @notice OpenZeppelin's forwarder under Lotline's EIP-712 domain name. Requests carry the
/// signer's nonce and a deadline; the service's relayer submits them (services/relayer).
contract LotlineForwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("LotlineForwarder") {}
}
