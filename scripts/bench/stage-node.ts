import { monitorEventLoopDelay } from "node:perf_hooks";
import { AbiCoder, Wallet, keccak256, id as keccakText } from "ethers";
import { INTERFACES } from "../../services/chain/contracts";
import { LOCAL_CHAIN_ID } from "../../services/chain/evm";
import { createRpcClient } from "../../services/chain/rpc";
import { DEMO_GOODS } from "../../services/demo/supply-chain";
import { DEMO_MEMBERS, demoWallet } from "../../services/demo/roster";
import { captureJobFor } from "../../services/epcis/capture";
import { glnFor } from "../../services/gs1/keys";
import { parseQuantity } from "../../services/provenance/quantity";
import { startTestNode, type TestNode } from "../../test/helpers/node";
import { signIn } from "./auth";
import { httpLoad } from "./http-load";
import type { Sizes } from "./index";
import { generateTraceGraph, sampleBatches } from "./trace-graph";
import { median, pct, type Results } from "./results";
import { measureTraceWalks, traceTable } from "./stage-trace";
import { rpcBatch } from "./chain-load";
import { Cleanup, fmt, progress, table } from "./util";

const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
const coder = AbiCoder.defaultAbiCoder();
const lotIdOf = (gtin: string, lot: string) => keccak256(coder.encode(["uint64", "string"], [BigInt(gtin), lot]));

/** Records the event loop's longest stall while `fn` runs (10 ms resolution is the histogram's, not the figure's). */
async function stallDuring<T>(fn: () => Promise<T>): Promise<{ value: T; maxStallMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  try {
    const value = await fn();
    return { value, maxStallMs: h.max / 1e6 };
  } finally {
    h.disable();
  }
}

