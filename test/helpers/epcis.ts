import crypto from "node:crypto";

/**
 * An EPCIS 2.0 ObjectEvent observed at `at` (ms since the epoch, UTC), with a fresh eventID, and
 * `fields` over those: the part every test's capture document shares.
 */
export function observedAt(at: number, fields: Record<string, unknown>): Record<string, unknown> {
  return {
    type: "ObjectEvent",
    eventID: `urn:uuid:${crypto.randomUUID()}`,
    eventTime: new Date(at).toISOString(),
    eventTimeZoneOffset: "+00:00",
    action: "OBSERVE",
    ...fields,
  };
}
