import type { Command } from "commander";
import { Wallet } from "ethers";
import { CliError } from "./client";
import { keyFile, keyPassword, keysDir, listKeys, readSecret, saveKey } from "./keystore";
import type { Print } from "./batch-cmd";

export function registerKeyCommands(program: Command, print: Print): void {
  const keys = program
    .command("keys")
    .description("the CLI's keystore ($LOTLINE_DATA_DIR/keys, encrypted with LOTLINE_KEY_PASSWORD); signing commands take --key <name>");

  keys
    .command("new")
    .description("create a new random key and print its address (give it to your org admin to make it an agent)")
    .argument("<name>", "a name for the key")
    .action(async (name: string) => {
      keyFile(name);
      const password = await keyPassword({ confirm: true });
      const entry = await saveKey(name, Wallet.createRandom().privateKey, password);
      print(entry, () => `created key "${entry.name}": ${entry.address}\n  stored encrypted in ${entry.file}`);
    });

  keys
    .command("import")
    .description("import a private key read from stdin (never from the command line)")
    .argument("<name>", "a name for the key")
    .action(async (name: string) => {
      keyFile(name); // a bad name fails before anything is read
      const secret = await readSecret("Private key (hex): ");
      // The message must not echo the input: it is (nearly) a private key.
      if (!/^(0x)?[0-9a-fA-F]{64}$/.test(secret)) throw new CliError("stdin must hold one 32-byte hex private key (64 hex digits, 0x optional)");
      const password = await keyPassword({ confirm: true });
      const entry = await saveKey(name, secret.startsWith("0x") ? secret : `0x${secret}`, password);
      print(entry, () => `imported key "${entry.name}": ${entry.address}\n  stored encrypted in ${entry.file}`);
    });

  keys
    .command("list")
    .description("names and addresses of the keys in the keystore")
    .action(() => {
      const entries = listKeys();
      print(entries, () => (entries.length ? entries.map((k) => `${k.name.padEnd(20)}  ${k.address}`).join("\n") : `no keys in ${keysDir()}; create one with 'lotline keys new <name>'`));
    });
}
