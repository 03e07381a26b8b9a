import type { Command } from "commander";
import { assertNewTarget, collectBundle, writeBundleDir } from "../export/exporter";
import { verifyBundle, verifyBundleAgainstChain } from "../export/verify-run";
import type { Check } from "../export/verify";
import { apiRequest, apiUrl, CliError } from "./client";
import { wholeNumberArg } from "./args";
import { actor, signing, type Print } from "./batch-cmd";
import { signIn } from "./product-cmd";
import type { SignerOptions } from "./keystore";

/**
 * `lotline export <ref> <dir>`: a self-contained bundle of a batch for an auditor, read from the
 * API signed in as the exporter (so it holds what the API serves that exporter, no more).
 * `lotline verify --bundle <dir> --rpc <url>`: checks a bundle against any chain node, no Lotline
 * service needed. See README "Verifiable exports".
 */
export function registerExportCommands(program: Command, print: Print, json: () => boolean): void {
  signing(
    program
      .command("export")
      .description("write a verifiable bundle of a batch: lineage, custody, records you may read, proofs, chain references")
      .argument("<ref>", "batch id (0x…) or the GS1 Digital Link of a lot")
      .argument("<dir>", "a new (or empty) directory to write the bundle into")
      .option("--max-depth <n>", "how many lineage steps to follow each way (default 50)"),
  ).action(async (ref: string, dir: string, opts: SignerOptions & { maxDepth?: string }) => {
    const maxDepth = opts.maxDepth === undefined ? 50 : wholeNumberArg(opts.maxDepth, "--max-depth", 1000);
    try {
      assertNewTarget(dir);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const { signer } = await actor(opts);
    const token = await signIn(signer);
    const session = await apiRequest<{ orgId: string }>("GET", "/api/v1/auth/session", { token });
    const bundle = await collectBundle(
      { url: apiUrl(), get: (path, headers) => apiRequest("GET", path, { token, headers }) },
      {
        ref,
        maxDepth,
        exportedBy: { address: signer.address, orgId: session.orgId },
        progress: (message) => {
          if (!json()) process.stderr.write(`${message}\n`);
        },
      },
    );
    let written: { files: number };
    try {
      written = writeBundleDir(dir, bundle);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const summary = {
      dir,
      root: bundle.root,
      batches: bundle.lineage.nodes.length,
      edges: bundle.lineage.edges.length,
      custodyEntries: bundle.custody.length,
      records: bundle.records.length,
      gaps: bundle.gaps,
      files: written.files,
    };
    print(summary, () =>
      [
        `exported batch ${bundle.root} to ${dir}: ${summary.batches} batches, ${summary.edges} edges, ${summary.custodyEntries} custody entries, ${summary.records} proven records`,
        ...bundle.gaps.map((g) => `  not included: ${g.class} ${g.subject} (${g.reason}: ${g.detail})`),
        `  check it with: lotline verify --bundle ${dir} --rpc <chain node URL>`,
      ].join("\n"),
    );
  });

  signing(
    program
      .command("verify")
      .description(
        "check a batch and its lineage as a node serves them (<ref>), or an export bundle (--bundle), against the chain; a verdict per record; exit 0 only if all holds",
      )
      .argument("[ref]", "batch id (0x…) or GS1 Digital Link of a lot: re-check every off-chain record of it and its lineage that you may read")
      .option("--bundle <dir>", "an export bundle's directory (instead of <ref>; no Lotline service needed)")
      .option("--rpc <url>", "JSON-RPC URL of a node of the chain (default: LOTLINE_RPC_URL, else the embedded chain at 127.0.0.1:LOTLINE_CHAIN_PORT or 8545)"),
  ).action(async (ref: string | undefined, opts: SignerOptions & { bundle?: string; rpc?: string }) => {
    if ((ref === undefined) === (opts.bundle === undefined)) throw new CliError("give either a batch <ref> or --bundle <dir>, not both or neither");
    const rpc = opts.rpc ?? defaultRpcUrl();
    if (!/^https?:\/\//.test(rpc)) throw new CliError(`--rpc must be an http(s) URL, got "${rpc}"`);
    let checks: Check[];
    if (opts.bundle !== undefined) {
      try {
        checks = await verifyBundle(opts.bundle, rpc);
      } catch (err) {
        throw new CliError(`cannot verify: ${(err as Error).message}`);
      }
    } else {
      // The records as the node serves them to this reader, failing ones included: the chain judges them, not the node.
      const { signer } = await actor(opts);
      const token = await signIn(signer);
      const session = await apiRequest<{ orgId: string }>("GET", "/api/v1/auth/session", { token });
      const bundle = await collectBundle(
        { url: apiUrl(), get: (path, headers) => apiRequest("GET", path, { token, headers }) },
        {
          ref: ref!,
          exportedBy: { address: signer.address, orgId: session.orgId },
          keepFailing: true,
          progress: (message) => {
            if (!json()) process.stderr.write(`${message}\n`);
          },
        },
      );
      try {
        checks = await verifyBundleAgainstChain(bundle, rpc);
      } catch (err) {
        throw new CliError(`cannot verify: cannot read the chain at ${rpc}: ${(err as Error).message}`);
      }
    }
    const failed = checks.filter((c) => !c.ok);
    print({ verified: failed.length === 0, failed: failed.length, checks }, () =>
      [
        ...checks.map((c) => `${c.ok ? (c.check === "gap" ? "note" : "ok  ") : "FAIL"} ${c.check} ${c.subject}: ${c.detail}`),
        failed.length === 0 ? `verified: all ${checks.length} checks passed` : `NOT verified: ${failed.length} of ${checks.length} checks failed`,
      ].join("\n"),
    );
    if (failed.length > 0) process.exitCode = 1;
  });
}

/** The chain to check against when --rpc is not given: the node's configured chain, else the embedded one's port. */
export function defaultRpcUrl(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.LOTLINE_RPC_URL?.trim();
  if (configured) return configured;
  return `http://127.0.0.1:${env.LOTLINE_CHAIN_PORT?.trim() || "8545"}`;
}
