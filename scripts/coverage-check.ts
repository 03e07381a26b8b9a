/**
 * `npm run coverage:check`: the gate of issue 12 on Solidity coverage. Reads the summary
 * `npm run coverage` wrote (coverage/coverage-summary.json, istanbul's json-summary reporter, see
 * .solcover.js), prints statements, branches, functions and lines per contract, and exits 1 when
 * the contracts under contracts/ (mocks excluded) together cover less than 95 % of their lines or
 * 90 % of their branches. `--markdown` prints the table as docs/reliability.md shows it.
 * Exit codes: 0 gate met, 1 gate missed, 2 no (or an unreadable) summary.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export const THRESHOLDS = { lines: 95, branches: 90 } as const;

interface Metric {
  total: number;
  covered: number;
}
type Metrics = Record<"statements" | "branches" | "functions" | "lines", Metric>;
const KINDS = ["statements", "branches", "functions", "lines"] as const;

/** The contract files of a summary, keyed by their path from contracts/ (mocks left out), and their total. */
export function contractMetrics(summary: Record<string, Partial<Metrics>>): { files: Map<string, Metrics>; total: Metrics } {
  const files = new Map<string, Metrics>();
  for (const [file, m] of Object.entries(summary)) {
    if (file === "total") continue;
    const rel = file.replace(/\\/g, "/").match(/(?:^|\/)contracts\/(.+\.sol)$/)?.[1];
    if (!rel || rel.startsWith("mocks/")) continue;
    const metrics = {} as Metrics;
    for (const k of KINDS) metrics[k] = { total: Number(m[k]?.total ?? 0), covered: Number(m[k]?.covered ?? 0) };
    files.set(rel, metrics);
  }
  const total = {} as Metrics;
  for (const k of KINDS) {
    total[k] = { total: 0, covered: 0 };
    for (const m of files.values()) {
      total[k].total += m[k].total;
      total[k].covered += m[k].covered;
    }
  }
  return { files, total };
}

/** A percentage with two decimals; 100 when there is nothing to cover. */
export function pct(m: Metric): number {
  return m.total === 0 ? 100 : Math.floor((m.covered / m.total) * 10_000) / 100;
}

/** What the gate misses, one line each (empty when met). */
export function shortfalls(total: Metrics): string[] {
  const out: string[] = [];
  for (const k of ["lines", "branches"] as const) {
    if (pct(total[k]) < THRESHOLDS[k]) out.push(`${k}: ${pct(total[k])} % < ${THRESHOLDS[k]} % (${total[k].covered}/${total[k].total})`);
  }
  return out;
}

function cell(m: Metric): string {
  return `${pct(m).toFixed(2)} % (${m.covered}/${m.total})`;
}

function main(argv: string[]): number {
  const file = path.resolve(argv.find((a) => !a.startsWith("--")) ?? "coverage/coverage-summary.json");
  if (!existsSync(file)) {
    console.error(`coverage:check: ${path.relative(process.cwd(), file)} not found; run 'npm run coverage' first`);
    return 2;
  }
  let summary: Record<string, Partial<Metrics>>;
  try {
    summary = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`coverage:check: ${file} is not JSON (${(e as Error).message}); run 'npm run coverage' again`);
    return 2;
  }
  const { files, total } = contractMetrics(summary);
  if (files.size === 0) {
    console.error(`coverage:check: ${file} lists no contract under contracts/; run 'npm run coverage' again`);
    return 2;
  }
  // Interfaces and constant-only libraries have nothing to run: listed in the total, not in the table.
  const rows = [...files].filter(([, m]) => m.statements.total + m.branches.total + m.lines.total > 0).sort(([a], [b]) => a.localeCompare(b));
  if (argv.includes("--markdown")) {
    console.log("| contract | statements | branches | functions | lines |");
    console.log("|---|---|---|---|---|");
    for (const [name, m] of rows) console.log(`| ${name} | ${KINDS.map((k) => cell(m[k])).join(" | ")} |`);
    console.log(`| **all of contracts/** | ${KINDS.map((k) => `**${cell(total[k])}**`).join(" | ")} |`);
  } else {
    const width = Math.max(...rows.map(([n]) => n.length), 20);
    console.log(`${"contract".padEnd(width)}  ${KINDS.map((k) => k.padStart(22)).join("")}`);
    for (const [name, m] of rows) console.log(`${name.padEnd(width)}  ${KINDS.map((k) => cell(m[k]).padStart(22)).join("")}`);
    console.log(`${"all of contracts/".padEnd(width)}  ${KINDS.map((k) => cell(total[k]).padStart(22)).join("")}`);
  }
  const missed = shortfalls(total);
  if (missed.length) {
    console.error(`coverage:check: FAIL, below the gate (lines ≥ ${THRESHOLDS.lines} %, branches ≥ ${THRESHOLDS.branches} %): ${missed.join("; ")}`);
    return 1;
  }
  console.log(`coverage:check: PASS (lines ${pct(total.lines)} % ≥ ${THRESHOLDS.lines} %, branches ${pct(total.branches)} % ≥ ${THRESHOLDS.branches} %)`);
  return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
