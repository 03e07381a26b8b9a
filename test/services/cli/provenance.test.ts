import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { demoWallet } from "../../../services/demo/roster";
import { glnFor, gtinFor, ssccFor } from "../../../services/gs1/keys";
import type { TestNode } from "../../helpers/node";
import { get, sharedNode } from "../api/helpers";
import { json, lotline, oneLine, type Run } from "./run";

/**
 * The CLI's provenance commands end to end against the shared test node: products, lots,
 * hand-over, transformation, logistic units, recall and the read commands, all signed here and
 * relayed (gasless) through the API. Goods use GTINs, lots and SSCCs the demo does not (item and
 * serial references 73xx), so other test files sharing the node see the demo unchanged.
 */
const PRODUCER = { account: 1, org: "1", prefix: "4012345", gln: glnFor("4012345", 1) }; // 4012345000016
const PROCESSOR = { account: 2, org: "2", prefix: "5412345", gln: glnFor("5412345", 1) }; // 5412345000013

describe("lotline provenance commands", function () {
  this.timeout(180_000);
  const PASSWORD = "cli test password";
  const cheese = gtinFor(PRODUCER.prefix, 7301);
  const grated = gtinFor(PROCESSOR.prefix, 7302);
  const sscc = ssccFor(PROCESSOR.prefix, 7303);
  const lot = "CLI-7301";
  let node: TestNode;
  let dataDir: string;
  let env: Record<string, string>;

  /** Runs lotline against the node with the test's keystore and password. */
  const cli = (args: string[], extra: Record<string, string | undefined> = {}, input = ""): Promise<Run> => lotline(args, { ...env, ...extra }, input);
  const ok = (run: Run): Run => {
    expect(run.code, `lotline failed: ${run.stderr}`).to.equal(0);
    return run;
  };

  before(async function () {
    node = await sharedNode();
    await node.synced();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-cli-"));
    env = { LOTLINE_API_URL: node.url, LOTLINE_DATA_DIR: dataDir, LOTLINE_KEY_PASSWORD: PASSWORD };
  });

  after(function () {
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  describe("a lot from registration to recall", function () {
    let lotId: string;
    let portionId: string;
    const link = () => `https://id.gs1.org/01/${cheese}/10/${lot}`;

    it("registers a product with a keystore key: SIWE sign-in, master data, then registerProduct relayed", async function () {
      ok(await cli(["keys", "import", "producer"], {}, demoWallet(PRODUCER.account).privateKey));
      const run = ok(
        await cli([
          "product", "register", "--key", "producer", "--gtin", cheese, "--name", "CLI test cheese", "--unit", "KGM",
          "--shelf-life-days", "30", "--min-temp", "2", "--max-temp", "8",
        ]),
      );
      expect(run.stdout).to.include(`registered product ${cheese} (CLI test cheese) in KGM for org 1`);
      const product = await get(node, `/api/v1/products/${cheese}`);
      expect(product.status, product.text).to.equal(200);
      expect(product.body).to.include({ orgId: PRODUCER.org, unit: "KGM", masterDataVerified: true });
      expect(product.body.masterData).to.deep.include({ name: "CLI test cheese", shelfLifeDays: 30, storageTemperature: { minCelsius: 2, maxCelsius: 8 } });
    });

    it("registers a lot and prints its batch id (the lot id) and Digital Link", async function () {
      const run = ok(await cli(["batch", "register", "--dev-account", "1", "--gtin", cheese, "--lot", lot, "--quantity", "1000", "--gln", PRODUCER.gln]));
      lotId = await node.contracts.provenance.lotId(BigInt(cheese), lot);
      expect(run.stdout).to.include(`registered lot ${lot} of GTIN ${cheese}: 1000 KGM`);
      expect(run.stdout).to.include(`batch id      ${lotId}`);
      expect(run.stdout).to.include(`digital link  ${link()}`);
      const batch = (await get(node, `/api/v1/batches/${lotId}`)).body;
      expect(batch).to.include({ quantity: "1000", unit: "KGM", ownerOrgId: "1", custodianOrgId: "1", location: PRODUCER.gln, status: "active" });
    });

    it("offers part of the lot, named by its Digital Link, to the processor", async function () {
      const out = json(await cli(["--json", "batch", "offer", link(), "--to", "2", "--quantity", "400", "--dev-account", "1"]));
      expect(out.transactionHash).to.match(/^0x[0-9a-f]{64}$/);
      expect(out.batch).to.include({ id: lotId, status: "in_transit" });
      expect(out.batch.pendingOffer).to.deep.equal({ toOrgId: "2", kind: "both", quantity: "400" });
    });

    it("accepts as the processor and prints the portion that changed hands", async function () {
      const run = ok(await cli(["batch", "accept", lotId, "--gln", PROCESSOR.gln, "--dev-account", "2"]));
      portionId = await node.contracts.provenance.portionId(lotId, 0);
      expect(run.stdout).to.include(`accepted 400 KGM of ${cheese}/${lot}: owner org 2 (Brabant Dairy Processing NV), custodian org 2 (Brabant Dairy Processing NV), at GLN ${PROCESSOR.gln}`);
      expect(run.stdout).to.include(`batch id  ${portionId}`);
      expect(run.stdout).to.include(`split off ${lotId}, which keeps 600 KGM`);
      const portion = (await get(node, `/api/v1/batches/${portionId}`)).body;
      expect(portion).to.include({ parentId: lotId, quantity: "400", ownerOrgId: "2", custodianOrgId: "2", status: "active" });
    });

    it("shows a batch in readable form", async function () {
      const run = ok(await cli(["batch", "show", link()]));
      for (const line of [
        `batch         ${lotId}`,
        `product       GTIN ${cheese}, lot ${lot}`,
        `digital link  ${link()}`,
        "quantity      600 KGM",
        "owner         org 1 (Alpenmilch Hof GmbH)",
        `location      GLN ${PRODUCER.gln}`,
        "status        active",
        "recall        none",
        "lot portions (1000 KGM in circulation):",
      ]) {
        expect(run.stdout).to.include(line);
      }
      expect(run.stdout).to.match(new RegExp(`${portionId}\\s+400 KGM\\s+active`));
      const asJson = json(await cli(["--json", "batch", "show", portionId]));
      expect(asJson).to.include({ id: portionId, lotId, portionIndex: 0 });
    });

    it("traces the portion upstream to its lot", async function () {
      const run = ok(await cli(["trace", portionId]));
      const lines = run.stdout.trim().split("\n");
      expect(lines[0]).to.match(new RegExp(`^${cheese}/${lot}  400 KGM  active  org 2 \\(Brabant Dairy Processing NV\\)  ${portionId}$`));
      expect(lines[1]).to.equal(`└─ split 400 KGM ← ${cheese}/${lot}  600 KGM  active  org 1 (Alpenmilch Hof GmbH)  ${lotId}`);
      expect(lines).to.have.length(2);
    });

    it("transforms the portion at the processor into two lots of its own product", async function () {
      ok(await cli(["product", "register", "--dev-account", "2", "--gtin", grated, "--name", "CLI grated cheese", "--unit", "KGM"]));
      const out = json(
        await cli([
          "--json", "batch", "transform", "--dev-account", "2", "--kind", "PROCESS",
          "--input", `${portionId}=400`, "--output", `${grated}/GR-7301=250@${PROCESSOR.gln}`, "--output", `${grated}/GR=7301=130`,
        ]),
      );
      expect(out.outputs.map((b: { lot: string; quantity: string; location: string | null }) => [b.lot, b.quantity, b.location])).to.deep.equal([
        ["GR-7301", "250", PROCESSOR.gln],
        ["GR=7301", "130", null],
      ]);
      expect((await get(node, `/api/v1/batches/${portionId}`)).body.status).to.equal("consumed");
    });

    it("traces the lot downstream as a tree through the split and the transformation", async function () {
      const run = ok(await cli(["trace", link(), "--downstream"]));
      const lines = run.stdout.trim().split("\n");
      expect(lines[0]).to.include(`${cheese}/${lot}  600 KGM  active`);
      expect(lines[1]).to.match(new RegExp(`^└─ split 400 KGM → ${cheese}/${lot}  0 KGM  consumed`));
      expect(lines.slice(2).join("\n")).to.match(/ {3}├─ process [0-9.]+ KGM → [0-9]{14}\/GR/);
      expect(lines.slice(2).join("\n")).to.match(/ {3}└─ process [0-9.]+ KGM → [0-9]{14}\/GR/);
      const limited = ok(await cli(["trace", link(), "--downstream", "--max-depth", "1"]));
      expect(limited.stdout.trim().split("\n")).to.have.length(3);
      expect(limited.stdout).to.include("(truncated: raise --max-depth to see further)");
      const asJson = json(await cli(["--json", "trace", link(), "--downstream"]));
      expect(asJson.root).to.equal(lotId);
      expect(asJson.nodes).to.have.length(4);
    });

    it("packs the outputs into a logistic unit and unpacks it", async function () {
      const outputs = [`https://id.gs1.org/01/${grated}/10/GR-7301`, `https://id.gs1.org/01/${grated}/10/${encodeURIComponent("GR=7301")}`];
      const packed = ok(await cli(["batch", "aggregate", sscc, ...outputs, "--dev-account", "2"]));
      expect(packed.stdout).to.include(`packed 2 batches into SSCC ${sscc}`);
      expect(json(await cli(["--json", "batch", "show", outputs[1]])).logisticUnit).to.include({ sscc });
      ok(await cli(["batch", "unpack", sscc, "--dev-account", "2"]));
      expect(json(await cli(["--json", "batch", "show", outputs[1]])).logisticUnit).to.equal(null);
    });

    it("rejects (receiver) and cancels (sender) offers", async function () {
      const output = `https://id.gs1.org/01/${grated}/10/GR-7301`;
      ok(await cli(["batch", "offer", output, "--to", "3", "--quantity", "250", "--kind", "custody", "--dev-account", "2"]));
      const rejected = ok(await cli(["batch", "reject", output, "--reason", "no room in the cold store", "--dev-account", "3"]));
      expect(rejected.stdout).to.match(/rejected; the batch is active$/m);
      ok(await cli(["batch", "offer", output, "--to", "3", "--quantity", "100", "--dev-account", "2"]));
      ok(await cli(["batch", "cancel", output, "--dev-account", "2"]));
      const history = ok(await cli(["batch", "history", output]));
      expect(history.stdout).to.include("offer withdrawn by org 3 (Lyon Fromagerie SA): no room in the cold store");
      expect(history.stdout).to.include("offer withdrawn by org 2 (Brabant Dairy Processing NV)");
      expect(history.stdout).to.include("250 KGM offered by org 2 (Brabant Dairy Processing NV) to org 3 (Lyon Fromagerie SA) (custody)");
    });

    it("prints a batch's history", async function () {
      const run = ok(await cli(["batch", "history", lotId]));
      expect(run.stdout).to.include(`registered 1000 KGM at GLN ${PRODUCER.gln} by org 1 (Alpenmilch Hof GmbH)`);
      expect(run.stdout).to.include("400 KGM offered by org 1 (Alpenmilch Hof GmbH) to org 2 (Brabant Dairy Processing NV) (custody and ownership)");
      expect(run.stdout).to.include(`400 KGM split off into ${portionId}`);
    });

    it("recalls the lot as its producer and reports the downstream batches affected", async function () {
      const out = json(await cli(["--json", "batch", "recall", link(), "--reason", "listeria in the retained sample", "--dev-account", "1"]));
      expect(out.batchId).to.equal(lotId);
      expect(out.impact.batches).to.equal(3); // the portion and the two outputs
      const shown = json(await cli(["--json", "batch", "show", lotId]));
      expect(shown.status).to.equal("recalled");
      expect(shown.recall).to.include({ kind: "direct", reason: "listeria in the retained sample", byOrgId: "1" });
    });

    it("refuses, with the contract's reason on one line, a call that would revert", async function () {
      // The lot is recalled: it cannot be offered any more.
      const run = await cli(["batch", "offer", lotId, "--to", "2", "--quantity", "1", "--dev-account", "1"]);
      expect(oneLine(run)).to.equal(`lotline: the call would revert: ProvenanceBatchRecalled(${lotId}) (call_reverted)`);
      const again = await cli(["batch", "register", "--dev-account", "1", "--gtin", cheese, "--lot", lot, "--quantity", "1"]);
      expect(oneLine(again)).to.equal(`lotline: the call would revert: ProvenanceLotExists(${lotId}) (call_reverted)`);
    });
  });

  describe("refusals, each on one line with a non-zero exit", function () {
    const refused = async (args: string[], expected: string | RegExp, extra: Record<string, string | undefined> = {}) => {
      const run = await cli(args, extra);
      const line = oneLine(run);
      expect(run.stdout).to.equal("");
      if (typeof expected === "string") expect(line).to.equal(expected);
      else expect(line).to.match(expected);
    };

    it("a GTIN that is not one", async function () {
      await refused(["batch", "register", "--dev-account", "1", "--gtin", "12345", "--lot", "X", "--quantity", "1"], 'lotline: --gtin: "12345" is not a GTIN (8, 12, 13 or 14 digits)');
      await refused(["batch", "register", "--dev-account", "1", "--gtin", "04012345000017", "--lot", "X", "--quantity", "1"], "lotline: --gtin: GTIN 04012345000017 has a wrong check digit");
    });

    it("a quantity that is not a number", async function () {
      await refused(
        ["batch", "register", "--dev-account", "1", "--gtin", cheese, "--lot", "X", "--quantity", "abc"],
        'lotline: --quantity: "abc" is not a quantity (a decimal number with at most 3 decimals)',
      );
      await refused(["batch", "offer", "0x" + "ab".repeat(32), "--to", "2", "--quantity", "1.2345", "--dev-account", "1"], /^lotline: --quantity: "1\.2345" is not a quantity/);
    });

    it("a product that is not registered", async function () {
      const unknown = gtinFor(PRODUCER.prefix, 7399);
      await refused(
        ["batch", "register", "--dev-account", "1", "--gtin", unknown, "--lot", "X", "--quantity", "1"],
        `lotline: no product ${unknown} is registered; register it first with 'lotline product register'`,
      );
    });

    it("a batch that does not exist, by id or Digital Link, and a ref that is neither", async function () {
      const id = "0x" + "ab".repeat(32);
      await refused(["batch", "show", id], `lotline: no batch ${id} (batch_not_found)`);
      await refused(["trace", `https://id.gs1.org/01/${cheese}/10/NOPE`], `lotline: no lot NOPE of GTIN ${cheese} is registered (batch_not_found)`);
      await refused(["batch", "accept", "lot-42", "--dev-account", "2"], /^lotline: "lot-42" is not a URI; give a batch id \(0x \+ 64 hex digits\) or a GS1 Digital Link \(invalid_ref\)$/);
    });

    it("a signing command without a signer, or with a keystore key and no password", async function () {
      ok(await cli(["keys", "new", "spare"]));
      await refused(["batch", "unpack", sscc], "lotline: say who signs: --key <name> (see 'lotline keys list') or, on the local chain, --dev-account <n>");
      await refused(["batch", "unpack", sscc, "--key", "spare"], "lotline: set LOTLINE_KEY_PASSWORD to the keystore password (there is no terminal to ask for it)", {
        LOTLINE_KEY_PASSWORD: undefined,
      });
      await refused(["batch", "unpack", sscc, "--key", "spare"], 'lotline: wrong password for key "spare" (LOTLINE_KEY_PASSWORD)', { LOTLINE_KEY_PASSWORD: "wrong" });
      await refused(["batch", "unpack", sscc, "--key", "nobody"], /^lotline: no key named "nobody" in .*; see 'lotline keys list'$/);
    });

    it("a key that is not an agent of any organisation", async function () {
      const created = json(await cli(["--json", "keys", "new", "stranger"]));
      await refused(["product", "register", "--key", "stranger", "--gtin", gtinFor(PRODUCER.prefix, 7398), "--name", "x", "--unit", "KGM"], `lotline: ${created.address} is not an agent of any organisation (not_an_agent)`);
    });

    it("--dev-account on a chain other than the local 31337", async function () {
      // A stand-in for a real network's service: it only answers GET /api/v1/deployment.
      const server = http.createServer((req, res) => {
        res.setHeader("content-type", "application/json");
        if (req.url === "/api/v1/deployment") {
          res.end(JSON.stringify({ chainId: 1337, contracts: {}, eip712: {} }));
        } else {
          res.statusCode = 404;
          res.end(JSON.stringify({ detail: "not here", code: "not_found" }));
        }
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        await refused(
          ["batch", "unpack", sscc, "--dev-account", "1"],
          "lotline: --dev-account derives keys from the public test mnemonic and is refused on chain 1337 (only on the local chain 31337); use --key",
          { LOTLINE_API_URL: url },
        );
      } finally {
        server.close();
      }
    });

    it("malformed options", async function () {
      await refused(["batch", "offer", "0x" + "ab".repeat(32), "--to", "0", "--quantity", "1", "--dev-account", "1"], 'lotline: --to must be an organisation id (a positive integer), got "0"');
      await refused(["batch", "offer", "0x" + "ab".repeat(32), "--to", "2", "--quantity", "1", "--kind", "gift", "--dev-account", "1"], 'lotline: --kind must be custody, ownership or both, got "gift"');
      await refused(["batch", "aggregate", "123", "0x" + "ab".repeat(32), "--dev-account", "2"], 'lotline: "123" is not an SSCC (18 digits with a valid check digit)');
      await refused(["batch", "transform", "--input", "x=1", "--output", "nonsense", "--dev-account", "2"], 'lotline: --output must be <gtin>/<lot>=<quantity>[@<gln>], got "nonsense"');
      await refused(["batch", "register", "--dev-account", "1", "--gtin", cheese, "--lot", "X", "--quantity", "1", "--gln", "4012345000017"], 'lotline: --gln: "4012345000017" is not a GLN (13 digits with a valid check digit)');
      await refused(["batch", "show", lotIdPlaceholder()], /^lotline: .*invalid_ref\)$/);
    });
  });
});

/** Something shaped like an id but one digit short. */
function lotIdPlaceholder(): string {
  return "0x" + "ab".repeat(31) + "a";
}
