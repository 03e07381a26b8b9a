import fs from "node:fs";
import type { Command } from "commander";
import { decodeBytes32String, JsonRpcProvider } from "ethers";
import { canonicalize } from "json-canonicalize";
import { documentEventHashIds, documentEvents, eventHashId } from "../epcis/hash";
import { EPCIS_ANCHOR_KIND } from "../epcis/store";
import { eventLeaf } from "../epcis/leaf";
import { AnchorRegistry__factory, ConsortiumRegistry__factory } from "../chain/contracts";
import { proofReaches } from "../anchoring/merkle";
import { apiGet, apiRequest, apiUrl, CliError } from "./client";
import { actor, signing, type Print } from "./batch-cmd";
import { signIn } from "./product-cmd";
import type { SignerOptions } from "./keystore";

/** Reads an EPCIS document (or a bare event) from a file: its exact text and its JSON. */
function readDocumentText(file: string): { text: string; document: Record<string, unknown> } {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new CliError(`cannot read ${file}: give the path of an EPCIS 2.0 JSON or JSON-LD document`);
  }
  try {
    return { text, document: JSON.parse(text) as Record<string, unknown> };
  } catch (err) {
    throw new CliError(`${file} is not JSON: ${(err as Error).message}`);
  }
}

function readDocument(file: string): Record<string, unknown> {
  return readDocumentText(file).document;
}

interface CaptureJob {
  captureID: string;
  running: boolean;
  success: boolean;
  errors: { eventIndex: number | null; eventID?: string; detail: string; field?: string }[];
  processed: number;
  total: number;
  stored: number;
  duplicates: { eventIndex: number; eventID: string; hashId: string; storedBy: string }[];
}

interface Problem {
  detail?: string;
  code?: string;
  errors?: { eventIndex?: number | null; field?: string; message: string }[];
}

/** POST /epcis/capture with the document's exact text; a refusal becomes one line. */
async function postCapture(text: string, contentType: string, token: string, proceed: boolean): Promise<string> {
  const base = apiUrl();
  let response: Response;
  try {
    response = await fetch(`${base}/epcis/capture`, {
      method: "POST",
      headers: {
        "content-type": contentType,
        accept: "application/json",
        authorization: `Bearer ${token}`,
        ...(proceed ? { "GS1-Capture-Error-Behaviour": "proceed" } : {}),
      },
      body: text,
      signal: AbortSignal.timeout(120_000),
    });
  } catch {
    throw new CliError(`cannot reach the Lotline service at ${base}: start it with 'npm start' or set LOTLINE_API_URL`);
  }
  const raw = await response.text();
  let body: unknown = null;
  try {
    body = raw ? JSON.parse(raw) : null;
  } catch {
    throw new CliError(`${base}/epcis/capture answered HTTP ${response.status} with something that is not JSON`);
  }
  if (response.status === 202) return (body as { captureID: string }).captureID;
  const problem = (body ?? {}) as Problem;
  const code = problem.code ? ` (${problem.code})` : "";
  if (response.status === 400 && problem.code === "invalid_epcis_document" && problem.errors?.length) {
    const [first, ...rest] = problem.errors;
    const where = first.eventIndex === null || first.eventIndex === undefined ? "" : `event ${first.eventIndex}, `;
    const what = first.field && !first.message.startsWith(`${first.field}:`) ? `${first.field}: ${first.message}` : first.message;
    const more = rest.length ? ` (and ${rest.length} more error${rest.length === 1 ? "" : "s"})` : "";
    throw new CliError(
      `the document is not valid EPCIS 2.0, nothing was captured: ${where}${what}${more}${code}`,
      problem.code,
      400,
    );
  }
  throw new CliError(`${problem.detail ?? `HTTP ${response.status}`}${code}`, problem.code, response.status);
}

/**
 * The service's capture limits (OPTIONS /epcis/capture), so that a document over them fails here
 * with the 413's message instead of being cut off mid-upload; null when they cannot be read.
 */
async function captureLimits(): Promise<{ bytes: number; events: number } | null> {
  try {
    const response = await fetch(`${apiUrl()}/epcis/capture`, { method: "OPTIONS", signal: AbortSignal.timeout(10_000) });
    const bytes = Number(response.headers.get("gs1-epcis-capture-file-size-limit"));
    const events = Number(response.headers.get("gs1-epcis-capture-limit"));
    return bytes > 0 && events > 0 ? { bytes, events } : null;
  } catch {
    return null;
  }
}

