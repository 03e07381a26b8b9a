import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { lotline } from "./run";

// bin/cli-bundle.js is plain CommonJS (it runs before tsx is registered).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { commandOf } = require("../../../bin/cli-bundle.js") as { commandOf: (args: string[]) => string | undefined };

/** The one bundle and one manifest a cache directory holds after a run. */
function cacheFiles(dir: string): { bundle: string; manifest: string } {
  const names = fs.readdirSync(dir);
  const bundle = names.find((n) => /^cli-[0-9a-f]+\.js$/.test(n));
  const manifest = names.find((n) => n.endsWith(".inputs.json"));
  if (!bundle || !manifest) throw new Error(`no bundle in ${dir}: ${names.join(", ")}`);
  return { bundle: path.join(dir, bundle), manifest: path.join(dir, manifest) };
}

describe("the CLI's start-up cache (docs/adr/0040)", function () {
  let dir: string;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-cli-cache-"));
  });
  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("builds the bundle on first use, from the CLI's own sources, and answers as from source", async function () {
    const bundled = await lotline(["besu-genesis", "--help"], { LOTLINE_CLI_CACHE_DIR: dir });
    // besu-genesis runs from source: no bundle is built for it.
    expect(fs.readdirSync(dir)).to.deep.equal([]);
    const help = await lotline(["--help"], { LOTLINE_CLI_CACHE_DIR: dir });
    const fromSource = await lotline(["--help"], { LOTLINE_CLI_FROM_SOURCE: "1", LOTLINE_CLI_CACHE_DIR: dir });
    expect(help.code).to.equal(0);
    expect(help.stdout).to.equal(fromSource.stdout);
    expect(bundled.stdout).to.include("--validators");

    const { manifest } = cacheFiles(dir);
    const inputs = Object.keys(JSON.parse(fs.readFileSync(manifest, "utf8")).inputs);
    expect(inputs).to.include.members(["services/cli/main.ts", "services/cli/batch-cmd.ts", "package.json", "tsconfig.json"]);
    // Packages stay external, and the node's own modules are not part of it.
    expect(inputs.some((file) => file.includes("node_modules"))).to.equal(false);
    expect(inputs).to.not.include("services/cli/up.ts");
  });

  it("rebuilds when a source it was built from changed, and the rebuilt bundle answers", async function () {
    await lotline(["--help"], { LOTLINE_CLI_CACHE_DIR: dir });
    const { bundle, manifest } = cacheFiles(dir);
    // A source edited since the build (its recorded stamp no longer matches the file): the stale bundle is replaced.
    const record = JSON.parse(fs.readFileSync(manifest, "utf8"));
    record.inputs["services/epcis/hash/context.ts"][0] -= 1000;
    fs.writeFileSync(manifest, JSON.stringify(record));
    fs.writeFileSync(bundle, "throw new Error('stale bundle loaded');\n");

    // The CBV 2.0 event hashes of a reference document, as published beside it.
    const vectors = path.resolve(__dirname, "../../../../shared/data/epcis/event-hash-vectors");
    const document = path.join(vectors, "ReferenceEventHashAlgorithm.jsonld");
    const run = await lotline(["epcis", "hash", document], { LOTLINE_CLI_CACHE_DIR: dir });
    expect(run.stderr).to.equal("");
    expect(run.stdout.trim()).to.equal(fs.readFileSync(path.join(vectors, "ReferenceEventHashAlgorithm.hashes"), "utf8").trim());
    expect(fs.readFileSync(bundle, "utf8")).to.not.include("stale bundle");
    const rebuilt = JSON.parse(fs.readFileSync(manifest, "utf8"));
    expect(rebuilt.inputs["services/epcis/hash/context.ts"][0]).to.equal(fs.statSync(path.resolve(__dirname, "../../../services/epcis/hash/context.ts")).mtimeMs);
  });

  it("runs from source when the cache cannot be written", async function () {
    const notADirectory = path.join(dir, "file");
    fs.writeFileSync(notADirectory, "");
    const run = await lotline(["--help"], { LOTLINE_CLI_CACHE_DIR: path.join(notADirectory, "cache") });
    expect(run.code).to.equal(0);
    expect(run.stdout).to.include("besu-genesis");
  });

  it("does not load a bundle another user could have written: a cache directory others may write in is not used", async function () {
    await lotline(["--help"], { LOTLINE_CLI_CACHE_DIR: dir });
    const { bundle } = cacheFiles(dir);
    // The manifest still matches the sources; the bundle is replaced by code of someone else's.
    fs.writeFileSync(bundle, "console.log('planted code ran'); process.exit(0);\n");
    fs.chmodSync(dir, 0o777);
    const run = await lotline(["--help"], { LOTLINE_CLI_CACHE_DIR: dir });
    expect(run.stdout).to.not.include("planted code ran");
    expect(run.code).to.equal(0);
    expect(run.stdout).to.include("besu-genesis");
    // The same directory made private again: the stamps match, so the (replaced) bundle is what loads.
    fs.chmodSync(dir, 0o700);
    expect((await lotline(["--help"], { LOTLINE_CLI_CACHE_DIR: dir })).stdout).to.include("planted code ran");
  });

  it("tells the node's own commands from the others by the first argument that is not an option", function () {
    expect(commandOf(["--json", "up"])).to.equal("up");
    expect(commandOf(["batch", "show", "0x01"])).to.equal("batch");
    expect(commandOf(["--help"])).to.equal(undefined);
  });
});
