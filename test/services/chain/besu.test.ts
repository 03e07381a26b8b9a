import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { decodeRlp, Wallet } from "ethers";
import { besuAllowlists, besuGenesis, permissionsToml, QBFT_MIX_HASH, type BesuMembersFile } from "../../../services/chain/besu";
import { EVM_HARDFORK } from "../../../services/chain/evm";
import { registryMembers } from "../../../services/cli/ops-cmd";
import { checkSameChain, readDeploymentFile, writeJsonAtomic } from "../../../services/chain/deployment-record";
import { DEMO_MEMBERS, demoWallet, GOVERNOR_ACCOUNT } from "../../../services/demo/roster";
import { sharedNode } from "../api/helpers";
import type { TestNode } from "../../helpers/node";

const enode = (n: number) => `enode://${n.toString(16).padStart(128, "0")}@10.0.0.${n}:30303`;

describe("Besu deployment files", function () {
  describe("QBFT genesis", function () {
    const validators = Array.from({ length: 4 }, () => Wallet.createRandom().address);
    const genesis = besuGenesis({ chainId: 2026, validators, blockPeriodSeconds: 2 });

    it("encodes the four validators in QBFT's extraData: RLP [32-byte vanity, validators, no vote, round 0, no seals]", function () {
      const [vanity, listed, vote, round, seals] = decodeRlp(genesis.extraData) as [string, string[], string[], string, string[]];
      expect(vanity).to.equal("0x" + "00".repeat(32));
      expect(listed).to.deep.equal(validators.map((v) => v.toLowerCase()));
      expect(vote).to.deep.equal([]);
      expect(round).to.equal("0x");
      expect(seals).to.deep.equal([]);
    });

    it("activates every fork up to the pinned hardfork at genesis, and none after it", function () {
      expect(EVM_HARDFORK).to.equal("cancun");
      expect(genesis.config).to.include({ chainId: 2026, berlinBlock: 0, londonBlock: 0, shanghaiTime: 0, cancunTime: 0, zeroBaseFee: true });
      expect(genesis.config).to.not.have.property("pragueTime");
      expect(genesis.config.qbft).to.deep.equal({ blockperiodseconds: 2, epochlength: 30000, requesttimeoutseconds: 4 });
      expect(genesis).to.include({ mixHash: QBFT_MIX_HASH, difficulty: "0x1" });
    });

    it("matches the genesis shipped in deploy/besu", function () {
      const shipped = JSON.parse(fs.readFileSync(path.join(__dirname, "../../../deploy/besu/genesis.json"), "utf8"));
      const keys = JSON.parse(fs.readFileSync(path.join(__dirname, "../../../deploy/besu/validators.json"), "utf8")) as { address: string }[];
      expect(shipped).to.deep.equal(JSON.parse(JSON.stringify(besuGenesis({ chainId: shipped.config.chainId, validators: keys.map((k) => k.address), blockPeriodSeconds: 2, alloc: Object.fromEntries(Object.entries(shipped.alloc).map(([a, v]) => [a, BigInt((v as { balance: string }).balance)])) }))));
    });
  });

  describe("allowlists and deployment file on the demo chain", function () {
    this.timeout(120_000);
    let node: TestNode;
    const distributor = DEMO_MEMBERS.find((m) => m.key === "distributor")!;
    const distributorOrg = String(DEMO_MEMBERS.indexOf(distributor) + 1);
    const relayer = Wallet.createRandom().address;
    const file: BesuMembersFile = {
      consortiumNodes: [enode(1)],
      consortiumAccounts: [demoWallet(GOVERNOR_ACCOUNT).address],
      members: { [distributorOrg]: { enodes: [enode(5)], accounts: [relayer] }, "1": { enodes: [enode(6)] } },
    };
    const registry = () => node.contracts.registry.connect(demoWallet(GOVERNOR_ACCOUNT, node.provider));

    before(async function () {
      node = await sharedNode();
      await node.synced();
    });

    after(async function () {
      if (await node.contracts.registry.isOrganisationActive(distributorOrg)) return;
      await (await registry().reinstateOrganisation(distributorOrg)).wait();
      await node.synced();
    });

    it("allows an active member's agents, nodes and relayer, drops them when governance suspends it, and allows them again when it is reinstated", async function () {
      const agent = demoWallet(distributor.account).address;
      const active = besuAllowlists(registryMembers(node.db), file);
      expect(active.nodes).to.include.members([enode(1), enode(5), enode(6)]);
      expect(active.accounts).to.include.members([agent, relayer, demoWallet(GOVERNOR_ACCOUNT).address]);
      expect(permissionsToml(active)).to.include(`"${agent}"`);

      await (await registry().suspendOrganisation(distributorOrg, "allowlist test")).wait();
      await node.synced();
      const suspended = besuAllowlists(registryMembers(node.db), file);
      expect(suspended.nodes).to.not.include(enode(5));
      expect(suspended.accounts).to.not.include.members([agent]);
      expect(suspended.accounts).to.not.include(relayer);
      expect(suspended.nodes).to.include(enode(6));

      await (await registry().reinstateOrganisation(distributorOrg)).wait();
      await node.synced();
      expect(besuAllowlists(registryMembers(node.db), file)).to.deep.equal(active);
    });

    it("refuses a members file with something that is not an enode URL", function () {
      expect(() => besuAllowlists([], { members: { "1": { enodes: ["enode://nothex@host:1"] } } })).to.throw(/not an enode URL/);
    });

    it("round-trips the deployment file a member receives, and checks it against the chain", async function () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-deployment-"));
      try {
        const out = path.join(dir, "deployment.json");
        writeJsonAtomic(out, node.state.deployment);
        const read = readDeploymentFile(out);
        expect(read).to.deep.equal(node.state.deployment);
        await checkSameChain(node.state.rpc!, read);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
