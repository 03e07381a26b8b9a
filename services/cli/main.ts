import { Command, CommanderError } from "commander";
import { isAddress } from "ethers";
import { ConfigError, loadConfig } from "../config";
import { apiGet, CliError } from "./client";
import { registerBatchCommands } from "./batch-cmd";
import { registerProductCommands } from "./product-cmd";
import { registerKeyCommands } from "./keys-cmd";
import { registerAgentCommands } from "./agent-cmd";
import { registerOrderCommands } from "./order-cmd";
import { registerEpcisCommands } from "./epcis-cmd";
import { registerModelCommands } from "./model-cmd";
import { registerGrantCommands } from "./grant-cmd";
import { registerSubscribeCommands } from "./subscribe-cmd";
import { readAsEnvironmentReader } from "./session";
import { registerExportCommands } from "./export-cmd";
import { registerOpsCommands } from "./ops-cmd";
import { registerAllocationCommands } from "./allocation-cmd";

/**
 * `lotline`: the CLI of suppliers, carriers and auditors. Reads talk to the service's API
 * (LOTLINE_API_URL, default http://127.0.0.1:$LOTLINE_PORT); `up` and `deploy` work on the chain.
 * Writes (products, batches, orders) go through the API too, gasless: signed here with a keystore key
 * (or a dev account on the local chain) and submitted to the service's relayer.
 * Every failure exits non-zero with one line saying what to fix.
 */
// The node's own commands (up, deploy, index, besu-genesis) load their modules when run, so every other
// command starts without the server, indexer and scoring code. `require`, not `import()`: bin/lotline.js
// registers tsx's CommonJS hook only, which dynamic import() does not go through.
/* eslint-disable @typescript-eslint/no-require-imports */
const nodeCommands = {
  up: () => require("./up") as typeof import("./up"),
  deploy: () => require("./deploy") as typeof import("./deploy"),
  index: () => require("./index-cmd") as typeof import("./index-cmd"),
  besu: () => require("../chain/besu") as typeof import("../chain/besu"),
};
/* eslint-enable @typescript-eslint/no-require-imports */
const program = new Command()
  .name("lotline")
  .description("Lotline supply-chain traceability: run the node and act on the consortium")
  .option("--json", "print machine-readable JSON")
  .showHelpAfterError("(run lotline --help for usage)")
  .exitOverride();

const json = () => Boolean(program.opts().json);
// Read-only commands read members-only routes as LOTLINE_KEY / LOTLINE_DEV_ACCOUNT (signing commands as their signer).
readAsEnvironmentReader();
const print = (value: unknown, human: () => string) => console.log(json() ? JSON.stringify(value, null, 2) : human());

program
  .command("up")
  .description("start Lotline: embedded chain (unless LOTLINE_RPC_URL), deployment, demo, indexer and API")
  .action(async () => nodeCommands.up().upCommand(loadConfig()));

program
  .command("deploy")
  .description("deploy the contracts to LOTLINE_RPC_URL with LOTLINE_DEPLOYER_KEY and write the deployment file")
  .option("--governor <address>", "holder of the governance role (a TimelockController or multisig); default: the deployer")
  .option("--out <file>", "where to write the deployment record (default: LOTLINE_DEPLOYMENT_FILE or <data dir>/deployment.json)")
  .action(async (opts: { governor?: string; out?: string }) => nodeCommands.deploy().deployCommand(loadConfig(), opts, json()));

const index = program.command("index").description("the chain index in the data dir's SQLite file");
index
  .command("run")
  .description("run only the indexer against LOTLINE_RPC_URL (Ctrl-C stops it)")
  .option("--once", "stop when the index reaches the chain head")
  .action(async (opts: { once?: boolean }) => nodeCommands.index().indexRunCommand(loadConfig(), opts));
index
  .command("rebuild")
  .description("empty the index so that the next start re-reads the chain (stop the service first)")
  .action(async () => {
    nodeCommands.index().indexRebuildCommand(loadConfig());
    print({ rebuilt: true }, () => "index emptied; it is rebuilt from the chain on the next start");
  });

