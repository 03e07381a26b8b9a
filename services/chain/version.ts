import { keccak256, toUtf8Bytes } from "ethers";
import { CONTRACT_NAMES, INTERFACES } from "./contracts";

/**
 * Bump when the contracts change behaviour the service relies on while their ABIs stay the same
 * (ABI changes are caught by the hash below without anyone remembering to bump anything).
 */
export const CONTRACTS_REVISION = 1;

/**
 * The version of the contracts this Lotline speaks (docs/adr/0012): the revision and a hash of the
 * ABI of every contract of a deployment, by deployment name. Recorded in every deployment record
 * and in the index's meta table; a data dir or deployment file made for another version is refused
 * at start, because events and calls of other contracts cannot be read with these ABIs.
 */
export const CONTRACTS_VERSION = `${CONTRACTS_REVISION}-${keccak256(
  toUtf8Bytes(JSON.stringify(CONTRACT_NAMES.map((name) => [name, JSON.parse(INTERFACES[name].formatJson()) as unknown]))),
).slice(2, 14)}`;
