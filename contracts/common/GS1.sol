// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title GS1 key checks
/// @notice Syntax and check-digit validation of GS1 keys written as decimal digit strings
/// (leading zeros are significant, so keys are never stored as integers).
library GS1 {
    /// @notice True when every byte of `key` is an ASCII digit and its length is within bounds.
    function isDigits(bytes memory key, uint256 minLength, uint256 maxLength) internal pure returns (bool) {
        if (key.length < minLength || key.length > maxLength) return false;
        for (uint256 i = 0; i < key.length; ++i) {
            if (key[i] < "0" || key[i] > "9") return false;
        }
        return true;
    }

    /// @notice Validates the GS1 mod-10 check digit (last digit) of a numeric key such as a GLN,
    /// GTIN or SSCC. Weights alternate 3,1,3… from the rightmost data digit.
    function hasValidCheckDigit(bytes memory key) internal pure returns (bool) {
        if (key.length < 2) return false;
        uint256 sum = 0;
        uint256 dataLength = key.length - 1;
        for (uint256 i = 0; i < dataLength; ++i) {
            uint256 digit = uint8(key[dataLength - 1 - i]) - 48;
            sum += i % 2 == 0 ? digit * 3 : digit;
        }
        uint256 expected = (10 - (sum % 10)) % 10;
        return uint8(key[dataLength]) - 48 == expected;
    }

    /// @notice True when `key` begins with `prefix`.
    function startsWith(bytes memory key, bytes memory prefix) internal pure returns (bool) {
        if (prefix.length > key.length) return false;
        for (uint256 i = 0; i < prefix.length; ++i) {
            if (key[i] != prefix[i]) return false;
        }
        return true;
    }

    /// @notice The first `length` bytes of `key`.
    function head(bytes memory key, uint256 length) internal pure returns (bytes memory out) {
        out = new bytes(length);
        for (uint256 i = 0; i < length; ++i) out[i] = key[i];
    }
}
