import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import type { Interface } from "ethers";
import { openDatabase, type Db } from "../../../services/store/db";
import { beginJournalBlock, rollbackJournal, setJournalling } from "../../../services/store/journal";
import { deliverDue, enqueueDelivery, reinstateRolledBack, ROLLED_BACK, signatureOf } from "../../../services/delivery/outbox";
import { checkDestination, isPrivateAddress, type DestinationPolicy } from "../../../services/delivery/destination";
import { LOTLINE_HANDLERS } from "../../../services/indexer/lotline";
import { INTERFACES, type ContractName } from "../../../services/chain/contracts";
import type { ChainEvent } from "../../../services/indexer/types";
import { fanOutNotifications } from "../../../services/notifications/store";

/**
 * The webhook outbox against real local receivers: what it connects to (resolved once, checked,
 * pinned; no redirect followed) and what happens to a notification whose chain event is rolled back.
 * Every connection goes to loopback addresses of this machine; refused ones are never attempted.
 */

interface Hit {
  host: string | undefined;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function receiver(
  host: string,
  answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_q, r) => r.writeHead(204).end(),
) {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      hits.push({ host: req.headers.host, path: req.url ?? "", headers: req.headers, body });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { hits, port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(r)) };
}

function lastDelivery(db: Db) {
  return db.prepare(`SELECT * FROM webhook_deliveries ORDER BY delivery_id DESC LIMIT 1`).get() as {
    status: string;
    last_error: string | null;
    attempts: number;
    last_status: number | null;
  };
}

/** Resolves names from a table, recording the look-ups; answers `then` from the second look-up of a name on. */
function fakeDns(table: Record<string, string[]>, then: Record<string, string[]> = {}) {
  const lookups: string[] = [];
  const resolve = async (host: string) => {
    const seen = lookups.includes(host);
    lookups.push(host);
    return (seen && then[host]) || table[host] || [];
  };
  return { lookups, resolve };
}

describe("webhook outbox: destinations and delivery", function () {
  let db: Db;
  const secret = crypto.randomBytes(16).toString("hex");
  beforeEach(function () {
    db = openDatabase(":memory:");
  });
  afterEach(function () {
    db.close();
  });

  function queue(url: string): void {
    db.prepare(
      `INSERT INTO notification_subscriptions (subscription_id, org_id, url, topics, secret, created_by, created_at) VALUES ('s1', 3, ?, '["offer"]', ?, '0x', '2024-01-01T00:00:00Z')`,
    ).run(url, secret);
    enqueueDelivery(db, {
      channel: "lotline",
      subscriptionId: "s1",
      dest: url,
      body: JSON.stringify({ topic: "offer", type: "t", at: "x", data: {} }),
      topic: "offer",
      type: "t",
    });
  }

  it("connects to the checked address with the URL's own Host, resolving the name once, and signs the body", async function () {
    const r = await receiver("127.0.0.1");
    try {
      const dns = fakeDns({ "hooks.example": ["127.0.0.1"] });
      queue(`http://hooks.example:${r.port}/in`);
      await deliverDue(db, { policy: { resolve: dns.resolve, allowAddress: () => true } });
      expect(r.hits).to.have.length(1);
      expect(r.hits[0].host).to.equal(`hooks.example:${r.port}`);
      expect(r.hits[0].headers["x-lotline-signature"]).to.equal(signatureOf(secret, r.hits[0].body));
      expect(dns.lookups).to.deep.equal(["hooks.example"]);
      expect(lastDelivery(db)).to.include({ status: "delivered", attempts: 1, last_status: 204 });
    } finally {
      await r.close();
    }
  });

  it("attack: refuses a destination whose name resolves to 127.0.0.1, without connecting", async function () {
    const r = await receiver("127.0.0.1");
    try {
      const dns = fakeDns({ "innocent.example": ["127.0.0.1"] });
      queue(`http://innocent.example:${r.port}/in`);
      await deliverDue(db, { policy: { resolve: dns.resolve, allowAddress: (ip) => !isPrivateAddress(ip) } });
      expect(r.hits).to.deep.equal([]);
      const d = lastDelivery(db);
      expect(d).to.include({ status: "pending", attempts: 1 });
      expect(d.last_error).to.match(/^refused: innocent\.example resolves to 127\.0\.0\.1, a private or local address/);
    } finally {
      await r.close();
    }
  });

  it("attack: DNS rebinding: a name public when checked and 127.0.0.1 when delivered to is refused at delivery, without connecting", async function () {
    const r = await receiver("127.0.0.1");
    try {
      // 203.0.113.7 stands for "a public address" here: the policy treats only 127/8 as private, and
      // nothing connects to it (the first answer serves the check at subscription time only).
      const dns = fakeDns({ "rebind.example": ["203.0.113.7"] }, { "rebind.example": ["127.0.0.1"] });
      const policy: DestinationPolicy = { resolve: dns.resolve, allowAddress: (ip) => !ip.startsWith("127.") };
      await checkDestination(`http://rebind.example:${r.port}/in`, policy);
      queue(`http://rebind.example:${r.port}/in`);
      await deliverDue(db, { policy });
      expect(r.hits).to.deep.equal([]);
      expect(lastDelivery(db).last_error).to.match(/rebind\.example resolves to 127\.0\.0\.1/);
      expect(dns.lookups).to.deep.equal(["rebind.example", "rebind.example"]);
    } finally {
      await r.close();
    }
  });

  it("attack: does not follow a redirect to a private address; the redirect is logged as a failed attempt", async function () {
    const inside = await receiver("127.0.0.2");
    const outside = await receiver("127.0.0.1", (_req, res) =>
      res.writeHead(307, { location: `http://127.0.0.2:${inside.port}/admin` }).end(),
    );
    try {
      // Only 127.0.0.1 stands for a public address here; 127.0.0.2 is the private network behind it.
      queue(`http://127.0.0.1:${outside.port}/hook`);
      await deliverDue(db, { policy: { resolve: async () => [], allowAddress: (ip) => ip === "127.0.0.1" } });
      expect(outside.hits).to.have.length(1);
      expect(inside.hits).to.deep.equal([]);
      expect(lastDelivery(db)).to.include({
        status: "pending",
        last_status: 307,
        last_error: "the destination answered HTTP 307; redirects are not followed",
      });
    } finally {
      await inside.close();
      await outside.close();
    }
  });

  it("retries with exponential backoff and gives up after the last attempt", async function () {
    const r = await receiver("127.0.0.1", (_q, res) => res.writeHead(503).end());
    try {
      queue(`http://127.0.0.1:${r.port}/down`);
      const policy = { resolve: async () => [], allowAddress: () => true };
      let clock = Date.parse("2024-01-01T00:00:00Z");
      db.prepare(`UPDATE webhook_deliveries SET next_attempt_at = ?`).run(new Date(clock).toISOString());
      const waits: number[] = [];
      for (let i = 0; i < 12; i++) {
        await deliverDue(db, { policy, now: () => new Date(clock) });
        const next = Date.parse(
          (db.prepare(`SELECT next_attempt_at FROM webhook_deliveries`).get() as { next_attempt_at: string }).next_attempt_at,
        );
        waits.push((next - clock) / 1000);
        clock = next;
      }
      expect(waits.slice(0, 5)).to.deep.equal([1, 2, 4, 8, 16]);
      expect(r.hits).to.have.length(12);
      expect(lastDelivery(db)).to.include({ status: "failed", attempts: 12, last_status: 503 });
    } finally {
      await r.close();
    }
  });
});

