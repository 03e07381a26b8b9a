import fs from "node:fs";
import path from "node:path";
import { isAddress } from "ethers";
import type { DeploymentRecord } from "./deploy";
import type { RpcClient } from "./rpc";
import { CONTRACT_NAMES } from "./contracts";

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
