/**
 * A refusal any layer may throw: a machine `code`, a human `detail`, and the class of refusal
 * numbered as HTTP numbers it (400 invalid input, 401 who are you, 403 not allowed, 404 unknown,
 * 409 conflict, 422 the chain would refuse, 503 not now). Domains throw it without knowing about
 * HTTP; the API (services/api/problem.ts) turns it into a problem document, the CLI into one line.
 */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors?: { path: string; message: string }[],
  ) {
    super(detail);
  }
}
