import { AbiCoder, decodeBytes32String, keccak256, ZeroHash } from "ethers";
import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { unitFromBytes3 } from "../../provenance/quantity";
import type { HandlerMap } from "../types";
import { timeline } from "./timeline";

/**
 * Provenance, logistic-unit and anchor events → products, lots, batches, lineage_edges,
 * batch_events, recalls, logistic_units, anchors. Quantities stay raw fixed-point integers (text).
 */
const STATUS = ["none", "active", "in_transit", "consumed", "destroyed"] as const;
const HANDOVER = ["custody", "ownership", "both"] as const;

const gtinText = (value: bigint) => value.toString().padStart(14, "0");
const shortString = (raw: string) => {
  try {
    return decodeBytes32String(raw);
  } catch {
    return raw;
  }
};

function setQuantity(db: Db, batchId: string, quantity: bigint, block: number): void {
  prepared(db, `UPDATE batches SET quantity = ?, updated_block = ? WHERE batch_id = ?`).run(quantity.toString(), block, batchId);
}

function quantityOf(db: Db, batchId: string): bigint {
  const row = prepared(db, `SELECT quantity FROM batches WHERE batch_id = ?`).get(batchId) as { quantity: string } | undefined;
  return BigInt(row?.quantity ?? 0);
}

const abi = AbiCoder.defaultAbiCoder();

/** AllocationRuleSet's codes (IProvenanceRegistry; the same table as services/analytics/allocation.ts). */
const ALLOCATION_RULE_CODES = [null, "mass", "dry_matter", "economic", "none"] as const;

/** A parent whose recall still reaches `batchId` along a propagated edge, if any. */
function remainingRecallEdge(db: Db, batchId: string): string | null {
  const row = prepared(db, `SELECT from_batch FROM recall_edges WHERE to_batch = ? ORDER BY block_number, from_batch LIMIT 1`).get(batchId) as
    | { from_batch: string }
    | undefined;
  return row?.from_batch ?? null;
}

