import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { getAddress, type BaseContract, type Signer } from "ethers";
import { senderOf, SENDER_DEFAULTS } from "../../chain/sender";
import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { createIdentityStore } from "../../store/identity";
import { decodeRevert, type LogisticUnits, type ProvenanceRegistry } from "../../chain/contracts";
import { eventFacts } from "./facts";
import { installMappingQueue, mappingOf, updateMapping } from "./queue";
import { planMapping, type Actor, type PlannedCall } from "./plan";

/**
 * The mapping job: settles the mapping queue in event order, with this node's integration key.
 *
 * For each pending event it plans the effect (plan.ts) and, when that needs transactions, simulates
 * every call first (eth_call from the integration key), so a refusal is recorded with the contract's
 * custom error and nothing is sent. Then it sends them one after another, recording each hash before
 * waiting for it, and waits until the index has the block, so the next event is planned against the
 * state this one left. A node stopped between sending and recording resumes from the recorded hashes
 * instead of sending again. Transient failures (the chain unreachable) leave the event pending and end
 * the run; the next run retries from that event, so events are never mapped out of order.
 */
export interface MappingJobOptions {
  db: Db;
  provenance: ProvenanceRegistry;
  units: LogisticUnits;
  /** This member's integration key (an active agent of its organisation), or null when none is configured. */
  signer: Signer | null;
  /** Resolves once the index includes a block. */
  indexed?: (blockNumber: number) => Promise<void>;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

interface SendState {
  calls: PlannedCall[];
  /** Hashes of the calls sent so far, in order. */
  transactions: string[];
  /** While resuming: the block of the last transaction found mined. */
  block?: { number: number; hash: string } | null;
  [key: string]: unknown;
}

/** An error a contract raised (a refusal), as opposed to a transport failure. */
function revertOf(err: unknown): string | null {
  const e = err as { data?: string; code?: string; reason?: string | null; shortMessage?: string; info?: { error?: { data?: string } } };
  const data = e.data ?? e.info?.error?.data;
  const decoded = decodeRevert(data);
  if (decoded) return decoded.text;
  if (e.code === "CALL_EXCEPTION") return e.reason ?? e.shortMessage ?? "reverted";
  return null;
}

const jobs = new WeakMap<Db, MappingJob>();

/** The mapping job the node created for a database (tests run it directly). */
export function mappingJobFor(db: Db): MappingJob | undefined {
  return jobs.get(db);
}

export function createMappingJob(options: MappingJobOptions) {
  const { db } = options;
  installMappingQueue();
  const identity = createIdentityStore(db);
  let busy: Promise<number> | null = null;
  let again = false;

  async function actor(): Promise<Actor> {
    if (!options.signer) return { orgId: null, address: null, problem: "this node has none (LOTLINE_INTEGRATION_KEY)" };
    const address = getAddress(await options.signer.getAddress());
    const agent = identity.getAgent(address);
    if (!agent) return { orgId: null, address, problem: `${address} is not an agent of any organisation` };
    if (agent.status !== "active") return { orgId: null, address, problem: `${address} is ${agent.status}` };
    return { orgId: Number(agent.orgId), address, problem: null };
  }

  const contractFor = (call: PlannedCall): BaseContract =>
    (call.contract === "provenance" ? options.provenance : options.units).connect(options.signer) as BaseContract;

  /**
   * Waits for a sent transaction: whether it succeeded (false: it reverted) and its block, or null
   * when the chain has never heard of it (dropped, or removed by a reorganisation). Through the key's
   * sender when the node gave one: a version of it that replaced a stuck one counts, and the wait
   * ends after its timeout.
   */
  async function settle(hash: string): Promise<{ ok: boolean; block: { number: number; hash: string } } | null> {
    const provider = options.signer!.provider!;
    const sender = senderOf(options.signer);
    if (!sender?.versionsOf(hash)?.inFlight && !(await provider.getTransaction(hash))) {
      const receipt = await provider.getTransactionReceipt(hash);
      if (!receipt) return null;
    }
    const receipt = sender ? await sender.wait(hash) : await provider.waitForTransaction(hash, 1, SENDER_DEFAULTS.waitTimeoutMs);
    if (!receipt) throw new Error(`transaction ${hash} is not mined after ${SENDER_DEFAULTS.waitTimeoutMs / 1000} s`);
    if (receipt.status === 1) await options.indexed?.(receipt.blockNumber);
    return { ok: receipt.status === 1, block: { number: receipt.blockNumber, hash: receipt.blockHash } };
  }

  /**
   * Sends one call. The key's sender (shared with the anchor job) estimates before it numbers, so a
   * call that would revert takes no nonce and cannot leave a later transaction waiting (ADR 0014).
   */
  async function sendOnce(call: PlannedCall): Promise<string> {
    return (await contractFor(call).getFunction(call.fn).send(...call.args)).hash;
  }

  /** Simulates then sends the calls from `state.transactions.length` on; records progress. */
  async function send(seq: number, effect: string, state: SendState): Promise<void> {
    const remaining = state.calls.slice(state.transactions.length);
    for (const call of remaining) {
      try {
        await contractFor(call).getFunction(call.fn).staticCall(...call.args);
      } catch (err) {
        const revert = revertOf(err);
        if (revert === null) throw err;
        const sent = state.transactions.length;
        updateMapping(db, seq, {
          status: "not_applied",
          effect,
          reason: `refused by the contract: ${revert}${sent ? ` (after ${sent} of ${state.calls.length} transactions were applied)` : ""}; nothing ${sent ? "more " : ""}was sent`,
          txHash: state.transactions[0] ?? null,
          details: state,
        });
        return;
      }
    }
    let block = state.block ?? null;
    for (const call of remaining) {
      let hash: string;
      try {
        hash = await sendOnce(call);
      } catch (err) {
        const revert = revertOf(err);
        if (revert === null) throw err;
        updateMapping(db, seq, { status: "not_applied", effect, reason: `refused by the contract: ${revert}`, txHash: state.transactions[0] ?? null, details: state });
        return;
      }
      state.transactions.push(hash);
      updateMapping(db, seq, { status: "pending", effect, txHash: state.transactions[0], details: state });
      const settled = await settle(hash);
      const ok = settled?.ok ?? null;
      // A replacement (higher fees) may be the version mined: record the hash the chain has.
      const minedHash = senderOf(options.signer)?.versionsOf(hash)?.minedHash;
      if (minedHash && minedHash !== hash) state.transactions[state.transactions.length - 1] = minedHash;
      if (settled) block = settled.block;
      if (ok !== true) {
        updateMapping(db, seq, {
          status: "not_applied",
          effect,
          reason: ok === false ? `transaction ${hash} reverted on-chain` : `transaction ${hash} was dropped`,
          txHash: state.transactions[0],
          details: state,
        });
        return;
      }
    }
    delete state.block;
    updateMapping(db, seq, { status: "applied", effect, txHash: state.transactions[0] ?? null, details: state, block });
    options.log?.info({ seq, effect, transactions: state.transactions }, "EPCIS event applied to provenance");
  }

  /**
   * Decides one pending mapping. What needs no transaction is written at once (inside the caller's
   * SQLite transaction); what does is returned as the work to await.
   */
  function decide(seq: number, who: Actor): (() => Promise<void>) | null {
    const row = mappingOf(db, seq)!;
    const resumed = row.details ? (JSON.parse(row.details) as Partial<SendState>) : null;
    if (resumed?.calls && Array.isArray(resumed.transactions) && row.effect && options.signer) {
      const effect = row.effect;
      // Sent before a restart: settle what was sent, then go on with the rest.
      return async () => {
        const state = resumed as SendState;
        const confirmed: string[] = [];
        delete state.block;
        for (const hash of state.transactions) {
          const settled = await settle(hash);
          const ok = settled?.ok ?? null;
          if (settled) state.block = settled.block;
          if (ok === false) {
            updateMapping(db, seq, { status: "not_applied", effect, reason: `transaction ${hash} reverted on-chain`, txHash: state.transactions[0], details: state });
            return;
          }
          if (ok === null) break; // dropped: sent again below
          confirmed.push(hash);
        }
        state.transactions = confirmed;
        await send(seq, effect, state);
      };
    }
    const facts = eventFacts(db, seq);
    if (!facts) {
      updateMapping(db, seq, { status: "not_applied", reason: "the event record is missing" });
      return null;
    }
    const plan = planMapping(db, facts, who);
    if (plan.status === "not_applied") {
      updateMapping(db, seq, { status: "not_applied", effect: plan.effect ?? null, reason: plan.reason, details: plan.details ?? null });
      return null;
    }
    if (plan.status === "applied") {
      for (const link of plan.orderLinks ?? []) {
        prepared(db, `INSERT OR IGNORE INTO epcis_order_links (seq, order_id, biz_transaction) VALUES (?, ?, ?)`).run(seq, link.orderId, link.bizTransaction);
      }
      updateMapping(db, seq, { status: "applied", effect: plan.effect, details: plan.details });
      return null;
    }
    return () => send(seq, plan.effect, { ...plan.details, calls: plan.calls, transactions: [] });
  }

  /**
   * Settles every pending mapping, oldest event first; returns how many it settled. Decisions that
   * need no transaction are committed a chunk at a time; a transaction ends the chunk.
   */
  async function drain(): Promise<number> {
    const who = await actor();
    const pending = prepared(db, `SELECT seq FROM epcis_mappings WHERE status = 'pending' AND seq > ? ORDER BY seq LIMIT 200`);
    let after = 0;
    let settled = 0;
    for (;;) {
      const seqs = (pending.all(after) as { seq: number }[]).map((r) => r.seq);
      if (seqs.length === 0) return settled;
      let work: { seq: number; run: () => Promise<void> } | null = null;
      db.transaction(() => {
        for (const seq of seqs) {
          after = seq;
          const run = decide(seq, who);
          if (run) {
            work = { seq, run };
            return;
          }
          settled++;
        }
      })();
      const next = work as { seq: number; run: () => Promise<void> } | null;
      if (next) {
        await next.run();
        if (mappingOf(db, next.seq)!.status === "pending") throw new Error(`the mapping of event ${next.seq} is still pending`);
        settled++;
      }
      await yieldToEventLoop();
    }
  }

  /**
   * Mappings applied by transactions a reorganisation removed: the index no longer has the block
   * (that number with that hash) that held the mapping's last transaction. Each goes back to
   * `pending` with its sent transactions kept, so the next drain settles them as after a restart:
   * a transaction the new fork includes again is waited for, one the chain has forgotten is sent
   * again (after a fresh simulation, which records a refusal as `not_applied`). A mapping is marked
   * applied only once the index has its block, so a block missing from the index's recent blocks
   * (or there with another hash) was rolled back, even when the new chain is shorter. Only blocks
   * the index still keeps hashes of (the reorg window) can change; older ones are not looked at.
   */
  function recheckRolledBack(): number {
    const lost = prepared(
      db,
      `SELECT m.seq, m.block_number FROM epcis_mappings m
       WHERE m.status = 'applied' AND m.block_number IS NOT NULL
         AND m.block_number >= (SELECT MIN(block_number) FROM indexer_blocks)
         AND NOT EXISTS (SELECT 1 FROM indexer_blocks b WHERE b.block_number = m.block_number AND b.block_hash = m.block_hash)`,
    ).all() as { seq: number; block_number: number }[];
    db.transaction(() => {
      for (const { seq, block_number } of lost) {
        const row = mappingOf(db, seq)!;
        updateMapping(db, seq, {
          status: "pending",
          effect: row.effect,
          reason: `block ${block_number}, which held its transaction, was removed by a chain reorganisation: checking it again`,
          txHash: row.tx_hash,
          details: row.details ? JSON.parse(row.details) : null,
        });
      }
    })();
    if (lost.length > 0) options.log?.warn({ seqs: lost.map((l) => l.seq) }, "EPCIS mappings whose transactions a reorganisation removed: checking them again");
    return lost.length;
  }

  async function runOnce(): Promise<number> {
    if (busy) {
      again = true;
      return busy;
    }
    busy = (async () => {
      let settled = 0;
      do {
        again = false;
        recheckRolledBack();
        settled += await drain();
      } while (again);
      return settled;
    })().finally(() => {
      busy = null;
    });
    return busy;
  }

  const job = { name: "epcis-mapping", runOnce };
  jobs.set(db, job);
  return job;
}
export type MappingJob = { name: string; runOnce(): Promise<number> };
