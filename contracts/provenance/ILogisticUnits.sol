// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Logistic units (SSCC): aggregation of batches for transport
/// @notice A unit is keyed by `keccak256(bytes(sscc))`. While packed, its batches are held by the
/// unit's custodian and move only with the unit: a hand-over of the unit is one write, whatever it
/// contains. Deployed by the ProvenanceRegistry, which keeps the batches' unit membership.
interface ILogisticUnits {
    event Packed(bytes32 indexed unitKey, string sscc, uint64 indexed custodian, bytes32[] batchIds);
    event Unpacked(bytes32 indexed unitKey, uint64 indexed custodian, bytes32[] batchIds);
    event UnitOffered(bytes32 indexed unitKey, uint64 indexed from, uint64 indexed to);
    event UnitOfferCancelled(bytes32 indexed unitKey, uint64 indexed by);
    event UnitHandedOver(
        bytes32 indexed unitKey,
        uint64 indexed from,
        uint64 indexed to,
        string gln,
        address acceptedBy
    );

    error UnitsInvalidSscc(string sscc);
    error UnitsNotCustodian(bytes32 unitKey, uint64 org);
    error UnitsInTransit(bytes32 unitKey);
    error UnitsFull(bytes32 unitKey, uint256 max);
    error UnitsNoOffer(bytes32 unitKey);
    error UnitsNotReceiver(bytes32 unitKey, uint64 org);
    error UnitsSelfHandover(uint64 org);
    error UnitsUnknownOrganisation(uint64 org);
    error UnitsForeignLocation(string gln, uint64 org);
    error UnitsContainsRecalled(bytes32 unitKey, bytes32 batchId);
    error UnitsContentsChanged(bytes32 unitKey, bytes32 expected, bytes32 actual);

    /// @notice Packs batches held by the sender's organisation into a unit (an SSCC of its own
    /// company prefix), creating the unit on first use; at most MAX_UNIT_CONTENTS batches.
    function pack(string calldata sscc, bytes32[] calldata batchIds) external;

    /// @notice Unpacks a unit held by the sender's organisation.
    function unpack(string calldata sscc) external;

    /// @notice Offers custody of a unit (and so of its contents) to another organisation. Refused
    /// while the unit holds a recalled batch: a recall stops every hand-over of affected goods.
    function offerUnit(string calldata sscc, uint64 to) external;

    /// @notice Accepts custody of a unit offered to the sender's organisation, at `gln` (or ""),
    /// with the contents it was shown: `contentsHash` must equal contentsHash(sscc), so a custodian
    /// that unpacks and repacks in front of the receiver's transaction gets a revert.
    function acceptUnit(string calldata sscc, bytes32 contentsHash, string calldata gln) external;

    /// @notice Withdraws a unit offer: its custodian cancels or the receiver rejects it.
    function cancelUnitOffer(string calldata sscc) external;

    function contents(string calldata sscc) external view returns (uint64 custodian, bytes32[] memory batchIds);

    /// @notice The hash chain of the unit's contents in packing order: h0 = 0,
    /// h(i+1) = keccak256(abi.encode(h(i), batchIds[i])); 0 for an empty unit.
    function contentsHash(string calldata sscc) external view returns (bytes32);
}
