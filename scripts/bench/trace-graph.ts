import type { Db } from "../../services/store/db";
import { setJournalling } from "../../services/store/journal";

/**
 * The trace benchmark's store, written straight into SQLite (no chain: a million batches would
 * take hours of transactions). A tiered supply chain of `tiers` equal tiers (farm lots at tier 0,
 * then collection, processing, packing, distribution, … down to retail). Every batch of tier t ≥ 1
 * is made from exactly 3 batches of tier t − 1 (fan-in 3: the MERGE of its neighbours at positions
 * p − 1, p, p + 1, wrapping around), so the edges are 3 × (batches − tier 0) and each closure is
 * bounded by the tiers, not the store size: a tier-t batch has (t + 1)² upstream nodes, and
 * (tiers − t)² downstream (1,024 at most with 32 tiers). Batch ids are 32-byte hex with a marker
 * prefix no keccak id of the chain will share in practice; every batch is its own lot, owned by one
 * of the eight demo organisations, active, unrecalled.
 */
export interface TraceGraph {
  batches: number;
  edges: number;
  tiers: number;
  perTier: number;
  seconds: number;
}

export const idOf = (i: number) => `0xbe0c${i.toString(16).padStart(60, "0")}`;

export async function generateTraceGraph(db: Db, batches: number, tiers = 32): Promise<TraceGraph> {
  const perTier = Math.floor(batches / tiers);
  const total = perTier * tiers;
  const t0 = performance.now();
  const insertBatch = db.prepare(
    `INSERT INTO batches (batch_id, lot_id, gtin, lot, parent_id, portion_index, quantity, unit, owner_org, custodian_org, producer_org,
       location, status, recall, unit_key, offer_to, offer_kind, offer_quantity, metadata_hash, created_at, created_block, created_tx, updated_block)
     VALUES (?, ?, ?, ?, NULL, NULL, '1000000', 'LTR', ?, ?, ?, NULL, 'active', 'none', NULL, NULL, NULL, NULL, ?, '2026-01-01T00:00:00.000Z', ?, ?, ?)`,
  );
  const insertEdge = db.prepare(
    `INSERT INTO lineage_edges (from_batch, to_batch, kind, quantity, unit, block_number, tx_hash) VALUES (?, ?, 'MERGE', '333333', 'LTR', ?, ?)`,
  );
  const zero = `0x${"0".repeat(64)}`;
  const gtin = "04012345000016";
  const chunk = 50_000;
  let edges = 0;
  setJournalling(db, false);
  for (let start = 0; start < total; start += chunk) {
    db.transaction(() => {
      for (let i = start; i < Math.min(total, start + chunk); i++) {
        const tier = Math.floor(i / perTier);
        const pos = i % perTier;
        const id = idOf(i);
        const org = 1 + (tier % 8);
        const block = 1_000_000 + tier;
        insertBatch.run(id, id, gtin, `T${tier}-${pos}`, org, org, org, zero, block, zero, block);
        if (tier === 0) continue;
        for (const d of [-1, 0, 1]) {
          const input = (tier - 1) * perTier + ((pos + d + perTier) % perTier);
          insertEdge.run(idOf(input), id, block, zero);
          edges++;
        }
      }
    })();
    // Between chunks the node's own loops run (its indexer reads the chain head; a long silence reads as a lost chain).
    await new Promise((resolve) => setImmediate(resolve));
  }
  db.exec("ANALYZE");
  return { batches: total, edges, tiers, perTier, seconds: (performance.now() - t0) / 1000 };
}

/** `n` batch ids spread evenly over every tier and position (deterministic). */
export function sampleBatches(graph: TraceGraph, n: number, seed: number): string[] {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
  return Array.from({ length: n }, () => idOf(Math.floor(next() * graph.batches)));
}
