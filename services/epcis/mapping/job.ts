import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { getAddress, type BaseContract, type Signer } from "ethers";
import { senderOf, SENDER_DEFAULTS } from "../../chain/sender";
import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { createIdentityStore } from "../../store/identity";
import { decodeRevert, type LogisticUnits, type ProvenanceRegistry } from "../../chain/contracts";
import { eventFacts } from "./facts";
import { installMappingQueue, mappingOf, updateMapping } from "./queue";
import { planMapping, undoCall, type Actor, type PlannedCall } from "./plan";
import { recordIdOf } from "../store";

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
 *
 * A plan of several calls (a shipping or receiving event naming several lots) is a set, all or none:
 * all are simulated before any is sent, and if one still fails on-chain (the chain changed in between)
 * those already applied are withdrawn where the contracts allow (offers, unit offers). An error
 * declaration that withdrew its event's effects puts the corrective events it names, refused before,
 * back in the queue; they are mapped next (the only case where the job goes back in event order).
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

  /** Simulates every call; the contract's refusal of the first that would revert, or null. Throws on transport failures. */
  async function simulate(calls: PlannedCall[]): Promise<string | null> {
    for (const call of calls) {
      try {
        await contractFor(call).getFunction(call.fn).staticCall(...call.args);
      } catch (err) {
        const revert = revertOf(err);
        if (revert === null) throw err;
        return revert;
      }
    }
    return null;
  }

  /**
   * Sends calls one after another, each awaited and indexed; the hashes go to `onSent` before each is
   * awaited. Returns null when all succeeded, else why the first that failed did.
   */
  async function sendAll(
    calls: PlannedCall[],
    onSent: (hash: string) => void,
    onSettled?: (hash: string, minedHash: string, block: { number: number; hash: string }) => void,
  ): Promise<string | null> {
    for (const call of calls) {
      let hash: string;
      try {
        hash = await sendOnce(call);
      } catch (err) {
        const revert = revertOf(err);
        if (revert === null) throw err;
        return `refused by the contract: ${revert}`;
      }
      onSent(hash);
      const settled = await settle(hash);
      const ok = settled?.ok ?? null;
      if (ok !== true) return ok === false ? `transaction ${hash} reverted on-chain` : `transaction ${hash} was dropped`;
      // A replacement (higher fees) may be the version mined: the caller records the hash the chain has.
      onSettled?.(hash, senderOf(options.signer)?.versionsOf(hash)?.minedHash ?? hash, settled!.block);
    }
    return null;
  }

  /**
   * A set failed on-chain after some of its calls were applied (the chain changed between the
   * simulation and the sending): withdraws those where the contracts allow (offers, unit offers,
   * packings), all or none; says what happened.
   */
  async function withdrawPartial(seq: number, state: SendState): Promise<string> {
    const applied = state.calls.slice(0, state.transactions.length);
    const undo = applied.map((c) => undoCall(c, `EPCIS event ${recordIdOf(seq)} applied all or none`)).reverse();
    const irreversible = undo.filter((u): u is string => typeof u === "string");
    if (irreversible.length > 0) {
      state.partial = { applied: state.transactions, irreversible: true };
      return `${applied.length} of ${state.calls.length} transactions were applied and cannot be reversed on-chain: ${[...new Set(irreversible)].join("; ")}`;
    }
    const calls = undo as PlannedCall[];
    const refused = await simulate(calls);
    const withdrawals: string[] = [];
    const failed = refused ? `refused by the contract: ${refused}` : await sendAll(calls, (hash) => withdrawals.push(hash));
    state.partial = { applied: state.transactions, withdrawn: failed === null, withdrawals };
    return failed === null
      ? `the ${applied.length} of ${state.calls.length} transactions applied before were withdrawn (${calls.map((c) => c.fn).join(", ")}): nothing of the event remains`
      : `${applied.length} of ${state.calls.length} transactions were applied and withdrawing them failed (${failed})`;
  }

  /** Simulates then sends the calls from `state.transactions.length` on, all or none; records progress. */
  async function send(seq: number, effect: string, state: SendState): Promise<void> {
    const remaining = state.calls.slice(state.transactions.length);
    const refused = await simulate(remaining);
    if (refused !== null) {
      const sent = state.transactions.length;
      updateMapping(db, seq, {
        status: "not_applied",
        effect,
        reason: `refused by the contract: ${refused}${sent ? ` (after ${sent} of ${state.calls.length} transactions were applied)` : ""}; nothing ${sent ? "more " : ""}was sent`,
        txHash: state.transactions[0] ?? null,
        details: state,
      });
      return;
    }
    let block = state.block ?? null;
    const failed = await sendAll(
      remaining,
      (hash) => {
        state.transactions.push(hash);
        updateMapping(db, seq, { status: "pending", effect, txHash: state.transactions[0], details: state });
      },
      (hash, minedHash, settledBlock) => {
        if (minedHash !== hash) state.transactions[state.transactions.lastIndexOf(hash)] = minedHash;
        block = settledBlock;
      },
    );
    if (failed !== null) {
      // The failed call's hash (if any) is the last recorded; it changed nothing.
      if (/^transaction 0x/.test(failed)) state.failedTransaction = state.transactions.pop();
      const after = state.transactions.length > 0 ? `; ${await withdrawPartial(seq, state)}` : "";
      updateMapping(db, seq, { status: "not_applied", effect, reason: `${failed}${after}`, txHash: state.transactions[0] ?? null, details: state });
      return;
    }
    delete state.block;
    updateMapping(db, seq, { status: "applied", effect, txHash: state.transactions[0] ?? null, details: state, block });
    if (effect === "reverse") requeueCorrective(seq);
    options.log?.info({ seq, effect, transactions: state.transactions }, "EPCIS event applied to provenance");
  }

  /** The lowest seq a settled error declaration put back in the queue, for drain to go back to. */
  let rewind: number | null = null;

  /**
   * After an error declaration's withdrawal: the corrective events it names (captured by the same
   * organisation) that were refused before it are mapped again, now that what the erroneous event
   * did is gone (e.g. a corrected shipping of the same lot).
   */
  function requeueCorrective(seq: number): void {
    const rows = prepared(
      db,
      `SELECT c.seq FROM epcis_event_identifiers i
         JOIN epcis_events d ON d.seq = i.seq
         JOIN epcis_events c ON c.event_id = i.id AND c.org_id = d.org_id AND c.seq <> d.seq
         JOIN epcis_mappings m ON m.seq = c.seq AND m.status = 'not_applied'
       WHERE i.seq = ? AND i.role = 'correctiveEventID' ORDER BY c.seq`,
    ).all(seq) as { seq: number }[];
    for (const { seq: corrective } of rows) {
      updateMapping(db, corrective, { status: "pending" });
      rewind = Math.min(rewind ?? corrective, corrective);
    }
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
      if (plan.unlinkSeq !== undefined) prepared(db, `DELETE FROM epcis_order_links WHERE seq = ?`).run(plan.unlinkSeq);
      for (const link of plan.orderLinks ?? []) {
        prepared(db, `INSERT OR IGNORE INTO epcis_order_links (seq, order_id, biz_transaction) VALUES (?, ?, ?)`).run(seq, link.orderId, link.bizTransaction);
      }
      updateMapping(db, seq, { status: "applied", effect: plan.effect, details: plan.details });
      if (plan.effect === "reverse") requeueCorrective(seq);
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
          if (rewind !== null) return; // corrective events go next
        }
      })();
      const next = work as { seq: number; run: () => Promise<void> } | null;
      if (next) {
        await next.run();
        if (mappingOf(db, next.seq)!.status === "pending") throw new Error(`the mapping of event ${next.seq} is still pending`);
        settled++;
      }
      if (rewind !== null) {
        after = Math.min(after, rewind - 1);
        rewind = null;
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
