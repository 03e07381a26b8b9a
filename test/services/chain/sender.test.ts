import { expect } from "chai";
import { Refusal } from "../../../services/common/refusal";
import { Wallet, type HDNodeWallet, type JsonRpcProvider, type TransactionReceipt } from "ethers";
import { createTransactionSender, mined, SenderSigner, TransactionTimeoutError, type TransactionSender } from "../../../services/chain/sender";
import { createRpcClient } from "../../../services/chain/rpc";
import { createLotlineIndexer } from "../../../services/indexer/lotline";
import { createIdentityStore } from "../../../services/store/identity";
import { openDatabase } from "../../../services/store/db";
import { createRelayer, type Relayer } from "../../../services/relayer/relayer";
import { signForwardRequest, type SignedForwardRequest } from "../../../services/relayer/forward-request";
import { DEMO_MEMBERS, demoWallet, RELAYER_ACCOUNT } from "../../../services/demo/roster";
import { glnFor } from "../../../services/gs1/keys";
import { deployDemo, startAnvil } from "../../helpers/chain";

/**
 * One transaction sender per key (issue 12, ADR 0014), against a real Anvil: automine switched off
 * where a test needs a transaction to stay pending, anvil_dropTransaction to lose one.
 */
const SPARE_ACCOUNT = 8; // funded by Anvil, used by no demo member
const inAMinute = () => Math.floor(Date.now() / 1000) + 60;

