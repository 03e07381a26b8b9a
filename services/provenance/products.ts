import { canonicalize } from "json-canonicalize";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { queueForAnchoring } from "../anchoring/outbox";
import { masterDataHash } from "./master-data-hash";

/** Product master data as Lotline stores it off-chain (the chain holds its hash). */
export interface ProductMasterData {
  gtin: string;
  name: string;
  unit: string;
  description?: string;
  storageTemperature?: { minCelsius: number; maxCelsius: number };
  shelfLifeDays?: number;
  brand?: string;
  countryOfOrigin?: string;
}

export { masterDataHash };

/** The anchoring record id of a master data document. */
export const productRecordId = (hash: string) => `product:${hash}`;

/**
 * Stores master data and queues it for anchoring in one transaction (primary data: stored once
 * per content; the same document twice is the same record). Returns its hash.
 */
export function storeProductMasterData(db: Db, document: ProductMasterData, submittedBy: string, ownerOrg?: number): string {
  const hash = masterDataHash(document);
  db.transaction(() => {
    prepared(
      db,
      `INSERT OR IGNORE INTO product_master_data (master_data_hash, gtin, document, submitted_by, created_at) VALUES (?, ?, ?, ?, ?)`,
    ).run(hash, document.gtin, canonicalize(document), submittedBy, new Date().toISOString());
    queueForAnchoring(db, { recordId: productRecordId(hash), kind: "PRODUCT", hash, ownerOrg });
  })();
  return hash;
}
