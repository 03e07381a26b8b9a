import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import { id as keccakText } from "ethers";
import { loadConfig } from "../../../services/config";
import { startNode, type RunningNode } from "../../../services/node/node";
import { demoWallet } from "../../../services/demo/roster";
import { glnFor, gtinFor } from "../../../services/gs1/keys";
import { unitToBytes3 } from "../../../services/provenance/quantity";
import { mappingJobFor } from "../../../services/epcis/mapping/job";
import { mappingOf } from "../../../services/epcis/mapping/queue";
import { eventsById } from "../../../services/epcis/store";
import { createProvenanceStore } from "../../../services/store/provenance";
import { deployDemo, startAnvil, tempDir } from "../../helpers/chain";
import { freePort } from "../../helpers/ports";
import type { TestNode } from "../../helpers/node";
import { captureAndWait, epcisDocument, member } from "./helpers";
import { tokenFor } from "../api/helpers";

/**
 * Derived statuses survive rollbacks (issue 12): an EPCIS mapping marked `applied` whose transaction
 * a real reorganisation removed (Anvil's evm_snapshot / evm_revert, then new blocks) is checked
 * again: applied again on the new fork, or marked `not_applied` when the contract now refuses it.
 * The node runs on its own Anvil (reverting the shared node's chain would disturb other files).
 */
const PRODUCER = member("producer");
const MILK = gtinFor(PRODUCER.companyPrefixes[0], 7801);
const GLN = glnFor(PRODUCER.companyPrefixes[0], 1);
const lgtin = (gtin: string, lot: string) => `urn:epc:class:lgtin:${gtin.slice(1, 8)}.${gtin[0]}${gtin.slice(8, 13)}.${lot}`;
const sgln = (gln: string) => `urn:epc:id:sgln:${gln.slice(0, 7)}.${gln.slice(7, 12)}.0`;

