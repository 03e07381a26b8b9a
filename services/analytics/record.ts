import { canonicalize } from "json-canonicalize";
import { toUtf8Bytes } from "ethers";
import { keccak256 } from "../common/keccak";
import type { EnergySource } from "./factors";
import type { Gas, GwpSet, TransportLeg } from "./emissions";

/**
 * A production run as Lotline stores it: primary data, hashed (keccak256 of its RFC 8785 canonical
 * JSON) and anchored like product master data. Never overwritten: a correction is a new record
 * naming the one it `corrects`, which stays, marked superseded (outside the hashed document).
 *
 * Units are in the field names: times ISO 8601 UTC, durations in seconds, energy in kWh by
 * source, water in m³, scrap in kg. Counts are in `countUnit` (UN/CEFACT Rec 20: H87 pieces,
 * LTR litres, KGM kilograms…); material quantities are decimal strings in their `unit`.
 */
export interface MaterialLine {
  /** A batch of the index (its unit is the batch's); absent for untracked material. */
  batchId?: string;
  /** What an untracked line is ("raw milk", "salt"); absent for a batch. */
  material?: string;
  quantity: string;
  unit: string;
  /**
   * A purchased (untracked) input's own cradle-to-gate footprint, per unit of `unit`: from the
   * supplier (a PACT footprint it shared, `pactId`) or a database, as `source` says.
   */
  footprint?: { co2ePerUnitKg: number; source: string; pactId?: string };
}

export interface ProductionRunRecord {
  id: string;
  orgId: string;
  /** GLN of the producing organisation's site. */
  site: string;
  line: string;
  startTime: string;
  endTime: string;
  plannedTimeSeconds: number;
  runTimeSeconds: number;
  idealCycleTimeSeconds: number;
  totalCount: number;
  goodCount: number;
  countUnit: string;
  inputs: MaterialLine[];
  outputs: MaterialLine[];
  /** kWh by source; absent when the run did not report energy (unknown, not zero). */
  energyKwh?: Partial<Record<EnergySource, number>>;
  waterM3?: number;
  scrapKg?: number;
  /** Direct (Scope 1) emissions by gas in kg of the gas: CH4 of cows, N2O of fertiliser, refrigerant leaks. */
  directEmissionsKg?: Partial<Record<Gas, number>>;
  /** The GWP set the direct emissions convert with (AR6 when absent). */
  gwpSet?: GwpSet;
  /** Freight legs that brought this run's inputs to its site. */
  transportLegs?: TransportLeg[];
  processParameters: Record<string, number>;
  /** The id of the record this one corrects. */
  corrects?: string;
  notes?: string;
  /** The agent (wallet address) that submitted it. */
  submittedBy: string;
  recordedAt: string;
}

/** Run ids: `pr_` and 24 hex digits of the hash of the record without its id. */
export const RUN_ID_PATTERN = "^pr_[0-9a-f]{24}$";
export const isRunId = (id: string) => new RegExp(RUN_ID_PATTERN).test(id);

export const runRecordId = (id: string) => `production-run:${id}`;
export const RUN_ANCHOR_KIND = "PRODUCTION_RUN";

/** keccak256 of the record's RFC 8785 canonical JSON: the anchored leaf. */
export function recordHash(record: object): string {
  return documentHash(canonicalize(record));
}

/** recordHash of a record already in canonical JSON (`canonicalize(record)`). */
export function documentHash(canonicalJson: string): string {
  return keccak256(toUtf8Bytes(canonicalJson));
}

/** The record with its id, derived from the content (so the same submission twice has one id). */
export function withId(record: Omit<ProductionRunRecord, "id">): ProductionRunRecord {
  const id = `pr_${recordHash(record).slice(2, 26)}`;
  return { id, ...record };
}

/** The batches a run names (inputs and outputs): what a grant's scope is checked against. */
export function runBatchIds(run: Pick<ProductionRunRecord, "inputs" | "outputs">): string[] {
  // Records stored before a field existed, or read partially, may lack a list: none is no batch.
  return [...(run.inputs ?? []), ...(run.outputs ?? [])].flatMap((line) => (line.batchId ? [line.batchId] : []));
}
