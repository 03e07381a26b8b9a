import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { RouteDeps } from "../app";
import { readerOf } from "../access";
import { HttpProblem } from "../problem";
import { DigitalLinkError, isLotNumber, normaliseGtin } from "../../gs1/digital-link";
import { hasValidCheckDigit } from "../../gs1/keys";
import { createProvenanceStore, type BatchView } from "../../store/provenance";
import { prepared } from "../../store/statements";
import { Batch, publicBatch } from "./provenance";
import { EVERY_PAGE, explorerShell, lotAnswers, lotPageOptions, pageAnswers, type EmbeddedAnswer } from "./explorer";

/**
 * The GS1 Digital Link resolver (GS1 Digital Link 1.2 paths on this node's own domain): what a
 * phone reaches by scanning a pack's QR code. A browser (Accept: text/html) gets the explorer's
 * page, which opens the lot; a client asking for JSON gets the batches the key names, as the
 * reader may see them (the public: the lot's identity and recall status).
 *
 *   /01/{gtin}/10/{lot}   a lot: its portions          {gtin, lot, batches}
 *   /01/{gtin}            a product: every lot's batches {gtin, batches}
 *   /00/{sscc}            a logistic unit: the batches packed into it, ever {sscc, batches}
 */
const MAX_BATCHES = 500;

const json = (properties: Parameters<typeof Type.Object>[0]) => ({
  content: {
    "application/json": { schema: Type.Object({ ...properties, batches: Type.Array(Batch), truncated: Type.Boolean({ description: `more than ${MAX_BATCHES} batches` }) }) },
    "text/html": { schema: Type.String() },
  },
});
const problems = { 400: { $ref: "Problem#" }, 404: { $ref: "Problem#" } };

/** JSON when the client asks for it and does not prefer HTML (browsers list text/html first). */
export function wantsJson(request: FastifyRequest): boolean {
  const accept = String(request.headers.accept ?? "");
  const jsonAt = accept.search(/application\/(json|ld\+json|problem\+json)/);
  const htmlAt = accept.indexOf("text/html");
  return jsonAt >= 0 && (htmlAt < 0 || jsonAt < htmlAt);
}

