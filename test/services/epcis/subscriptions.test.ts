import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { documentEvents, eventHashId } from "../../../services/epcis/hash";
import { checkDestination, isPrivateAddress, nextRun, signatureOf } from "../../../services/epcis/subscriptions";
import { createDeliveryJob as createSubscriptionJob, deliveryJobFor as subscriptionJobFor } from "../../../services/delivery/job";
import { bearer, expectProblem, getAnonymous as get, post, sharedNode } from "../api/helpers";
import { agentToken, captureAndWait, epcisDocument } from "./helpers";

/**
 * Webhook subscriptions to named queries: stream and schedule, signed, retried with backoff and
 * logged deliveries, only what the subscriber may read, destinations on public addresses only.
 */
describe("EPCIS subscriptions (webhooks)", function () {
  describe("schedules and destinations (pure)", function () {
    const at = (iso: string) => new Date(iso);

    it("runs {hour: 1, minute: 5} every day at 01:05:00 UTC", function () {
      expect(nextRun({ hour: "1", minute: "5" }, at("2024-05-01T00:00:00Z"))!.toISOString()).to.equal("2024-05-01T01:05:00.000Z");
      expect(nextRun({ hour: "1", minute: "5" }, at("2024-05-01T01:05:00Z"))!.toISOString()).to.equal("2024-05-02T01:05:00.000Z");
    });

    it("takes lists and [a-b] ranges, and days of the week from 1 (Monday) to 7 (Sunday)", function () {
      expect(nextRun({ minute: "0,30" }, at("2024-05-01T10:10:00Z"))!.toISOString()).to.equal("2024-05-01T10:30:00.000Z");
      expect(nextRun({ second: "[10-12]" }, at("2024-05-01T10:10:12Z"))!.toISOString()).to.equal("2024-05-01T10:11:10.000Z");
      // 2024-05-01 is a Wednesday; the next Sunday is the 5th.
      expect(nextRun({ dayOfWeek: "7", hour: "6" }, at("2024-05-01T10:00:00Z"))!.toISOString()).to.equal("2024-05-05T06:00:00.000Z");
    });

    it("refuses a field out of range or not in the binding's syntax", function () {
      expect(() => nextRun({ hour: "24" }, new Date())).to.throw(/schedule.hour/);
      expect(() => nextRun({ minute: "*/5" }, new Date())).to.throw(/schedule.minute/);
      expect(() => nextRun({}, new Date())).to.throw(/names no field/);
    });

    it("tells private, loopback and link-local addresses from public ones", function () {
      for (const ip of ["127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "0.0.0.0"]) {
        expect(isPrivateAddress(ip), ip).to.equal(true);
      }
      for (const ip of ["8.8.8.8", "1.1.1.1", "2606:4700::1111"]) expect(isPrivateAddress(ip), ip).to.equal(false);
    });

    it("attack: a member cannot aim a webhook at the node's own network (private addresses, credentials in the URL, other schemes)", async function () {
      for (const dest of ["http://127.0.0.1:8080/x", "http://[::1]/x", "http://169.254.169.254/latest/meta-data", "http://localhost/x"]) {
        await checkDestination(dest, false).then(
          () => expect.fail(`${dest} should be refused`),
          (err: Error) => expect(err.message, dest).to.match(/private or local address|does not resolve/),
        );
      }
      await checkDestination("https://user:pw@example.com/x", false).then(
        () => expect.fail("credentials should be refused"),
        (err: Error) => expect(err.message).to.match(/credentials/),
      );
      await checkDestination("file:///etc/passwd", false).then(
        () => expect.fail("file: should be refused"),
        (err: Error) => expect(err.message).to.match(/http\(s\)/),
      );
    });
  });

  describe("deliveries, against the shared node and a local receiver", function () {
    this.timeout(120_000);
    const R = crypto.randomBytes(4).toString("hex");
    const received: { path: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
    /** Answers 500 to the next N deliveries to a path. */
    const failures: Record<string, number> = {};
    let server: http.Server;
    let base: string;
    let node: TestNode;
    let token: string;
    let previousEnv: string | undefined;
    const job = () => subscriptionJobFor(node.db);
    const settle = async () => {
      // A run already under way (the node's job loop) may predate the last capture: run again after it.
      await job().runOnce();
      await job().runOnce();
    };
    const event = (n: number, bizStep: string) => ({
      type: "ObjectEvent",
      eventID: `urn:uuid:${crypto.randomUUID()}`,
      eventTime: "2024-07-01T10:00:00.000Z",
      eventTimeZoneOffset: "+00:00",
      epcList: [`urn:epc:id:sgtin:4012345.011111.${R}${n}`],
      action: "OBSERVE",
      bizStep,
    });
    const query = (name: string) => ({ name, query: { EQ_bizStep: ["shipping"], MATCH_epc: [`urn:epc:idpat:sgtin:4012345.011111.*`], eventType: ["ObjectEvent"] } });
    const json = (t: string) => ({ "content-type": "application/json", ...bearer(t) });
    const at = (path: string) => received.filter((r) => r.path === path);

    before(async function () {
      previousEnv = process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE;
      process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE = "1";
      server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
          received.push({ path: req.url ?? "", headers: req.headers, body });
          const path = req.url ?? "";
          if ((failures[path] ?? 0) > 0) {
            failures[path]--;
            res.writeHead(500).end();
          } else res.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      node = await sharedNode();
      token = await agentToken(node);
      expect((await post(node, "/epcis/queries", query(`ship-${R}`), json(token))).status).to.equal(201);
    });

    after(async function () {
      if (previousEnv === undefined) delete process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE;
      else process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE = previousEnv;
      await new Promise((resolve) => server.close(resolve));
    });

    it("stream: delivers each newly captured matching event once, signed with the subscriber's token", async function () {
      const signatureToken = crypto.randomBytes(20).toString("hex");
      const res = await post(node, `/epcis/queries/ship-${R}/subscriptions`, { dest: `${base}/stream`, signatureToken, stream: true }, json(token));
      expect(res.status, res.text).to.equal(201);
      expect(res.body).to.include({ queryName: `ship-${R}`, stream: true, signed: true });
      expect(res.body).to.not.have.property("signatureToken");
      const [match, other] = [event(1, "shipping"), event(2, "receiving")];
      await captureAndWait(node, token, epcisDocument([match, other]));
      await settle();
      const deliveries = at("/stream");
      expect(deliveries).to.have.length(1);
      const { body, headers } = deliveries[0];
      expect(headers["gs1-signature"]).to.equal(signatureOf(signatureToken, body));
      const doc = JSON.parse(body);
      expect(doc.epcisBody.queryResults).to.include({ queryName: `ship-${R}`, subscriptionID: res.body.subscriptionID });
      const events = documentEvents(doc);
      expect(events.map((e) => e.event.eventID)).to.deep.equal([match.eventID]);
      // What the subscriber gets keeps its meaning: the hash ID recomputed from the delivery is the stored one.
      const stored = node.db.prepare(`SELECT hash_id FROM epcis_events WHERE event_id = ?`).get(match.eventID) as { hash_id: string };
      expect(eventHashId(events[0].event, events[0].context)).to.equal(stored.hash_id);
      // Nothing new: nothing more.
      await settle();
      expect(at("/stream")).to.have.length(1);
      const view = await get(node, `/epcis/queries/ship-${R}/subscriptions/${res.body.subscriptionID}`, bearer(token));
      expect(view.body.deliveries[0]).to.include({ status: "delivered", attempts: 1, events: 1, lastStatus: 204 });
    });

    it("retries a failed delivery with backoff and logs each attempt", async function () {
      const res = await post(node, `/epcis/queries/ship-${R}/subscriptions`, { dest: `${base}/retry`, stream: true }, json(token));
      failures["/retry"] = 1;
      await captureAndWait(node, token, epcisDocument([event(3, "shipping")]));
      await settle();
      const path = `/epcis/queries/ship-${R}/subscriptions/${res.body.subscriptionID}`;
      const first = (await get(node, path, bearer(token))).body.deliveries[0];
      // The node's job loop may already have retried after the 1 s backoff; if not, the log shows the failure.
      if (first.status === "pending") {
        expect(first).to.include({ attempts: 1, lastStatus: 500, lastError: "the destination answered HTTP 500" });
        expect(first.nextAttemptAt).to.be.a("string");
      }
      // Later (a job whose clock is past the backoff): delivered on the second attempt.
      await createSubscriptionJob(node.db, { now: () => new Date(Date.now() + 5_000) }).runOnce();
      const second = (await get(node, path, bearer(token))).body.deliveries[0];
      expect(second).to.include({ status: "delivered", attempts: 2, lastStatus: 204, lastError: null });
      expect(at("/retry")).to.have.length(2);
    });

    it("schedule with reportIfEmpty: reports at its times, even with nothing new", async function () {
      const res = await post(node, `/epcis/queries/ship-${R}/subscriptions`, { dest: `${base}/schedule`, schedule: { second: "[0-59]" }, reportIfEmpty: true }, json(token));
      expect(res.status, res.text).to.equal(201);
      expect(res.body.nextReportAt).to.be.a("string");
      await createSubscriptionJob(node.db, { now: () => new Date(Date.now() + 2_000) }).runOnce();
      const reports = at("/schedule");
      expect(reports.length).to.be.at.least(1);
      expect(JSON.parse(reports[0].body).epcisBody.queryResults.resultsBody.eventList).to.deep.equal([]);
    });

    it("attack: a subscriber receives only events its organisation may read", async function () {
      const rival = await agentToken(node, "certifier");
      expect((await post(node, "/epcis/queries", query(`spy-${R}`), json(rival))).status).to.equal(201);
      expect((await post(node, `/epcis/queries/spy-${R}/subscriptions`, { dest: `${base}/spy`, stream: true }, json(rival))).status).to.equal(201);
      await captureAndWait(node, token, epcisDocument([event(4, "shipping")]));
      await settle();
      expect(at("/spy")).to.deep.equal([]);
    });

    it("attack: another organisation neither sees nor ends a subscription (404); the public gets 401", async function () {
      const res = await post(node, `/epcis/queries/ship-${R}/subscriptions`, { dest: `${base}/mine`, stream: true }, json(token));
      const rival = await agentToken(node, "certifier");
      const path = `/epcis/queries/ship-${R}/subscriptions/${res.body.subscriptionID}`;
      expectProblem(await get(node, path, bearer(rival)), 404);
      expect((await fetch(`${node.url}${path}`, { method: "DELETE", headers: bearer(rival) })).status).to.equal(404);
      expectProblem(await get(node, path), 401);
      expect((await fetch(`${node.url}${path}`, { method: "DELETE", headers: bearer(token) })).status).to.equal(204);
      expectProblem(await get(node, path, bearer(token)), 404, "subscription_not_found");
    });

    it("refuses a private destination unless LOTLINE_WEBHOOK_ALLOW_PRIVATE=1, and a subscription both or neither stream and schedule", async function () {
      delete process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE;
      try {
        expectProblem(await post(node, `/epcis/queries/ship-${R}/subscriptions`, { dest: `${base}/x`, stream: true }, json(token)), 400, "invalid_destination");
      } finally {
        process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE = "1";
      }
      expectProblem(await post(node, `/epcis/queries/ship-${R}/subscriptions`, { dest: `${base}/x` }, json(token)), 400, "invalid_subscription");
      expectProblem(
        await post(node, `/epcis/queries/ship-${R}/subscriptions`, { dest: `${base}/x`, stream: true, schedule: { hour: "1" } }, json(token)),
        400,
        "invalid_subscription",
      );
      expectProblem(await post(node, `/epcis/queries/ship-${R}/subscriptions`, { dest: `${base}/x`, schedule: { hour: "25" } }, json(token)), 400, "invalid_schedule");
      expectProblem(await post(node, `/epcis/queries/nope-${R}/subscriptions`, { dest: `${base}/x`, stream: true }, json(token)), 404, "query_not_found");
    });

    it("lists the query's subscriptions; deleting the query ends them", async function () {
      const list = await get(node, `/epcis/queries/ship-${R}/subscriptions?perPage=100`, bearer(token));
      expect(list.status, list.text).to.equal(200);
      expect(list.body.length).to.be.at.least(3);
      expect((await fetch(`${node.url}/epcis/queries/ship-${R}`, { method: "DELETE", headers: bearer(token) })).status).to.equal(204);
      const left = node.db.prepare(`SELECT COUNT(*) AS n FROM epcis_subscriptions WHERE query_name = ?`).get(`ship-${R}`) as { n: number };
      expect(left.n).to.equal(0);
    });
  });
});
