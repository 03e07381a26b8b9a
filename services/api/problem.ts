import { Type, type Static } from "@sinclair/typebox";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { Refusal } from "../common/refusal";

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
  return reply.code(body.status).type("application/problem+json").send(body);
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