describe("transaction sender: one per key", function () {
  this.timeout(60_000);
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let demo: Awaited<ReturnType<typeof deployDemo>>;
  let provider: JsonRpcProvider;
  let key: HDNodeWallet;
  let nextLocation = 900;

  before(async function () {
    this.timeout(180_000);
    chain = await startAnvil();
    demo = await deployDemo(chain.url);
    provider = demo.provider;
    key = demoWallet(SPARE_ACCOUNT, provider);
  });

  after(async function () {
    demo?.provider.destroy();
    await chain?.stop();
  });

  afterEach(async function () {
    await provider.send("evm_setAutomine", [true]);
  });

  const sender = (extra: Partial<Parameters<typeof createTransactionSender>[0]> = {}) =>
    createTransactionSender({ name: "test", signer: key, pollMs: 50, ...extra });
  /** A harmless transaction: 1 wei to the governor. */
  const transfer = { to: demoWallet(0).address, value: 1n };
  const nonceOf = async (hash: string) => (await provider.getTransaction(hash))!.nonce;
  /** Mines a block every 50 ms until `promise` settles (automine off), at most 200 blocks. */
  async function mineUntil<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    const settled = promise.finally(() => (done = true));
    for (let i = 0; i < 200 && !done; i++) {
      await provider.send("evm_mine", []);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return settled;
  }

  it("takes no nonce for a call whose gas estimate reverts, so the key's next transactions are mined", async function () {
    const s = sender();
    const first = await s.send(transfer);
    // Not an agent of organisation 1: the registry refuses, and the estimate says so.
    const refused = demo.contracts.registry.interface.encodeFunctionData("addLocation", [1n, glnFor(DEMO_MEMBERS[0].companyPrefixes[0], nextLocation++)]);
    let error: unknown = null;
    await s.send({ to: await demo.contracts.registry.getAddress(), data: refused }).catch((err) => (error = err));
    expect((error as { code?: string })?.code).to.equal("CALL_EXCEPTION");
    const second = await s.send(transfer);
    const receipts = await Promise.all([s.wait(first.hash, 10_000), s.wait(second.hash, 10_000)]);
    expect(receipts.map((r) => r.status)).to.deep.equal([1, 1]);
    expect(second.nonce).to.equal(first.nonce + 1);
    expect(s.pending()).to.equal(0);
  });

  it("numbers concurrent sends without gaps or collisions", async function () {
    const s = sender();
    const sent = await Promise.all(Array.from({ length: 6 }, () => s.send(transfer)));
    const nonces = sent.map((t) => t.nonce).sort((a, b) => a - b);
    expect(nonces).to.deep.equal(nonces.map((_, i) => nonces[0] + i));
    await Promise.all(sent.map((t) => s.wait(t.hash, 10_000)));
    expect(await provider.getTransactionCount(key.address, "latest")).to.equal(nonces[0] + 6);
  });

  it("ends a wait for a transaction that is not mined with a timeout, and still follows it", async function () {
    const s = sender();
    await provider.send("evm_setAutomine", [false]);
    const tx = await s.send(transfer);
    const error = await s.wait(tx.hash, 200).then(() => null, (err: unknown) => err);
    expect(error).to.be.instanceOf(TransactionTimeoutError);
    expect(s.pending()).to.equal(1);
    const receipt = await mineUntil(s.wait(tx.hash, 10_000));
    expect(receipt.hash).to.equal(tx.hash);
    expect(s.pending()).to.equal(0);
  });

  it("ends the waits for a stuck transaction at once when it is closed (the node is stopping)", async function () {
    const s = sender();
    await provider.send("evm_setAutomine", [false]);
    const tx = await s.send(transfer);
    const waiting = s.wait(tx.hash, 30_000).then(() => null, (err: Error) => err);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closedAt = Date.now();
    s.close();
    const error = await waiting;
    expect(error?.message).to.match(/closed/);
    expect(Date.now() - closedAt).to.be.below(2_000);
    await provider.send("evm_mine", []);
  });

  it("sends a dropped transaction again, so it is mined with its nonce", async function () {
    const s = sender({ replaceAfterMs: 150 });
    await provider.send("evm_setAutomine", [false]);
    const tx = await s.send(transfer);
    await provider.send("anvil_dropTransaction", [tx.hash]);
    expect(await provider.getTransaction(tx.hash)).to.equal(null);
    const receipt = await mineUntil(s.wait(tx.hash, 10_000));
    expect(receipt.status).to.equal(1);
    expect(await nonceOf(receipt.hash)).to.equal(tx.nonce);
  });

  it("replaces a transaction not mined in time with higher fees, and the wait follows the replacement", async function () {
    const s = sender({ replaceAfterMs: 100 });
    await provider.send("evm_setAutomine", [false]);
    const tx = await s.send(transfer);
    // Nothing is mined until the sender has replaced it.
    for (let i = 0; i < 100 && s.stats().replacements === 0; i++) await s.wait(tx.hash, 20).catch(() => undefined);
    expect(s.stats().replacements).to.be.at.least(1);
    const receipt = await mineUntil(s.wait(tx.hash, 10_000));
    expect(receipt.hash).to.not.equal(tx.hash);
    expect(s.versionsOf(tx.hash)!.minedHash).to.equal(receipt.hash);
    const replacement = (await provider.getTransaction(receipt.hash))!;
    expect(replacement.nonce).to.equal(tx.nonce);
    expect(replacement.maxFeePerGas! > tx.maxFeePerGas!).to.equal(true);
  });

  it("notices a nonce taken by another process with the same key and sends its call again with a fresh one", async function () {
    const s = sender();
    await provider.send("evm_setAutomine", [false]);
    const ours = await s.send(transfer);
    // Another process with the same key replaces it in the pool (same nonce, higher fees).
    const other = new Wallet(key.privateKey, provider);
    const theirs = await other.sendTransaction({
      to: demoWallet(1).address,
      value: 2n,
      nonce: ours.nonce,
      maxFeePerGas: ours.maxFeePerGas! * 3n,
      maxPriorityFeePerGas: ours.maxPriorityFeePerGas! * 3n,
    });
    const receipt = await mineUntil(s.wait(ours.hash, 10_000));
    expect((await provider.getTransactionReceipt(theirs.hash))!.status).to.equal(1);
    expect(receipt.hash).to.not.equal(theirs.hash);
    expect(await nonceOf(receipt.hash)).to.equal(ours.nonce + 1);
    expect(s.stats().resyncs).to.be.at.least(1);
    // And its next transaction follows without a gap.
    await provider.send("evm_setAutomine", [true]);
    const next = await s.send(transfer);
    expect(next.nonce).to.equal(ours.nonce + 2);
    await s.wait(next.hash, 10_000);
  });

  it("resynchronises when another process sent with the key since its last send", async function () {
    const s = sender();
    await s.wait((await s.send(transfer)).hash, 10_000);
    const other = new Wallet(key.privateKey, provider);
    await (await other.sendTransaction(transfer)).wait();
    const next = await s.send(transfer);
    await s.wait(next.hash, 10_000);
    expect(s.stats().resyncs).to.equal(1);
    expect(next.nonce).to.equal((await provider.getTransactionCount(key.address, "latest")) - 1);
  });

  it("lets contracts connected with its signer send through it, and mined() waits through it", async function () {
    const s = sender();
    const signer = new SenderSigner(s, key);
    const tx = await demo.contracts.registry.connect(signer).addLocation.send(1n, glnFor(DEMO_MEMBERS[0].companyPrefixes[0], nextLocation++)).catch((err) => err);
    expect((tx as { code?: string }).code).to.equal("CALL_EXCEPTION");
    const sent = await signer.sendTransaction(transfer);
    const receipt: TransactionReceipt = await mined(signer, sent);
    expect(receipt.status).to.equal(1);
    expect(s.pending()).to.equal(0);
  });

  describe("the relayer on its key's sender", function () {
    let relayers: Relayer[];
    let senders: TransactionSender[];
    const relayerKey = () => demoWallet(RELAYER_ACCOUNT, provider);

    before(async function () {
      const db = openDatabase(":memory:");
      const indexer = createLotlineIndexer(
        { db, rpc: createRpcClient(chain.url), deployment: demo.deployment },
        { finalityDepth: 0, reorgWindow: 64, logRange: 2_000, rpcUrl: chain.url },
      );
      await indexer.syncToHead();
      const identity = createIdentityStore(db);
      // Two nodes whose operators gave them the same relayer key: two processes, one key.
      senders = [0, 1].map((i) => createTransactionSender({ name: `relayer-${i}`, signer: relayerKey(), pollMs: 50 }));
      relayers = senders.map((s) =>
        createRelayer({ wallet: new SenderSigner(s, relayerKey()), provider, deployment: demo.deployment, contracts: demo.contracts, identity }),
      );
    });

    /** A member admin's signed addLocation for its own organisation (org ids follow the roster). */
    async function signedAddLocation(memberIndex: number): Promise<SignedForwardRequest> {
      const member = DEMO_MEMBERS[memberIndex];
      return signForwardRequest(demoWallet(member.account, provider), demo.contracts.forwarder, {
        to: await demo.contracts.registry.getAddress(),
        data: demo.contracts.registry.interface.encodeFunctionData("addLocation", [BigInt(memberIndex + 1), glnFor(member.companyPrefixes[0], nextLocation++)]),
        deadline: inAMinute(),
      });
    }

    const outcome = (p: Promise<{ transactionHash: string }>) =>
      p.then(
        (r) => ({ hash: r.transactionHash, problem: null as string | null }),
        (err: unknown) => {
          if (!(err instanceof Refusal)) throw err;
          return { hash: null as string | null, problem: err.code };
        },
      );

    it("relays concurrent requests of different agents, each mined, with the key's nonces in sequence", async function () {
      const requests = await Promise.all([0, 1, 2, 3].map(signedAddLocation));
      const results = await Promise.all(requests.map((r) => relayers[0].relay(r)));
      const receipts = await Promise.all(results.map((r) => senders[0].wait(r.transactionHash, 10_000)));
      expect(receipts.every((r) => r.status === 1)).to.equal(true);
      const nonces = (await Promise.all(results.map((r) => nonceOf(r.transactionHash)))).sort((a, b) => a - b);
      expect(nonces).to.deep.equal(nonces.map((_, i) => nonces[0] + i));
      expect(senders[0].pending()).to.equal(0);
    });

    it("refuses the same signed request posted twice at once, executing it once and leaving no gap", async function () {
      const request = await signedAddLocation(1);
      const results = await Promise.all([outcome(relayers[0].relay(request)), outcome(relayers[0].relay(request))]);
      const accepted = results.filter((r) => r.hash);
      expect(accepted, JSON.stringify(results)).to.have.length(1);
      expect(["invalid_signature", "call_reverted"]).to.include(results.find((r) => !r.hash)!.problem);
      await senders[0].wait(accepted[0].hash!, 10_000);
      // The key's next transaction is mined at once: the refused one left no nonce behind.
      const next = await relayers[0].relay(await signedAddLocation(2));
      expect((await senders[0].wait(next.transactionHash, 10_000)).status).to.equal(1);
    });

    it("refuses the same signed request posted to two nodes sharing a key, executing it once; both keep relaying", async function () {
      const request = await signedAddLocation(3);
      const forwarderNonce = await demo.contracts.forwarder.nonces(request.from);
      const results = await Promise.all([outcome(relayers[0].relay(request)), outcome(relayers[1].relay(request))]);
      // Either one node is refused, or both built the very same transaction and answer its hash.
      const accepted = new Set(results.map((r) => r.hash).filter(Boolean));
      expect(accepted.size, JSON.stringify(results)).to.equal(1);
      for (const r of results.filter((r) => !r.hash)) expect(["invalid_signature", "call_reverted"]).to.include(r.problem);
      await senders[0].wait([...accepted][0]!, 10_000);
      expect(await demo.contracts.forwarder.nonces(request.from)).to.equal(forwarderNonce + 1n);
      for (const [i, relayer] of relayers.entries()) {
        const next = await relayer.relay(await signedAddLocation(i));
        expect((await senders[i].wait(next.transactionHash, 10_000)).status).to.equal(1);
      }
      expect(await provider.getTransactionCount(relayerKey().address, "pending")).to.equal(await provider.getTransactionCount(relayerKey().address, "latest"));
    });
  });
});
