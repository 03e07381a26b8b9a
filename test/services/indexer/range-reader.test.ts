import { expect } from "chai";
import { INTERFACES, type ContractName } from "../../../services/chain/contracts";
import { createRpcClient, type RpcClient } from "../../../services/chain/rpc";
import { dumpDerivedTables, openDatabase } from "../../../services/store/db";
import { compileDecoder, compileValues } from "../../../services/indexer/decode";
import { createIndexer } from "../../../services/indexer/engine";
import { eventArgsToJson } from "../../../services/indexer/json";
import { LOTLINE_HANDLERS } from "../../../services/indexer/lotline";
import { readerEvents, readFinalRange, unpackRange } from "../../../services/indexer/range-reader";
import { deployDemo, startAnvil } from "../../helpers/chain";

/**
 * The catch-up's reader thread (services/indexer/range-reader.ts, docs/adr/0039): a final range
 * read and decoded there is what the event loop would have read and decoded, and an indexer
 * reading ahead on the thread, or failing to, ends with the tables of one that reads everything
 * on the event loop.
 */
describe("indexer: final ranges read on the reader thread", function () {
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let demo: Awaited<ReturnType<typeof deployDemo>>;

  before(async function () {
    chain = await startAnvil();
    demo = await deployDemo(chain.url);
  });

  after(async function () {
    demo.provider.destroy();
    await chain.stop();
  });

  /** An RPC client of the chain counting the eth_getLogs ranges asked for through it; `url` as given. */
  function countingRpc(url = chain.url) {
    const rpc = createRpcClient(chain.url);
    const counts = { ranges: 0 };
    const client: RpcClient = {
      ...rpc,
      url,
      getLogs(filter) {
        counts.ranges++;
        return rpc.getLogs(filter);
      },
    };
    return { rpc: client, counts };
  }

  function indexerOn(rpc: RpcClient, readOffThread: boolean) {
    const db = openDatabase(":memory:");
    // A 2-block reorg window and 4-block ranges of at most 5 events: nearly every step is final and
    // read ahead.
    const indexer = createIndexer({
      db,
      rpc,
      contracts: demo.deployment.contracts,
      startBlock: demo.deployment.startBlock,
      handlers: LOTLINE_HANDLERS,
      finalityDepth: 0,
      reorgWindow: 2,
      rebuildOnDeepReorg: false,
      maxRange: 4,
      maxEventsPerStep: 5,
      catchUpEventsPerStep: 5,
      readOffThread,
    });
    return { db, indexer };
  }

  async function indexedDump(rpc: RpcClient, readOffThread: boolean): Promise<string> {
    const { db, indexer } = indexerOn(rpc, readOffThread);
    if (readOffThread) {
      // The first step starts the thread; steps read ahead on the event loop until it has loaded
      // (the demo is indexed in about the time it takes), so the rest waits for it here.
      const ready = new Promise((resolve) => indexer.on("reader", resolve));
      await indexer.step();
      await ready;
    }
    await indexer.syncToHead();
    await indexer.stop();
    const dump = dumpDerivedTables(db);
    db.close();
    return dump;
  }

  it("decodes a range's logs to the values and chain_events JSON the event loop's decoder gives", async function () {
    const rpc = createRpcClient(chain.url);
    const head = await rpc.blockNumber();
    const request = { url: chain.url, events: readerEvents(demo.deployment.contracts, INTERFACES), from: demo.deployment.startBlock, to: head, limit: 1_000_000, eagerHeaders: false };
    // As the thread hands it over: a structured clone.
    const { logs, blocks } = unpackRange(structuredClone(await readFinalRange(request)));
    const raw = await rpc.getLogs({ fromBlock: request.from, toBlock: head, address: Object.values(demo.deployment.contracts) });
    expect(logs).to.have.length(raw.length);
    expect(logs.length).to.be.greaterThan(50);
    const nameOf = new Map(Object.entries(demo.deployment.contracts).map(([name, address]) => [address.toLowerCase(), name as ContractName]));
    raw.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
    let decoded = 0;
    logs.forEach((log, i) => {
      const expected = raw[i];
      expect([log.blockNumber, log.logIndex, log.blockHash, log.transactionHash, log.address]).to.deep.equal([
        expected.blockNumber,
        expected.logIndex,
        expected.blockHash,
        expected.transactionHash,
        expected.address,
      ]);
      expect(blocks.get(log.blockNumber)?.hash).to.equal(log.blockHash);
      const iface = INTERFACES[nameOf.get(expected.address.toLowerCase())!];
      const fragment = iface.getEvent(expected.topics[0]);
      // Every log of an event the compiled decoder reads is decoded on the thread.
      expect(Boolean(log.decoded)).to.equal(compileValues(fragment!) !== null);
      if (!log.decoded) {
        // Sent raw: the event loop decodes it from the data and topics handed on.
        expect([log.data, log.topics]).to.deep.equal([expected.data, expected.topics]);
        return;
      }
      decoded++;
      const args = compileDecoder(iface, fragment!)(expected.data, expected.topics);
      expect(log.decoded.values).to.deep.equal([...args]);
      expect(log.decoded.json).to.equal(JSON.stringify(eventArgsToJson(fragment!.inputs, args)));
    });
    expect(decoded).to.be.greaterThan(logs.length / 2);
  });

  it("ends with the tables of an indexer reading on the event loop, having read most ranges on the thread", async function () {
    const onLoop = countingRpc();
    const offLoop = countingRpc();
    expect(await indexedDump(offLoop.rpc, true)).to.equal(await indexedDump(onLoop.rpc, false));
    expect(offLoop.counts.ranges).to.be.lessThan(onLoop.counts.ranges / 2);
  });

  it("reads a range on the event loop, retrying as a step does, when the thread cannot reach the node", async function () {
    const onLoop = countingRpc();
    // The thread reads from the client's URL, where nothing answers; the client itself reaches the chain.
    const unreachable = countingRpc("http://127.0.0.1:9");
    expect(await indexedDump(unreachable.rpc, true)).to.equal(await indexedDump(onLoop.rpc, false));
    // Every range through the client: none was taken from the thread.
    expect(unreachable.counts.ranges).to.be.at.least(onLoop.counts.ranges);
  });
});
