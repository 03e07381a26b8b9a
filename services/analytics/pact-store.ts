import { canonicalize } from "json-canonicalize";
import { keccak256, toUtf8Bytes } from "ethers";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { checkPactFootprint, PactError, type ImportedPact } from "./pact";

/**
 * Suppliers' PACT footprints an organisation imported: its own records (only it reads them and
 * only its runs may cite them). A footprint id is kept per version; the latest version is used.
 */
export interface StoredPact extends ImportedPact {
  orgId: string;
  documentHash: string;
  importedBy: string;
  importedAt: string;
}

interface Row {
  pact_id: string;
  version: number;
  org_id: number;
  company_name: string;
  product_ids: string;
  declared_unit: string;
  unit: string;
  unitary_amount: string;
  co2e_per_unit_kg: number;
  reference_period_end: string;
  document_hash: string;
  imported_by: string;
  imported_at: string;
}

const view = (r: Row): StoredPact => ({
  pactId: r.pact_id,
  version: r.version,
  orgId: String(r.org_id),
  companyName: r.company_name,
  productIds: JSON.parse(r.product_ids) as string[],
  declaredUnit: r.declared_unit,
  unit: r.unit,
  unitaryProductAmount: r.unitary_amount,
  co2ePerUnitKg: r.co2e_per_unit_kg,
  referencePeriodEnd: r.reference_period_end,
  documentHash: r.document_hash,
  importedBy: r.imported_by,
  importedAt: r.imported_at,
});

/** The latest version of a footprint the organisation imported, or null. */
export function supplierFootprint(db: Db, pactId: string, orgId: number | string): StoredPact | null {
  const row = prepared(db, `SELECT * FROM supplier_footprints WHERE org_id = ? AND pact_id = ? ORDER BY version DESC LIMIT 1`).get(
    Number(orgId),
    pactId.toLowerCase(),
  ) as Row | undefined;
  return row ? view(row) : null;
}

/**
 * Validates and stores a supplier's footprint for the importing organisation. The same document
 * twice is stored once (created: false); another document under an id and version already stored
 * is refused (409): a supplier's revision carries a new version.
 */
export function importPactFootprint(
  db: Db,
  document: unknown,
  ctx: { orgId: number | string; importedBy: string; now?: number },
): { footprint: StoredPact; created: boolean } {
  const now = ctx.now ?? Date.now();
  const pact = checkPactFootprint(document, now);
  const text = canonicalize(document as object);
  const hash = keccak256(toUtf8Bytes(text));
  return db.transaction(() => {
    const existing = prepared(db, `SELECT * FROM supplier_footprints WHERE org_id = ? AND pact_id = ? AND version = ?`).get(
      Number(ctx.orgId),
      pact.pactId,
      pact.version,
    ) as Row | undefined;
    if (existing) {
      if (existing.document_hash === hash) return { footprint: view(existing), created: false };
      throw new PactError(
        409,
        "pact_version_exists",
        `footprint ${pact.pactId} version ${pact.version} was already imported with other content; a revision carries a new version`,
      );
    }
    prepared(
      db,
      `INSERT INTO supplier_footprints (pact_id, version, org_id, company_name, product_ids, declared_unit, unit, unitary_amount,
         co2e_per_unit_kg, reference_period_end, document, document_hash, imported_by, imported_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      pact.pactId,
      pact.version,
      Number(ctx.orgId),
      pact.companyName,
      JSON.stringify(pact.productIds),
      pact.declaredUnit,
      pact.unit,
      pact.unitaryProductAmount,
      pact.co2ePerUnitKg,
      pact.referencePeriodEnd,
      text,
      hash,
      ctx.importedBy,
      new Date(now).toISOString(),
    );
    return { footprint: supplierFootprint(db, pact.pactId, ctx.orgId)!, created: true };
  })();
}