function checkLimits(text: string, document: unknown, limits: { bytes: number; events: number } | null): void {
  if (!limits) return;
  if (Buffer.byteLength(text) > limits.bytes) {
    throw new CliError(
      `the document is larger than ${limits.bytes} bytes (GS1-EPCIS-Capture-File-Size-Limit); split it (payload_too_large)`,
      "payload_too_large",
      413,
    );
  }
  const events = documentEvents(document).length;
  if (events > limits.events) {
    throw new CliError(
      `the document has ${events} events; at most ${limits.events} per capture (GS1-EPCIS-Capture-Limit) (too_many_events)`,
      "too_many_events",
      413,
    );
  }
}

async function waitForCapture(captureId: string, token: string, timeoutMs: number): Promise<CaptureJob> {
  const until = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    const job = await apiRequest<CaptureJob>("GET", `/epcis/capture/${encodeURIComponent(captureId)}`, { token });
    if (!job.running) return job;
    if (Date.now() + delay > until) {
      throw new CliError(
        `capture ${captureId} is still running after ${Math.round(timeoutMs / 1000)} s (${job.processed} of ${job.total}); check later with GET /epcis/capture/${captureId}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 1_000);
  }
}

interface ProofJson {
  recordId: string;
  eventHash: string;
  leaf: string;
  merkleRoot: string | null;
  proof: string[];
  transactionHash: string | null;
  blockNumber: number | null;
  status: "pending" | "anchored";
  anchoredBy?: { orgId: string; name: string | null } | null;
}

export interface Verification {
  eventID: string;
  verified: boolean;
  reason: string | null;
  recordId?: string;
  hashId?: string;
  leaf?: string;
  merkleRoot?: string | null;
  /** The anchor the verification relied on: organisation `orgId`'s anchor of the root, as the chain has it. */
  anchor?: { kind: string; orgId: string; orgName: string | null; blockNumber: number; count: number } | null;
}

type QueryDocumentJson = {
  "@context"?: unknown;
  epcisBody?: { queryResults?: { resultsBody?: { eventList?: Record<string, unknown>[] } } };
};

/**
 * The event's content (owner-and-grantees: signed in), with identifiers as captured
 * (GS1-EPC-Format: Never_Translates), since the Merkle leaf commits to the stored JSON.
 */
async function eventDocument(path: string, token: string): Promise<QueryDocumentJson> {
  const base = apiUrl();
  let response: Response;
  try {
    response = await fetch(base + path, {
      headers: { accept: "application/json", authorization: `Bearer ${token}`, "GS1-EPC-Format": "Never_Translates" },
      signal: AbortSignal.timeout(30_000),
    });
  } catch {
    throw new CliError(`cannot reach the Lotline service at ${base}: start it with 'npm start' or set LOTLINE_API_URL`);
  }
  const body = (await response.json().catch(() => null)) as (QueryDocumentJson & Problem) | null;
  if (!response.ok)
    throw new CliError(
      `${body?.detail ?? `HTTP ${response.status}`}${body?.code ? ` (${body.code})` : ""}`,
      body?.code,
      response.status,
    );
  return body ?? {};
}

/**
 * Checks a stored event as an auditor would, trusting neither the service's `verified` nor its
 * hashes: recomputes the hash ID and the leaf from the event the API serves, checks the Merkle
 * proof locally and the root on the chain — anchored by the organisation `org` (default: the one the
 * service says anchored it). Anchors are keyed by organisation and root: another organisation's
 * anchor of the same root (a rival copying it) does not verify anything.
 */
async function verifyEvent(eventId: string, rpcUrl: string, token: string, org?: string): Promise<Verification> {
  const path = `/epcis/events/${encodeURIComponent(eventId)}`;
  const proof = await apiGet<ProofJson>(`${path}/proof`);
  const document = await eventDocument(path, token);
  const event = document.epcisBody?.queryResults?.resultsBody?.eventList?.[0];
  const result: Verification = { eventID: eventId, verified: false, reason: null, recordId: proof.recordId };
  const fail = (reason: string): Verification => ({ ...result, verified: false, reason });
  if (!event) return fail("the service returned no event");
  // As capture stored it: the hash ID under the document's context, the leaf over the event's RFC 8785 JSON.
  const hashId = eventHashId(event, document["@context"]);
  const leaf = eventLeaf(hashId, canonicalize(event));
  Object.assign(result, { hashId, leaf, merkleRoot: proof.merkleRoot });
  if (hashId !== proof.eventHash)
    return fail(`the event's hash ID ${hashId} is not the one recorded (${proof.eventHash}): the event was altered`);
  if (leaf !== proof.leaf.toLowerCase())
    return fail(`the event does not hash to the anchored leaf ${proof.leaf}: the stored record was altered`);
  if (proof.status !== "anchored" || !proof.merkleRoot)
    return fail("the event is not anchored yet (pending); try again after the next anchoring round");
  const inTree = proofReaches(proof.merkleRoot, leaf, proof.proof);
  if (!inTree) return fail(`the proof does not lead from the leaf to the root ${proof.merkleRoot}`);

  const deployment = await apiGet<{ chainId: number; startBlock?: number; contracts: Record<string, string> }>(
    "/api/v1/deployment",
  );
  const provider = new JsonRpcProvider(rpcUrl, deployment.chainId, { staticNetwork: true });
  try {
    let chainId: bigint;
    try {
      chainId = BigInt(await provider.send("eth_chainId", []));
    } catch (err) {
      throw new CliError(
        `cannot reach the chain at ${rpcUrl} (${(err as { shortMessage?: string }).shortMessage ?? (err as Error).message}): give --rpc-url`,
      );
    }
    if (chainId !== BigInt(deployment.chainId))
      throw new CliError(`the chain at ${rpcUrl} is chain ${chainId}, not the deployment's ${deployment.chainId}`);
    const expected = org ?? proof.anchoredBy?.orgId;
    if (!expected)
      return fail(`the service does not say which organisation anchored the root ${proof.merkleRoot}: give --org <id>`);
    const anchors = AnchorRegistry__factory.connect(deployment.contracts.anchors, provider);
    const anchor = await anchors.anchorOf(BigInt(expected), proof.merkleRoot);
    if (anchor.blockNumber === 0n) {
      // Say who did anchor it, if anyone: a root anchored only by another organisation proves nothing for this one.
      const others = await anchors
        .queryFilter(anchors.filters.Anchored(proof.merkleRoot), deployment.startBlock ?? 0)
        .then((logs) => [...new Set(logs.map((l) => l.args.org.toString()))])
        .catch(() => [] as string[]);
      return fail(
        `the root ${proof.merkleRoot} is not anchored by organisation ${expected} on the chain at ${rpcUrl}` +
          (others.length > 0
            ? ` (only by organisation ${others.join(", ")}, whose anchor does not stand for organisation ${expected})`
            : ""),
      );
    }
    const kind = decodeBytes32String(anchor.kind);
    const orgName = await ConsortiumRegistry__factory.connect(deployment.contracts.registry, provider)
      .organisation(anchor.org)
      .then((o) => o.name)
      .catch(() => null);
    result.anchor = {
      kind,
      orgId: anchor.org.toString(),
      orgName,
      blockNumber: Number(anchor.blockNumber),
      count: Number(anchor.count),
    };
    if (kind !== EPCIS_ANCHOR_KIND) return fail(`the root ${proof.merkleRoot} is anchored as ${kind}, not ${EPCIS_ANCHOR_KIND}`);
  } finally {
    provider.destroy();
  }
  return { ...result, verified: true, reason: null };
}

function defaultRpcUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOTLINE_RPC_URL?.trim() || `http://127.0.0.1:${env.LOTLINE_CHAIN_PORT?.trim() || "8545"}`;
}

export function registerEpcisCommands(program: Command, print: Print): void {
  const epcis = program.command("epcis").description("GS1 EPCIS 2.0 documents and events");

  epcis
    .command("hash")
    .description("print the CBV 2.0 event hash ID of each event of a document, one per line, in document order (offline)")
    .argument("<file>", "an EPCISDocument, EPCISQueryDocument or a single event (JSON / JSON-LD)")
    .action((file: string) => {
      const document = readDocument(file);
      const ids = documentEventHashIds(document);
      if (ids.length === 0) throw new CliError(`${file} holds no EPCIS events`);
      print(ids, () => ids.join("\n"));
    });

  signing(
    epcis
      .command("capture")
      .description("capture an EPCIS 2.0 document (signed in with SIWE), wait for its capture job and print the outcome")
      .argument("<file>", "an EPCISDocument, EPCISQueryDocument or a single event (JSON / JSON-LD), sent as it is")
      .option("--proceed", "GS1-Capture-Error-Behaviour: proceed (store the events that can be stored); default rollback")
      .option("--timeout <seconds>", "how long to wait for the capture job", "600"),
  ).action(async (file: string, opts: SignerOptions & { proceed?: boolean; timeout: string }) => {
    const { text, document } = readDocumentText(file);
    const timeout = Number(opts.timeout);
    if (!Number.isInteger(timeout) || timeout < 1)
      throw new CliError(`--timeout must be a whole number of seconds, got "${opts.timeout}"`);
    const contentType =
      document !== null && typeof document === "object" && "@context" in document ? "application/ld+json" : "application/json";
    checkLimits(text, document, await captureLimits());
    const { signer } = await actor(opts);
    const token = await signIn(signer);
    const captureId = await postCapture(text, contentType, token, Boolean(opts.proceed));
    if (!program.opts().json) console.log(`capture ${captureId} accepted; waiting for it to finish`);
    const job = await waitForCapture(captureId, token, timeout * 1000);
    print(job, () =>
      [
        `capture ${job.captureID}: ${job.success ? "success" : "failed"} — ${job.stored} stored, ${job.duplicates.length} duplicate${job.duplicates.length === 1 ? "" : "s"}, ${job.errors.length} error${job.errors.length === 1 ? "" : "s"} (${job.processed} of ${job.total} events)`,
        ...job.duplicates.map(
          (d) => `  duplicate: event ${d.eventIndex} (${d.eventID}) was already stored by capture ${d.storedBy}`,
        ),
        ...job.errors.map((e) => `  error: ${e.detail}`),
      ].join("\n"),
    );
    if (!job.success) {
      const first = job.errors[0];
      throw new CliError(
        `capture ${job.captureID} failed with ${job.errors.length} error${job.errors.length === 1 ? "" : "s"}${first ? `: ${first.detail}` : ""}`,
      );
    }
  });

  signing(
    epcis
      .command("verify")
      .description(
        "check a stored event yourself: recompute its hash ID and Merkle leaf, verify the proof, and find the root on the chain (signed in: event contents are shown to their owner and grantees)",
      )
      .argument("<eventID>", "the eventID or CBV hash ID")
      .option(
        "--rpc-url <url>",
        "JSON-RPC endpoint of the chain (default LOTLINE_RPC_URL, else http://127.0.0.1:$LOTLINE_CHAIN_PORT)",
      )
      .option(
        "--org <id>",
        "require the root to be anchored by this organisation (default: the one the service names in the proof)",
      ),
  ).action(async (eventId: string, opts: SignerOptions & { rpcUrl?: string; org?: string }) => {
    const rpcUrl = opts.rpcUrl?.trim() || defaultRpcUrl();
    if (!/^(https?|wss?):\/\//.test(rpcUrl)) throw new CliError(`--rpc-url must be an http(s) or ws(s) URL, got "${rpcUrl}"`);
    if (opts.org !== undefined && !/^[1-9][0-9]{0,18}$/.test(opts.org))
      throw new CliError(`--org must be a positive integer organisation id, got "${opts.org}"`);
    const { signer } = await actor(opts);
    const result = await verifyEvent(eventId, rpcUrl, await signIn(signer), opts.org);
    if (result.verified) {
      print(result, () =>
        [
          `verified: event ${eventId}`,
          `  hash ID      ${result.hashId}`,
          `  leaf         ${result.leaf}`,
          `  Merkle root  ${result.merkleRoot}, anchored as ${result.anchor!.kind} by organisation ${result.anchor!.orgId}${result.anchor!.orgName ? ` (${result.anchor!.orgName})` : ""} in block ${result.anchor!.blockNumber} (${result.anchor!.count} records)`,
        ].join("\n"),
      );
      return;
    }
    if (program.opts().json) print(result, () => "");
    throw new CliError(`not verified: ${result.reason}`);
  });
}
