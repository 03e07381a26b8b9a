import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import Database from "better-sqlite3";
import { hexlify, JsonRpcProvider, randomBytes } from "ethers";
import { apiGet, apiPost, CliError } from "./client";
import { actor, signing, type Print } from "./batch-cmd";
import { batchRef, orgNames } from "./format";
import type { SignerOptions } from "./keystore";
import { loadConfig } from "../config";
import { backupDatabase, DB_FILE, OpsError, restoreDatabase, verifyRestored } from "../ops/backup";
import { verifyAuditLog } from "../audit/log";
import { RECALL_ACK_TYPES } from "../recalls/acknowledgements";
import { checkSameChain, readDeploymentFile } from "../chain/deployment-record";
import { connectLotline } from "../chain/deploy";
import { createRpcClient } from "../chain/rpc";
import { besuAllowlists, permissionsToml, type BesuMembersFile, type RegistryMember } from "../chain/besu";
import { createIdentityStore } from "../store/identity";

interface AckStatusJson {
  batchId: string;
  recall: { reason: string | null; at: string; transactionHash: string };
  signing: { domain: { name: string; version: string; chainId: number; verifyingContract: string } };
  custodians: {
    orgId: string;
    name: string | null;
    acknowledged: boolean;
    acknowledgement: { agent: string; at: string; note: string } | null;
    holding: { batchId: string; gtin: string; lot: string; quantity: string; unit: string }[];
    heldSinceRecallSeconds: number | null;
  }[];
  totals: { custodians: number; acknowledged: number; outstanding: number };
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m`;
}

const recallPath = (batchId: string) => `/api/v1/recalls/${encodeURIComponent(batchId)}/acknowledgements`;

/** Resolves a batch ref (id or Digital Link) to the batch id the recall routes take. */
async function recalledBatchId(ref: string): Promise<string> {
  return (await apiGet<{ id: string }>(batchRef(ref))).id;
}

const failLine = (message: string): never => {
  throw new CliError(message);
};

export function registerOpsCommands(program: Command, print: Print): void {
  const recall = program.command("recall").description("recall notices: who holds the goods and who acknowledged");

  recall
    .command("status")
    .description("a recall notice: every organisation holding affected goods, whether it acknowledged, how long it has held them since the recall")
    .argument("<ref>", "the recalled batch: id (0x…) or GS1 Digital Link")
    .action(async (ref: string) => {
      const status = await apiGet<AckStatusJson>(recallPath(await recalledBatchId(ref)));
      print(status, () =>
        [
          `recall of ${status.batchId} at ${status.recall.at}: ${status.recall.reason ?? "(propagated)"}`,
          `  ${status.totals.acknowledged} of ${status.totals.custodians} organisations acknowledged; ${status.totals.outstanding} outstanding`,
          ...status.custodians.map((c) => {
            const who = `${c.name ?? "org"} (org ${c.orgId})`;
            const held = c.heldSinceRecallSeconds === null ? "holds none now" : `holding ${c.holding.length} batch${c.holding.length === 1 ? "" : "es"} for ${duration(c.heldSinceRecallSeconds)} since the recall`;
            const ack = c.acknowledgement ? `acknowledged ${c.acknowledgement.at} by ${c.acknowledgement.agent}${c.acknowledgement.note ? `: ${c.acknowledgement.note}` : ""}` : "NOT ACKNOWLEDGED";
            return `  ${c.acknowledged ? "✓" : "✗"} ${who.padEnd(42)} ${held}; ${ack}`;
          }),
        ].join("\n"),
      );
    });

  signing(
    recall
      .command("ack")
      .description("acknowledge a recall notice for your organisation (signed EIP-712 with your agent key, kept and anchored by the node)")
      .argument("<ref>", "the recalled batch: id (0x…) or GS1 Digital Link")
      .option("--note <text>", "what you did with the goods (quarantined, returned, destroyed …)", "")
      .option("--valid-minutes <n>", "how long the signature stays valid", "30"),
  ).action(async (ref: string, opts: SignerOptions & { note: string; validMinutes: string }) => {
    const minutes = Number(opts.validMinutes);
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 7 * 24 * 60) throw new CliError("--valid-minutes must be a whole number from 1 to 10080");
    if (opts.note.length > 1000) throw new CliError("--note must be at most 1000 characters");
    const { signer } = await actor(opts);
    const batchId = await recalledBatchId(ref);
    const status = await apiGet<AckStatusJson>(recallPath(batchId));
    const me = await apiGet<{ orgId: string }>(`/api/v1/agents/${signer.address}`);
    const mine = status.custodians.find((c) => c.orgId === me.orgId);
    if (!mine) failLine(`your organisation (org ${me.orgId}) holds none of the goods this recall affects; nothing to acknowledge`);
    if (mine!.acknowledged) failLine(`your organisation (org ${me.orgId}) already acknowledged this recall on ${mine!.acknowledgement!.at}`);
    const message = {
      batchId,
      recallTx: status.recall.transactionHash,
      orgId: me.orgId,
      nonce: hexlify(randomBytes(32)),
      deadline: Math.floor(Date.now() / 1000) + minutes * 60,
      note: opts.note,
    };
    const signature = await signer.signTypedData(status.signing.domain, RECALL_ACK_TYPES, message);
    const result = await apiPost<Record<string, string>>(recallPath(batchId), {
      orgId: me.orgId,
      agent: signer.address,
      recallTx: message.recallTx,
      nonce: message.nonce,
      deadline: message.deadline,
      note: message.note,
      signature,
    });
    const org = await orgNames();
    print(result, () => `acknowledged the recall of ${batchId} for ${org(me.orgId)} (signed by ${signer.address}); anchored as ${result.recordId}`);
  });

  program
    .command("backup")
    .description("copy the node's database (records, proofs, index, audit log) to a file, while the node runs (SQLite online backup)")
    .argument("<file>", "the backup file to write (must not exist)")
    .action(async (file: string) => {
      const config = loadConfig();
      const result = await wrap(() => backupDatabase(config.dataDir, file));
      print(result, () =>
        `backed up ${path.join(config.dataDir, DB_FILE)} to ${result.file}: ${result.bytes} bytes, ${result.records} records, ${result.auditEntries} audit entries, schema ${result.schemaVersion}, sha256 ${result.sha256}`,
      );
    });

  program
    .command("restore")
    .description("restore a backup into an empty data dir and re-verify every anchored record against the chain (LOTLINE_RPC_URL, LOTLINE_DEPLOYMENT_FILE)")
    .argument("<file>", "a file written by 'lotline backup'")
    .action(async (file: string) => {
      const config = loadConfig();
      if (!config.rpcUrl || !config.deploymentFile) {
        failLine("restore re-verifies the records against the chain: set LOTLINE_RPC_URL and LOTLINE_DEPLOYMENT_FILE (the consortium's deployment file)");
      }
      const deployment = await wrap(async () => readDeploymentFile(config.deploymentFile!));
      const rpc = createRpcClient(config.rpcUrl!);
      await checkSameChain(rpc, deployment);
      if (!fs.existsSync(path.resolve(file))) failLine(`no backup file ${path.resolve(file)}`);
      if (fs.existsSync(config.dataDir) && fs.readdirSync(config.dataDir).length > 0) {
        failLine(`the data dir ${config.dataDir} is not empty: restore into a new, empty directory (LOTLINE_DATA_DIR) so nothing is overwritten`);
      }
      const indexed = backupDeployment(file);
      const expected = `${deployment.genesisHash}:${deployment.contracts.registry}`;
      if (indexed !== null && indexed.toLowerCase() !== expected.toLowerCase()) {
        failLine(`the backup is of another deployment (${indexed}) than LOTLINE_DEPLOYMENT_FILE (${expected}): restore it against its own chain`);
      }
      const db = await wrap(() => restoreDatabase(file, config.dataDir));
      const provider = new JsonRpcProvider(config.rpcUrl!, deployment.chainId, { staticNetwork: true });
      try {
        const anchors = connectLotline(deployment, provider).anchors;
        const report = await verifyRestored(db, async (org, root) => (await anchors.anchorOf(org, root)).blockNumber);
        print({ dataDir: config.dataDir, ...report }, () =>
          [
            `restored ${path.resolve(file)} into ${config.dataDir}`,
            `  ${report.records} records: ${report.verified} verified against the chain, ${report.pending} pending, ${report.requeued.length} re-queued for anchoring (not on the chain), ${report.failed.length} did not verify`,
            ...report.failed.map((f) => `  ✗ ${f.recordId}: ${f.reason}`),
            ...report.requeued.map((r) => `  ↻ ${r}: its anchor is not on the chain; the node anchors it again when it starts`),
            `  audit log: ${report.audit.entries} entries, ${report.audit.ok ? "chain intact" : `BROKEN at entry ${report.audit.firstBroken!.seq}: ${report.audit.firstBroken!.reason}`}`,
            `  start the node on this data dir (lotline up); pending and re-queued records are anchored by its anchoring job`,
          ].join("\n"),
        );
        if (report.failed.length > 0 || !report.audit.ok) {
          failLine(`restored, but ${report.failed.length} record(s) did not verify${report.audit.ok ? "" : " and the audit log is broken"}: see the report above`);
        }
      } finally {
        provider.destroy();
        db.close();
      }
    });

  program
    .command("besu-allowlist")
    .description("print Besu's permissions_config.toml (node and account allowlists) from the registry as the data dir's index has it")
    .requiredOption("--members <file>", "deploy/besu/members.json: each organisation's enode URLs and extra accounts (relayer keys)")
    .option("--out <file>", "write the file (atomically) instead of printing it")
    .action((opts: { members: string; out?: string }) => {
      let members: BesuMembersFile;
      try {
        members = JSON.parse(fs.readFileSync(path.resolve(opts.members), "utf8")) as BesuMembersFile;
      } catch (err) {
        throw new CliError(`cannot read --members ${path.resolve(opts.members)}: ${(err as Error).message}`);
      }
      if (!members || typeof members.members !== "object") throw new CliError(`--members ${opts.members} must hold {"members": {"<orgId>": {"enodes": [...], "accounts": [...]}}}`);
      const file = path.join(loadConfig().dataDir, DB_FILE);
      if (!fs.existsSync(file)) failLine(`no Lotline database at ${file}: run it beside an indexing node (LOTLINE_DATA_DIR)`);
      const db = new Database(file, { readonly: true, fileMustExist: true });
      let lists: { nodes: string[]; accounts: string[] };
      try {
        lists = besuAllowlists(registryMembers(db), members);
      } catch (err) {
        throw new CliError(`--members: ${(err as Error).message}`);
      } finally {
        db.close();
      }
      const toml = permissionsToml(lists);
      if (opts.out) {
        const tmp = `${path.resolve(opts.out)}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, toml);
        fs.renameSync(tmp, path.resolve(opts.out));
      }
      print(lists, () => (opts.out ? `wrote ${opts.out}: ${lists.nodes.length} nodes, ${lists.accounts.length} accounts` : toml.trimEnd()));
    });

  const audit = program.command("audit").description("the node's append-only, hash-chained audit log");
  audit
    .command("verify")
    .description("recompute the audit log's hash chain (in LOTLINE_DATA_DIR, or --file) and name the first broken entry")
    .option("--file <sqlite>", "a database file (a backup, say) instead of the data dir's")
    .action((opts: { file?: string }) => {
      const file = path.resolve(opts.file ?? path.join(loadConfig().dataDir, DB_FILE));
      if (!fs.existsSync(file)) failLine(`no Lotline database at ${file}: set LOTLINE_DATA_DIR or give --file`);
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try {
        if (!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'`).get()) failLine(`${file} has no audit log (a database of an older Lotline)`);
        const result = verifyAuditLog(db);
        const anchored = result.anchoredHeads.filter((h) => h.status === "anchored").length;
        print(result, () =>
          result.ok
            ? `audit log intact: ${result.entries} entries, head ${result.head}; ${anchored} of ${result.anchoredHeads.length} queued heads anchored`
            : `audit log BROKEN at entry ${result.firstBroken!.seq}: ${result.firstBroken!.reason}`,
        );
        if (!result.ok) failLine(`the audit log is broken at entry ${result.firstBroken!.seq}: ${result.firstBroken!.reason}`);
      } finally {
        db.close();
      }
    });
}

