import { canonicalize } from "json-canonicalize";
import { getAddress, keccak256, toUtf8Bytes, TypedDataEncoder, verifyTypedData, type TypedDataDomain } from "ethers";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { queueForAnchoring } from "../anchoring/outbox";
import type { BatchView, ProvenanceStore } from "../store/provenance";

/**
 * Recall acknowledgements (issue 15, docs/adr/0019). A recall notice is the direct recall of a batch
 * made in one transaction (`recallTx`); every organisation holding goods it affects (custodian of an
 * affected batch still in circulation) is asked to acknowledge it. An acknowledgement is EIP-712
 * typed data signed by an agent of the custodian organisation, stored by the organisation's node and
 * anchored like every other off-chain record (no contract change). The signature binds:
 *   - the domain: Lotline's recall acknowledgement, this chain, the ProvenanceRegistry (so it is
 *     void on another consortium or chain),
 *   - the notice (batchId + recallTx: a later recall of the same batch needs a new acknowledgement),
 *   - the organisation acknowledging (an agent of another organisation cannot acknowledge for it),
 *   - a random nonce (used once) and a deadline (unix seconds; refused once passed).
 */
export const RECALL_ACK_KIND = "RECALL_ACK";

export const RECALL_ACK_TYPES = {
  RecallAcknowledgement: [
    { name: "batchId", type: "bytes32" },
    { name: "recallTx", type: "bytes32" },
    { name: "orgId", type: "uint64" },
    { name: "nonce", type: "bytes32" },
    { name: "deadline", type: "uint64" },
    { name: "note", type: "string" },
  ],
};

export function recallAckDomain(chainId: number, provenance: string): TypedDataDomain {
  return { name: "Lotline recall acknowledgement", version: "1", chainId, verifyingContract: getAddress(provenance) };
}

export interface RecallAckMessage {
  batchId: string;
  recallTx: string;
  orgId: string;
  nonce: string;
  deadline: number;
  note: string;
}

/** The signer of an acknowledgement; throws on a malformed signature. */
export function recoverAckSigner(domain: TypedDataDomain, message: RecallAckMessage, signature: string): string {
  return getAddress(verifyTypedData(domain, RECALL_ACK_TYPES, message, signature));
}

export const ackDigest = (domain: TypedDataDomain, message: RecallAckMessage) => TypedDataEncoder.hash(domain, RECALL_ACK_TYPES, message);

/** The stored record whose keccak256 of canonical JSON is the anchored leaf. */
export function ackRecord(a: { batchId: string; recallTx: string; orgId: string; agent: string; nonce: string; deadline: number; note: string; signature: string }) {
  return {
    batchId: a.batchId.toLowerCase(),
    recallTx: a.recallTx.toLowerCase(),
    orgId: String(a.orgId),
    agent: getAddress(a.agent),
    nonce: a.nonce.toLowerCase(),
    deadline: a.deadline,
    note: a.note,
    signature: a.signature.toLowerCase(),
  };
}
export const ackLeaf = (record: ReturnType<typeof ackRecord>) => keccak256(toUtf8Bytes(canonicalize(record)));
export const ackRecordId = (digest: string) => `recall-ack:${digest.toLowerCase()}`;

interface AckRow {
  batch_id: string;
  recall_tx: string;
  org_id: number;
  agent: string;
  nonce: string;
  deadline: number;
  note: string;
  signature: string;
  digest: string;
  record_id: string;
  acknowledged_at: string;
}

export class AckConflict extends Error {
  constructor(
    readonly code: "already_acknowledged" | "nonce_used",
    message: string,
  ) {
    super(message);
  }
}

