import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { captureJobFor } from "../../../services/epcis/capture";
import { bearer, get, post, tokenFor, type ApiResponse } from "../api/helpers";

/** Helpers shared by the EPCIS capture and query tests (which use the API tests' shared node). */
export const OPENEPCIS = path.resolve(__dirname, "../../../../shared/data/epcis/openepcis");

export function openEpcisFiles(dir: string): string[] {
  return fs
    .readdirSync(path.join(OPENEPCIS, dir))
    .filter((f) => f.endsWith(".json"))
    .sort();
}

export function readOpenEpcis(dir: string, file: string): { text: string; doc: Record<string, unknown> } {
  const text = fs.readFileSync(path.join(OPENEPCIS, dir, file), "utf8");
  return { text, doc: JSON.parse(text) as Record<string, unknown> };
}

export const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
export const orgIdOf = (key: string) => String(DEMO_MEMBERS.findIndex((m) => m.key === key) + 1);

/** A bearer token of an agent of a demo organisation (the producer by default). */
export async function agentToken(node: TestNode, key = "producer"): Promise<string> {
  return tokenFor(node, demoWallet(member(key).account));
}

export const EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

export function epcisDocument(events: Record<string, unknown>[], extraContext: Record<string, string>[] = []) {
  return {
    "@context": [EPCIS_CONTEXT, ...extraContext],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: "2024-03-10T12:00:00.000Z",
    epcisBody: { eventList: events },
  };
}

/** POST /epcis/capture with a document (an object, or its exact text). */
export function capture(
  node: TestNode,
  token: string | null,
  doc: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  return post(node, "/epcis/capture", typeof doc === "string" ? doc : JSON.stringify(doc), {
    "content-type": "application/ld+json",
    ...(token ? bearer(token) : {}),
    ...headers,
  });
}

/** Waits until the node's capture job has no running capture left (no polling over HTTP). */
export async function capturesDone(node: TestNode): Promise<void> {
  await captureJobFor(node.db).runOnce();
}

/** Captures a document, waits for its capture job and returns the job as GET /epcis/capture/{id} reports it. */
export async function captureAndWait(node: TestNode, token: string, doc: unknown, headers: Record<string, string> = {}) {
  const res = await capture(node, token, doc, headers);
  expect(res.status, res.text).to.equal(202);
  await capturesDone(node);
  const job = await get(node, res.headers.get("location")!, bearer(token));
  expect(job.status, job.text).to.equal(200);
  return job.body as {
    captureID: string;
    running: boolean;
    success: boolean;
    errors: { eventIndex: number | null; detail: string; field?: string }[];
    processed: number;
    total: number;
    stored: number;
    duplicates: { eventIndex: number; eventID: string; hashId: string; storedBy: string }[];
  };
}

/** The events of a query document. */
export function eventsOf(res: ApiResponse): Record<string, unknown>[] {
  expect(res.status, res.text).to.equal(200);
  expect(res.body.type).to.equal("EPCISQueryDocument");
  return res.body.epcisBody.queryResults.resultsBody.eventList;
}

/** The event as Lotline stores it: as captured, with the repository's recordTime (and an eventID). */
export function withoutRecordTime(event: Record<string, unknown>): Record<string, unknown> {
  const { recordTime: _recordTime, ...rest } = event;
  return rest;
}
