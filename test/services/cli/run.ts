import { spawn } from "node:child_process";
import path from "node:path";

const LOTLINE = path.resolve(__dirname, "../../../bin/lotline.js");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `lotline` as a user would, in a child process with `env` added to the environment and
 * `input` on stdin (stdin is a pipe, never a terminal, so passwords come from the environment).
 * LOTLINE_KEY_PASSWORD is removed unless `env` sets it, so that tests control it.
 */
export function lotline(args: string[], env: Record<string, string | undefined> = {}, input = ""): Promise<Run> {
  // Read-only commands read members-only routes as the demo's auditor (account 7) unless told otherwise.
  const merged: NodeJS.ProcessEnv = { ...process.env, LOTLINE_KEY_PASSWORD: undefined, LOTLINE_DEV_ACCOUNT: "7", ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOTLINE, ...args], { env: merged, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** The single line a failing command prints on stderr (the test fails if there is more). */
export function oneLine(run: Run): string {
  const lines = run.stderr.trim().split("\n");
  if (run.code === 0) throw new Error(`expected failure, got exit 0 with stdout: ${run.stdout}`);
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got:\n${run.stderr}`);
  return lines[0];
}

/** Parses --json output, failing with stderr when the command failed. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function json(run: Run): any {
  if (run.code !== 0) throw new Error(`lotline exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout);
}