program
  .command("besu-genesis")
  .description("print a Hyperledger Besu QBFT genesis with Lotline's pinned hardfork (see docs/besu.md)")
  .requiredOption("--validators <addresses>", "comma-separated validator addresses (4 or more in production)")
  .option("--chain-id <id>", "chain id of the consortium network", "1337")
  .option("--block-period <seconds>", "seconds between blocks", "2")
  .option("--fund <addresses>", "comma-separated accounts to fund at genesis (deployer, relayers)", "")
  .action(async (opts: { validators: string; chainId: string; blockPeriod: string; fund: string }) => {
    const { besuGenesis } = nodeCommands.besu();
    const list = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);
    const validators = list(opts.validators);
    const bad = [...validators, ...list(opts.fund)].find((a) => !isAddress(a));
    if (bad) throw new CliError(`"${bad}" is not an address`);
    const chainId = Number(opts.chainId);
    const blockPeriod = Number(opts.blockPeriod);
    if (!Number.isInteger(chainId) || chainId < 1) throw new CliError("--chain-id must be a positive integer");
    if (!Number.isInteger(blockPeriod) || blockPeriod < 1) throw new CliError("--block-period must be a positive integer");
    const alloc = Object.fromEntries(list(opts.fund).map((a) => [a, 10n ** 24n]));
    console.log(JSON.stringify(besuGenesis({ chainId, validators, blockPeriodSeconds: blockPeriod, alloc }), null, 2));
  });

program
  .command("status")
  .description("show the service's health: chain, head, indexed block, lag, relayer")
  .action(async () => {
    const health = await apiGet<Record<string, unknown>>("/health");
    print(health, () =>
      `status ${health.status} (${health.phase}) · chain ${health.chainId} · head ${health.headBlock} · indexed ${health.indexedBlock} · lag ${health.lagBlocks}`,
    );
  });

const org = program.command("org").description("organisations of the consortium");
org
  .command("list")
  .description("list organisations")
  .option("--status <status>", "active or suspended")
  .action(async (opts: { status?: string }) => {
    if (opts.status && !["active", "suspended"].includes(opts.status)) throw new CliError("--status must be active or suspended");
    const items: Array<Record<string, unknown>> = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ limit: "500", ...(opts.status ? { status: opts.status } : {}), ...(cursor ? { cursor } : {}) });
      const page: { items: Array<Record<string, unknown>>; nextCursor: string | null } = await apiGet(`/api/v1/orgs?${query}`);
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    print(items, () =>
      items.map((o) => `${String(o.orgId).padStart(4)}  ${String(o.status).padEnd(9)}  ${o.name}  [${(o.allowedRoles as string[]).join(", ")}]`).join("\n") ||
      "no organisations",
    );
  });
org
  .command("show")
  .description("show an organisation with its agents and credentials")
  .argument("<orgId>", "organisation id")
  .action(async (orgId: string) => {
    if (!/^[1-9][0-9]*$/.test(orgId)) throw new CliError(`orgId must be a positive integer, got "${orgId}"`);
    const o = await apiGet<Record<string, any>>(`/api/v1/orgs/${orgId}`); // eslint-disable-line @typescript-eslint/no-explicit-any
    print(o, () =>
      [
        `${o.name} (org ${o.orgId}, ${o.status}${o.suspensionReason ? `: ${o.suspensionReason}` : ""})`,
        `  roles allowed: ${o.allowedRoles.join(", ")}`,
        `  company prefixes: ${o.companyPrefixes.map((p: { prefix: string }) => p.prefix).join(", ") || "-"}`,
        `  locations (GLN): ${o.locations.join(", ") || "-"}`,
        `  agents:`,
        ...o.agents.map((a: any) => `    ${a.address}  ${a.status.padEnd(9)} ${a.roles.join(", ")}`), // eslint-disable-line @typescript-eslint/no-explicit-any
        `  credentials:`,
        ...o.credentials.map((c: any) => `    #${c.id} ${c.type} issued by org ${c.issuerOrgId} to org ${c.subjectOrgId}: ${c.status}`), // eslint-disable-line @typescript-eslint/no-explicit-any
      ].join("\n"),
    );
  });

registerAgentCommands(program, print);
registerKeyCommands(program, print);
registerProductCommands(program, print);
registerBatchCommands(program, print);
registerOrderCommands(program, print);
registerEpcisCommands(program, print);
registerModelCommands(program, print);
registerGrantCommands(program, print);
registerSubscribeCommands(program, print);
registerExportCommands(program, print, json);
registerOpsCommands(program, print);
registerAllocationCommands(program, print);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // --help and --version exit 0 through here; usage errors were already printed by commander.
    process.exit(err.exitCode);
  }
  // ethers errors carry the whole transaction in `message`; their `shortMessage` is the point.
  const e = err as Error & { shortMessage?: string };
  const message = err instanceof CliError || err instanceof ConfigError ? e.message : (e.shortMessage ?? e.message ?? String(err));
  const line = message.split("\n")[0];
  process.stderr.write(`lotline: ${line.length > 400 ? `${line.slice(0, 400)}…` : line}\n`);
  process.exit(1);
});