/** Stores an acknowledgement and queues it for anchoring, in one transaction. */
export function storeAcknowledgement(
  db: Db,
  ack: { batchId: string; recallTx: string; orgId: number; agent: string; nonce: string; deadline: number; note: string; signature: string; digest: string },
): { recordId: string; acknowledgedAt: string } {
  const record = ackRecord({ ...ack, orgId: String(ack.orgId) });
  const recordId = ackRecordId(ack.digest);
  const acknowledgedAt = new Date().toISOString();
  db.transaction(() => {
    const existing = prepared(db, `SELECT 1 FROM recall_acknowledgements WHERE batch_id = ? AND recall_tx = ? AND org_id = ?`).get(
      record.batchId,
      record.recallTx,
      ack.orgId,
    );
    if (existing) throw new AckConflict("already_acknowledged", `organisation ${ack.orgId} has already acknowledged this recall`);
    if (prepared(db, `SELECT 1 FROM recall_acknowledgements WHERE nonce = ?`).get(record.nonce)) {
      throw new AckConflict("nonce_used", "this nonce was used by an earlier acknowledgement; sign a new one");
    }
    prepared(
      db,
      `INSERT INTO recall_acknowledgements (batch_id, recall_tx, org_id, agent, nonce, deadline, note, signature, digest, record_id, acknowledged_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(record.batchId, record.recallTx, ack.orgId, record.agent, record.nonce, ack.deadline, ack.note, record.signature, ack.digest.toLowerCase(), recordId, acknowledgedAt);
    queueForAnchoring(db, { recordId, kind: RECALL_ACK_KIND, hash: ackLeaf(record), ownerOrg: ack.orgId });
  })();
  return { recordId, acknowledgedAt };
}

/** The leaf of a stored acknowledgement recomputed from its row (restore's re-verification); null if unknown. */
export function storedAckLeaf(db: Db, recordId: string): string | null {
  const row = prepared(db, `SELECT * FROM recall_acknowledgements WHERE record_id = ?`).get(recordId) as AckRow | undefined;
  if (!row) return null;
  return ackLeaf(
    ackRecord({ batchId: row.batch_id, recallTx: row.recall_tx, orgId: String(row.org_id), agent: row.agent, nonce: row.nonce, deadline: row.deadline, note: row.note, signature: row.signature }),
  );
}

export interface CustodianStatus {
  orgId: string;
  name: string | null;
  acknowledged: boolean;
  acknowledgement: null | { agent: string; at: string; note: string; nonce: string; digest: string; recordId: string };
  /** Affected batches the organisation holds now (custodian, in circulation). */
  holding: { batchId: string; gtin: string; lot: string; quantity: string; unit: string; status: string }[];
  /** Since when it has held affected goods under the recall (the recall's time), null when it holds none. */
  holdingSince: string | null;
  /** Seconds from the recall to now while it holds affected goods; null when it holds none. */
  heldSinceRecallSeconds: number | null;
}

export interface RecallAckStatus {
  batchId: string;
  recall: { reason: string | null; byOrgId: string | null; at: string; blockNumber: number; transactionHash: string };
  custodians: CustodianStatus[];
  totals: { custodians: number; acknowledged: number; outstanding: number };
}

const IN_CIRCULATION = new Set(["active", "in_transit", "recalled"]);

/** Organisations holding goods a recall notice affects: the recalled batch and everything made from it, in circulation. */
export function affectedHoldings(store: Pick<ProvenanceStore, "getBatches" | "downstreamClosure">, root: BatchView): Map<string, BatchView[]> {
  const ids = [root.id, ...store.downstreamClosure(root.id)];
  const byOrg = new Map<string, BatchView[]>();
  for (const b of store.getBatches(ids).values()) {
    if (!IN_CIRCULATION.has(b.status) || !b.custodianOrgId) continue;
    byOrg.set(b.custodianOrgId, [...(byOrg.get(b.custodianOrgId) ?? []), b]);
  }
  return byOrg;
}

/** Who has and who has not acknowledged the notice, with how long each has held the goods since the recall. */
export function recallAckStatus(
  db: Db,
  store: Pick<ProvenanceStore, "getBatches" | "downstreamClosure">,
  root: BatchView,
  now: number = Date.now(),
): RecallAckStatus {
  const recall = root.recall!;
  const holdings = affectedHoldings(store, root);
  const acks = prepared(db, `SELECT * FROM recall_acknowledgements WHERE batch_id = ? AND recall_tx = ? ORDER BY org_id`).all(
    root.id.toLowerCase(),
    recall.transactionHash.toLowerCase(),
  ) as AckRow[];
  const ackOf = new Map(acks.map((a) => [String(a.org_id), a]));
  const orgIds = [...new Set([...holdings.keys(), ...ackOf.keys()])].sort((a, b) => Number(a) - Number(b));
  const nameOf = prepared(db, `SELECT name FROM organisations WHERE org_id = ?`);
  const recallMs = Date.parse(recall.at);
  const custodians = orgIds.map((orgId): CustodianStatus => {
    const held = holdings.get(orgId) ?? [];
    const a = ackOf.get(orgId);
    return {
      orgId,
      name: (nameOf.get(Number(orgId)) as { name: string } | undefined)?.name ?? null,
      acknowledged: a !== undefined,
      acknowledgement: a ? { agent: a.agent, at: a.acknowledged_at, note: a.note, nonce: a.nonce, digest: a.digest, recordId: a.record_id } : null,
      holding: held.map((b) => ({ batchId: b.id, gtin: b.gtin, lot: b.lot, quantity: b.quantity, unit: b.unit, status: b.status })),
      holdingSince: held.length ? recall.at : null,
      heldSinceRecallSeconds: held.length ? Math.max(0, Math.floor((now - recallMs) / 1000)) : null,
    };
  });
  const acknowledged = custodians.filter((c) => c.acknowledged).length;
  return {
    batchId: root.id,
    recall: { reason: recall.reason, byOrgId: recall.byOrgId, at: recall.at, blockNumber: recall.blockNumber, transactionHash: recall.transactionHash },
    custodians,
    totals: { custodians: custodians.length, acknowledged, outstanding: custodians.length - acknowledged },
  };
}
