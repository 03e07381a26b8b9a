import type { FastifyRequest } from "fastify";
import type { Auth, Principal } from "./auth";
import { HttpProblem } from "./problem";
import { isNodeAuthorization } from "../federation/node-auth";
import type { SharingStore } from "../store/sharing";
import type { RecordClass, RecordSubject, RecordVisibility } from "../sharing/grants";

/**
 * Who is reading, for the visibility table (README "Who may read what"):
 * - public: no sign-in; sees the organisation directory, product master data, a lot's identity and
 *   recall status, and whether a record is anchored (its proof, not its content);
 * - member: any signed-in active agent; also sees what every member can read from the chain anyway
 *   (lineage, custody, orders' on-chain fields, credentials, grants);
 * - and, per record, the record's owner and the organisations it granted (on-chain grants) see
 *   off-chain records and what is derived from them.
 */
export type Reader =
  | { kind: "public" }
  /** `node`: a member node's signed request (services/federation/node-auth.ts), not an agent's session. */
  | { kind: "member"; orgId: number; principal: Principal; node?: boolean };

const readers = new WeakMap<FastifyRequest, Reader>();

/**
 * The request's reader: public without credentials; a member with a valid session. Credentials
 * that are present but invalid are refused (401) rather than silently read as public, so a client
 * with an expired session learns it instead of seeing less.
 */
export function readerOf(request: FastifyRequest, auth: Auth): Reader {
  const cached = readers.get(request);
  if (cached) return cached;
  const header = request.headers.authorization;
  const reader: Reader =
    header === undefined
      ? { kind: "public" }
      : isNodeAuthorization(header)
        ? { ...memberOf(auth.authenticateNode(header, { method: request.method, path: request.url })), node: true as const }
        : memberOf(auth.authenticate(header));
  readers.set(request, reader);
  return reader;
}

function memberOf(principal: Principal): Extract<Reader, { kind: "member" }> {
  return { kind: "member", orgId: Number(principal.agent.orgId), principal };
}

/** The member reading, or 401 for the public: for routes of the members class. */
export function requireMember(request: FastifyRequest, auth: Auth): Extract<Reader, { kind: "member" }> {
  const reader = readerOf(request, auth);
  if (reader.kind === "public") {
    throw new HttpProblem(401, "unauthorized", "sign in (POST /api/v1/auth/login) to read this: it is shown to consortium members only");
  }
  return reader;
}

/** A fastify onRequest hook for routes of the members class. */
export function membersOnly(auth: Auth) {
  return async (request: FastifyRequest) => {
    requireMember(request, auth);
  };
}

/** Whether the reader may see `owner`'s record of `recordClass` about `subject` (owner and grantees). */
export function mayReadRecord(sharing: SharingStore, reader: Reader, owner: number, recordClass: RecordClass, subject: RecordSubject | null | (() => RecordSubject | null)): boolean {
  if (reader.kind === "public") return false;
  return sharing.mayRead(reader.orgId, owner, recordClass, subject);
}

/** 401 for the public, 403 for a member the owner has not granted: for one record of one owner. */
export function requireRecordAccess(
  sharing: SharingStore,
  reader: Reader,
  owner: number,
  recordClass: RecordClass,
  subject: RecordSubject | null | (() => RecordSubject | null),
  what: string,
): void {
  if (reader.kind === "public") {
    throw new HttpProblem(401, "unauthorized", `sign in to read ${what}: it is shown to its owner and the organisations it granted`);
  }
  if (!sharing.mayRead(reader.orgId, owner, recordClass, subject)) {
    throw new HttpProblem(
      403,
      "not_shared",
      `${what} belongs to organisation ${owner}, which has not granted organisation ${reader.orgId} read access to its ${recordClass} records for it`,
    );
  }
}

/** What a member reader may see, as a predicate for derived figures (the public sees no record). */
export function visibilityOf(sharing: SharingStore, reader: Reader): RecordVisibility {
  return reader.kind === "public" ? () => false : sharing.visibilityFor(reader.orgId);
}
