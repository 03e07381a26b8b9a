import crypto from "node:crypto";
import { Type, type TSchema } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { errorHandler, HttpProblem, problem, type ProblemBody } from "../problem";
import type { Principal } from "../auth";
import type { RouteDeps } from "../app";
import { schemaValidator, validateEpcisDocument, type EventError } from "../../epcis/validate";
import { eventListOf } from "../../epcis/document";
import { EPCIS_CONTEXT_URL } from "../../epcis/context";
import { EPC_FORMATS, type EpcFormat } from "../../epcis/identifiers";
import { captureJobFor } from "../../epcis/capture";
import {
  captureView,
  eventLinks,
  eventProof,
  eventsById,
  getCapture,
  insertCapture,
  knownPrefixes,
  listCaptures,
  type CaptureErrorBehaviour,
} from "../../epcis/store";
import {
  DEFAULT_PER_PAGE,
  MAX_PER_PAGE,
  parseEventQuery,
  QUERY_PARAMETERS,
  QueryParameterError,
  QueryTooLargeError,
  queryDocument,
  runEventQuery,
} from "../../epcis/query";
import { bareTerm, vocabularyTerms } from "../../epcis/vocabulary";
import { AnchoredBy } from "../schemas";
import { mappingRoutes } from "../../epcis/mapping/routes";
import { readerOf } from "../access";
import { createSharingStore } from "../../store/sharing";
import { epcisVisibility, type EpcisVisibility } from "../../epcis/access";
import type { EventRow } from "../../epcis/store";

/**
 * The GS1 EPCIS 2.0 REST binding under /epcis: the capture interface (POST /epcis/capture answers
 * 202 with the capture job's Location; the capture job stores the events) and the query interface.
 * Errors are problem documents whose `type` is the binding's exception (epcisException:…), with
 * Lotline's `code`.
 */

/** Largest capture document, in bytes (GS1-EPCIS-Capture-File-Size-Limit). */
export const MAX_CAPTURE_BYTES = 8 * 1024 * 1024;
/** Most events in one capture document (GS1-EPCIS-Capture-Limit). */
export const MAX_CAPTURE_EVENTS = 10_000;
/** Most errors listed in a 400 (the detail gives the total). */
const MAX_REPORTED_ERRORS = 1_000;

const EXCEPTIONS: Record<number, string> = {
  400: "ValidationException",
  401: "SecurityException",
  403: "SecurityException",
  404: "NoSuchResourceException",
  406: "NotAcceptableException",
  413: "CaptureLimitExceededException",
  415: "UnsupportedMediaTypeException",
  500: "ImplementationException",
};

const EpcisProblem = Type.Object(
  {
    type: Type.String({ description: "epcisException:… (the binding's exception) where one applies" }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: "Lotline's machine-readable error code" }),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          path: Type.String({ description: "JSON pointer into the document (or the request part)" }),
          message: Type.String(),
          field: Type.Optional(Type.String({ description: "the failing field inside the event, e.g. quantityList[0].quantity" })),
          eventIndex: Type.Optional(
            Type.Union([Type.Integer(), Type.Null()], {
              description: "the failing event's index in eventList; null outside events",
            }),
          ),
          eventID: Type.Optional(Type.String()),
        }),
      ),
    ),
  },
  { title: "EPCIS problem" },
);

function epcisProblem(
  status: number,
  code: string,
  detail: string,
  errors?: ProblemBody["errors"] | EventError[],
  exception?: string,
): ProblemBody {
  const body = problem(status, code, detail, errors as ProblemBody["errors"]);
  const name = exception ?? EXCEPTIONS[status];
  return name ? { ...body, type: `epcisException:${name}` } : body;
}

function send(reply: FastifyReply, request: FastifyRequest, body: ProblemBody): FastifyReply {
  return reply
    .code(body.status)
    .type("application/problem+json")
    .send({ ...body, instance: request.url });
}

const problems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, EpcisProblem])) as Record<number, typeof EpcisProblem>;

