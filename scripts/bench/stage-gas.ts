import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Results } from "./results";
import { fmt, progress, table } from "./util";

const ROOT = path.resolve(__dirname, "../..");

/** Reference points (issue 16): published traceability contracts and OpenZeppelin's ERC-721 mint. */
const REFERENCES = [
  "published traceability contracts: 139,000–685,000 gas per registration, 76,000–395,000 per transfer",
  "OpenZeppelin ERC-721 mint: 68,759",
];

interface GasRow {
  area: string;
  operation: string;
  gas: number;
  floor: number;
  ratio: number;
}

/** `registerLots, 1 lot` (as docs/gas.md names the row) → `registerLots (1 lot)`. */
function operationName(call: string): string {
  const counted = /^(\w+), (\d+ \w+)$/.exec(call);
  return counted ? `${counted[1]} (${counted[2]})` : call;
}

/** The rows of every `| area | call | gas | floor | ratio |` table in a Markdown text. */
export function parseGasTables(markdown: string): GasRow[] {
  const rows: GasRow[] = [];
  const seen = new Set<string>();
  let inTable = false;
  for (const line of markdown.split("\n")) {
    if (/^\|\s*area\s*\|\s*call\s*\|\s*gas\s*\|\s*floor\s*\|\s*ratio\s*\|/.test(line)) {
      inTable = true;
      continue;
    }
    if (!line.startsWith("|")) {
      inTable = false;
      continue;
    }
    if (!inTable || /^\|\s*-/.test(line)) continue;
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    const gas = Number(cells[2].replace(/,/g, ""));
    const floor = Number(cells[3].replace(/,/g, ""));
    if (!Number.isFinite(gas) || !Number.isFinite(floor) || floor === 0) continue;
    const operation = operationName(cells[1]);
    if (seen.has(`${cells[0]}|${operation}`)) continue;
    seen.add(`${cells[0]}|${operation}`);
    rows.push({ area: cells[0], operation, gas, floor, ratio: gas / floor });
  }
  return rows;
}

function runMeasure(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [require.resolve("hardhat/internal/cli/cli"), "run", "scripts/gas/measure.ts"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let text = "";
    child.stdout.on("data", (d: Buffer) => (text += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(`scripts/gas/measure.ts exited with ${code}`))));
  });
}

/**
 * Gas of every row of docs/gas.md beside its EVM floor (scripts/gas/measure.ts, floorOf). With
 * `measure` the script runs now (about a minute on Hardhat's network); else the figures are read from
 * docs/gas.md, which that script wrote.
 */
export async function gasStage(measure: boolean, results: Results, out: string[]): Promise<void> {
  progress(measure ? "gas: running scripts/gas/measure.ts" : "gas: reading docs/gas.md (measured by scripts/gas/measure.ts; --measure-gas to rerun)");
  const markdown = measure ? await runMeasure() : fs.readFileSync(path.join(ROOT, "docs/gas.md"), "utf8");
  const rows = parseGasTables(markdown);
  if (!rows.some((r) => r.operation === "registerLots (1 lot)")) throw new Error("no registerLots (1 lot) row in the gas figures");
  results.set(
    "gas",
    rows.map((r) => ({ operation: r.operation, area: r.area, gas: r.gas, floor: r.floor, ratio: Number(r.ratio.toFixed(2)) })),
  );
  out.push(
    table(
      `Gas per operation beside its EVM floor (${measure ? "measured now by scripts/gas/measure.ts" : "docs/gas.md, written by scripts/gas/measure.ts"})`,
      ["operation", "area", "gas", "floor", "ratio"],
      rows.map((r) => [r.operation, r.area, fmt(r.gas, 0), fmt(r.floor, 0), fmt(r.ratio, 2)]),
      REFERENCES,
    ),
  );
}