describe("notifications and chain reorganisations", function () {
  const iface = (name: ContractName) => INTERFACES[name] as unknown as Interface;
  let db: Db;
  beforeEach(function () {
    db = openDatabase(":memory:");
  });
  afterEach(function () {
    db.close();
  });

  /** Applies one event through Lotline's real handlers in block `n`, journalled as the indexer does. */
  function apply(contract: ContractName, name: string, args: unknown[], n: number, txHash: string): void {
    const fragment = iface(contract).getEvent(name)!;
    const log = iface(contract).encodeEventLog(fragment, args);
    const decoded = iface(contract).decodeEventLog(fragment, log.data, log.topics);
    const event = {
      contract,
      name,
      args: decoded,
      log: {
        blockNumber: n,
        logIndex: 0,
        transactionHash: txHash,
        address: "0x",
        data: log.data,
        topics: log.topics,
        blockHash: "0x",
        removed: false,
      },
      block: { number: n, hash: `0x${n}`, parentHash: "0x", timestamp: 1_700_000_000 + n },
      time: new Date((1_700_000_000 + n) * 1000).toISOString(),
    } as unknown as ChainEvent;
    db.transaction(() => {
      beginJournalBlock(db, n);
      LOTLINE_HANDLERS[`${contract}.${name}` as keyof typeof LOTLINE_HANDLERS]!(db, event);
      setJournalling(db, false);
    })();
  }

  function grantIssued(n: number, tx: string, grantId: bigint): void {
    apply(
      "sharing",
      "GrantIssued",
      [grantId, 1n, 2n, 1n, 0, `0x${"00".repeat(32)}`, 1_800_000_000n, "0x0000000000000000000000000000000000000001"],
      n,
      tx,
    );
  }

  it("routes a grant to its grantor and grantee only", function () {
    grantIssued(101, `0x${"aa".repeat(32)}`, 1n);
    const rows = db.prepare(`SELECT org_id, topic, type FROM notifications ORDER BY org_id`).all();
    expect(rows).to.deep.equal([
      { org_id: 1, topic: "grant", type: "grant_issued" },
      { org_id: 2, topic: "grant", type: "grant_issued" },
    ]);
  });

  it("cancels an undelivered notification whose event was rolled back, and sends it once when the event is indexed again", async function () {
    db.prepare(
      `INSERT INTO notification_subscriptions (subscription_id, org_id, url, topics, secret, created_by, created_at) VALUES ('s', 2, 'http://127.0.0.1:9/never', '["grant"]', 'k', '0x', '2024-01-01T00:00:00Z')`,
    ).run();
    const tx = `0x${"bb".repeat(32)}`;
    grantIssued(200, tx, 7n);
    fanOutNotifications(db);
    expect(db.prepare(`SELECT COUNT(*) AS n FROM webhook_deliveries`).get()).to.deep.equal({ n: 1 });
    // The block is rolled back before the delivery was sent: it is cancelled, nothing is sent.
    db.transaction(() => rollbackJournal(db, 199))();
    expect(db.prepare(`SELECT COUNT(*) AS n FROM notifications`).get()).to.deep.equal({ n: 0 });
    await deliverDue(db, { policy: { resolve: async () => [], allowAddress: () => false } });
    expect(lastDelivery(db)).to.include({ status: "cancelled", last_error: ROLLED_BACK, attempts: 0 });
    // The same transaction lands in another block: the same notification (same key), not a second one.
    grantIssued(201, tx, 7n);
    fanOutNotifications(db);
    reinstateRolledBack(db);
    expect(db.prepare(`SELECT status FROM webhook_deliveries`).all()).to.deep.equal([{ status: "pending" }]);
  });
});