const CaptureJob = Type.Object({
  captureID: Type.String(),
  createdAt: Type.String({ format: "date-time" }),
  finishedAt: Type.Optional(Type.String({ format: "date-time" })),
  running: Type.Boolean(),
  success: Type.Boolean({ description: "false once an event could not be captured (see errors)" }),
  captureErrorBehaviour: Type.Union([Type.Literal("rollback"), Type.Literal("proceed")]),
  errors: Type.Array(
    Type.Object({
      type: Type.String(),
      title: Type.String(),
      detail: Type.String(),
      eventIndex: Type.Union([Type.Integer(), Type.Null()]),
      eventID: Type.Optional(Type.String()),
      field: Type.Optional(Type.String()),
    }),
  ),
  processed: Type.Integer({ description: "events handled so far (stored, duplicate or failed)" }),
  total: Type.Integer({ description: "events in the document" }),
  stored: Type.Integer({ description: "events stored by this capture" }),
  duplicates: Type.Array(
    Type.Object(
      {
        eventIndex: Type.Integer(),
        eventID: Type.String(),
        hashId: Type.String(),
        storedBy: Type.String({ description: "the capture that stored the identical event first" }),
      },
      { description: "events already stored byte for byte (same canonical JSON): stored once, not again" },
    ),
  ),
});

const QueryDocument = Type.Object(
  {
    "@context": Type.Unknown(),
    type: Type.Literal("EPCISQueryDocument"),
    schemaVersion: Type.String(),
    creationDate: Type.String(),
    epcisBody: Type.Object({
      queryResults: Type.Object({
        queryName: Type.String(),
        resultsBody: Type.Object({ eventList: Type.Array(Type.Unknown({ description: "an EPCIS event, as captured" })) }),
      }),
    }),
  },
  { description: "EPCISQueryDocument (EPCIS 2.0 JSON-LD)" },
);

const Collection = Type.Object({
  "@context": Type.Unknown(),
  type: Type.Literal("Collection"),
  member: Type.Array(Type.String()),
});

const EpcFormatHeader = Type.Object({
  "gs1-epc-format": Type.Optional(
    Type.Unsafe<EpcFormat>({
      type: "string",
      enum: [...EPC_FORMATS],
      description:
        "How identifiers are written: Never_Translates (default here: as captured), Always_GS1_Digital_Link or Always_EPC_URN",
    }),
  ),
});

const QueryValue = Type.Union([
  Type.String({ maxLength: 4096 }),
  Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 100 }),
]);
const EventQueryString = Type.Object(
  Object.fromEntries(QUERY_PARAMETERS.map((name) => [name, Type.Optional(QueryValue)])) as Record<string, TSchema>,
  {
    additionalProperties: true,
    description: `EPCIS 2.0 query parameters; a list is a|b or the parameter repeated. perPage: 1–${MAX_PER_PAGE}, default ${DEFAULT_PER_PAGE}.`,
  },
);

const PageQuery = Type.Object(
  {
    perPage: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PER_PAGE, default: DEFAULT_PER_PAGE })),
    nextPageToken: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

const EventIdParams = Type.Object({
  eventID: Type.String({ minLength: 1, maxLength: 1024, description: "the eventID (or CBV hash ID), percent-encoded" }),
});

const Proof = Type.Object({
  recordId: Type.String(),
  eventHash: Type.String({ description: "the event's CBV 2.0 hash ID" }),
  leaf: Type.String({ description: "keccak256(abi.encode(string hashId, string canonicalJson))" }),
  merkleRoot: Type.Union([Type.String(), Type.Null()]),
  proof: Type.Array(Type.String()),
  transactionHash: Type.Union([Type.String(), Type.Null()]),
  blockNumber: Type.Union([Type.Integer(), Type.Null()]),
  status: Type.Union([Type.Literal("pending"), Type.Literal("anchored")]),
  anchoredBy: AnchoredBy,
  verified: Type.Boolean({
    description:
      "the leaf recomputed from the stored event is the anchored one, in a root anchored on the indexed chain by anchoredBy",
  }),
});

