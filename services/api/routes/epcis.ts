import { requireServed } from "../../config/served";
import crypto from "node:crypto";
import { Type, type TSchema } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { errorHandler, HttpProblem, problem, type ProblemBody } from "../problem";
import { Refusal } from "../../common/refusal";
import type { Principal } from "../auth";
import type { RouteDeps } from "../app";
import { schemaValidator, validateEpcisDocument, type EventError } from "../../epcis/validate";
import { validateCapture } from "../../epcis/validate-off-thread";
import { eventListOf } from "../../epcis/document";
import { EPCIS_CONTEXT_URL } from "../../epcis/context";
import { EPC_FORMATS, type EpcFormat } from "../../epcis/identifiers";
import { captureJobFor } from "../../epcis/capture";
import {
  captureView,
  eventLinks,
  eventsById,
  getCapture,
  insertCapture,
  knownPrefixes,
  listCaptures,
  type CaptureError,
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
import { prepared } from "../../store/statements";
import { mappingRoutes } from "./epcis-mapping";
import { readerOf } from "../access";
import { createSharingStore } from "../../store/sharing";
import { createRecordReads } from "../record-reads";
import { epcisVisibility, type EpcisVisibility } from "../../epcis/access";
import type { EventRow } from "../../epcis/store";
import {
  checkDestination,
  cursorAt,
  endSubscriptions,
  insertSubscription,
  nextRun,
  subscriptionView,
  type Schedule,
  type SubscriptionRow,
} from "../../epcis/subscriptions";
import { liveStreamsFor, MAX_SOCKETS_PER_ORG, newSubscriptionId, type QueryStreamSpec } from "../../delivery/live";
import { addUpgradeHeaders, authenticateUpgrade, BEARER_PROTOCOL_PREFIX, LOTLINE_PROTOCOL, sessionCheck } from "../websocket";

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

/** Problem responses of a route; every /epcis route may answer 406 (version negotiation). */
/** proceed: the capture job's errors for the events the schema refused (one per event, naming its fields). */
function refusedEvents(errors: EventError[]): CaptureError[] {
  const byEvent = new Map<number, EventError[]>();
  for (const e of errors) byEvent.set(e.eventIndex!, [...(byEvent.get(e.eventIndex!) ?? []), e]);
  return [...byEvent.entries()]
    .sort(([a], [b]) => a - b)
    .map(([eventIndex, list]) => ({
      type: "epcisException:ValidationException",
      title: "Event not captured",
      detail: `event ${eventIndex} is not valid EPCIS 2.0: ${list.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join("; ")}`,
      eventIndex,
      ...(list[0].eventID ? { eventID: list[0].eventID } : {}),
      ...(list[0].field ? { field: list[0].field } : {}),
    }));
}

const problems = (...statuses: number[]) =>
  Object.fromEntries([...statuses, 406].map((s) => [s, EpcisProblem])) as Record<number, typeof EpcisProblem>;

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

/** The EPCIS and CBV versions this server speaks: 2.0.x. */
const SUPPORTED_VERSION = /^2\.0(\.\d{1,3})?$/;
const VERSION = Type.String({ pattern: "^[0-9]{1,3}(\\.[0-9]{1,3}){0,2}$", description: "a version, e.g. 2.0.0" });
const CBV_XML_FORMATS = ["Always_Web_URI", "Always_URN", "Never_Translates", "No_Preference"];

const EpcisHeaders = Type.Object({
  "gs1-epc-format": Type.Optional(
    Type.Unsafe<EpcFormat>({
      type: "string",
      enum: [...EPC_FORMATS],
      description:
        "How identifiers are written: Always_GS1_Digital_Link (the binding's default), Always_EPC_URN (where the company prefix is known), Never_Translates or No_Preference (as captured)",
    }),
  ),
  "gs1-epcis-version": Type.Optional(VERSION),
  "gs1-epcis-min": Type.Optional(VERSION),
  "gs1-epcis-max": Type.Optional(VERSION),
  "gs1-cbv-version": Type.Optional(VERSION),
  "gs1-cbv-min": Type.Optional(VERSION),
  "gs1-cbv-max": Type.Optional(VERSION),
  "gs1-extensions": Type.Optional(Type.String({ maxLength: 4096, description: "accepted: extension fields are served as captured" })),
  "gs1-cbv-xml-format": Type.Optional(
    Type.String({ enum: CBV_XML_FORMATS, description: "accepted and without effect: results are JSON-LD only, CBV values as captured" }),
  ),
});

/** -1, 0, 1 comparing dotted versions (missing parts are 0). */
function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/**
 * The binding's version negotiation: a request naming a version (GS1-EPCIS-Version, GS1-CBV-Version)
 * other than 2.0.x, or a range (…-Min / …-Max) without 2.0.0 in it, is answered 406.
 */
function negotiate(headers: Record<string, string | string[] | undefined>): string | null {
  for (const what of ["epcis", "cbv"] as const) {
    const name = what === "epcis" ? "GS1-EPCIS" : "GS1-CBV";
    const exact = headers[`gs1-${what}-version`];
    if (typeof exact === "string" && !SUPPORTED_VERSION.test(exact.trim()))
      return `${name}-Version ${exact} is not supported: this server speaks ${what.toUpperCase()} 2.0.0`;
    const min = headers[`gs1-${what}-min`];
    if (typeof min === "string" && /^[0-9.]+$/.test(min) && compareVersions(min, "2.0.999") > 0)
      return `${name}-Min ${min} is above the ${what.toUpperCase()} version this server speaks (2.0.0)`;
    const max = headers[`gs1-${what}-max`];
    if (typeof max === "string" && /^[0-9.]+$/.test(max) && compareVersions(max, "2.0.0") < 0)
      return `${name}-Max ${max} is below the ${what.toUpperCase()} version this server speaks (2.0.0)`;
  }
  return null;
}

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

export const epcisRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, auth, publicUrl, state, config }) => {
  const quotaBytes = config.epcisQuotaBytes ?? 0;
  /** The 413 for a document that would pass the organisation's storage quota (LOTLINE_EPCIS_QUOTA_BYTES), or null. */
  function quotaProblem(orgId: number, document: string) {
    if (quotaBytes <= 0) return null;
    const bytes = Buffer.byteLength(document);
    const used = (prepared(db, `SELECT bytes FROM epcis_org_usage WHERE org_id = ?`).get(orgId) as { bytes: number } | undefined)?.bytes ?? 0;
    if (used + bytes <= quotaBytes) return null;
    return epcisProblem(
      413,
      "quota_exceeded",
      `organisation ${orgId} stores ${used} bytes of captured EPCIS documents on this node; this document's ${bytes} bytes would pass its quota of ${quotaBytes} (LOTLINE_EPCIS_QUOTA_BYTES): nothing was captured`,
    );
  }
  // The EPCIS schema compiles at boot, not on the first capture, but on a turn of its own: it is
  // the largest single compile of a start (about 0.1 s). A capture before then compiles it itself.
  setImmediate(() => {
    try {
      schemaValidator();
    } catch (err) {
      app.log.error({ err: (err as Error).message }, "the EPCIS schema does not compile: every capture will fail");
    }
  });
  const captureJob = captureJobFor(db, { log: app.log });
  const principals = new WeakMap<FastifyRequest, Principal>();
  const sharing = createSharingStore(db);
  const records = createRecordReads(db, state);

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
    return records.epcisVisibilityFor(reader);
  }

  /** The stored records under an eventID the reader may read (services/api/record-reads.ts). */
  const readableById = (request: FastifyRequest, eventID: string): EventRow[] => records.readableEvents(visibilityOf(request), eventID);

  /** Distinct values of an event column among the events the reader may read (none for the public). */
  function readableValues(
    request: FastifyRequest,
    column: "event_type" | "biz_step" | "disposition" | "read_point" | "biz_location",
  ): string[] {
    if (readerOf(request, auth).kind === "public") return [];
    const visibility = visibilityOf(request);
    const own = visibility.ownRecordsOnly ? 1 : 0;
    const out = new Set(
      (
        db
          .prepare(
            `SELECT DISTINCT ${column} AS v FROM epcis_events WHERE ${column} IS NOT NULL AND org_id IN (SELECT value FROM json_each(?)) AND (? = 0 OR served_by IS NULL) ORDER BY 1`,
          )
          .all(JSON.stringify(visibility.wholeOrgs), own) as { v: string }[]
      ).map((r) => r.v),
    );
    if (visibility.scopedOrgs.size > 0) {
      const rows = db
        .prepare(
          `SELECT seq, org_id, served_by, ${column} AS v FROM epcis_events WHERE ${column} IS NOT NULL AND org_id IN (SELECT value FROM json_each(?))`,
        )
        .all(JSON.stringify([...visibility.scopedOrgs])) as { seq: number; org_id: number; served_by: string | null; v: string }[];
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
  app.addHook("onRequest", async (request) => {
    const refused = negotiate(request.headers);
    if (refused) throw new HttpProblem(406, "version_not_supported", refused);
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
    if (error instanceof Refusal)
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

  /** The GS1-EPC-Format of a query (the binding's default: Always_GS1_Digital_Link), echoed in the response. */
  function epcFormatOf(request: FastifyRequest, reply: FastifyReply): EpcFormat {
    const format = (request.headers["gs1-epc-format"] as EpcFormat | undefined) ?? "Always_GS1_Digital_Link";
    reply.header("GS1-EPC-Format", format);
    return format;
  }

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
        .header("GS1-EPC-Format", "Always_GS1_Digital_Link")
        .header("GS1-EPCIS-Min", "2.0.0")
        .header("GS1-EPCIS-Max", "2.0.0")
        .header("GS1-CBV-Min", "2.0.0")
        .header("GS1-CBV-Max", "2.0.0")
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
          "The documents an organisation stores on a node are limited to its quota (LOTLINE_EPCIS_QUOTA_BYTES; 413 quota_exceeded beyond). " +
          "A document failing the EPCIS 2.0 JSON Schema or the CBV vocabularies is rejected whole (rollback): 400 naming each failing event and field. " +
          "JSON-LD contexts resolve from Lotline's copy of the GS1 context; other context URLs are refused (never fetched). " +
          "GS1-Capture-Error-Behaviour: rollback (default: an event that cannot be stored rejects all; nothing of the document is visible, anchored or mapped before all of it is stored) or proceed (valid events are stored; each invalid one, schema errors included, is reported in the capture job instead of a 400). OPTIONS /epcis/capture announces the limits in GS1-EPCIS-Capture-Limit and GS1-EPCIS-Capture-File-Size-Limit.",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        headers: Type.Object({ "gs1-capture-error-behaviour": Type.Optional(Type.String()) }),
        body: Type.Unknown({ description: "EPCISDocument / EPCISQueryDocument (EPCIS 2.0 JSON-LD)" }),
        response: { 202: Type.Object({ captureID: Type.String() }), ...problems(400, 401, 403, 413, 415) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      // The node keeps records only for the organisations it serves (LOTLINE_SERVE_ORGS).
      requireServed(state.served, Number(principal.agent.orgId));
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
      // A large document is validated in a worker thread: the node keeps serving meanwhile.
      const result = await validateCapture(doc, Number(request.headers["content-length"]) || 0);
      const behaviour = (request.headers["gs1-capture-error-behaviour"] as CaptureErrorBehaviour | undefined) ?? "rollback";
      // proceed: a document whose invalid parts are all inside events is captured without them; each
      // invalid event is reported in the capture job. rollback: one invalid event refuses the document.
      const proceedWithout = behaviour === "proceed" && !result.valid && result.errors.every((e) => e.eventIndex !== null);
      if (!result.valid && !proceedWithout) {
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
      // The organisation's storage quota, checked with nothing awaited before the insert: two
      // captures cannot both pass on the same remaining space.
      const document = rawBodies.get(request) ?? JSON.stringify(doc);
      const orgId = Number(principal.agent.orgId);
      const overQuota = quotaProblem(orgId, document);
      if (overQuota) return send(reply, request, overQuota);
      const captureId = crypto.randomUUID();
      insertCapture(db, {
        captureId,
        orgId,
        agent: principal.address,
        contentType: request.headers["content-type"]?.split(";")[0].trim() ?? "application/json",
        document,
        errorBehaviour: behaviour,
        total: events.length,
        invalid: proceedWithout ? refusedEvents(result.errors) : [],
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
    queryName?: string,
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
    const format = epcFormatOf(request, reply);
    return queryDocument(page.rows, format, knownPrefixes(db), queryName);
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
        headers: EpcisHeaders,
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
        headers: EpcisHeaders,
        response: { 200: QueryDocument, ...problems(400, 404) },
      },
    },
    async (request, reply) => {
      const rows = readableById(request, request.params.eventID);
      return queryDocument(rows, epcFormatOf(request, reply), knownPrefixes(db));
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
    async (request) => records.eventProofOf(request.params.eventID, request.query.recordId),
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
        headers: EpcisHeaders,
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

  const collection = (items: string[]) => ({ "@context": [EPCIS_CONTEXT_URL], type: "Collection" as const, member: items });
  const listed = (request: FastifyRequest, reply: FastifyReply, all: string[], kind: string) => {
    const query = request.query as { perPage?: number; nextPageToken?: string };
    const page = pageOf(all, query.perPage ?? DEFAULT_PER_PAGE, query.nextPageToken, kind);
    linkNext(reply, request, page.next);
    return collection(page.items);
  };

  app.get(
    "/epcis",
    {
      schema: {
        summary: "The top-level resources of this EPCIS repository (the binding's GET /)",
        tags: ["epcis"],
        response: { 200: Collection },
      },
    },
    async () => collection(["queries", "capture", "events", "eventTypes", "epcs", "bizSteps", "bizLocations", "readPoints", "dispositions"]),
  );

  /** Distinct identifiers (canonical: GS1 Digital Links) naming objects in the events the reader may read. */
  function readableEpcs(request: FastifyRequest): string[] {
    const visibility = visibilityOf(request);
    const roles = JSON.stringify(["epc", "child", "parent", "input", "output"]);
    const out = new Set(
      (
        db
          .prepare(
            `SELECT DISTINCT i.id AS v FROM epcis_event_identifiers i JOIN epcis_events e ON e.seq = i.seq
             WHERE i.role IN (SELECT value FROM json_each(?)) AND e.org_id IN (SELECT value FROM json_each(?)) AND (? = 0 OR e.served_by IS NULL)`,
          )
          .all(roles, JSON.stringify(visibility.wholeOrgs), visibility.ownRecordsOnly ? 1 : 0) as { v: string }[]
      ).map((r) => r.v),
    );
    if (visibility.scopedOrgs.size > 0) {
      const rows = db
        .prepare(
          `SELECT e.seq, e.org_id, e.served_by, i.id AS v FROM epcis_event_identifiers i JOIN epcis_events e ON e.seq = i.seq
           WHERE i.role IN (SELECT value FROM json_each(?)) AND e.org_id IN (SELECT value FROM json_each(?))`,
        )
        .all(roles, JSON.stringify([...visibility.scopedOrgs])) as { seq: number; org_id: number; served_by: string | null; v: string }[];
      for (const row of rows) if (!out.has(row.v) && visibility.visible(row)) out.add(row.v);
    }
    return [...out].sort();
  }

  const members = { onRequest: async (request: FastifyRequest) => void visibilityOf(request) };

  app.get(
    "/epcis/epcs",
    {
      ...members,
      schema: {
        summary: "EPCs (as canonical GS1 Digital Links) named in the events you may read, paged",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        querystring: PageQuery,
        response: { 200: Collection, ...problems(400, 401) },
      },
    },
    async (request, reply) => listed(request, reply, readableEpcs(request), "epcs"),
  );

  for (const [resource, column, what] of [
    ["bizLocations", "biz_location", "Business locations"],
    ["readPoints", "read_point", "Read points"],
  ] as const) {
    app.get(
      `/epcis/${resource}`,
      {
        ...members,
        schema: {
          summary: `${what} (canonical identifiers) of the events you may read, paged`,
          tags: ["epcis"],
          security: [{ bearer: [] }],
          querystring: PageQuery,
          response: { 200: Collection, ...problems(400, 401) },
        },
      },
      async (request, reply) => listed(request, reply, readableValues(request, column), resource),
    );
  }

  app.get(
    "/epcis/dispositions",
    {
      schema: {
        summary: "Dispositions: the CBV 2.0 ones (bare terms) and any other disposition URIs in the events you may read",
        tags: ["epcis"],
        querystring: PageQuery,
        response: { 200: Collection, ...problems(400, 401) },
      },
    },
    async (request, reply) =>
      listed(
        request,
        reply,
        [...vocabularyTerms("disposition"), ...readableValues(request, "disposition").filter((uri) => bareTerm("disposition", uri) === null)],
        "dispositions",
      ),
  );

  // The events of one value of a resource (the binding's /{resource}/{value}/events), and the value's
  // sub-resources (/{resource}/{value}: only "events").
  for (const [resource, param, parameter] of [
    ["eventTypes", "eventType", "eventType"],
    ["epcs", "epc", "MATCH_anyEPC"],
    ["bizSteps", "bizStep", "EQ_bizStep"],
    ["bizLocations", "bizLocation", "EQ_bizLocation"],
    ["readPoints", "readPoint", "EQ_readPoint"],
    ["dispositions", "disposition", "EQ_disposition"],
  ] as const) {
    const params = Type.Object({ [param]: Type.String({ minLength: 1, maxLength: 1024, description: "percent-encoded" }) });
    app.get(
      `/epcis/${resource}/:${param}`,
      {
        schema: {
          summary: `The sub-resources of one of /epcis/${resource}: its events`,
          tags: ["epcis"],
          params,
          response: { 200: Collection },
        },
      },
      async () => collection(["events"]),
    );
    if (resource === "epcs") continue; // GET /epcis/epcs/{epc}/events is above
    app.get(
      `/epcis/${resource}/:${param}/events`,
      {
        schema: {
          summary: `Events with this ${param} (as ${parameter}); the other query parameters of /epcis/events apply`,
          tags: ["epcis"],
          security: [{ bearer: [] }],
          params,
          querystring: EventQueryString,
          headers: EpcisHeaders,
          response: { 200: QueryDocument, ...problems(400, 401, 413) },
        },
      },
      async (request, reply) => {
        const query = request.query as Record<string, string | string[]>;
        if (query[parameter] !== undefined)
          throw new QueryParameterError(parameter, `${parameter} is the path's ${param} here; query /epcis/events for several`);
        return sendEvents(request, reply, query, { [parameter]: (request.params as Record<string, string>)[param] });
      },
    );
  }

  // ---------------------------------------------------------------- named queries

  const QueryName = Type.String({ pattern: "^[A-Za-z0-9_.~-]{1,100}$", description: "letters, digits and _ . ~ -" });
  const QueryDefinition = Type.Record(
    Type.String({ maxLength: 200 }),
    Type.Union([Type.String({ maxLength: 4096 }), Type.Number(), Type.Boolean(), Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 100 })]),
    { description: "the binding's query object: parameter name → value or list of values", maxProperties: 100 },
  );
  const NamedQuery = Type.Object({ name: QueryName, query: QueryDefinition });
  const NameParams = Type.Object({ queryName: QueryName });

  /** A stored query definition as query-string parameters. */
  const paramsOf = (query: Record<string, unknown>): Record<string, string | string[]> =>
    Object.fromEntries(Object.entries(query).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]));

  function namedQuery(request: FastifyRequest, name: string): { name: string; query: Record<string, unknown> } {
    const reader = visibilityOf(request);
    const row = prepared(db, `SELECT name, query FROM epcis_named_queries WHERE org_id = ? AND name = ?`).get(reader.readerOrg, name) as
      | { name: string; query: string }
      | undefined;
    if (!row) throw new HttpProblem(404, "query_not_found", `no named query ${name} of your organisation`);
    return { name: row.name, query: JSON.parse(row.query) as Record<string, unknown> };
  }

  app.post(
    "/epcis/queries",
    {
      onRequest: authenticate,
      schema: {
        summary: "Create a named query (its name and an EPCIS query object); 201 with its Location",
        description: "Named queries belong to your organisation. The query is checked as GET /epcis/events would check it (QueryParameterException otherwise).",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        body: NamedQuery,
        response: { 201: NamedQuery, ...problems(400, 401, 403, 409, 415) },
      },
    },
    async (request, reply) => {
      const { name, query } = request.body;
      for (const control of ["perPage", "nextPageToken"])
        if (control in query) throw new QueryParameterError(control, `${control} is given when running the query, not in its definition`);
      parseEventQuery(paramsOf(query));
      const principal = principalOf(request);
      const inserted = prepared(
        db,
        `INSERT OR IGNORE INTO epcis_named_queries (org_id, name, query, created_by, created_at) VALUES (?, ?, ?, ?, ?)`,
      ).run(Number(principal.agent.orgId), name, JSON.stringify(query), principal.address, new Date().toISOString());
      if (inserted.changes === 0)
        throw new HttpProblem(409, "query_exists", `your organisation has a named query ${name} already; delete it first or choose another name`);
      return reply.code(201).header("Location", `/epcis/queries/${name}`).send({ name, query });
    },
  );

  app.get(
    "/epcis/queries",
    {
      onRequest: authenticate,
      schema: {
        summary: "Your organisation's named queries, by name, paged",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        querystring: PageQuery,
        response: { 200: Type.Array(NamedQuery), ...problems(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const rows = prepared(db, `SELECT name, query FROM epcis_named_queries WHERE org_id = ? ORDER BY name`).all(
        Number(principalOf(request).agent.orgId),
      ) as { name: string; query: string }[];
      const page = pageOf(rows, request.query.perPage ?? DEFAULT_PER_PAGE, request.query.nextPageToken, "queries");
      linkNext(reply, request, page.next);
      return page.items.map((r) => ({ name: r.name, query: JSON.parse(r.query) as Record<string, string> }));
    },
  );

  app.get(
    "/epcis/queries/:queryName",
    {
      onRequest: authenticate,
      schema: {
        summary: "A named query's definition",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        params: NameParams,
        response: { 200: NamedQuery, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => namedQuery(request, request.params.queryName) as { name: string; query: Record<string, string> },
  );

  app.delete(
    "/epcis/queries/:queryName",
    {
      onRequest: authenticate,
      schema: {
        // 204 without a body, as the binding says: kept out of the OpenAPI document, whose operations all
        // answer a body (like OPTIONS); docs/epcis.md lists it.
        hide: true,
        summary: "Delete a named query (and end its subscriptions)",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        params: NameParams,
        response: { 204: Type.Null(), ...problems(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const orgId = Number(principalOf(request).agent.orgId);
      const gone = db.transaction(() => {
        const subscriptions = (
          prepared(db, `SELECT subscription_id FROM epcis_subscriptions WHERE org_id = ? AND query_name = ?`).all(orgId, request.params.queryName) as {
            subscription_id: string;
          }[]
        ).map((r) => r.subscription_id);
        endSubscriptions(db, subscriptions);
        return prepared(db, `DELETE FROM epcis_named_queries WHERE org_id = ? AND name = ?`).run(orgId, request.params.queryName);
      })();
      liveStreamsFor(db).endQuery(orgId, request.params.queryName);
      if (gone.changes === 0) throw new HttpProblem(404, "query_not_found", `no named query ${request.params.queryName} of your organisation`);
      return reply.code(204).send(null);
    },
  );

  // ---------------------------------------------------------------- a named query's events, and its WebSocket subscriptions

  /** The binding's subscription parameters of GET /queries/{queryName}/events (WebSocket only). */
  const SUBSCRIPTION_PARAMETERS = ["stream", "reportIfEmpty", "initialRecordTime", "second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek"] as const;
  const SCHEDULE_FIELDS = ["second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek"] as const;
  const ScheduleParameter = Type.String({ maxLength: 200, description: "WebSocket only: numbers and [a-b] ranges, comma-separated (UTC)" });
  const NamedQueryEventsQuery = Type.Object(
    {
      ...PageQuery.properties,
      stream: Type.Optional(Type.Boolean({ description: "WebSocket only: report each newly stored event the query selects" })),
      reportIfEmpty: Type.Optional(Type.Boolean({ description: "WebSocket only: send scheduled reports without events too" })),
      initialRecordTime: Type.Optional(Type.String({ format: "date-time", description: "WebSocket only: the first report starts here (default: now)" })),
      second: Type.Optional(ScheduleParameter),
      minute: Type.Optional(ScheduleParameter),
      hour: Type.Optional(ScheduleParameter),
      dayOfMonth: Type.Optional(ScheduleParameter),
      month: Type.Optional(ScheduleParameter),
      dayOfWeek: Type.Optional(ScheduleParameter),
    },
    { additionalProperties: false },
  );
  type NamedQueryEventsParams = { perPage?: number; nextPageToken?: string; stream?: boolean; reportIfEmpty?: boolean; initialRecordTime?: string } & Partial<
    Record<(typeof SCHEDULE_FIELDS)[number], string>
  >;
  /** The subscription an upgrade asked for, checked before the upgrade (a refusal is an HTTP problem, no socket). */
  const pendingSubscriptions = new WeakMap<FastifyRequest, { spec: QueryStreamSpec; authorised: () => boolean }>();

  app.route({
    method: "GET",
    url: "/epcis/queries/:queryName/events",
    schema: {
      summary: "Run a named query: the events it selects that you may read, as an EPCISQueryDocument named after it (perPage / nextPageToken); with Upgrade: websocket, subscribe to it",
      description:
        "As a WebSocket (the binding's subscription form): GET with Upgrade: websocket and either stream=true (each newly stored event the query selects, as an EPCISQueryDocument, as soon as it is stored) or a schedule (second, minute, hour, dayOfMonth, month, dayOfWeek; with reportIfEmpty), and initialRecordTime. " +
        `Credentials: Authorization: Bearer <token>, or (browsers) the subprotocols "${LOTLINE_PROTOCOL}" and "${BEARER_PROTOCOL_PREFIX}<token>". ` +
        "Reports hold only the events your organisation may read at the time of the report. Refusals (401, 403, 404, 400) are answered before any upgrade. The 101 answer carries GS1-Query-Min-Record-Time. See docs/epcis.md.",
      tags: ["epcis"],
      security: [{ bearer: [] }],
      params: NameParams,
      querystring: NamedQueryEventsQuery,
      headers: EpcisHeaders,
      response: { 200: QueryDocument, ...problems(400, 401, 403, 404, 413, 429) },
    },
    preHandler: async (request) => {
      if (!request.ws) return;
      const { principal, authorization } = authenticateUpgrade(request, auth);
      const orgId = Number(principal.agent.orgId);
      const { queryName } = request.params as { queryName: string };
      const q = request.query as NamedQueryEventsParams;
      const named = prepared(db, `SELECT name FROM epcis_named_queries WHERE org_id = ? AND name = ?`).get(orgId, queryName);
      if (!named) throw new HttpProblem(404, "query_not_found", `no named query ${queryName} of your organisation`);
      // (perPage has a default: whether it was given is read from the URL.)
      const given = new URL(request.url, "http://local").searchParams;
      for (const name of ["perPage", "nextPageToken"] as const) {
        if (given.has(name)) {
          throw new QueryParameterError(name, `${name} pages a query's results; a subscription reports every new event, leave it out`);
        }
      }
      const schedule = Object.fromEntries(SCHEDULE_FIELDS.filter((f) => q[f] !== undefined).map((f) => [f, q[f]!])) as Schedule;
      const scheduled = Object.keys(schedule).length > 0;
      if ((q.stream === true) === scheduled) {
        throw new HttpProblem(400, "invalid_subscription", "give either stream=true or a schedule (second, minute, hour, dayOfMonth, month, dayOfWeek): not both, not neither");
      }
      if (scheduled) {
        try {
          if (!nextRun(schedule, new Date())) throw new Error("the schedule matches no time within a year");
        } catch (err) {
          throw new HttpProblem(400, "invalid_schedule", (err as Error).message);
        }
      }
      const live = liveStreamsFor(db);
      if (live.countFor(orgId) >= MAX_SOCKETS_PER_ORG) {
        throw new HttpProblem(429, "too_many_sockets", `your organisation has ${MAX_SOCKETS_PER_ORG} open sockets on this node already; close one first`);
      }
      const minRecordTime = q.initialRecordTime ? new Date(q.initialRecordTime).toISOString() : new Date().toISOString();
      const format = (request.headers["gs1-epc-format"] as EpcFormat | undefined) ?? "Always_GS1_Digital_Link";
      pendingSubscriptions.set(request, {
        spec: {
          orgId,
          queryName,
          subscriptionId: newSubscriptionId(),
          afterSeq: cursorAt(db, minRecordTime),
          stream: q.stream === true,
          schedule: scheduled ? schedule : null,
          reportIfEmpty: q.reportIfEmpty === true,
          format,
        },
        authorised: sessionCheck(auth, authorization, principal.agent.orgId),
      });
      addUpgradeHeaders(request, {
        "GS1-EPCIS-Version": "2.0.0",
        "GS1-CBV-Version": "2.0.0",
        "GS1-EPC-Format": format,
        "GS1-Query-Min-Record-Time": minRecordTime,
      });
    },
    handler: async (request, reply) => {
      const q = request.query as NamedQueryEventsParams;
      const subscribing = SUBSCRIPTION_PARAMETERS.find((p) => q[p] !== undefined);
      if (subscribing) {
        throw new QueryParameterError(
          subscribing,
          `${subscribing} subscribes to the query over a WebSocket (GET with Upgrade: websocket); for a webhook, POST /epcis/queries/{queryName}/subscriptions`,
        );
      }
      const { name, query } = namedQuery(request, (request.params as { queryName: string }).queryName);
      const params = { ...paramsOf(query), ...(request.query as Record<string, string>) };
      return sendEvents(request, reply, params, {}, name);
    },
    wsHandler: (socket, request) => {
      const pending = pendingSubscriptions.get(request)!;
      liveStreamsFor(db).addQueryStream(socket, pending.spec, pending.authorised);
      // Events stored between the checks and now: reported at once rather than at the next one.
      if (pending.spec.stream) liveStreamsFor(db).eventsStored();
    },
  });

  app.post(
    "/epcis/events",
    {
      onRequest: authenticate,
      schema: {
        summary: "Capture one event synchronously (the binding's POST /events); 201 with the event and its Location",
        description:
          "One EPCIS 2.0 event carrying its own @context, checked as POST /epcis/capture checks a document. Stored, queued for anchoring and for mapping before the answer. An event already stored byte for byte answers 201 with the stored one.",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        body: Type.Unknown({ description: "an EPCIS 2.0 event (JSON-LD, with its @context)" }),
        response: { 201: Type.Unknown({ description: "the stored event" }), ...problems(400, 401, 403, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      // The node keeps records only for the organisations it serves (LOTLINE_SERVE_ORGS).
      requireServed(state.served, Number(principal.agent.orgId));
      const doc = request.body;
      if (eventListOf(doc).kind !== "event") {
        throw new HttpProblem(400, "not_an_event", "POST /epcis/events takes one event; send documents to POST /epcis/capture");
      }
      const result = validateEpcisDocument(doc);
      if (!result.valid) {
        const detail = `the event is not valid EPCIS 2.0, nothing was captured: ${result.errors
          .slice(0, 5)
          .map((e) => e.message)
          .join("; ")}`;
        return send(reply, request, epcisProblem(400, "invalid_epcis_event", detail, result.errors.slice(0, MAX_REPORTED_ERRORS)));
      }
      // The organisation's storage quota, checked with nothing awaited before the insert: two
      // captures cannot both pass on the same remaining space.
      const document = rawBodies.get(request) ?? JSON.stringify(doc);
      const orgId = Number(principal.agent.orgId);
      const overQuota = quotaProblem(orgId, document);
      if (overQuota) return send(reply, request, overQuota);
      const captureId = crypto.randomUUID();
      insertCapture(db, {
        captureId,
        orgId,
        agent: principal.address,
        contentType: request.headers["content-type"]?.split(";")[0].trim() ?? "application/json",
        document,
        errorBehaviour: "rollback",
        total: 1,
      });
      await captureJob.runOnce();
      const job = captureView(getCapture(db, captureId)!);
      if (job.running) throw new HttpProblem(503, "capture_pending", `the event is being captured (capture ${captureId}); see GET /epcis/capture/${captureId}`);
      if (!job.success) {
        return send(reply, request, epcisProblem(400, "invalid_epcis_event", `the event was not captured: ${job.errors.map((e) => e.detail).join("; ")}`));
      }
      const eventID =
        job.duplicates[0]?.eventID ??
        (prepared(db, `SELECT event_id FROM epcis_events WHERE capture_id = ? ORDER BY seq LIMIT 1`).get(captureId) as { event_id: string }).event_id;
      // A duplicate of an event another organisation stored is answered as sent: its record is not shown.
      const visibility = epcisVisibility(db, sharing, Number(principal.agent.orgId));
      const row = eventsById(db, eventID).find((r) => visibility.visible(r));
      return reply
        .code(201)
        .header("Location", `/epcis/events/${encodeURIComponent(eventID)}`)
        .send(row ? (JSON.parse(row.event) as unknown) : { ...(doc as Record<string, unknown>), eventID });
    },
  );

  // Discovery by OPTIONS on every other resource of the binding (headers only, 204; /epcis/capture has its own).
  const discovery = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split("?")[0];
    const writable = /^\/epcis\/(events|queries)\/?$/.test(path);
    const deletable = /^\/epcis\/queries\/[^/]+\/?$/.test(path);
    return reply
      .code(204)
      .header("Allow", ["OPTIONS", "GET", ...(writable ? ["POST"] : []), ...(deletable ? ["DELETE"] : [])].join(", "))
      .header("GS1-EPCIS-Min", "2.0.0")
      .header("GS1-EPCIS-Max", "2.0.0")
      .header("GS1-CBV-Min", "2.0.0")
      .header("GS1-CBV-Max", "2.0.0")
      .header("GS1-EPC-Format", "Always_GS1_Digital_Link")
      .send(null);
  };
  const discoverySchema = {
    hide: true,
    summary: "Discover a resource's methods and the EPCIS / CBV versions (headers only)",
    tags: ["epcis"],
    response: { 204: Type.Null({ description: "Allow, GS1-EPCIS-Min/-Max, GS1-CBV-Min/-Max, GS1-EPC-Format" }) },
  };
  app.options("/epcis", { schema: discoverySchema }, discovery);
  app.options("/epcis/*", { schema: discoverySchema }, discovery);

  app.delete(
    "/epcis/nextPageToken/:token",
    {
      schema: {
        hide: true, // 204 without a body (see DELETE /epcis/queries/{queryName})
        summary: "Release a page token (the binding's DELETE /nextPageToken/{token}): 204; Lotline's tokens hold no server state",
        tags: ["epcis"],
        params: Type.Object({ token: Type.String({ minLength: 1, maxLength: 400 }) }),
        response: { 204: Type.Null(), ...problems(400) },
      },
    },
    async (_request, reply) => reply.code(204).send(null),
  );

  // ---------------------------------------------------------------- subscriptions (webhooks)

  // Reports are queued and delivered by the node's delivery job (services/delivery, one outbox for every webhook).

  const ScheduleField = Type.String({ maxLength: 200, description: "numbers and [a-b] ranges, comma-separated" });
  const SubscriptionRequest = Type.Object(
    {
      dest: Type.String({ minLength: 1, maxLength: 2048, description: "the webhook URL (http or https; public addresses only)" }),
      signatureToken: Type.Optional(Type.String({ minLength: 16, maxLength: 256, description: "secret for GS1-Signature: sha256=<hex HMAC-SHA256 of the body>" })),
      reportIfEmpty: Type.Optional(Type.Boolean()),
      stream: Type.Optional(Type.Boolean()),
      schedule: Type.Optional(
        Type.Object(
          {
            second: Type.Optional(ScheduleField),
            minute: Type.Optional(ScheduleField),
            hour: Type.Optional(ScheduleField),
            dayOfMonth: Type.Optional(ScheduleField),
            month: Type.Optional(ScheduleField),
            dayOfWeek: Type.Optional(ScheduleField),
          },
          { additionalProperties: false },
        ),
      ),
      initialRecordTime: Type.Optional(Type.String({ format: "date-time" })),
    },
    { additionalProperties: false },
  );
  const SubscriptionView = Type.Object({
    subscriptionID: Type.String(),
    queryName: Type.String(),
    dest: Type.String(),
    createdAt: Type.String(),
    reportIfEmpty: Type.Boolean(),
    signed: Type.Boolean({ description: "deliveries carry GS1-Signature (the token itself is never shown)" }),
    stream: Type.Optional(Type.Boolean()),
    schedule: Type.Optional(Type.Record(Type.String(), Type.String())),
    nextReportAt: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    deliveries: Type.Array(
      Type.Object({
        deliveryId: Type.Integer(),
        status: Type.Union([Type.Literal("pending"), Type.Literal("delivered"), Type.Literal("failed"), Type.Literal("cancelled")]),
        attempts: Type.Integer(),
        events: Type.Integer(),
        lastStatus: Type.Union([Type.Integer(), Type.Null()]),
        lastError: Type.Union([Type.String(), Type.Null()]),
        createdAt: Type.String(),
        deliveredAt: Type.Union([Type.String(), Type.Null()]),
        nextAttemptAt: Type.Optional(Type.String()),
      }),
      { description: "the latest 20 reports, newest first" },
    ),
  });
  const SubscriptionParams = Type.Object({ queryName: QueryName, subscriptionID: Type.String({ format: "uuid" }) });

  function subscriptionOf(request: FastifyRequest, queryName: string, subscriptionID: string): SubscriptionRow {
    const orgId = Number(principalOf(request).agent.orgId);
    const row = prepared(db, `SELECT * FROM epcis_subscriptions WHERE subscription_id = ? AND org_id = ? AND query_name = ?`).get(
      subscriptionID,
      orgId,
      queryName,
    ) as SubscriptionRow | undefined;
    if (!row) throw new HttpProblem(404, "subscription_not_found", `no subscription ${subscriptionID} to your organisation's query ${queryName}`);
    return row;
  }

  app.post(
    "/epcis/queries/:queryName/subscriptions",
    {
      onRequest: authenticate,
      schema: {
        summary: "Subscribe a webhook to a named query: stream (each new batch) or schedule; 201 with the subscription",
        description:
          "Deliveries POST an EPCISQueryDocument (the events stored since the previous report that the query selects and your organisation may read) to dest, signed with GS1-Signature when a signatureToken is given, retried with backoff and logged (GET the subscription). dest must resolve to a public address (LOTLINE_WEBHOOK_ALLOW_PRIVATE=1 lifts this on the embedded demo).",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        params: NameParams,
        body: SubscriptionRequest,
        response: { 201: SubscriptionView, ...problems(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { queryName } = request.params;
      namedQuery(request, queryName);
      const body = request.body;
      if ((body.stream === true) === (body.schedule !== undefined)) {
        throw new HttpProblem(400, "invalid_subscription", "give either stream: true or a schedule (not both, not neither)");
      }
      if (body.schedule) {
        try {
          if (!nextRun(body.schedule, new Date())) throw new Error("the schedule matches no time within a year");
        } catch (err) {
          throw new HttpProblem(400, "invalid_schedule", (err as Error).message);
        }
      }
      try {
        await checkDestination(body.dest);
      } catch (err) {
        throw new HttpProblem(400, "invalid_destination", (err as Error).message);
      }
      const principal = principalOf(request);
      const row = insertSubscription(db, {
        orgId: Number(principal.agent.orgId),
        queryName,
        dest: body.dest,
        signatureToken: body.signatureToken ?? null,
        reportIfEmpty: body.reportIfEmpty ?? false,
        stream: body.stream === true,
        schedule: body.schedule ?? null,
        initialRecordTime: body.initialRecordTime ? new Date(body.initialRecordTime).toISOString() : null,
        createdBy: principal.address,
      });
      return reply
        .code(201)
        .header("Location", `/epcis/queries/${queryName}/subscriptions/${row.subscription_id}`)
        .send(subscriptionView(db, row));
    },
  );

  app.get(
    "/epcis/queries/:queryName/subscriptions",
    {
      onRequest: authenticate,
      schema: {
        summary: "The subscriptions to a named query of your organisation, oldest first, paged",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        params: NameParams,
        querystring: PageQuery,
        response: { 200: Type.Array(SubscriptionView), ...problems(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      namedQuery(request, request.params.queryName);
      const rows = prepared(db, `SELECT * FROM epcis_subscriptions WHERE org_id = ? AND query_name = ? ORDER BY created_at, subscription_id`).all(
        Number(principalOf(request).agent.orgId),
        request.params.queryName,
      ) as SubscriptionRow[];
      const page = pageOf(rows, request.query.perPage ?? DEFAULT_PER_PAGE, request.query.nextPageToken, "subscriptions");
      linkNext(reply, request, page.next);
      return page.items.map((row) => subscriptionView(db, row));
    },
  );

  app.get(
    "/epcis/queries/:queryName/subscriptions/:subscriptionID",
    {
      onRequest: authenticate,
      schema: {
        summary: "A subscription and the log of its latest deliveries",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        params: SubscriptionParams,
        response: { 200: SubscriptionView, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => subscriptionView(db, subscriptionOf(request, request.params.queryName, request.params.subscriptionID)),
  );

  app.delete(
    "/epcis/queries/:queryName/subscriptions/:subscriptionID",
    {
      onRequest: authenticate,
      schema: {
        hide: true, // 204 without a body (see DELETE /epcis/queries/{queryName})
        summary: "End a subscription (its pending deliveries are dropped; the log of past ones stays)",
        tags: ["epcis"],
        security: [{ bearer: [] }],
        params: SubscriptionParams,
        response: { 204: Type.Null(), ...problems(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const row = subscriptionOf(request, request.params.queryName, request.params.subscriptionID);
      endSubscriptions(db, [row.subscription_id]);
      return reply.code(204).send(null);
    },
  );
};
