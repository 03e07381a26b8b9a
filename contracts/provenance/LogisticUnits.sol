// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {ILogisticUnits} from "./ILogisticUnits.sol";
import {IConsortiumRegistry} from "../identity/IConsortiumRegistry.sol";
import {ProvenanceRegistry} from "./ProvenanceRegistry.sol";
import {Roles} from "../common/Roles.sol";
import {GS1} from "../common/GS1.sol";

/// @title Logistic units
/// @notice See {ILogisticUnits}. Invariant: a unit with contents has a custodian in the
/// ProvenanceRegistry, and every batch in `_contents[unit]` has that unit as its unit.
contract LogisticUnits is ILogisticUnits, ERC2771Context {
    uint256 public constant MAX_UNIT_CONTENTS = 64;
    uint256 private constant HANDLERS =
        Roles.PRODUCER | Roles.PROCESSOR | Roles.CARRIER | Roles.RECEIVER | Roles.BUYER | Roles.INTEGRATION;

    IConsortiumRegistry public immutable registry;
    ProvenanceRegistry public immutable provenance;

    mapping(bytes32 unitKey => bytes32[]) private _contents;
    mapping(bytes32 unitKey => uint64 to) private _offers;
    mapping(bytes32 unitKey => bytes32) private _contentsHash;

    constructor(
        IConsortiumRegistry registry_,
        ProvenanceRegistry provenance_,
        address trustedForwarder_
    ) ERC2771Context(trustedForwarder_) {
        registry = registry_;
        provenance = provenance_;
    }

    /// @inheritdoc ILogisticUnits
    function pack(string calldata sscc, bytes32[] calldata batchIds) external {
        uint64 org = registry.requireAgent(_msgSender(), HANDLERS);
        bytes32 unitKey = _validSscc(sscc, org);
        uint64 custodian = provenance.unitCustodian(unitKey);
        if (custodian != 0 && custodian != org) revert UnitsNotCustodian(unitKey, org);
        if (_offers[unitKey] != 0) revert UnitsInTransit(unitKey);
        bytes32[] storage held = _contents[unitKey];
        if (held.length + batchIds.length > MAX_UNIT_CONTENTS) revert UnitsFull(unitKey, MAX_UNIT_CONTENTS);
        bytes32 chain = _contentsHash[unitKey];
        for (uint256 i = 0; i < batchIds.length; ++i) {
            held.push(batchIds[i]);
            chain = keccak256(abi.encode(chain, batchIds[i]));
        }
        _contentsHash[unitKey] = chain;
        provenance.packHook(unitKey, org, batchIds);
        emit Packed(unitKey, sscc, org, batchIds);
    }

    /// @inheritdoc ILogisticUnits
    function unpack(string calldata sscc) external {
        (bytes32 unitKey, uint64 org) = _heldUnit(sscc);
        if (_offers[unitKey] != 0) revert UnitsInTransit(unitKey);
        bytes32[] memory batchIds = _contents[unitKey];
        delete _contents[unitKey];
        delete _contentsHash[unitKey];
        provenance.unpackHook(unitKey, batchIds);
        emit Unpacked(unitKey, org, batchIds);
    }

    /// @inheritdoc ILogisticUnits
    function offerUnit(string calldata sscc, uint64 to) external {
        (bytes32 unitKey, uint64 org) = _heldUnit(sscc);
        if (to == org) revert UnitsSelfHandover(to);
        if (!registry.isOrganisationActive(to)) revert UnitsUnknownOrganisation(to);
        _requireNoRecall(unitKey);
        _offers[unitKey] = to;
        emit UnitOffered(unitKey, org, to);
    }

    /// @inheritdoc ILogisticUnits
    function acceptUnit(string calldata sscc, bytes32 contentsHash_, string calldata gln) external {
        uint64 org = registry.requireAgent(_msgSender(), HANDLERS);
        bytes32 unitKey = keccak256(bytes(sscc));
        uint64 to = _offers[unitKey];
        if (to == 0) revert UnitsNoOffer(unitKey);
        if (to != org) revert UnitsNotReceiver(unitKey, org);
        bytes32 held = _contentsHash[unitKey];
        if (held != contentsHash_) revert UnitsContentsChanged(unitKey, contentsHash_, held);
        if (bytes(gln).length != 0 && registry.orgOfLocation(gln) != org) revert UnitsForeignLocation(gln, org);
        _requireNoRecall(unitKey);
        uint64 from = provenance.unitCustodian(unitKey);
        delete _offers[unitKey];
        provenance.unitCustodyHook(unitKey, org);
        emit UnitHandedOver(unitKey, from, org, gln, _msgSender());
    }

    /// @inheritdoc ILogisticUnits
    function cancelUnitOffer(string calldata sscc) external {
        uint64 org = registry.requireAgent(_msgSender(), HANDLERS);
        bytes32 unitKey = keccak256(bytes(sscc));
        uint64 to = _offers[unitKey];
        if (to == 0) revert UnitsNoOffer(unitKey);
        if (org != to && org != provenance.unitCustodian(unitKey)) revert UnitsNotReceiver(unitKey, org);
        delete _offers[unitKey];
        emit UnitOfferCancelled(unitKey, org);
    }

    /// @inheritdoc ILogisticUnits
    function contents(string calldata sscc) external view returns (uint64 custodian, bytes32[] memory batchIds) {
        bytes32 unitKey = keccak256(bytes(sscc));
        return (provenance.unitCustodian(unitKey), _contents[unitKey]);
    }

    /// @inheritdoc ILogisticUnits
    function contentsHash(string calldata sscc) external view returns (bytes32) {
        return _contentsHash[keccak256(bytes(sscc))];
    }

    function pendingOffer(string calldata sscc) external view returns (uint64) {
        return _offers[keccak256(bytes(sscc))];
    }

    function _requireNoRecall(bytes32 unitKey) private view {
        bytes32 recalled = provenance.unitRecall(unitKey);
        if (recalled != 0) revert UnitsContainsRecalled(unitKey, recalled);
    }

    function _heldUnit(string calldata sscc) private view returns (bytes32 unitKey, uint64 org) {
        org = registry.requireAgent(_msgSender(), HANDLERS);
        unitKey = keccak256(bytes(sscc));
        if (provenance.unitCustodian(unitKey) != org) revert UnitsNotCustodian(unitKey, org);
    }

    /// @dev 18 digits with a valid check digit, whose digits after the extension digit start with
    /// a company prefix of `org`.
    function _validSscc(string calldata sscc, uint64 org) private view returns (bytes32) {
        bytes memory raw = bytes(sscc);
        if (!GS1.isDigits(raw, 18, 18) || !GS1.hasValidCheckDigit(raw)) revert UnitsInvalidSscc(sscc);
        bytes memory body = new bytes(16);
        for (uint256 i = 0; i < 16; ++i) body[i] = raw[i + 1];
        (uint64 holder, ) = registry.orgOfKey(string(body));
        if (holder != org) revert UnitsInvalidSscc(sscc);
        return keccak256(raw);
    }
}
