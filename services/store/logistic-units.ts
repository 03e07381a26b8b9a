import { id as keccakText } from "ethers";
import type { Db } from "./db";
import { prepared } from "./statements";

/**
 * What a logistic unit (SSCC) held when, from the chain's pack, hand-over and unpack records
 * (LogisticUnits' Packed, UnitHandedOver and Unpacked, indexed per batch in batch_events; migration 37
 * finds the pack records by SSCC). A unit's current contents (batches.unit_key) say nothing of its
 * past: a unit is unpacked whole and packed again with other goods under the same SSCC.
 *
 * A **load** is what was packed into the unit between two unpackings. Chain times are whole seconds:
 * an unpacking, a hand-over or a packing in an instant's very second counts as before it.
 */

/** A pack, hand-over or unpack record: its place on the chain and its block's time (ms). */
export interface UnitRecord {
  blockNumber: number;
  logIndex: number;
  at: number;
}

export interface UnitHistory {
  /** The unit's pack records, in chain order, one per batch packed. */
  packs: (UnitRecord & { batchId: string })[];
  /** Its unpack records, in chain order. */
  unpacks: UnitRecord[];
  /** Its hand-overs (acceptUnit), in chain order. */
  handOvers: UnitRecord[];
}

const before = (a: UnitRecord, b: UnitRecord) => a.blockNumber < b.blockNumber || (a.blockNumber === b.blockNumber && a.logIndex < b.logIndex);

/** The pack, hand-over and unpack records of the unit with SSCC `sscc`. */
export function unitHistory(db: Db, sscc: string): UnitHistory {
  const packs = (
    prepared(
      db,
      `SELECT batch_id, block_number, log_index, time FROM batch_events
       WHERE type = 'packed' AND json_extract(details, '$.sscc') = ? ORDER BY block_number, log_index`,
    ).all(sscc) as { batch_id: string; block_number: number; log_index: number; time: string }[]
  ).map((r) => ({ batchId: r.batch_id.toLowerCase(), blockNumber: r.block_number, logIndex: r.log_index, at: Date.parse(r.time) }));
  if (packs.length === 0) return { packs, unpacks: [], handOvers: [] };
  // A hand-over or an unpacking is recorded on each batch the unit held: found through the batches ever packed into it.
  const unitKey = keccakText(sscc).toLowerCase();
  const recorded = prepared(
    db,
    `SELECT type, block_number, log_index, time, details FROM batch_events
     WHERE batch_id = ? AND type IN ('unpacked', 'unit_handed_over') ORDER BY block_number, log_index`,
  );
  const found = { unpacked: new Map<string, UnitRecord>(), unit_handed_over: new Map<string, UnitRecord>() };
  for (const batchId of new Set(packs.map((p) => p.batchId))) {
    for (const r of recorded.all(batchId) as { type: keyof typeof found; block_number: number; log_index: number; time: string; details: string }[]) {
      if (String((JSON.parse(r.details) as { unitKey?: string }).unitKey ?? "").toLowerCase() !== unitKey) continue;
      found[r.type].set(`${r.block_number}:${r.log_index}`, { blockNumber: r.block_number, logIndex: r.log_index, at: Date.parse(r.time) });
    }
  }
  const inOrder = (records: Map<string, UnitRecord>) => [...records.values()].sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
  return { packs, unpacks: inOrder(found.unpacked), handOvers: inOrder(found.unit_handed_over) };
}

/**
 * The load the unit carried at `atMs`: its pack records after its last unpacking at or before that
 * time and before its first unpacking after it — including packings mined after `atMs` within the
 * same load (the footprint's reading: a shipment is recorded before or after its packing is mined).
 */
export function loadAt(history: UnitHistory, atMs: number): UnitHistory["packs"] {
  const lower = history.unpacks.filter((u) => u.at <= atMs).pop();
  const upper = history.unpacks.find((u) => u.at > atMs);
  return history.packs.filter((p) => (!lower || before(lower, p)) && (!upper || before(p, upper)));
}

/**
 * The batches in the unit at `atMs`, as an event at that time is about them (ids in lower case, in
 * packing order): those packed at or before that time and not unpacked by then — and, since an event
 * is often recorded before its packing reaches the chain (a document captured after the fact, the
 * packing mapped from it), those packed into the same load later but before the unit next changed
 * hands. Goods another custodian added after taking the unit over, or that went into the unit after
 * an unpacking, are not what the event saw. Who may read an event naming the unit and which batches'
 * records show it go by these (services/epcis/access.ts, services/epcis/mapping/batches.ts); an
 * invalid time finds none.
 */
export function contentsAt(history: UnitHistory, atMs: number): string[] {
  if (!Number.isFinite(atMs)) return [];
  const nextHandOver = history.handOvers.find((h) => h.at > atMs);
  const held = loadAt(history, atMs).filter((p) => p.at <= atMs || !nextHandOver || before(p, nextHandOver));
  return [...new Set(held.map((p) => p.batchId))];
}

/**
 * `contentsAt` by SSCC and event time, each unit's history read once (for one request: a history
 * read here does not follow the index afterwards).
 */
export function createUnitContents(db: Db) {
  const histories = new Map<string, UnitHistory>();
  const historyOf = (sscc: string) => {
    let history = histories.get(sscc);
    if (!history) histories.set(sscc, (history = unitHistory(db, sscc)));
    return history;
  };
  /** The batches packed in unit `sscc` at `eventTime` (an ISO time or ms). */
  function at(sscc: string, eventTime: string | number): string[] {
    return contentsAt(historyOf(sscc), typeof eventTime === "number" ? eventTime : Date.parse(eventTime));
  }
  /** Whether batch `batchId` was packed in unit `sscc` at `eventTime`. */
  function held(sscc: string, batchId: string, eventTime: string | number): boolean {
    return at(sscc, eventTime).includes(batchId.toLowerCase());
  }
  return { at, held };
}
export type UnitContents = ReturnType<typeof createUnitContents>;
