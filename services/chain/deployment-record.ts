import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { isAddress } from "ethers";
import type { DeploymentRecord } from "./deploy";
import type { RpcClient } from "./rpc";
import { CONTRACT_NAMES } from "./contracts";
import { CONTRACTS_VERSION } from "./version";

/**
 * Deployment records (docs/adr/0005). On the embedded chain they live in the data dir keyed by the
 * chain's genesis hash: Anvil and Hardhat share chain id 31337, and a fresh chain has a new genesis,
 * so a fresh data dir or a wiped chain never believes contracts exist. On a shared network the
 * record is a file all members share (LOTLINE_DEPLOYMENT_FILE), checked against the chain's genesis.
 */
export interface LocalRecords {
  /** `demo`: "seeding" while the demo is being seeded, "done" after (an interrupted seeding is redone). */
  [genesisHash: string]: DeploymentRecord & { demo?: "seeding" | "done" };
}

export class WrongChainError extends Error {
  override name = "WrongChainError";
}

/** A data dir or deployment file made for other contracts than this Lotline's (ADR 0012). */
export class ContractsVersionError extends Error {
  override name = "ContractsVersionError";
}

const versionText = (version: string | undefined) => (version ? `contracts ${version}` : "contracts of a version it did not record");

/**
 * Refuses, before anything in it is opened for writing, a data dir made by a Lotline whose contracts
 * differ from this one's: a deployment record of the embedded chain (`embedded`) or the index's meta
 * table naming another contracts version (or none, as before versions were recorded). Its chain
 * state holds contracts whose events these ABIs cannot read. Nothing is changed or deleted; the
 * one-line message says what to do.
 */
export function checkDataDirVersion(dataDir: string, options: { embedded: boolean }): void {
  const refuse = (found: string | undefined, where: string): never => {
    throw new ContractsVersionError(
      `the data dir ${path.resolve(dataDir)} is from an earlier Lotline (its ${where} records ${found ? `contracts ${found}` : "no contracts version"}; ` +
        `this Lotline's are ${CONTRACTS_VERSION}): move the directory away or set LOTLINE_DATA_DIR to a new one, then start again (nothing was changed)`,
    );
  };
  if (options.embedded) {
    let records: LocalRecords;
    try {
      records = readLocalRecords(dataDir);
    } catch (err) {
      throw new ContractsVersionError(`cannot read ${localRecordsFile(dataDir)}: ${(err as Error).message}; move the data dir away or set LOTLINE_DATA_DIR to a new directory`);
    }
    for (const record of Object.values(records)) {
      if (record.contractsVersion !== CONTRACTS_VERSION) refuse(record.contractsVersion, "deployments.json");
    }
  }
  const indexed = indexedContractsVersion(path.join(dataDir, "lotline.sqlite"));
  if (indexed && indexed.version !== CONTRACTS_VERSION) refuse(indexed.version ?? undefined, "index (lotline.sqlite)");
}

/**
 * The contracts version an existing index was made for, read without migrating it: null when there
 * is no index or it has not indexed a deployment yet; `version` null when it predates versions.
 */
function indexedContractsVersion(file: string): { version: string | null } | null {
  if (!fs.existsSync(file)) return null;
  const db = new Database(file, { fileMustExist: true });
  try {
    const hasMeta = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get() !== undefined;
    if (!hasMeta) return null;
    const read = db.prepare(`SELECT value FROM meta WHERE key = ?`);
    const deployment = read.get("deployment") as { value: string } | undefined;
    if (!deployment) return null;
    return { version: (read.get("contracts_version") as { value: string } | undefined)?.value ?? null };
  } finally {
    db.close();
  }
}

/** Refuses a deployment record (a shared deployment file) made for other contracts. */
export function checkContractsVersion(record: Pick<DeploymentRecord, "contractsVersion">, source: string): void {
  if (record.contractsVersion === CONTRACTS_VERSION) return;
  throw new ContractsVersionError(
    `${source} is a deployment of ${versionText(record.contractsVersion)}, but this Lotline needs contracts ${CONTRACTS_VERSION}: ` +
      `deploy the current contracts (lotline deploy) and share the new deployment file, or run the Lotline release that matches the deployment`,
  );
}

export function localRecordsFile(dataDir: string): string {
  return path.join(dataDir, "deployments.json");
}

export function readLocalRecords(dataDir: string): LocalRecords {
  const file = localRecordsFile(dataDir);
  if (!fs.existsSync(file)) return {};
  return JSON.parse(fs.readFileSync(file, "utf8")) as LocalRecords;
}

/** Writes atomically (temp file + rename) so a crash never leaves half a record. */
export function writeJsonAtomic(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
  fs.renameSync(tmp, file);
}

export function saveLocalRecord(dataDir: string, record: DeploymentRecord & { demo?: "seeding" | "done" }): void {
  const records = readLocalRecords(dataDir);
  records[record.genesisHash] = record;
  writeJsonAtomic(localRecordsFile(dataDir), records);
}

/** Reads and validates a shared deployment file. */
export function readDeploymentFile(file: string): DeploymentRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`cannot read the deployment file ${file}: ${(err as Error).message}`);
  }
  const r = raw as Partial<DeploymentRecord>;
  const problems: string[] = [];
  if (typeof r.genesisHash !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(r.genesisHash)) problems.push("genesisHash");
  if (typeof r.chainId !== "number") problems.push("chainId");
  if (typeof r.startBlock !== "number") problems.push("startBlock");
  for (const name of CONTRACT_NAMES) if (!isAddress(r.contracts?.[name])) problems.push(`contracts.${name}`);
  if (problems.length) throw new Error(`the deployment file ${file} is missing or has invalid: ${problems.join(", ")}`);
  return r as DeploymentRecord;
}

export async function genesisHash(rpc: RpcClient): Promise<string> {
  const block = await rpc.getBlock(0);
  if (!block) throw new Error("the chain returned no genesis block");
  return block.hash;
}

/** Refuses a record made for another chain. */
export async function checkSameChain(rpc: RpcClient, record: DeploymentRecord): Promise<void> {
  const actual = await genesisHash(rpc);
  if (actual.toLowerCase() !== record.genesisHash.toLowerCase()) {
    throw new WrongChainError(
      `the deployment record is for the chain with genesis ${record.genesisHash}, but ${rpc.url} has genesis ${actual}: wrong chain or wrong LOTLINE_DEPLOYMENT_FILE`,
    );
  }
}

/** True when every contract of the record has code on the chain (after a crash it may not). */
export async function contractsExist(rpc: RpcClient, record: DeploymentRecord): Promise<boolean> {
  for (const address of Object.values(record.contracts)) {
    const code = await rpc.call<string>("eth_getCode", [address, "latest"]);
    if (!code || code === "0x") return false;
  }
  return true;
}