describe("EPCIS mappings after a chain reorganisation", function () {
  this.timeout(180_000);
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let demo: Awaited<ReturnType<typeof deployDemo>>;
  let node: RunningNode;
  let dir: string;
  let token: string;

  before(async function () {
    chain = await startAnvil();
    demo = await deployDemo(chain.url);
    dir = tempDir("mapping-reorg");
    const deploymentFile = path.join(dir, "deployment.json");
    fs.writeFileSync(deploymentFile, JSON.stringify(demo.deployment));
    node = await startNode(
      loadConfig({
        LOTLINE_DATA_DIR: path.join(dir, "node"),
        LOTLINE_PORT: "0",
        LOTLINE_CHAIN_PORT: String(await freePort()),
        LOTLINE_RPC_URL: chain.url,
        LOTLINE_DEPLOYMENT_FILE: deploymentFile,
        LOTLINE_INTEGRATION_KEY: demoWallet(PRODUCER.integrationAccount).privateKey,
        LOTLINE_RELAYER_KEY: demoWallet(9).privateKey,
        LOTLINE_LOG_LEVEL: "silent",
      }),
      { logger: pino({ level: "silent" }) },
    );
    await node.ready;
    token = await tokenFor(node as TestNode, demoWallet(PRODUCER.account));
  });

  after(async function () {
    await node?.stop();
    demo?.provider.destroy();
    await chain?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const synced = async () => node.state.indexer!.waitForBlock(await demo.provider.getBlockNumber());

  /** Captures a commissioning event of `lot` and runs the mapping job; returns the event's seq. */
  async function commission(lot: string): Promise<number> {
    const event = {
      type: "ObjectEvent",
      eventID: `urn:uuid:${crypto.randomUUID()}`,
      eventTime: new Date(Date.now() - 60_000).toISOString(),
      eventTimeZoneOffset: "+00:00",
      action: "ADD",
      bizStep: "commissioning",
      disposition: "active",
      epcList: [],
      quantityList: [{ epcClass: lgtin(MILK, lot), quantity: 100, uom: "LTR" }],
      readPoint: { id: sgln(GLN) },
    };
    const job = await captureAndWait(node as TestNode, token, epcisDocument([event]));
    expect(job.success, JSON.stringify(job.errors)).to.equal(true);
    await mappingJobFor(node.db)!.runOnce();
    return eventsById(node.db, event.eventID)[0].seq;
  }

  /** Rolls the chain back to a snapshot and mines a longer fork; the index follows. */
  async function reorganiseTo(snapshot: string): Promise<void> {
    const height = await demo.provider.getBlockNumber();
    expect(await demo.provider.send("evm_revert", [snapshot])).to.equal(true);
    while ((await demo.provider.getBlockNumber()) <= height) await demo.provider.send("evm_mine", []);
    await synced();
  }

  const lotOnIndex = (lot: string) => createProvenanceStore(node.db).listBatches({ gtin: MILK, lot }, { limit: 5, after: 0 }).items.length;

  async function registerMilk(): Promise<void> {
    const producer = demo.contracts.provenance.connect(demoWallet(PRODUCER.account, demo.provider));
    await (await producer.registerProduct(BigInt(MILK), unitToBytes3("LTR"), keccakText(`reorg test ${MILK}`))).wait();
    await synced();
  }

  it("applies again, on the new fork, a mapping whose transaction a reorganisation removed", async function () {
    await registerMilk();
    const snapshot = (await demo.provider.send("evm_snapshot", [])) as string;
    const seq = await commission("REORG-A");
    const before = mappingOf(node.db, seq)!;
    expect(before.status, before.reason ?? "").to.equal("applied");
    expect(before.block_hash).to.match(/^0x[0-9a-f]{64}$/);
    expect(lotOnIndex("REORG-A")).to.equal(1);

    await reorganiseTo(snapshot);
    expect(lotOnIndex("REORG-A"), "the index rolled the lot back").to.equal(0);

    await mappingJobFor(node.db)!.runOnce();
    await synced();
    const after = mappingOf(node.db, seq)!;
    expect(after.status, after.reason ?? "").to.equal("applied");
    expect(after.block_hash).to.not.equal(before.block_hash);
    expect(lotOnIndex("REORG-A"), "the lot is on the new fork").to.equal(1);
  });

  it("marks not_applied a rolled-back mapping the contract refuses on the new fork, saying why", async function () {
    // The product's registration goes with the rollback: registering the lot again is refused.
    const snapshot = (await demo.provider.send("evm_snapshot", [])) as string;
    const other = gtinFor(PRODUCER.companyPrefixes[0], 7802);
    const producer = demo.contracts.provenance.connect(demoWallet(PRODUCER.account, demo.provider));
    await (await producer.registerProduct(BigInt(other), unitToBytes3("LTR"), keccakText(`reorg test ${other}`))).wait();
    await synced();
    const event = {
      type: "ObjectEvent",
      eventID: `urn:uuid:${crypto.randomUUID()}`,
      eventTime: new Date(Date.now() - 60_000).toISOString(),
      eventTimeZoneOffset: "+00:00",
      action: "ADD",
      bizStep: "commissioning",
      disposition: "active",
      epcList: [],
      quantityList: [{ epcClass: lgtin(other, "REORG-B"), quantity: 5, uom: "LTR" }],
      readPoint: { id: sgln(GLN) },
    };
    const job = await captureAndWait(node as TestNode, token, epcisDocument([event]));
    expect(job.success, JSON.stringify(job.errors)).to.equal(true);
    await mappingJobFor(node.db)!.runOnce();
    const seq = eventsById(node.db, event.eventID)[0].seq;
    expect(mappingOf(node.db, seq)!.status).to.equal("applied");

    await reorganiseTo(snapshot);
    await mappingJobFor(node.db)!.runOnce();
    const after = mappingOf(node.db, seq)!;
    expect(after.status).to.equal("not_applied");
    expect(after.reason).to.match(/refused by the contract/);
  });

  it("leaves alone applied mappings whose blocks the reorganisation kept", async function () {
    const seq = await commission("REORG-C");
    const applied = mappingOf(node.db, seq)!;
    expect(applied.status).to.equal("applied");
    const snapshot = (await demo.provider.send("evm_snapshot", [])) as string;
    await demo.provider.send("evm_mine", []);
    await synced();
    await reorganiseTo(snapshot);
    await mappingJobFor(node.db)!.runOnce();
    expect(mappingOf(node.db, seq)).to.deep.equal(applied);
  });
});
