import { expect } from "chai";
import { encodeBytes32String, id as keccakText } from "ethers";
import { createRpcClient } from "../../../services/chain/rpc";
import { dumpDerivedTables, openDatabase, type Db } from "../../../services/store/db";
import { createLotlineIndexer, LOTLINE_HANDLERS } from "../../../services/indexer/lotline";
import { createIndexer } from "../../../services/indexer/engine";
import { createIdentityStore } from "../../../services/store/identity";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { rolesToMask } from "../../../services/chain/roles";
import { bindAgent } from "../../../services/chain/agents";
import { deployDemo, freshRebuildDump, startAnvil } from "../../helpers/chain";

describe("indexer: identity from a real local chain into SQLite", function () {
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let demo: Awaited<ReturnType<typeof deployDemo>>;
  let db: Db;
  let indexer: ReturnType<typeof createLotlineIndexer>;

  before(async function () {
    chain = await startAnvil();
    demo = await deployDemo(chain.url);
    db = openDatabase(`${chain.dataDir}/lotline.sqlite`);
    indexer = createLotlineIndexer(
      { db, rpc: createRpcClient(chain.url), deployment: demo.deployment },
      { finalityDepth: 0, reorgWindow: 64, logRange: 2_000, rpcUrl: chain.url },
    );
    await indexer.syncToHead();
  });

  after(async function () {
    demo.provider.destroy();
    db.close();
    await chain.stop();
  });

  it("indexes every demo organisation with its prefixes and locations", function () {
    const identity = createIdentityStore(db);
    const page = identity.listOrganisations({ limit: 50, after: 0 });
    expect(page.items.map((o) => o.name)).to.deep.equal(DEMO_MEMBERS.map((m) => m.name));
    for (const [i, member] of DEMO_MEMBERS.entries()) {
      expect(page.items[i].companyPrefixes).to.deep.equal(member.companyPrefixes.map((prefix) => ({ prefix, length: prefix.length })));
      expect(page.items[i].locations).to.have.length(member.locations.length);
    }
  });

  it("indexes each member's wallet and integration key as agents with their roles", function () {
    const identity = createIdentityStore(db);
    for (const member of DEMO_MEMBERS) {
      const agent = identity.getAgent(demoWallet(member.account).address)!;
      expect(agent.roles).to.have.members([...member.allowedRoles, "org-admin", "treasury"]);
      expect(identity.getAgent(demoWallet(member.integrationAccount).address)!.roles).to.deep.equal(["integration"]);
    }
  });

  it("indexes credentials with their revocation", function () {
    const revoked = db.prepare(`SELECT credential_type, revocation_reason FROM credentials WHERE revoked_at IS NOT NULL`).all();
    expect(revoked).to.have.length(1);
    expect(db.prepare(`SELECT COUNT(*) AS n FROM credentials`).get()).to.deep.equal({ n: 5 });
  });

  it("follows new blocks: a suspension shows on the organisation and its agents", async function () {
    const governor = demo.contracts.registry.connect(demoWallet(0, demo.provider));
    await (await governor.suspendOrganisation(4, "cold chain breach under investigation")).wait();
    await indexer.syncToHead();
    const identity = createIdentityStore(db);
    expect(identity.getOrganisation(4)!.status).to.equal("suspended");
    expect(identity.getAgent(demoWallet(4).address)!.status).to.equal("suspended");
    expect(identity.getAgent(demoWallet(4).address)!.effectiveRoles).to.deep.equal([]);
  });

  it("records every contract event in chain_events with uint values as decimal strings", function () {
    const row = db.prepare(`SELECT args FROM chain_events WHERE event = 'CredentialIssued' ORDER BY block_number LIMIT 1`).get() as { args: string };
    const args = JSON.parse(row.args);
    expect(args.credentialId).to.equal("1");
    expect(args.credentialType).to.equal(encodeBytes32String("ORGANIC"));
  });

  it("writes the same tables whatever the eth_getLogs range (one block at a time or all at once)", async function () {
    const issuer = demo.contracts.registry.connect(demoWallet(2, demo.provider));
    await bindAgent(demo.contracts.registry, demoWallet(2, demo.provider), demoWallet(18, demo.provider), 2, rolesToMask(["processor"]));
    await (await issuer.setAgent(demoWallet(19).address, 2, rolesToMask(["buyer"]), 0)).wait();
    await (await issuer.updateOrganisation(2, "Brabant Dairy Processing NV (renamed)", keccakText("v2"))).wait();
    await indexer.syncToHead();
    const own = dumpDerivedTables(db);
    expect(await freshRebuildDump(chain.url, demo.deployment, 1)).to.equal(own);
    expect(await freshRebuildDump(chain.url, demo.deployment, 5_000)).to.equal(own);
  });

  it("indexes each integration key's effective roles as its organisation's business roles, never integration", function () {
    const identity = createIdentityStore(db);
    const producer = DEMO_MEMBERS.find((m) => m.key === "producer")!;
    const key = identity.getAgent(demoWallet(producer.integrationAccount).address)!;
    expect(key.effectiveRoles).to.have.members([...producer.allowedRoles]);
    expect(key.effectiveRoles).to.not.include("integration");
  });

  it("indexes a proposal until the wallet accepts it, and a wallet leaving its organisation", async function () {
    const identity = createIdentityStore(db);
    const wallet = demoWallet(19, demo.provider);
    await indexer.syncToHead();
    const proposal = identity.proposalsOf(2).find((p) => p.address === wallet.address)!;
    expect(proposal).to.include({ orgId: "2", expiresAt: null, proposedBy: demoWallet(2).address });
    expect(proposal.roles).to.deep.equal(["buyer"]);
    expect(identity.getAgent(wallet.address)).to.equal(null);

    await (await demo.contracts.registry.connect(wallet).acceptAgent(2, rolesToMask(["buyer"]), 0)).wait();
    await indexer.syncToHead();
    expect(identity.proposalsFor(wallet.address)).to.deep.equal([]);
    expect(identity.getAgent(wallet.address)).to.include({ orgId: "2", setBy: demoWallet(2).address });

    await (await demo.contracts.registry.connect(wallet).leaveOrganisation()).wait();
    await indexer.syncToHead();
    expect(identity.getAgent(wallet.address)).to.equal(null);
  });

  it("indexes the credential types governance allows a certifier and revocations by governance", async function () {
    const identity = createIdentityStore(db);
    const governor = demoWallet(0, demo.provider);
    const halal = encodeBytes32String("HALAL");
    await (await demo.contracts.credentials.connect(governor).setCertifierType(8, halal, true)).wait();
    await (await demo.contracts.credentials.connect(governor).revokeCredential(1, "certification body lost its accreditation")).wait();
    await indexer.syncToHead();
    expect(identity.certifierTypesOf(8).map((t) => t.type)).to.include.members(["ORGANIC", "HALAL"]);
    const credentials = identity.credentialsOf(1);
    expect(credentials.find((c) => c.credentialId === "1")).to.include({
      status: "revoked",
      revokedBy: governor.address,
      revokedByGovernance: true,
    });
    const byIssuer = identity.credentialsOf(6).find((c) => c.status === "revoked")!;
    expect(byIssuer).to.include({ revokedByGovernance: false, revokedBy: demoWallet(8).address });

    await (await demo.contracts.credentials.connect(governor).setCertifierType(8, halal, false)).wait();
    await indexer.syncToHead();
    expect(identity.certifierTypesOf(8).map((t) => t.type)).to.not.include("HALAL");
  });

  /** The whole chain indexed into a fresh in-memory database with these caps, step by step: the steps that applied blocks. */
  async function cappedSteps(capped: Db, caps: { reorgWindow: number; maxEventsPerStep: number; catchUpEventsPerStep?: number }) {
    const small = createIndexer({
      db: capped,
      rpc: createRpcClient(chain.url),
      contracts: demo.deployment.contracts,
      startBlock: demo.deployment.startBlock,
      handlers: LOTLINE_HANDLERS,
      finalityDepth: 0,
      rebuildOnDeepReorg: false,
      ...caps,
    });
    const steps: { from: number; to: number; events: number }[] = [];
    for (;;) {
      const step = await small.step();
      if (step.type === "idle") break;
      if (step.type === "blocks") steps.push(step);
    }
    return steps;
  }

  it("cuts a range at a block boundary so that no step applies more than the event cap", async function () {
    const capped = openDatabase(":memory:");
    const steps = await cappedSteps(capped, { reorgWindow: 64, maxEventsPerStep: 3 });
    for (const step of steps) if (step.from !== step.to) expect(step.events).to.be.at.most(3);
    expect(dumpDerivedTables(capped)).to.equal(dumpDerivedTables(db));
    capped.close();
  });

  it("inside the reorg window, applies up to the catch-up cap in a step ending short of the head and the event cap in one reaching it", async function () {
    const capped = openDatabase(":memory:");
    const head = await demo.provider.getBlockNumber();
    // Every block inside the window: every step journalled.
    const steps = await cappedSteps(capped, { reorgWindow: 1_000_000, maxEventsPerStep: 3, catchUpEventsPerStep: 8 });
    const multiBlock = steps.filter((step) => step.from !== step.to);
    for (const step of multiBlock) expect(step.events).to.be.at.most(step.to === head ? 3 : 8);
    expect(multiBlock.some((step) => step.to < head && step.events > 3)).to.equal(true);
    expect(steps.at(-1)!.to).to.equal(head);
    expect(dumpDerivedTables(capped)).to.equal(dumpDerivedTables(db));
    capped.close();
  });

  it("reports lag as blocks between the head and the index", async function () {
    await demo.provider.send("evm_mine", []);
    await demo.provider.send("evm_mine", []);
    await indexer.step(); // one step reads the new head
    const status = indexer.status();
    expect(status.headBlock - status.indexedBlock).to.equal(status.lagBlocks);
  });
});