/** One node (embedded Anvil, deploy, demo seed, index, API) for visibility, trace, capture and event-loop figures. */
export async function nodeStages(stages: Set<string>, sizes: Sizes, cleanup: Cleanup, results: Results, out: string[]): Promise<void> {
  progress("node: first start (embedded chain, deploy, demo seed, index, default model, API)");
  const t0 = performance.now();
  const boot = await stallDuring(() => startTestNode({ LOTLINE_RATE_LIMIT: "1000000" }));
  const node = boot.value;
  cleanup.add("stop the node", () => node.cleanup());
  const bootSeconds = (performance.now() - t0) / 1000;
  progress(`  ready in ${bootSeconds.toFixed(1)} s, longest stall ${boot.maxStallMs.toFixed(0)} ms`);
  const stalls: Record<string, number> = { firstStart: boot.maxStallMs };

  if (stages.has("visibility")) await visibility(node, sizes, results, out);
  if (stages.has("trace")) await trace(node, sizes, results, out);
  if (stages.has("capture") || stages.has("eventLoop")) await capture(node, sizes, results, out, stalls);
  if (stages.has("eventLoop")) {
    progress("eventLoop: a bulk scoring request (1,000 runs)");
    const token = await signIn(node.url, demoWallet(member("processor").account));
    const runs = Array.from({ length: 1_000 }, (_, i) => ({
      id: `bench-${i}`,
      params: {
        airTemperatureK: 298 + (i % 5),
        processTemperatureK: 308 + (i % 7),
        rotationalSpeedRpm: 1_300 + (i % 400),
        torqueNm: 30 + (i % 30),
        toolWearMin: i % 240,
        productType: ["L", "M", "H"][i % 3],
      },
    }));
    const scoring = await stallDuring(async () => {
      const t = performance.now();
      const res = await fetch(`${node.url}/api/v1/scores/quality`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ runs }),
      });
      if (res.status !== 200) throw new Error(`POST /api/v1/scores/quality: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      return performance.now() - t;
    });
    stalls.bulkScoring = scoring.maxStallMs;
    const maxStallMs = Math.max(...Object.values(stalls));
    results.set("eventLoop", { maxStallMs: Math.round(maxStallMs), ...Object.fromEntries(Object.entries(stalls).map(([k, v]) => [`${k}StallMs`, Math.round(v)])), firstStartSeconds: bootSeconds, bulkScoringMs: Math.round(scoring.value) });
    out.push(
      table(
        "Event loop: longest stall (monitorEventLoopDelay, node and bench in one process)",
        ["during", "longest stall ms", "goal"],
        [
          ["first start (chain, deploy, demo seed, index, model, API)", fmt(stalls.firstStart, 0), "< 200"],
          [`capture of a ${sizes.captureEvents}-event document`, fmt(stalls.capture ?? NaN, 0), "< 200"],
          ["bulk scoring request (1,000 runs)", fmt(stalls.bulkScoring, 0), "< 200"],
          ["max", fmt(maxStallMs, 0), "< 200"],
        ],
        [`first start took ${fmt(bootSeconds, 1)} s; the scoring request ${fmt(scoring.value, 0)} ms`],
      ),
    );
  }
}

/** eth_sendRawTransaction → the API answering the new lot, for `visibilityTxs` one-lot registrations by three makers at once. */
async function visibility(node: TestNode, sizes: Sizes, results: Results, out: string[]): Promise<void> {
  progress(`visibility: ${sizes.visibilityTxs} transactions, each until the API answers its lot`);
  const rpc = createRpcClient(node.chain!.url);
  const token = await signIn(node.url, demoWallet(member("auditor").account));
  const tag = (Date.now() % 1_000_000).toString(36);
  const makers = [
    { key: "producer", gtin: DEMO_GOODS.rawMilk },
    { key: "processor", gtin: DEMO_GOODS.pooledMilk },
    { key: "processor2", gtin: DEMO_GOODS.butter },
  ];
  const block = await rpc.call<{ baseFeePerGas?: string }>("eth_getBlockByNumber", ["latest", false]);
  const maxFeePerGas = BigInt(block.baseFeePerGas ?? "0x3b9aca00") * 4n + 1_000_000_000n;
  const latencies: number[] = [];
  let next = 0;
  const provenance = node.state.deployment!.contracts.provenance;
  await Promise.all(
    makers.map(async ({ key, gtin }) => {
      const wallet = new Wallet(demoWallet(member(key).account).privateKey);
      let nonce = Number(await rpc.call<string>("eth_getTransactionCount", [wallet.address, "pending"]));
      const gln = glnFor(member(key).companyPrefixes[0], 1);
      while (next < sizes.visibilityTxs) {
        const i = next++;
        const lot = `V${tag}-${i}`; // GS1 lot numbers: at most 20 characters
        const data = INTERFACES.provenance.encodeFunctionData("registerLots", [
          [{ gtin: BigInt(gtin), lot, quantity: parseQuantity("10"), gln, metadataHash: keccakText(lot) }],
        ]);
        const raw = await wallet.signTransaction({
          type: 2,
          chainId: LOCAL_CHAIN_ID,
          to: provenance,
          data,
          nonce: nonce++,
          gasLimit: 400_000n,
          maxFeePerGas,
          maxPriorityFeePerGas: 1_000_000_000n,
        });
        const path = `${node.url}/api/v1/batches/${lotIdOf(gtin, lot)}`;
        const t = performance.now();
        const [hash] = (await rpcBatch(node.chain!.url, [{ method: "eth_sendRawTransaction", params: [raw] }])) as string[];
        for (;;) {
          const res = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
          await res.arrayBuffer();
          if (res.status === 200) break;
          if (res.status !== 404) throw new Error(`GET ${path}: ${res.status}`);
          if (performance.now() - t > 30_000) {
            const receipt = await rpc.call<{ status: string } | null>("eth_getTransactionReceipt", [hash]);
            throw new Error(`lot ${lot} not visible after 30 s (transaction ${hash}: ${receipt ? `status ${receipt.status}` : "not mined"})`);
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        latencies.push(performance.now() - t);
      }
    }),
  );
  const r = { p50Ms: pct(latencies, 50), p95Ms: pct(latencies, 95), p99Ms: pct(latencies, 99), maxMs: Math.max(...latencies) };
  progress(`  p50 ${r.p50Ms.toFixed(0)} ms, p95 ${r.p95Ms.toFixed(0)} ms`);
  results.set("visibility", { transactions: latencies.length, ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v)])) });
  out.push(
    table(
      `Transaction → API visibility: ${latencies.length} one-lot registrations (automining Anvil, 3 senders at once), eth_sendRawTransaction until GET /api/v1/batches/{lotId} answers 200 (polled every 5 ms)`,
      ["p50 ms", "p95 ms", "p99 ms", "max ms", "goal p95"],
      [[fmt(r.p50Ms, 0), fmt(r.p95Ms, 0), fmt(r.p99Ms, 0), fmt(r.maxMs, 0), "≤ 400"]],
    ),
  );
}

async function trace(node: TestNode, sizes: Sizes, results: Results, out: string[]): Promise<void> {
  progress(`trace: generating ${sizes.traceBatches} batches in the node's SQLite (docs/performance.md describes the generator)`);
  const graph = await generateTraceGraph(node.db, sizes.traceBatches);
  progress(`  ${graph.batches} batches, ${graph.edges} edges in ${graph.seconds.toFixed(1)} s`);
  const figures = await measureTraceWalks(node.db, graph, sizes);
  await node.synced();

  progress(`  HTTP: GET /api/v1/batches/{id}/trace (upstream), 8 connections, ${sizes.httpSeconds} s`);
  const samples = sampleBatches(graph, sizes.traceSamples, 16);
  const token = await signIn(node.url, demoWallet(member("auditor").account));
  const http = await httpLoad({
    url: node.url,
    paths: samples.map((id) => `/api/v1/batches/${id}/trace?direction=upstream`),
    headers: { authorization: `Bearer ${token}` },
    concurrency: 8,
    seconds: sizes.httpSeconds,
  });
  results.set("trace", { ...figures.json, http: round({ requestsPerSecond: http.requests / http.seconds, p50Ms: http.p50, p95Ms: http.p95, errors: http.errors }) });
  out.push(
    traceTable(graph, sizes, figures, [
      `HTTP GET /api/v1/batches/{id}/trace?direction=upstream: ${fmt(http.requests / http.seconds, 0)} req/s, p50 ${fmt(http.p50, 1)} ms, p95 ${fmt(http.p95, 1)} ms, ${http.errors} non-200 (8 keep-alive connections from a worker thread)`,
      `generator: ${fmt(graph.seconds, 1)} s`,
    ]),
  );
}

function round<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isInteger(v) ? Number(v.toFixed(3)) : v))) as T;
}

