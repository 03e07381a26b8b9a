import crypto from "node:crypto";
import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { documentEvents, eventHashId, preHashString } from "../../../services/epcis/hash";
import { validateEpcisDocument } from "../../../services/epcis/validate";
import { bearer, get, sharedNode, type ApiResponse } from "../api/helpers";
import { agentToken, captureAndWait, EPCIS_CONTEXT, epcisDocument, eventsOf } from "./helpers";

/**
 * Query results keep each event's meaning: documents that define the same prefix differently, and a
 * document that uses a prefix it never defined while another defines it, are captured together; every
 * page of every query, in every order, page size and GS1-EPC-Format, is re-hashed as a JSON-LD document
 * and each event's CBV 2.0 hash ID must be the stored (and anchored) one.
 */
const R = crypto.randomBytes(4).toString("hex");
const sgtin = (n: number) => `urn:epc:id:sgtin:4012345.0${String(parseInt(R.slice(0, 4), 16) % 100000).padStart(5, "0")}.${R}${n}`;

function event(n: number, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    type: "ObjectEvent",
    eventTime: `2024-04-0${n}T10:00:00.000Z`,
    eventTimeZoneOffset: "+00:00",
    epcList: [sgtin(n)],
    action: "OBSERVE",
    bizStep: "inspecting",
    ...extra,
  };
}

// A and B define "ex" differently; C uses "ex" without defining it (a key and an ILMD-less extension
// value); D defines a @vocab that gives C's bare key a namespace if it leaked; E is a bare event with its
// own context.
const DOCS = [
  epcisDocument([event(1, { "ex:note": `a-${R}`, "ex:grade": { "ex:level": 1 } })], [{ ex: "https://a.example/ns/" }]),
  epcisDocument([event(2, { "ex:note": `b-${R}` }), event(3, { "ex:note": `b2-${R}` })], [{ ex: "https://b.example/ns/" }]),
  epcisDocument([event(4, { "ex:note": `c-${R}` })]),
  epcisDocument([event(5, { "ex:note": `d-${R}` })], [{ "@vocab": "https://d.example/vocab/", ex: "https://d.example/ns/" }]),
  { "@context": [EPCIS_CONTEXT, { ex: "https://e.example/ns/" }], ...event(6, { "ex:note": `e-${R}` }) },
];

describe("EPCIS query results keep each event's meaning (hash IDs recomputed from responses)", function () {
  let node: TestNode;
  let token: string;
  let stored: Map<string, string>;
  const match = `MATCH_epc=${[1, 2, 3, 4, 5, 6].map(sgtin).join("|")}`;

  before(async function () {
    node = await sharedNode();
    token = await agentToken(node);
    for (const doc of DOCS) expect(await captureAndWait(node, token, doc)).to.include({ success: true });
    const rows = node.db
      .prepare(`SELECT e.event_id, e.hash_id FROM epcis_events e JOIN epcis_event_identifiers i ON i.seq = e.seq WHERE i.raw IN (${[1, 2, 3, 4, 5, 6].map(() => "?").join(",")})`)
      .all(...[1, 2, 3, 4, 5, 6].map(sgtin)) as { event_id: string; hash_id: string }[];
    stored = new Map(rows.map((r) => [r.event_id, r.hash_id]));
    expect(stored.size).to.equal(6);
  });

  it("the documents mean different things by ex:note, and the undefined prefix stays undefined: six distinct hashes", function () {
    expect(new Set(stored.values()).size).to.equal(6);
    const [c] = documentEvents(DOCS[2]);
    expect(preHashString(c.event, c.context)).to.contain("{ex:}note=");
  });

  /** Re-hashes every event of a query document under the document's own context. */
  function rehash(res: ApiResponse): number {
    expect(res.status, res.text).to.equal(200);
    expect(validateEpcisDocument(res.body).errors).to.deep.equal([]);
    const events = documentEvents(res.body);
    for (const { event, context } of events) {
      expect(eventHashId(event, context), `${event.eventID as string} re-hashed from the page`).to.equal(stored.get(event.eventID as string));
    }
    return events.length;
  }

  async function allPages(first: string, headers: Record<string, string>): Promise<number> {
    let path: string | null = first;
    let total = 0;
    for (let pages = 0; path && pages < 20; pages++) {
      const res: ApiResponse = await get(node, path, { ...bearer(token), ...headers });
      total += rehash(res);
      const next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get("link") ?? "");
      path = next ? next[1].replace(node.url, "") : null;
    }
    return total;
  }

  for (const format of ["Never_Translates", "Always_GS1_Digital_Link", "Always_EPC_URN"]) {
    for (const perPage of [1, 2, 4, 6]) {
      for (const order of ["orderDirection=ASC", "orderBy=eventTime&orderDirection=DESC"]) {
        it(`every page re-hashes to the stored hash IDs (${format}, perPage=${perPage}, ${order})`, async function () {
          expect(await allPages(`/epcis/events?${match}&perPage=${perPage}&${order}`, { "GS1-EPC-Format": format })).to.equal(6);
        });
      }
    }
  }

  it("a page of events from one document carries that document's context only, no event-level context", async function () {
    const res = await get(node, `/epcis/events?MATCH_epc=${sgtin(2)}|${sgtin(3)}`, bearer(token));
    expect(res.body["@context"]).to.deep.equal(DOCS[1]["@context"]);
    expect(eventsOf(res).map((e) => e["@context"])).to.deep.equal([undefined, undefined]);
    expect(rehash(res)).to.equal(2);
  });

  it("an event whose document's context differs from the page's carries one that undoes the page's terms", async function () {
    const res = await get(node, `/epcis/events?${match}&orderDirection=ASC`, { ...bearer(token), "GS1-EPC-Format": "Never_Translates" });
    const events = eventsOf(res);
    expect(res.body["@context"]).to.deep.equal(DOCS[0]["@context"]);
    const c = events.find((e) => (e.epcList as string[])[0] === sgtin(4))!;
    expect(c["@context"]).to.deep.equal([{ ex: null }]);
    const b = events.find((e) => (e.epcList as string[])[0] === sgtin(2))!;
    expect(b["@context"]).to.deep.equal([{ ex: null }, { ex: "https://b.example/ns/" }]);
  });

  it("GET /epcis/events/{eventID} of each event re-hashes to its stored hash ID", async function () {
    for (const eventID of stored.keys()) rehash(await get(node, `/epcis/events/${encodeURIComponent(eventID)}`, bearer(token)));
  });
});
