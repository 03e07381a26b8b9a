import { Type, type Static } from "@sinclair/typebox";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { Refusal } from "../common/refusal";
import { escapeHtml } from "./html";

/** RFC 9457 problem document, with Lotline's machine-readable `code`. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: "Machine-readable error code, e.g. invalid_request, not_found, unauthorized" }),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: "Problem", title: "Problem" },
);
export type ProblemBody = Static<typeof Problem>;

/** Throw from a route to answer with a problem document (any layer's `Refusal` answers the same way). */
export class HttpProblem extends Refusal {}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

export function problem(status: number, code: string, detail: string, errors?: ProblemBody["errors"]): ProblemBody {
  return {
    type: `https://lotline.dev/problems/${code}`,
    title: TITLES[status] ?? "Error",
    status,
    detail,
    code,
    ...(errors ? { errors } : {}),
  };
}

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  if (opensAPage(reply.request)) return reply.code(body.status).type("text/html; charset=utf-8").header("cache-control", "no-store").send(problemPage(body));
  return reply.code(body.status).type("application/problem+json").send(body);
}

/** Paths that are the API's (their errors are problem documents whoever asks), not pages. */
const API_PATHS = /^\/(api|epcis|rpc|docs|health|ready|metrics)(\/|\?|$)/;

/**
 * A browser opening a page of this node (the explorer, a scanned GS1 Digital Link) rather than a
 * script's fetch: it is told what went wrong in a page (a refused rate limit, an unknown path, a
 * Digital Link its route's schema refuses), not shown a JSON document. The explorer's own requests are fetches and
 * still get the problem document, which the page reads.
 */
function opensAPage(request: FastifyRequest): boolean {
  return request.headers["sec-fetch-mode"] === "navigate" && request.headers["sec-fetch-dest"] === "document" && !API_PATHS.test(request.url);
}

/**
 * The problem as a page: its title, detail and code, and the way back to search. Styled in place:
 * a page refused by the rate limit would have its stylesheet refused too.
 */
export function problemPage(body: ProblemBody): string {
  const title = escapeHtml(`${body.status} ${body.title}`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Lotline</title>
<style>body{margin:0;font-family:system-ui,sans-serif;color:#1c2430;background:#f5f7fa;line-height:1.45}header{padding:10px 16px;background:#1b3a5c}header a{color:#fff;font-weight:700;text-decoration:none}main{max-width:720px;margin:24px auto;padding:12px 16px;background:#fff;border:1px solid #d9dee5;border-radius:8px}h1{font-size:1.375rem}code{font-size:.8125rem}</style>
</head>
<body>
<header><a href="/">Lotline explorer</a></header>
<main>
<h1>${title}</h1>
<p data-testid="problem-detail">${escapeHtml(body.detail)}</p>
<p><code>${escapeHtml(body.code)}</code></p>
<p><a href="/">Back to search</a></p>
</main>
</body>
</html>
`;
}

/**
 * Maps every error to a problem document. Validation failures name each failing field; errors
 * we did not anticipate become 500 without internals (the log has them, never a secret).
 */
export function errorHandler(error: FastifyError | Refusal, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof Refusal) {
    return sendProblem(reply, { ...problem(error.status, error.code, error.detail, error.errors), instance: request.url });
  }
  const fe = error as FastifyError;
  if (fe.validation) {
    const errors = fe.validation.map((v) => ({
      path: `${fe.validationContext ?? "body"}${v.instancePath || ""}`,
      message: v.message ?? "is invalid",
    }));
    const detail = errors.map((e) => `${e.path} ${e.message}`).join("; ");
    return sendProblem(reply, { ...problem(400, "invalid_request", detail, errors), instance: request.url });
  }
  const status = fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500 ? fe.statusCode : 500;
  if (status === 429) return sendProblem(reply, problem(429, "rate_limited", fe.message));
  if (status === 413) return sendProblem(reply, problem(413, "payload_too_large", "the request body is too large"));
  if (status === 415) return sendProblem(reply, problem(415, "unsupported_media_type", fe.message));
  if (status < 500) {
    const code = /^FST_ERR_CTP_(INVALID|EMPTY)_JSON_BODY$/.test(fe.code ?? "") || /json/i.test(fe.message) ? "malformed_json" : "bad_request";
    return sendProblem(reply, { ...problem(status, code, fe.message), instance: request.url });
  }
  request.log.error({ err: error }, "unhandled error");
  return sendProblem(reply, { ...problem(500, "internal_error", "an internal error occurred; see the service log"), instance: request.url });
}