async function capture(node: TestNode, sizes: Sizes, results: Results, out: string[], stalls: Record<string, number>): Promise<void> {
  const n = sizes.captureEvents;
  progress(`capture: POST /epcis/capture with ${n} events, ${sizes.runs} runs`);
  const token = await signIn(node.url, demoWallet(member("producer").account));
  const runs: { seconds: number; stallMs: number; captureId: string }[] = [];
  for (let run = 0; run < sizes.runs; run++) {
    const doc = epcisDocument(n, `r${run}-${Date.now()}`);
    const body = JSON.stringify(doc);
    const measured = await stallDuring(async () => {
      const t = performance.now();
      const res = await fetch(`${node.url}/epcis/capture`, {
        method: "POST",
        headers: { "content-type": "application/ld+json", authorization: `Bearer ${token}` },
        body,
      });
      const text = await res.text();
      if (res.status !== 202) throw new Error(`POST /epcis/capture: ${res.status} ${text}`);
      await captureJobFor(node.db).runOnce();
      const job = await fetch(node.url + res.headers.get("location")!, { headers: { authorization: `Bearer ${token}` } });
      const state = (await job.json()) as { running: boolean; stored: number; errors: unknown[]; captureID: string };
      if (state.running || state.stored !== n) throw new Error(`capture stored ${state.stored} of ${n}: ${JSON.stringify(state.errors).slice(0, 300)}`);
      return { seconds: (performance.now() - t) / 1000, captureId: state.captureID };
    });
    runs.push({ ...measured.value, stallMs: measured.maxStallMs });
    progress(`  run ${run + 1}: ${fmt(n / measured.value.seconds, 0)} events/s, longest stall ${fmt(measured.maxStallMs, 0)} ms`);
  }
  stalls.capture = median(runs.map((r) => r.stallMs));
  progress(`  median ${fmt(n / median(runs.map((r) => r.seconds)), 0)} events/s`);
  const seconds = median(runs.map((r) => r.seconds));

  progress("  anchoring lag: until every captured event's leaf is submitted on-chain");
  const pending = node.db.prepare(`SELECT COUNT(*) AS n FROM anchor_outbox WHERE kind = 'EPCIS' AND submitted_tx IS NULL`);
  const tLag = performance.now();
  let lagSeconds: number | null = null;
  while (performance.now() - tLag < 120_000) {
    if ((pending.get() as { n: number }).n === 0) {
      lagSeconds = (performance.now() - tLag) / 1000;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  progress(`  query: replicating the captured events to ${sizes.storedEvents} stored events`);
  const replication = await replicateEvents(node, runs[0].captureId, sizes.storedEvents);
  await node.synced();
  const authed = { authorization: `Bearer ${await signIn(node.url, demoWallet(member("producer").account))}` };
  const queries: [string, string][] = [
    ["eventType", "/epcis/events?eventType=ObjectEvent&perPage=30"],
    ["EQ_bizStep", "/epcis/events?EQ_bizStep=shipping&perPage=30"],
    ["time window (GE/LT_eventTime)", "/epcis/events?GE_eventTime=2024-02-01T00:00:00.000Z&LT_eventTime=2024-02-02T00:00:00.000Z&perPage=30"],
    ["MATCH_epc (one EPC)", `/epcis/events?MATCH_epc=${encodeURIComponent(epcOf(7))}`],
    ["EQ_bizLocation", `/epcis/events?EQ_bizLocation=${encodeURIComponent(`urn:epc:id:sgln:4012345.00002.0`)}&perPage=30`],
  ];
  const queryRows: (string | number)[][] = [];
  const queryJson: Record<string, unknown> = {};
  for (const [name, path] of queries) {
    const times: number[] = [];
    for (let i = 0; i < 5 + sizes.runs * 5; i++) {
      const t = performance.now();
      const res = await fetch(node.url + path, { headers: authed });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${text.slice(0, 300)}`);
      if (i >= 2) times.push(performance.now() - t);
    }
    queryJson[name] = { p50Ms: Number(pct(times, 50).toFixed(2)), p95Ms: Number(pct(times, 95).toFixed(2)) };
    queryRows.push([name, fmt(pct(times, 50), 1), fmt(pct(times, 95), 1)]);
  }
  results.set("capture", {
    events: n,
    runs: runs.length,
    eventsPerSecond: Math.round(n / seconds),
    seconds,
    maxStallMs: Math.round(stalls.capture),
    anchoringLagSeconds: lagSeconds,
    query: { storedEvents: replication.total, ...queryJson },
  });
  out.push(
    table(
      `EPCIS capture: POST /epcis/capture of a ${n}-event document until its job has stored every event (validation, hashing, storage), median of ${runs.length}`,
      ["events/s", "seconds", "longest stall ms", "anchoring lag s", "goal"],
      [[fmt(n / seconds, 0), fmt(seconds, 2), fmt(stalls.capture, 0), lagSeconds === null ? "> 120" : fmt(lagSeconds, 1), "≥ 1,000 events/s"]],
      ["anchoring lag: from the capture's end until every captured event's leaf is in a submitted anchor transaction (the node's job loop, every 2 s)."],
    ),
  );
  out.push(
    table(
      `EPCIS query latency on ${replication.total} stored events (GET /epcis/events, first page, as the producer; ${replication.seconds.toFixed(1)} s to replicate)`,
      ["query", "p50 ms", "p95 ms"],
      queryRows,
    ),
  );
}

const epcOf = (i: number) => `urn:epc:id:sgtin:4012345.011111.${1_000_000 + i}`;

/** A document of `n` ObjectEvents over a month, four business steps, two read points, one EPC each. */
function epcisDocument(n: number, tag: string) {
  const steps = ["commissioning", "shipping", "receiving", "storing"];
  const events = Array.from({ length: n }, (_, i) => ({
    type: "ObjectEvent",
    eventTime: new Date(Date.UTC(2024, 1, 1) + i * 60_000 * 4).toISOString(),
    eventTimeZoneOffset: "+01:00",
    epcList: [epcOf(i)],
    action: i % 4 === 0 ? "ADD" : "OBSERVE",
    bizStep: steps[i % 4],
    disposition: i % 4 === 1 ? "in_transit" : "in_progress",
    readPoint: { id: `urn:epc:id:sgln:4012345.00001.${i % 2}` },
    bizLocation: { id: `urn:epc:id:sgln:4012345.0000${1 + (i % 2)}.0` },
    "example:batchRun": `${tag}-${i}`,
  }));
  return {
    "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", { example: "https://example.com/bench/" }],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: "2024-03-10T12:00:00.000Z",
    epcisBody: { eventList: events },
  };
}

/**
 * Fills epcis_events to `total` rows by copying one capture's events k = 1, 2, … times: each copy a
 * distinct eventID, hash ID and content digest, its eventTime k days earlier and its EPCs suffixed
 * with k (so an EPC query still matches one event), its identifier rows copied with it. Not anchored.
 */
async function replicateEvents(node: TestNode, captureId: string, total: number): Promise<{ total: number; seconds: number }> {
  const db = node.db;
  const t = performance.now();
  const range = db.prepare(`SELECT MIN(seq) AS lo, MAX(seq) AS hi, COUNT(*) AS n FROM epcis_events WHERE capture_id = ?`).get(captureId) as { lo: number; hi: number; n: number };
  if (range.hi - range.lo + 1 !== range.n) throw new Error("the capture's events are not contiguous");
  const count = () => (db.prepare(`SELECT COUNT(*) AS n FROM epcis_events`).get() as { n: number }).n;
  const copyEvents = db.prepare(
    `INSERT INTO epcis_events (event_id, hash_id, content_digest, event, context, event_type, event_time, record_time, action, biz_step,
       disposition, read_point, biz_location, transformation_id, error_declaration_time, error_reason, original_seq, capture_id, event_index, org_id)
     SELECT event_id || ':' || @k, hash_id || ':' || @k, content_digest || ':' || @k, event, context, event_type,
       strftime('%Y-%m-%dT%H:%M:%fZ', event_time, '-' || @k || ' days'), record_time, action, biz_step, disposition, read_point, biz_location,
       transformation_id, error_declaration_time, error_reason, NULL, capture_id, event_index + @k * 10000000, org_id
     FROM epcis_events WHERE seq BETWEEN @lo AND @hi AND (@hi - seq) < @limit ORDER BY seq`,
  );
  const copyIds = db.prepare(
    `INSERT INTO epcis_event_identifiers (seq, role, id, raw, quantity, uom)
     SELECT seq + @offset, role, id || '.' || @k, raw || '.' || @k, quantity, uom FROM epcis_event_identifiers WHERE seq BETWEEN @lo AND @hi ORDER BY seq`,
  );
  const maxSeq = db.prepare(`SELECT MAX(seq) AS s FROM epcis_events`);
  let k = 1;
  while (count() < total) {
    const limit = Math.min(range.n, total - count());
    db.transaction(() => {
      const base = (maxSeq.get() as { s: number }).s;
      const lo = range.hi - limit + 1;
      copyEvents.run({ k, lo: range.lo, hi: range.hi, limit });
      copyIds.run({ k, lo, hi: range.hi, offset: base + 1 - lo });
    })();
    k++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { total: count(), seconds: (performance.now() - t) / 1000 };
}