export const digitalLinkRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, auth }) => {
  const store = createProvenanceStore(db);

  const gtinOf = (raw: string) => {
    try {
      return normaliseGtin(raw);
    } catch (err) {
      throw new HttpProblem(400, "invalid_gtin", (err as DigitalLinkError).message);
    }
  };
  const shown = (request: FastifyRequest, batches: BatchView[]) =>
    readerOf(request, auth).kind === "public" ? batches.map(publicBatch) : batches.map((b) => ({ ...b, view: "member" as const }));

  /**
   * Answers JSON, or the explorer's page (with the status the JSON answer would have had). The page
   * carries the JSON answer, the session, the organisations and, for a lot (or a key naming one
   * batch), the batch the page opens (app.js digitalLinkPage) and its product, each as its route
   * answers the reader (pageAnswers); a lot's
   * page also gets a lot page's hints (its records asked with the HTML).
   */
  async function answer(request: FastifyRequest, reply: FastifyReply, resolve: () => Record<string, unknown>) {
    if (wantsJson(request)) return resolve();
    const path = request.url.split("?")[0];
    const answers = await pageAnswers(app, request, [...EVERY_PAGE, path]);
    let status = answers[path]?.status;
    if (status === undefined) {
      status = 200;
      try {
        resolve();
      } catch (err) {
        if (!(err instanceof HttpProblem)) throw err;
        status = err.status;
      }
    }
    const resolved = answers[path]?.status === 200 ? (answers[path].body as { lot?: string; batches?: { id: string; lotId: string }[] }) : null;
    const batches = resolved?.batches ?? [];
    const opened = resolved?.lot ? (batches.find((b) => b.id === b.lotId) ?? batches[0]) : batches.length === 1 ? batches[0] : undefined;
    let options = {};
    if (opened) {
      const batchUrl = `/api/v1/batches/${opened.id}`;
      const batch: Record<string, EmbeddedAnswer> = await lotAnswers(app, request, batchUrl);
      const lot = lotPageOptions(readerOf(request, auth).kind !== "public", batch[batchUrl]);
      options = { ...lot, embedded: { ...answers, ...batch, ...lot.embedded } };
    } else options = { embedded: answers };
    return reply.code(status).type("text/html; charset=utf-8").header("cache-control", "private, no-cache").send(await explorerShell(options));
  }

  app.get(
    "/01/:gtin/10/:lot",
    {
      schema: {
        summary: "GS1 Digital Link of a lot: the explorer's lot page for a browser, {gtin, lot, batches} for Accept: application/json",
        tags: ["explorer"],
        params: Type.Object({ gtin: Type.String({ maxLength: 14 }), lot: Type.String({ minLength: 1, maxLength: 60 }) }),
        response: { 200: json({ gtin: Type.String(), lot: Type.String() }), ...problems },
      },
    },
    async (request, reply) =>
      answer(request, reply, () => {
        const gtin = gtinOf(request.params.gtin);
        const lot = request.params.lot;
        if (!isLotNumber(lot)) throw new HttpProblem(400, "invalid_lot", `"${lot}" is not a GS1 lot number (1–20 characters of set 82)`);
        const page = store.listBatches({ gtin, lot }, { limit: MAX_BATCHES, after: 0 });
        if (page.items.length === 0) throw new HttpProblem(404, "batch_not_found", `no lot ${lot} of GTIN ${gtin} is registered`);
        return { gtin, lot, batches: shown(request, page.items), truncated: page.more };
      }),
  );

  app.get(
    "/01/:gtin",
    {
      schema: {
        summary: "GS1 Digital Link of a product: the explorer for a browser, {gtin, batches} (every lot) for Accept: application/json",
        tags: ["explorer"],
        params: Type.Object({ gtin: Type.String({ maxLength: 14 }) }),
        response: { 200: json({ gtin: Type.String() }), ...problems },
      },
    },
    async (request, reply) =>
      answer(request, reply, () => {
        const gtin = gtinOf(request.params.gtin);
        const page = store.listBatches({ gtin }, { limit: MAX_BATCHES, after: 0 });
        if (page.items.length === 0 && !store.product(gtin)) throw new HttpProblem(404, "product_not_found", `no product ${gtin} is registered`);
        return { gtin, batches: shown(request, page.items), truncated: page.more };
      }),
  );

  app.get(
    "/00/:sscc",
    {
      schema: {
        summary: "GS1 Digital Link of a logistic unit (SSCC): the explorer for a browser, {sscc, batches} ever packed into it for Accept: application/json",
        tags: ["explorer"],
        params: Type.Object({ sscc: Type.String({ maxLength: 18 }) }),
        response: { 200: json({ sscc: Type.String() }), ...problems },
      },
    },
    async (request, reply) =>
      answer(request, reply, () => {
        const sscc = request.params.sscc;
        if (!/^[0-9]{18}$/.test(sscc) || !hasValidCheckDigit(sscc)) {
          throw new HttpProblem(400, "invalid_sscc", `"${sscc}" is not an SSCC (18 digits with a valid check digit)`);
        }
        const ids = batchesPackedInto(sscc);
        if (ids.length === 0) throw new HttpProblem(404, "unit_not_found", `no logistic unit with SSCC ${sscc} is known to this node`);
        const batches = [...store.getBatches(ids.slice(0, MAX_BATCHES)).values()];
        return { sscc, batches: shown(request, batches), truncated: ids.length > MAX_BATCHES };
      }),
  );

  /** Batches packed into a unit with this SSCC, now or before (its Packed events name the SSCC). */
  function batchesPackedInto(sscc: string): string[] {
    const rows = prepared(
      db,
      `SELECT DISTINCT batch_id FROM (
         SELECT b.batch_id, b.created_block AS block FROM batches b JOIN logistic_units u ON u.unit_key = b.unit_key WHERE u.sscc = ?
         UNION ALL
         SELECT batch_id, block_number AS block FROM batch_events WHERE type = 'packed' AND json_extract(details, '$.sscc') = ?
       ) ORDER BY block, batch_id`,
    ).all(sscc, sscc) as { batch_id: string }[];
    return [...new Set(rows.map((r) => r.batch_id))];
  }

};