/** Organisations and their unexpired agents as the index has them (ConsortiumRegistry events). */
export function registryMembers(db: Database.Database): RegistryMember[] {
  const identity = createIdentityStore(db);
  const orgs = db.prepare(`SELECT org_id, status FROM organisations ORDER BY org_id`).all() as { org_id: number; status: string }[];
  const agents = db.prepare(`SELECT address FROM agents WHERE org_id = ? ORDER BY address`);
  return orgs.map((o) => ({
    orgId: String(o.org_id),
    status: o.status === "active" ? "active" : "suspended",
    agents: (agents.all(o.org_id) as { address: string }[]).map((a) => a.address).filter((a) => identity.getAgent(a)?.status === "active"),
  }));
}

/** The deployment key the backup's index was made for (meta 'deployment'), null when none. */
function backupDeployment(file: string): string | null {
  let db: Database.Database | null = null;
  try {
    db = new Database(path.resolve(file), { readonly: true, fileMustExist: true });
    const row = db.prepare(`SELECT value FROM meta WHERE key = 'deployment'`).get() as { value: string } | undefined;
    return row?.value ?? null;
  } catch {
    throw new CliError(`${path.resolve(file)} is not a Lotline backup`);
  } finally {
    db?.close();
  }
}

async function wrap<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof OpsError) throw new CliError(err.message);
    throw err;
  }
}
