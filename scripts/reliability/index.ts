/**
 * Lotline's reliability harnesses (`npm run reliability`, `npm run reliability -- --quick` in CI):
 * crash, reorg, rpc-faults, invariants, hostile. Each prints what it tried and what held; the run
 * exits non-zero on any violation. `--only crash,reorg` runs some; RELIABILITY_SEED replays a run.
 * See docs/reliability.md.
 */
import path from "node:path";
import { createRpcClient } from "../../services/chain/rpc";
import { deployDemo, startAnvil } from "../../test/helpers/chain";
import { crashHarness } from "./crash";
import { hostileHarness } from "./hostile";
import { invariantsHarness } from "./invariants";
import { reorgHarness } from "./reorg";
import { rpcFaultsHarness } from "./rpc-faults";
import { Cleanup, progress, rng, type ChainContext, type Report } from "./util";

const HARNESSES = {
  crash: crashHarness,
  reorg: reorgHarness,
  "rpc-faults": rpcFaultsHarness,
  hostile: hostileHarness,
  invariants: invariantsHarness,
} as const;
type Name = keyof typeof HARNESSES;

function parseArgs(argv: string[]) {
  let quick = false;
  let only: Name[] = Object.keys(HARNESSES) as Name[];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--quick") quick = true;
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const list = arg.includes("=") ? arg.slice(7) : argv[++i];
      only = (list ?? "").split(",").map((s) => s.trim()) as Name[];
      const unknown = only.filter((n) => !(n in HARNESSES));
      if (unknown.length) throw new Error(`--only: unknown harness ${unknown.join(", ")} (known: ${Object.keys(HARNESSES).join(", ")})`);
    } else throw new Error(`unknown argument "${arg}" (use --quick, --only NAME[,NAME])`);
  }
  return { quick, only };
}

async function main() {
  const { quick, only } = parseArgs(process.argv.slice(2));
  const seed = process.env.RELIABILITY_SEED ? Number(process.env.RELIABILITY_SEED) : Date.now() % 1_000_000;
  progress(`${quick ? "quick" : "full"} run of ${only.join(", ")}, seed ${seed} (RELIABILITY_SEED=${seed} replays it)`);
  const cleanup = new Cleanup();
  const onSignal = () => void cleanup.run().then(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const reports: { report: Report; seconds: number }[] = [];
  try {
    const needsChain = only.some((n) => n !== "invariants");
    let ctx: ChainContext | null = null;
    if (needsChain) {
      const dataDir = cleanup.tempDir("chain");
      progress("starting Anvil and deploying the demo consortium");
      const chain = await startAnvil({ dataDir: path.join(dataDir, "anvil") });
      cleanup.add(() => chain.stop());
      const demo = await deployDemo(chain.url);
      demo.provider.destroy();
      ctx = { url: chain.url, rpc: createRpcClient(chain.url), deployment: demo.deployment, dataDir };
    }
    for (const [i, name] of only.entries()) {
      const t0 = Date.now();
      progress(`── ${name}`);
      let report: Report;
      try {
        report = await HARNESSES[name](ctx!, rng(seed + i), quick, cleanup);
      } catch (err) {
        const { Report } = await import("./util");
        report = new Report(name);
        report.check(false, "the harness itself failed", (err as Error).stack ?? String(err));
      }
      reports.push({ report, seconds: (Date.now() - t0) / 1000 });
    }
  } finally {
    await cleanup.run();
  }
  let failed = 0;
  for (const { report, seconds } of reports) {
    const ok = report.violations.length === 0;
    if (!ok) failed++;
    console.log(`\n${ok ? "PASS" : "FAIL"} ${report.name} (${seconds.toFixed(0)} s)`);
    for (const line of report.tried) console.log(`  tried: ${line}`);
    for (const line of report.held) console.log(`  held:  ${line}`);
    for (const line of report.violations) console.log(`  VIOLATION: ${line}`);
  }
  console.log(`\nreliability: ${reports.length - failed} harnesses passed, ${failed} failed (seed ${seed})`);
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.error(`reliability: ${(err as Error).message}`);
  process.exit(2);
});