export const provenanceHandlers: HandlerMap = {
  "provenance.UnitOfMeasureSet": (db, e) => {
    prepared(db, `INSERT OR REPLACE INTO units_of_measure (unit, dimension, to_base) VALUES (?, ?, ?)`).run(
      unitFromBytes3(e.args.unit),
      Number(e.args.dimension),
      e.args.toBase.toString(),
    );
  },
  "provenance.TransformKindSet": (db, e) => {
    prepared(db, `INSERT OR REPLACE INTO transform_kinds (kind, enabled, tolerance_bps) VALUES (?, ?, ?)`).run(
      shortString(e.args.kind),
      e.args.enabled ? 1 : 0,
      Number(e.args.toleranceBps),
    );
  },
  "provenance.AllocationRuleSet": (db, e) => {
    const kind = shortString(e.args.kind);
    const rule = ALLOCATION_RULE_CODES[Number(e.args.rule)];
    // 0 clears the kind's rule (the node's default applies again); the contract refuses codes above 4.
    if (!rule) prepared(db, `DELETE FROM allocation_rules WHERE kind = ?`).run(kind);
    else
      prepared(db, `INSERT OR REPLACE INTO allocation_rules (kind, rule, set_block, set_tx, set_at) VALUES (?, ?, ?, ?, ?)`).run(
        kind,
        rule,
        e.block.number,
        e.log.transactionHash,
        e.time,
      );
  },
  "provenance.ProductRegistered": (db, e) => {
    prepared(
      db,
      `INSERT INTO products (gtin, org_id, unit, master_data_hash, registered_at, registered_block, registered_tx) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(gtinText(e.args.gtin), Number(e.args.org), unitFromBytes3(e.args.unit), e.args.masterDataHash, e.time, e.block.number, e.log.transactionHash);
  },
  "provenance.ProductUpdated": (db, e) => {
    prepared(db, `UPDATE products SET master_data_hash = ? WHERE gtin = ?`).run(e.args.masterDataHash, gtinText(e.args.gtin));
  },
  "provenance.LotRegistered": (db, e) => {
    const gtin = gtinText(e.args.gtin);
    const product = prepared(db, `SELECT unit FROM products WHERE gtin = ?`).get(gtin) as { unit: string };
    prepared(db, `INSERT INTO lots (lot_id, gtin, lot, producer_org, registered_at, registered_block) VALUES (?, ?, ?, ?, ?, ?)`).run(
      e.args.lotId,
      gtin,
      e.args.lot,
      Number(e.args.producer),
      e.time,
      e.block.number,
    );
    prepared(
      db,
      `INSERT INTO batches (batch_id, lot_id, gtin, lot, parent_id, portion_index, quantity, unit, owner_org, custodian_org, producer_org,
         location, status, recall, unit_key, offer_to, offer_kind, offer_quantity, metadata_hash, created_at, created_block, created_tx, updated_block)
       VALUES (?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?, 'active', 'none', NULL, NULL, NULL, NULL, ?, ?, ?, ?, ?)`,
    ).run(
      e.args.lotId,
      e.args.lotId,
      gtin,
      e.args.lot,
      e.args.quantity.toString(),
      product.unit,
      Number(e.args.producer),
      Number(e.args.producer),
      Number(e.args.producer),
      e.args.gln || null,
      e.args.metadataHash,
      e.time,
      e.block.number,
      e.log.transactionHash,
      e.block.number,
    );
    timeline(db, e, e.args.lotId, "registered", { quantity: e.args.quantity.toString(), location: e.args.gln || null, orgId: String(e.args.producer) });
  },
  "provenance.BatchSplit": (db, e) => {
    const parent = e.args.parent as string;
    const child = e.args.child as string;
    const quantity = e.args.quantity as bigint;
    // An explicit split needs an active parent; a parent still in transit here is being split by
    // the acceptance of a partial offer, which the contract has just closed.
    prepared(
      db,
      `UPDATE batches SET status = CASE status WHEN 'in_transit' THEN 'active' ELSE status END,
         offer_to = NULL, offer_kind = NULL, offer_quantity = NULL WHERE batch_id = ?`,
    ).run(parent);
    prepared(
      db,
      `INSERT INTO batches (batch_id, lot_id, gtin, lot, parent_id, portion_index, quantity, unit, owner_org, custodian_org, producer_org,
         location, status, recall, unit_key, offer_to, offer_kind, offer_quantity, metadata_hash, created_at, created_block, created_tx, updated_block)
       SELECT ?, lot_id, gtin, lot, batch_id, ?, ?, unit, owner_org, custodian_org, producer_org, location, 'active', recall, NULL, NULL, NULL, NULL,
         metadata_hash, ?, ?, ?, ? FROM batches WHERE batch_id = ?`,
    ).run(child, Number(e.args.index), quantity.toString(), e.time, e.block.number, e.log.transactionHash, e.block.number, parent);
    setQuantity(db, parent, quantityOf(db, parent) - quantity, e.block.number);
    // Portions carry their parent's claims (the contract copies the claim set).
    prepared(
      db,
      `INSERT OR IGNORE INTO batch_claims (batch_id, claim, org_id, block_number) SELECT ?, claim, org_id, ? FROM batch_claims WHERE batch_id = ?`,
    ).run(child, e.block.number, parent);
    timeline(db, e, parent, "split", { child, quantity: quantity.toString() });
    timeline(db, e, child, "split_from", { parent, quantity: quantity.toString() });
  },
  "provenance.HandoverOffered": (db, e) => {
    const kind = HANDOVER[Number(e.args.kind)];
    prepared(
      db,
      `UPDATE batches SET status = 'in_transit', offer_to = ?, offer_kind = ?, offer_quantity = ?, updated_block = ? WHERE batch_id = ?`,
    ).run(Number(e.args.to), kind, e.args.quantity.toString(), e.block.number, e.args.batchId);
    timeline(db, e, e.args.batchId, "offered", {
      fromOrgId: String(e.args.from),
      toOrgId: String(e.args.to),
      kind,
      quantity: e.args.quantity.toString(),
    });
  },
  "provenance.HandoverCancelled": (db, e) => {
    prepared(
      db,
      `UPDATE batches SET status = 'active', offer_to = NULL, offer_kind = NULL, offer_quantity = NULL, updated_block = ? WHERE batch_id = ?`,
    ).run(e.block.number, e.args.batchId);
    timeline(db, e, e.args.batchId, "offer_withdrawn", { byOrgId: String(e.args.by), reason: e.args.reason });
  },
  "provenance.HandedOver": (db, e) => {
    const kind = HANDOVER[Number(e.args.kind)];
    const to = Number(e.args.to);
    prepared(
      db,
      `UPDATE batches SET status = 'active', offer_to = NULL, offer_kind = NULL, offer_quantity = NULL,
         owner_org = CASE WHEN ? THEN ? ELSE owner_org END,
         custodian_org = CASE WHEN ? THEN ? ELSE custodian_org END,
         location = COALESCE(?, location), updated_block = ? WHERE batch_id = ?`,
    ).run(kind !== "custody" ? 1 : 0, to, kind !== "ownership" ? 1 : 0, to, e.args.gln || null, e.block.number, e.args.batchId);
    timeline(db, e, e.args.batchId, "handed_over", {
      fromOrgId: String(e.args.from),
      toOrgId: String(to),
      kind,
      quantity: e.args.quantity.toString(),
      location: e.args.gln || null,
      acceptedBy: e.args.acceptedBy,
    });
  },
  "provenance.LineageEdge": (db, e) => {
    const from = e.args.from as string;
    const to = e.args.to as string;
    const unit = (prepared(db, `SELECT unit FROM batches WHERE batch_id = ?`).get(from) as { unit: string } | undefined)?.unit ?? "";
    const kind = shortString(e.args.kind);
    prepared(
      db,
      `INSERT OR REPLACE INTO lineage_edges (from_batch, to_batch, kind, quantity, unit, block_number, tx_hash) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(from, to, kind, e.args.quantity.toString(), unit, e.block.number, e.log.transactionHash);
    if (kind !== "SPLIT") {
      timeline(db, e, from, "transformed_into", { output: to, kind, quantity: e.args.quantity.toString() });
      timeline(db, e, to, "made_from", { input: from, kind, quantity: e.args.quantity.toString() });
    }
  },
  "provenance.Transformed": (db, e) => {
    prepared(
      db,
      `INSERT OR REPLACE INTO transformations (transformation_id, kind, org_id, metadata_hash, block_number, tx_hash, time) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(e.args.transformationId, shortString(e.args.kind), Number(e.args.org), e.args.metadataHash, e.block.number, e.log.transactionHash, e.time);
  },
  "provenance.QuantityConsumed": (db, e) => {
    const remaining = e.args.remaining as bigint;
    prepared(db, `UPDATE batches SET quantity = ?, status = CASE WHEN ? THEN 'consumed' ELSE status END, updated_block = ? WHERE batch_id = ?`).run(
      remaining.toString(),
      remaining === 0n ? 1 : 0,
      e.block.number,
      e.args.batchId,
    );
    timeline(db, e, e.args.batchId, "consumed", { quantity: e.args.quantity.toString(), remaining: remaining.toString() });
  },
  "provenance.BatchEnded": (db, e) => {
    const status = STATUS[Number(e.args.status)];
    prepared(db, `UPDATE batches SET status = ?, updated_block = ? WHERE batch_id = ?`).run(status, e.block.number, e.args.batchId);
    timeline(db, e, e.args.batchId, status, { reason: e.args.reason });
  },
  "provenance.Observed": (db, e) => {
    timeline(db, e, e.args.batchId, "observed", {
      eventHash: e.args.eventHash,
      bizStep: shortString(e.args.bizStep),
      location: e.args.gln || null,
      dataHash: e.args.dataHash,
      orgId: String(e.args.org),
    });
  },
  "provenance.Recalled": (db, e) => {
    prepared(db, `UPDATE batches SET recall = 'direct', updated_block = ? WHERE batch_id = ?`).run(e.block.number, e.args.batchId);
    // A batch the recall of a parent already reached may be recalled directly as well.
    prepared(
      db,
      `INSERT OR REPLACE INTO recalls (batch_id, kind, source_batch, reason, by_org, block_number, tx_hash, time) VALUES (?, 'direct', NULL, ?, ?, ?, ?, ?)`,
    ).run(e.args.batchId, e.args.reason, Number(e.args.by) || null, e.block.number, e.log.transactionHash, e.time);
    timeline(db, e, e.args.batchId, "recalled", { reason: e.args.reason, byOrgId: Number(e.args.by) ? String(e.args.by) : "governance" });
  },
  "provenance.RecallPropagated": (db, e) => {
    // One event per edge: a batch reached from two recalled parents gets two (docs/adr/0009).
    prepared(db, `INSERT OR REPLACE INTO recall_edges (from_batch, to_batch, block_number, tx_hash) VALUES (?, ?, ?, ?)`).run(
      e.args.from,
      e.args.batchId,
      e.block.number,
      e.log.transactionHash,
    );
    prepared(db, `UPDATE batches SET recall = 'propagated', updated_block = ? WHERE batch_id = ? AND recall = 'none'`).run(e.block.number, e.args.batchId);
    prepared(
      db,
      `INSERT OR IGNORE INTO recalls (batch_id, kind, source_batch, reason, by_org, block_number, tx_hash, time) VALUES (?, 'propagated', ?, NULL, NULL, ?, ?, ?)`,
    ).run(e.args.batchId, e.args.from, e.block.number, e.log.transactionHash, e.time);
    timeline(db, e, e.args.batchId, "recall_propagated", { from: e.args.from });
  },
  "provenance.RecallWithdrawn": (db, e) => {
    const batchId = e.args.batchId as string;
    const via = remainingRecallEdge(db, batchId);
    if (via) {
      prepared(db, `UPDATE batches SET recall = 'propagated', updated_block = ? WHERE batch_id = ?`).run(e.block.number, batchId);
      prepared(db, `UPDATE recalls SET kind = 'propagated', source_batch = ?, reason = NULL, by_org = NULL WHERE batch_id = ?`).run(via, batchId);
    } else {
      prepared(db, `UPDATE batches SET recall = 'none', updated_block = ? WHERE batch_id = ?`).run(e.block.number, batchId);
      prepared(db, `DELETE FROM recalls WHERE batch_id = ?`).run(batchId);
    }
    timeline(db, e, batchId, "recall_withdrawn", { reason: e.args.reason, byOrgId: Number(e.args.by) ? String(e.args.by) : "governance" });
  },
  "provenance.RecallWithdrawalPropagated": (db, e) => {
    const batchId = e.args.batchId as string;
    prepared(db, `DELETE FROM recall_edges WHERE from_batch = ? AND to_batch = ?`).run(e.args.from, batchId);
    if (e.args.lifted) {
      prepared(db, `UPDATE batches SET recall = 'none', updated_block = ? WHERE batch_id = ?`).run(e.block.number, batchId);
      prepared(db, `DELETE FROM recalls WHERE batch_id = ?`).run(batchId);
      timeline(db, e, batchId, "recall_lifted", { from: e.args.from });
    } else {
      const via = remainingRecallEdge(db, batchId);
      if (via) prepared(db, `UPDATE recalls SET source_batch = ? WHERE batch_id = ? AND kind = 'propagated' AND source_batch = ?`).run(via, batchId, e.args.from);
    }
  },
  "provenance.RecallReturnOffered": (db, e) => {
    timeline(db, e, e.args.batchId, "recall_return_offered", { toOrgId: String(e.args.to), location: e.args.gln || null });
  },
  "provenance.DisposalConsented": (db, e) => {
    timeline(db, e, e.args.batchId, "disposal_consented", { ownerOrgId: String(e.args.owner) });
  },
  "provenance.ClaimDefined": (db, e) => {
    prepared(db, `INSERT OR REPLACE INTO claim_definitions (claim, credential_type, bit) VALUES (?, ?, ?)`).run(
      shortString(e.args.claim),
      shortString(e.args.credentialType),
      Number(e.args.bit),
    );
  },
  "provenance.ClaimAdded": (db, e) => {
    prepared(db, `INSERT OR IGNORE INTO batch_claims (batch_id, claim, org_id, block_number) VALUES (?, ?, ?, ?)`).run(
      e.args.batchId,
      shortString(e.args.claim),
      Number(e.args.org),
      e.block.number,
    );
    timeline(db, e, e.args.batchId, "claim_added", { claim: shortString(e.args.claim), orgId: String(e.args.org) });
  },
  "provenance.ClaimsCarried": (db, e) => {
    const bits = e.args.claims as bigint;
    const defined = prepared(db, `SELECT claim, bit FROM claim_definitions ORDER BY bit`).all() as { claim: string; bit: number }[];
    for (const { claim, bit } of defined) {
      if ((bits >> BigInt(bit - 1)) & 1n) {
        prepared(db, `INSERT OR IGNORE INTO batch_claims (batch_id, claim, org_id, block_number) VALUES (?, ?, NULL, ?)`).run(e.args.batchId, claim, e.block.number);
      }
    }
  },
  "units.Packed": (db, e) => {
    // The contents hash chain the contract keeps (LogisticUnits.contentsHash): acceptUnit names it.
    const previous = prepared(db, `SELECT contents_hash, status FROM logistic_units WHERE unit_key = ?`).get(e.args.unitKey) as
      | { contents_hash: string | null; status: string }
      | undefined;
    let chain = previous?.status === "packed" && previous.contents_hash ? previous.contents_hash : ZeroHash;
    for (const batchId of e.args.batchIds as string[]) chain = keccak256(abi.encode(["bytes32", "bytes32"], [chain, batchId]));
    prepared(
      db,
      `INSERT INTO logistic_units (unit_key, sscc, custodian_org, location, offer_to, status, updated_block, contents_hash) VALUES (?, ?, ?, NULL, NULL, 'packed', ?, ?)
       ON CONFLICT (unit_key) DO UPDATE SET status = 'packed', custodian_org = excluded.custodian_org, updated_block = excluded.updated_block,
         contents_hash = excluded.contents_hash`,
    ).run(e.args.unitKey, e.args.sscc, Number(e.args.custodian), e.block.number, chain);
    for (const batchId of e.args.batchIds as string[]) {
      prepared(db, `UPDATE batches SET unit_key = ?, updated_block = ? WHERE batch_id = ?`).run(e.args.unitKey, e.block.number, batchId);
      timeline(db, e, batchId, "packed", { sscc: e.args.sscc });
    }
  },
  "units.UnitOffered": (db, e) => {
    prepared(db, `UPDATE logistic_units SET offer_to = ?, updated_block = ? WHERE unit_key = ?`).run(Number(e.args.to), e.block.number, e.args.unitKey);
  },
  "units.UnitOfferCancelled": (db, e) => {
    prepared(db, `UPDATE logistic_units SET offer_to = NULL, updated_block = ? WHERE unit_key = ?`).run(e.block.number, e.args.unitKey);
  },
  "units.UnitHandedOver": (db, e) => {
    const to = Number(e.args.to);
    const gln = e.args.gln || null;
    prepared(db, `UPDATE logistic_units SET custodian_org = ?, offer_to = NULL, location = COALESCE(?, location), updated_block = ? WHERE unit_key = ?`).run(
      to,
      gln,
      e.block.number,
      e.args.unitKey,
    );
    // The chain moves the unit in one write; the index shows each content's custodian directly.
    const contents = prepared(db, `SELECT batch_id FROM batches WHERE unit_key = ?`).all(e.args.unitKey) as { batch_id: string }[];
    for (const { batch_id } of contents) {
      prepared(db, `UPDATE batches SET custodian_org = ?, location = COALESCE(?, location), updated_block = ? WHERE batch_id = ?`).run(
        to,
        gln,
        e.block.number,
        batch_id,
      );
      timeline(db, e, batch_id, "unit_handed_over", { unitKey: e.args.unitKey, fromOrgId: String(e.args.from), toOrgId: String(to), location: gln });
    }
  },
  "units.Unpacked": (db, e) => {
    prepared(db, `UPDATE logistic_units SET status = 'unpacked', contents_hash = NULL, updated_block = ? WHERE unit_key = ?`).run(
      e.block.number,
      e.args.unitKey,
    );
    for (const batchId of e.args.batchIds as string[]) {
      prepared(db, `UPDATE batches SET unit_key = NULL, updated_block = ? WHERE batch_id = ?`).run(e.block.number, batchId);
      timeline(db, e, batchId, "unpacked", { unitKey: e.args.unitKey });
    }
  },
  "anchors.Anchored": (db, e) => {
    prepared(
      db,
      `INSERT INTO anchors (root, kind, org_id, count, uri, anchored_by, block_number, tx_hash, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(e.args.root, shortString(e.args.kind), Number(e.args.org), Number(e.args.count), e.args.uri, e.args.by, e.block.number, e.log.transactionHash, e.time);
  },
};
