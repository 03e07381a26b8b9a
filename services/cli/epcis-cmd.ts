import fs from "node:fs";
import type { Command } from "commander";
import { documentEventHashIds } from "../epcis/hash";
import { CliError } from "./client";
import type { Print } from "./batch-cmd";

/** Reads and parses an EPCIS document (or a bare event) from a file. */
function readDocument(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new CliError(`cannot read ${file}: give the path of an EPCIS 2.0 JSON or JSON-LD document`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`${file} is not JSON: ${(err as Error).message}`);
  }
}

export function registerEpcisCommands(program: Command, print: Print): void {
  const epcis = program.command("epcis").description("GS1 EPCIS 2.0 documents and events");

  epcis
    .command("hash")
    .description("print the CBV 2.0 event hash ID of each event of a document, one per line, in document order (offline)")
    .argument("<file>", "an EPCISDocument, EPCISQueryDocument or a single event (JSON / JSON-LD)")
    .action((file: string) => {
      const document = readDocument(file);
      const ids = documentEventHashIds(document);
      if (ids.length === 0) throw new CliError(`${file} holds no EPCIS events`);
      print(ids, () => ids.join("\n"));
    });
}
