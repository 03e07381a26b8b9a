import fs from "node:fs";
import path from "node:path";
import { decryptKeystoreJson, encryptKeystoreJson, getAddress, Wallet, type HDNodeWallet } from "ethers";
import { demoWallet } from "../demo/roster";
import { LOCAL_CHAIN_ID } from "../chain/evm";
import { CliError } from "./client";

/**
 * The CLI's keystore: one ethers encrypted JSON keystore (Web3 Secret Storage v3) per key, in
 * `$LOTLINE_DATA_DIR/keys/<name>.json`, readable by the user only. The password comes from
 * LOTLINE_KEY_PASSWORD or, on a terminal, from a prompt. Private keys are never printed and never
 * taken from the command line (argv is visible to every user of the machine and lands in shell
 * history): `keys import` reads them from stdin.
 */

/**
 * scrypt cost. Every signing command decrypts its keystore in ethers' pure-JavaScript scrypt:
 * ethers' default N = 2^17 costs about half a second and 128 MiB per command; 2^15 costs about a
 * tenth of that and 32 MiB, which keeps a CLI that is run many times in a row (and its test suite)
 * responsive. Guessing the password stays expensive; the password's strength and the file's 0600
 * mode are the real protection.
 */
export const SCRYPT_N = 1 << 15;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface KeyEntry {
  name: string;
  address: string;
  file: string;
}

export function keysDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(path.resolve(env.LOTLINE_DATA_DIR?.trim() || "./data"), "keys");
}

export function keyFile(name: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!NAME.test(name)) {
    throw new CliError(`"${name}" is not a key name: use 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return path.join(keysDir(env), `${name}.json`);
}

export function listKeys(env: NodeJS.ProcessEnv = process.env): KeyEntry[] {
  const dir = keysDir(env);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json") && NAME.test(f.slice(0, -5)))
    .sort()
    .flatMap((f) => {
      const file = path.join(dir, f);
      try {
        const { address } = JSON.parse(fs.readFileSync(file, "utf8")) as { address?: string };
        return address ? [{ name: f.slice(0, -5), address: getAddress(`0x${address.replace(/^0x/, "")}`), file }] : [];
      } catch {
        return []; // not a keystore: ignored
      }
    });
}

/** Encrypts `privateKey` under the password and writes it as a new key (never overwrites). */
export async function saveKey(name: string, privateKey: string, password: string, env: NodeJS.ProcessEnv = process.env): Promise<KeyEntry> {
  const file = keyFile(name, env);
  if (fs.existsSync(file)) throw new CliError(`a key named "${name}" already exists (${file}); choose another name`);
  let wallet: Wallet;
  try {
    wallet = new Wallet(privateKey);
  } catch {
    throw new CliError("that is not a valid secp256k1 private key"); // never echo the key
  }
  const existing = listKeys(env).find((k) => k.address === wallet.address);
  if (existing) throw new CliError(`${wallet.address} is already in the keystore as "${existing.name}"`);
  const json = await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, password, { scrypt: { N: SCRYPT_N } });
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // "wx": fail rather than overwrite if another process created it meanwhile; 0600 from the start.
  fs.writeFileSync(file, json, { flag: "wx", mode: 0o600 });
  return { name, address: wallet.address, file };
}

export async function loadKey(name: string, password: string, env: NodeJS.ProcessEnv = process.env): Promise<Wallet> {
  const file = keyFile(name, env);
  if (!fs.existsSync(file)) throw new CliError(`no key named "${name}" in ${keysDir(env)}; see 'lotline keys list'`);
  let account;
  try {
    account = await decryptKeystoreJson(fs.readFileSync(file, "utf8"), password);
  } catch (err) {
    if (/password/i.test((err as Error).message)) throw new CliError(`wrong password for key "${name}" (LOTLINE_KEY_PASSWORD)`);
    throw new CliError(`${file} is not a readable keystore: ${(err as Error).message.split("\n")[0]}`);
  }
  return new Wallet(account.privateKey);
}

/** LOTLINE_KEY_PASSWORD, or a hidden prompt on a terminal (twice when `confirm`). */
export async function keyPassword(options: { confirm?: boolean } = {}, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env.LOTLINE_KEY_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  if (!process.stdin.isTTY) throw new CliError("set LOTLINE_KEY_PASSWORD to the keystore password (there is no terminal to ask for it)");
  const password = await promptHidden("Keystore password: ");
  if (!password) throw new CliError("the keystore password must not be empty");
  if (options.confirm && (await promptHidden("Repeat the password: ")) !== password) throw new CliError("the passwords differ");
  return password;
}

/** Reads a secret: from stdin when it is piped, else from a hidden prompt. */
export async function readSecret(question: string): Promise<string> {
  if (process.stdin.isTTY) return promptHidden(question);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").trim();
}

function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = () => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") {
          finish();
          resolve(value);
          return;
        }
        if (ch === "\u0003") {
          finish();
          reject(new CliError("cancelled"));
          return;
        }
        value = ch === "\u007f" || ch === "\b" ? value.slice(0, -1) : value + ch;
      }
    };
    stdin.on("data", onData);
  });
}

export interface SignerOptions {
  key?: string;
  devAccount?: string;
}

/**
 * The wallet a signing command acts with: `--key <name>` from the keystore, or `--dev-account <n>`
 * derived from the public test mnemonic, which only the local development chain may use (anyone
 * can derive those keys).
 */
export async function resolveSigner(opts: SignerOptions, chainId: () => Promise<number>): Promise<Wallet | HDNodeWallet> {
  if (opts.key && opts.devAccount !== undefined) throw new CliError("give either --key or --dev-account, not both");
  if (opts.key) return loadKey(opts.key, await keyPassword());
  if (opts.devAccount !== undefined) {
    if (!/^(0|[1-9][0-9]{0,8})$/.test(opts.devAccount)) throw new CliError(`--dev-account must be an account index (0, 1, 2…), got "${opts.devAccount}"`);
    const id = await chainId();
    if (id !== LOCAL_CHAIN_ID) {
      throw new CliError(
        `--dev-account derives keys from the public test mnemonic and is refused on chain ${id} (only on the local chain ${LOCAL_CHAIN_ID}); use --key`,
      );
    }
    return demoWallet(Number(opts.devAccount));
  }
  throw new CliError("say who signs: --key <name> (see 'lotline keys list') or, on the local chain, --dev-account <n>");
}