const Links = Type.Object({
  eventID: Type.String(),
  records: Type.Array(
    Type.Object({
      recordId: Type.String(),
      eventID: Type.String(),
      hashId: Type.String(),
      recordTime: Type.String(),
      errorDeclaration: Type.Boolean(),
      original: Type.Union([Type.Null(), Type.Object({ recordId: Type.String(), eventID: Type.String() })], {
        description: "the first stored event with the same hash ID, when this record is not it",
      }),
      correctiveEvents: Type.Array(Type.Object({ eventID: Type.String(), stored: Type.Boolean() })),
    }),
  ),
});

/** Offset tokens for the small collections (event types, business steps). */
function pageOf<T>(items: T[], perPage: number, token: string | undefined, kind: string): { items: T[]; next: string | null } {
  let offset = 0;
  if (token) {
    const text = Buffer.from(token, "base64url").toString();
    offset = text.startsWith(`${kind}:`) ? Number(text.slice(kind.length + 1)) : NaN;
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new QueryParameterError("nextPageToken", "nextPageToken is not one this list returned");
  }
  const end = offset + perPage;
  return {
    items: items.slice(offset, end),
    next: end < items.length ? Buffer.from(`${kind}:${end}`).toString("base64url") : null,
  };
}

export const epcisRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, auth, publicUrl }) => {
  schemaValidator(); // compile the EPCIS schema at boot, not on the first capture
  const captureJob = captureJobFor(db, { log: app.log });
  const principals = new WeakMap<FastifyRequest, Principal>();
  const sharing = createSharingStore(db);

  /**
   * What the request's reader may read of the stored events (EPCIS records are owner-and-grantees):
   * 401 for the public; a member reads its organisation's events and those an owner granted it.
   */
  function visibilityOf(request: FastifyRequest): EpcisVisibility {
    const reader = readerOf(request, auth);
    if (reader.kind === "public") {
      throw new HttpProblem(
        401,
        "unauthorized",
        "sign in (POST /api/v1/auth/login) to read EPCIS events: they are shown to the organisation that captured them and the organisations it granted (GET /epcis/events/{eventID}/proof is public)",
      );
    }
    return epcisVisibility(db, sharing, reader.orgId);
  }

  /**
   * The stored records under an eventID the reader may read. A member without a grant gets the same
   * 404 as for an unknown event: the content routes do not confirm that another organisation's event
   * exists (whether it is anchored, and by whom, is public on its proof route by design).
   */
  function readableById(request: FastifyRequest, eventID: string): EventRow[] {
    const visibility = visibilityOf(request);
    const rows = eventsById(db, eventID).filter((row) => visibility.visible(row));
    if (rows.length === 0) throw new HttpProblem(404, "event_not_found", `no event ${eventID}`);
    return rows;
  }

  /** Distinct values of an event column among the events the reader may read (none for the public). */
  function readableValues(
    request: FastifyRequest,
    column: "event_type" | "biz_step" | "disposition" | "read_point" | "biz_location",
  ): string[] {
    const reader = readerOf(request, auth);
    if (reader.kind === "public") return [];
    const visibility = epcisVisibility(db, sharing, reader.orgId);
    const out = new Set(
      (
        db
          .prepare(
            `SELECT DISTINCT ${column} AS v FROM epcis_events WHERE ${column} IS NOT NULL AND org_id IN (SELECT value FROM json_each(?)) ORDER BY 1`,
          )
          .all(JSON.stringify(visibility.wholeOrgs)) as { v: string }[]
      ).map((r) => r.v),
    );
    if (visibility.scopedOrgs.size > 0) {
      const rows = db
        .prepare(
          `SELECT seq, org_id, ${column} AS v FROM epcis_events WHERE ${column} IS NOT NULL AND org_id IN (SELECT value FROM json_each(?))`,
        )
        .all(JSON.stringify([...visibility.scopedOrgs])) as { seq: number; org_id: number; v: string }[];
      for (const row of rows) if (!out.has(row.v) && visibility.visible(row)) out.add(row.v);
    }
    return [...out].sort();
  }
  const rawBodies = new WeakMap<FastifyRequest, string>();

  // EPCIS 2.0 documents come as application/json or application/ld+json (415 otherwise); the text is
  // kept as received.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ["application/json", "application/ld+json"],
    { parseAs: "string", bodyLimit: MAX_CAPTURE_BYTES },
    (request, body, done) => {
      rawBodies.set(request, body as string);
      parseJson(request, body as string, done);
    },
  );

  app.addHook("onSend", async (_request, reply) => {
    reply.header("GS1-EPCIS-Version", "2.0.0").header("GS1-CBV-Version", "2.0.0");
  });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (error instanceof QueryParameterError) {
      return send(
        reply,
        request,
        epcisProblem(
          400,
          "invalid_query_parameter",
          error.message,
          [{ path: `querystring/${error.parameter}`, message: error.message }],
          "QueryParameterException",
        ),
      );
    }
    if (error instanceof QueryTooLargeError)
      return send(reply, request, epcisProblem(413, "query_too_large", error.message, undefined, "QueryTooLargeException"));
    if (error instanceof HttpProblem)
      return send(reply, request, epcisProblem(error.status, error.code, error.detail, error.errors));
    const fe = error as FastifyError;
    if (fe.validation) {
      const errors = fe.validation.map((v) => {
        const allowed = (v.params as { allowedValues?: unknown[] }).allowedValues;
        return {
          path: `${fe.validationContext ?? "body"}${v.instancePath || ""}`,
          message: `${v.message ?? "is invalid"}${allowed ? `: ${allowed.join(", ")}` : ""}`,
        };
      });
      const exception = fe.validationContext === "querystring" ? "QueryParameterException" : "ValidationException";
      return send(
        reply,
        request,
        epcisProblem(400, "invalid_request", errors.map((e) => `${e.path} ${e.message}`).join("; "), errors, exception),
      );
    }
    if (fe.statusCode === 413) {
      return send(
        reply,
        request,
        epcisProblem(
          413,
          "payload_too_large",
          `the document is larger than ${MAX_CAPTURE_BYTES} bytes (GS1-EPCIS-Capture-File-Size-Limit); split it`,
        ),
      );
    }
    if (fe.statusCode === 415) {
      return send(
        reply,
        request,
        epcisProblem(415, "unsupported_media_type", "send the EPCIS document as application/json or application/ld+json"),
      );
    }
    if (fe.statusCode === 400 && /^FST_ERR_CTP_|SyntaxError/.test(`${fe.code ?? ""}${fe.name}`)) {
      return send(reply, request, epcisProblem(400, "malformed_json", `the body is not JSON: ${fe.message}`));
    }
    return errorHandler(fe, request, reply);
  });

  /** The principal of an authenticated request (set by the routes' onRequest hook). */
  const authenticate = async (request: FastifyRequest) => {
    principals.set(request, auth.authenticate(request.headers.authorization));
  };
  const principalOf = (request: FastifyRequest) => principals.get(request)!;

  function requireCapture(request: FastifyRequest, captureId: string) {
    const row = getCapture(db, captureId);
    // Another organisation's capture does not exist, as far as this agent can tell.
    if (!row || String(row.org_id) !== principalOf(request).agent.orgId) {
      throw new HttpProblem(404, "capture_not_found", `no capture job ${captureId} of your organisation`);
    }
    return row;
  }

  function linkNext(reply: FastifyReply, request: FastifyRequest, token: string | null): void {
    if (!token) return;
    const url = new URL(request.url, "http://local");
    url.searchParams.delete("nextPageToken");
    url.searchParams.append("nextPageToken", token);
    reply.header("Link", `<${publicUrl()}${url.pathname}${url.search}>; rel="next"`);
  }

  app.options(
    "/epcis/capture",
    {
      schema: {
        // Discovery by headers only (the binding's 204): kept out of the OpenAPI document, whose
        // operations all answer a body; POST /epcis/capture's description states the same limits.
        hide: true,
        summary: "Discover the capture interface's limits and behaviours",
        tags: ["epcis"],
        response: {
          204: Type.Null({
            description: "limits in GS1-EPCIS-Capture-Limit, GS1-EPCIS-Capture-File-Size-Limit; GS1-Capture-Error-Behaviour: all",
          }),
        },
      },
    },
    async (_request, reply) =>
      reply
        .code(204)
        .header("Allow", "OPTIONS, POST, GET")
        .header("GS1-EPCIS-Capture-Limit", String(MAX_CAPTURE_EVENTS))
        .header("GS1-EPCIS-Capture-File-Size-Limit", String(MAX_CAPTURE_BYTES))
        .header("GS1-Capture-Error-Behaviour", "all")
        .header("GS1-EPC-Format", "Never_Translates")
        .send(null),
  );

  app.post(
    "/epcis/capture",
    {
      bodyLimit: MAX_CAPTURE_BYTES,
      onRequest: async (request) => {
        await authenticate(request);
        const behaviour = request.headers["gs1-capture-error-behaviour"];
        if (behaviour !== undefined && behaviour !== "rollback" && behaviour !== "proceed") {
          throw new HttpProblem(
            400,
            "invalid_capture_error_behaviour",
            `GS1-Capture-Error-Behaviour must be rollback (the default) or proceed, not ${JSON.stringify(behaviour)}`,
          );
        }
      },
      schema: {
        summary: "Capture an EPCIS 2.0 document (JSON or JSON-LD); 202 with the capture job's Location",
        description:
          `For an active agent of a member organisation. Accepts an EPCISDocument, an EPCISQueryDocument or one event, as application/json or application/ld+json, up to ${MAX_CAPTURE_BYTES} bytes and ${MAX_CAPTURE_EVENTS} events (413 beyond). ` +
          "A document failing the EPCIS 2.0 JSON Schema or the CBV vocabularies is rejected whole: 400 naming each failing event and field. " +
          "JSON-LD contexts resolve from Lotline's copy of the GS1 context; other context URLs are refused (never fetched). " +
          "GS1-Capture-Error-Behaviour: rollback (default: an event that cannot be stored rejects all) or proceed. OPTIONS /epcis/capture announces the limits in GS1-EPCIS-Capture-Limit and GS1-EPCIS-Capture-File-Size-Limit.",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        headers: Type.Object({ "gs1-capture-error-behaviour": Type.Optional(Type.String()) }),
        body: Type.Unknown({ description: "EPCISDocument / EPCISQueryDocument (EPCIS 2.0 JSON-LD)" }),
        response: { 202: Type.Object({ captureID: Type.String() }), ...problems(400, 401, 403, 413, 415) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const doc = request.body;
      const events = eventListOf(doc).events;
      if (events.length > MAX_CAPTURE_EVENTS) {
        return send(
          reply,
          request,
          epcisProblem(
            413,
            "too_many_events",
            `the document has ${events.length} events; at most ${MAX_CAPTURE_EVENTS} per capture (GS1-EPCIS-Capture-Limit)`,
          ),
        );
      }
      const result = validateEpcisDocument(doc);
      if (!result.valid) {
        const shown = result.errors
          .slice(0, 5)
          .map((e) => (e.eventIndex === null ? e.message : `event ${e.eventIndex} ${e.message}`));
        const more = result.errors.length > shown.length ? `; and ${result.errors.length - shown.length} more (see errors)` : "";
        const listed =
          result.errors.length > MAX_REPORTED_ERRORS
            ? ` (errors lists the first ${MAX_REPORTED_ERRORS} of ${result.errors.length})`
            : "";
        const detail = `the document is not valid EPCIS 2.0, nothing was captured: ${shown.join("; ")}${more}${listed}`;
        return send(
          reply,
          request,
          epcisProblem(400, "invalid_epcis_document", detail, result.errors.slice(0, MAX_REPORTED_ERRORS)),
        );
      }
      const captureId = crypto.randomUUID();
      insertCapture(db, {
        captureId,
        orgId: Number(principal.agent.orgId),
        agent: principal.address,
        contentType: request.headers["content-type"]?.split(";")[0].trim() ?? "application/json",
        document: rawBodies.get(request) ?? JSON.stringify(doc),
        errorBehaviour: (request.headers["gs1-capture-error-behaviour"] as CaptureErrorBehaviour | undefined) ?? "rollback",
        total: events.length,
      });
      captureJob.kick();
      return reply.code(202).header("Location", `/epcis/capture/${captureId}`).send({ captureID: captureId });
    },
  );

  app.get(
    "/epcis/capture",
    {
      onRequest: authenticate,
      schema: {
        summary: "Capture jobs of your organisation, oldest first (perPage / nextPageToken, Link rel=next)",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        querystring: PageQuery,
        response: { 200: Type.Array(CaptureJob), ...problems(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const perPage = request.query.perPage ?? DEFAULT_PER_PAGE;
      let afterSeq = 0;
      if (request.query.nextPageToken) {
        const text = Buffer.from(request.query.nextPageToken, "base64url").toString();
        afterSeq = text.startsWith("capture:") ? Number(text.slice(8)) : NaN;
        if (!Number.isSafeInteger(afterSeq))
          throw new QueryParameterError("nextPageToken", "nextPageToken is not one this list returned");
      }
      const page = listCaptures(db, Number(principalOf(request).agent.orgId), { afterSeq, limit: perPage });
      const last = page.items.at(-1);
      linkNext(reply, request, page.more && last ? Buffer.from(`capture:${last.seq}`).toString("base64url") : null);
      return page.items.map(captureView);
    },
  );

  app.get(
    "/epcis/capture/:captureID",
    {
      onRequest: authenticate,
      schema: {
        summary: "A capture job: {captureID, running, success, errors} with progress {processed, total} and duplicates",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        params: Type.Object({ captureID: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 200: CaptureJob, ...problems(401, 403, 404) },
      },
    },
    async (request) => captureView(requireCapture(request, request.params.captureID)),
  );

  const sendEvents = (
    request: FastifyRequest,
    reply: FastifyReply,
    params: Record<string, string | string[] | undefined>,
    fixed = {},
  ) => {
    const visibility = visibilityOf(request);
    const query = parseEventQuery(params, fixed);
    const page = runEventQuery(
      db,
      query,
      typeof params.nextPageToken === "string" ? params.nextPageToken : undefined,
      visibility,
    );
    linkNext(reply, request, page.nextPageToken);
    const format = (request.headers["gs1-epc-format"] as EpcFormat | undefined) ?? "Never_Translates";
    return queryDocument(page.rows, format, knownPrefixes(db));
  };

  app.get(
    "/epcis/events",
    {
      schema: {
        summary: "Query EPCIS events (EPCIS 2.0 query parameters); an EPCISQueryDocument, paged with perPage / nextPageToken",
        description:
          `Parameters: ${QUERY_PARAMETERS.join(", ")}. Identifiers match as EPC URN or GS1 Digital Link alike (EPC ID patterns too); ` +
          'vocabulary values may be bare CBV terms, CBV URNs or web URIs. Another page is announced in Link: <…>; rel="next". ' +
          "GS1-EPC-Format chooses how identifiers are written (default: as captured).",
        tags: ["epcis"],
        querystring: EventQueryString,
        headers: EpcFormatHeader,
        response: { 200: QueryDocument, ...problems(400, 413) },
      },
    },
    async (request, reply) => sendEvents(request, reply, request.query as Record<string, string | string[]>),
  );

  app.get(
    "/epcis/events/:eventID",
    {
      schema: {
        summary: "An event by its eventID or CBV hash ID (percent-encoded), with its error declarations",
        tags: ["epcis"],
        params: EventIdParams,
        headers: EpcFormatHeader,
        response: { 200: QueryDocument, ...problems(400, 404) },
      },
    },
    async (request) => {
      const rows = readableById(request, request.params.eventID);
      return queryDocument(
        rows,
        (request.headers["gs1-epc-format"] as EpcFormat | undefined) ?? "Never_Translates",
        knownPrefixes(db),
      );
    },
  );

  app.get(
    "/epcis/events/:eventID/proof",
    {
      schema: {
        summary: "Inclusion proof of a stored event in an anchored Merkle root, verified against the stored record",
        description:
          "With several records under one eventID (an event and its error declarations), the first; pick another with recordId.",
        tags: ["epcis", "anchoring"],
        params: EventIdParams,
        querystring: Type.Object(
          { recordId: Type.Optional(Type.String({ pattern: "^epcis:event:[1-9][0-9]{0,15}$" })) },
          { additionalProperties: false },
        ),
        response: { 200: Proof, ...problems(400, 404) },
      },
    },
    async (request) => {
      const rows = eventsById(db, request.params.eventID);
      const row = request.query.recordId ? rows.find((r) => `epcis:event:${r.seq}` === request.query.recordId) : rows[0];
      if (!row)
        throw new HttpProblem(
          404,
          "event_not_found",
          `no event ${request.params.eventID}${request.query.recordId ? ` with record ${request.query.recordId}` : ""}`,
        );
      const proof = eventProof(db, row);
      if (!proof) throw new HttpProblem(404, "record_not_found", `event ${request.params.eventID} was not queued for anchoring`);
      return proof;
    },
  );

  app.get(
    "/epcis/events/:eventID/links",
    {
      schema: {
        summary: "The stored records of an event: the original, its error declarations and their corrective events",
        tags: ["epcis"],
        params: EventIdParams,
        response: { 200: Links, ...problems(400, 404) },
      },
    },
    async (request) => {
      const rows = readableById(request, request.params.eventID);
      return { eventID: request.params.eventID, records: rows.map((row) => eventLinks(db, row)) };
    },
  );

  app.get(
    "/epcis/epcs/:epc/events",
    {
      schema: {
        summary: "Events naming an EPC (EPC URN or GS1 Digital Link, percent-encoded) in any role",
        description: "The EPC matches as MATCH_anyEPC does; the other query parameters of /epcis/events apply.",
        tags: ["epcis"],
        params: Type.Object({ epc: Type.String({ minLength: 1, maxLength: 1024 }) }),
        querystring: EventQueryString,
        headers: EpcFormatHeader,
        response: { 200: QueryDocument, ...problems(400, 413) },
      },
    },
    async (request, reply) => {
      const params = request.query as Record<string, string | string[]>;
      if (params.MATCH_anyEPC !== undefined)
        throw new QueryParameterError("MATCH_anyEPC", "MATCH_anyEPC is the path's EPC here; query /epcis/events for several");
      return sendEvents(request, reply, params, { MATCH_anyEPC: request.params.epc });
    },
  );

  // How each event was mapped onto provenance (GET /epcis/events/{eventID}/mapping), outside the standard event body.
  await app.register(mappingRoutes, {
    db,
    readableById,
    readableSeq: (request: FastifyRequest) => {
      const visibility = visibilityOf(request);
      return (row: { seq: number; org_id: number }) => visibility.visible(row);
    },
  });

  app.get(
    "/epcis/eventTypes",
    {
      schema: {
        summary: "EPCIS event types: the five of EPCIS 2.0 and any extension types captured",
        tags: ["epcis"],
        querystring: PageQuery,
        response: { 200: Collection, ...problems(400) },
      },
    },
    async (request, reply) => {
      const standard = ["AggregationEvent", "AssociationEvent", "ObjectEvent", "TransactionEvent", "TransformationEvent"];
      const captured = readableValues(request, "event_type");
      const all = [...standard, ...captured.filter((t) => !standard.includes(t))];
      const page = pageOf(all, request.query.perPage ?? DEFAULT_PER_PAGE, request.query.nextPageToken, "eventTypes");
      linkNext(reply, request, page.next);
      return { "@context": [EPCIS_CONTEXT_URL], type: "Collection" as const, member: page.items };
    },
  );

  app.get(
    "/epcis/bizSteps",
    {
      schema: {
        summary: "Business steps: the CBV 2.0 ones (bare terms) and any other business step URIs captured",
        tags: ["epcis"],
        querystring: PageQuery,
        response: { 200: Collection, ...problems(400) },
      },
    },
    async (request, reply) => {
      const captured = readableValues(request, "biz_step").filter((uri) => bareTerm("bizStep", uri) === null);
      const page = pageOf(
        [...vocabularyTerms("bizStep"), ...captured],
        request.query.perPage ?? DEFAULT_PER_PAGE,
        request.query.nextPageToken,
        "bizSteps",
      );
      linkNext(reply, request, page.next);
      return { "@context": [EPCIS_CONTEXT_URL], type: "Collection" as const, member: page.items };
    },
  );
};
