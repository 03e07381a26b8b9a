import { spawn } from "node:child_process";
import path from "node:path";
import { progress, Report, type ChainContext, type Rng } from "./util";

const ROOT = path.resolve(__dirname, "../..");
const FILES = ["test/contracts/provenance/provenance.property.test.ts", "test/contracts/settlement/escrow.property.test.ts"];

/**
 * Contract invariants under fast-check: random sequences of actions by random agents across
 * identity and provenance (test/contracts/provenance/provenance.property.test.ts) and settlement
 * (test/contracts/settlement/escrow.property.test.ts), checked after every step. Runs them on the
 * in-process Hardhat network with more sequences than `npm test` does, from a random seed.
 */
export async function invariantsHarness(_ctx: ChainContext, random: Rng, quick: boolean): Promise<Report> {
  const report = new Report("invariants");
  // Quick: the 500 (about 100 s on an idle 2-core machine; eight minutes on one shared by
  // eight jobs); full: the 10,000.
  const provenanceRuns = quick ? 300 : 6_000;
  const escrowRuns = quick ? 200 : 4_000;
  const seed = Math.floor(random.next() * 1_000_000);
  report.try(
    `${provenanceRuns + escrowRuns} random sequences (seed ${seed}): ${provenanceRuns} of identity and provenance actions (offer, accept, cancel, split, end, recall, withdraw, suspend, reinstate by any agent, an outsider or the governor), ${escrowRuns} of settlement actions (create, fund, deliver, accept, reject, release, refund, dispute, freeze, withdraw, time passing)`,
  );
  const hardhat = require.resolve("hardhat/internal/cli/cli");
  const child = spawn(process.execPath, [hardhat, "test", ...FILES], {
    cwd: ROOT,
    env: { ...process.env, PROPERTY_RUNS: String(provenanceRuns), PROPERTY_SEED: String(seed), ESCROW_PROPERTY_RUNS: String(escrowRuns) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => {
    output += c.toString();
    for (const line of c.toString().split("\n")) if (/✔|passing|failing/.test(line)) progress(`invariants: ${line.trim()}`);
  });
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const tally = /invariants: provenance .*/.exec(output)?.[0];
  if (tally) report.try(tally.replace(/^invariants: /, "what happened: "));
  if (report.check(code === 0, "every invariant held after every step", output.split("\n").filter((l) => /Counterexample|Error|expected|failing/.test(l)).slice(0, 8).join(" | ")))
    report.hold(
      `${provenanceRuns + escrowRuns} sequences: one owner and custodian per portion, quantities conserved, nothing recalled moved, only permitted agents changed state; escrow holds what open orders hold plus what is owed, nothing paid twice or for goods not handed over`,
    );
  return report;
}
