import crypto from "node:crypto";
import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { bearer, getAnonymous, sharedNode } from "../api/helpers";
import { agentToken, captureAndWait, epcisDocument, eventsOf } from "./helpers";

/**
 * Master data captured with EPCIS documents (epcisHeader.epcisMasterData.vocabularyList) and the
 * location hierarchies WD_bizLocation and WD_readPoint follow: a location, its declared children
 * transitively, and GLN extensions of those. Declarations count only from the organisation that owns
 * the locations (organisation 1 owns prefix 4012345, organisation 3 prefix 3012345).
 */
const R = String(crypto.randomInt(1000, 9999));
const id = () => `urn:uuid:${crypto.randomUUID()}`;
/** A GLN of a company prefix with location reference `${R}${n}` (and an extension). */
const sgln = (prefix: string, n: number, ext = "0") => `urn:epc:id:sgln:${prefix}.${R}${n}.${ext}`;
const MINE = "4012345";
const RIVAL = "3012345";
const SITE = sgln(MINE, 1);
const WAREHOUSE = sgln(MINE, 2);
const DOCK = sgln(MINE, 3);
const ELSEWHERE = sgln(MINE, 4);
const GATE = sgln(MINE, 5);
const GATE_READER = sgln(MINE, 6);
const RIVAL_SITE = sgln(RIVAL, 1);
const RIVAL_SHED = sgln(RIVAL, 2);

const BUSINESS_LOCATION = "urn:epcglobal:epcis:vtype:BusinessLocation";
const READ_POINT = "urn:epcglobal:epcis:vtype:ReadPoint";

let minute = 0;
const at = (place: { bizLocation?: string; readPoint?: string }) => ({
  type: "ObjectEvent",
  eventID: id(),
  eventTime: `2024-07-01T10:${String(minute++).padStart(2, "0")}:00.000Z`,
  eventTimeZoneOffset: "+00:00",
  epcList: [`urn:epc:id:sgtin:${MINE}.0${R}0.${minute}`],
  action: "OBSERVE",
  bizStep: "storing",
  ...(place.bizLocation ? { bizLocation: { id: place.bizLocation } } : {}),
  ...(place.readPoint ? { readPoint: { id: place.readPoint } } : {}),
});

function withMasterData(events: Record<string, unknown>[], vocabularyList: unknown[]) {
  return { ...epcisDocument(events), epcisHeader: { epcisMasterData: { vocabularyList } } };
}

describe("EPCIS master data: location hierarchies for WD_bizLocation and WD_readPoint", function () {
  let node: TestNode;
  let token: string;
  let rival: string;
  const atDock = at({ bizLocation: DOCK });
  const atWarehouseBay = at({ bizLocation: sgln(MINE, 2, "17") });
  const atElsewhere = at({ bizLocation: ELSEWHERE });
  const atGateReader = at({ readPoint: GATE_READER, bizLocation: ELSEWHERE });
  const atRivalShed = at({ bizLocation: RIVAL_SHED });
  const names = new Map<unknown, string>([
    [atDock.eventID, "dock"],
    [atWarehouseBay.eventID, "warehouse bay"],
    [atElsewhere.eventID, "elsewhere"],
    [atGateReader.eventID, "gate reader"],
    [atRivalShed.eventID, "rival shed"],
  ]);
  const scope = `EQ_eventID=${[...names.keys()].join("|")}&orderBy=eventTime&orderDirection=ASC`;
  const select = async (query: string, as = token) =>
    eventsOf(await getAnonymous(node, `/epcis/events?${scope}&${query}`, { ...bearer(as), "GS1-EPC-Format": "Never_Translates" })).map((e) =>
      names.get(e.eventID),
    );

  before(async function () {
    node = await sharedNode();
    token = await agentToken(node);
    rival = await agentToken(node, "processor2");
    const honest = withMasterData(
      [atDock, atWarehouseBay, atElsewhere, atGateReader],
      [
        {
          type: BUSINESS_LOCATION,
          vocabularyElementList: [
            { id: SITE, attributes: [{ id: "urn:epcglobal:cbv:mda#name", attribute: "Site" }], children: [WAREHOUSE] },
            { id: WAREHOUSE, children: [DOCK] },
            { id: DOCK },
          ],
        },
        { type: READ_POINT, vocabularyElementList: [{ id: GATE, children: [GATE_READER] }] },
      ],
    );
    expect(await captureAndWait(node, token, honest)).to.include({ success: true, stored: 4 });
    // Organisation 3 grafts its shed under organisation 1's site, and claims organisation 1's dock for its own site.
    const grafting = withMasterData(
      [atRivalShed],
      [
        {
          type: BUSINESS_LOCATION,
          vocabularyElementList: [
            { id: SITE, children: [RIVAL_SHED] },
            { id: RIVAL_SITE, children: [DOCK, RIVAL_SHED] },
          ],
        },
      ],
    );
    expect(await captureAndWait(node, rival, grafting)).to.include({ success: true, stored: 1 });
  });

  it("stores the vocabulary elements of the document's master data with its capture", function () {
    const rows = node.db
      .prepare(`SELECT vtype, id, element FROM epcis_vocabulary_elements WHERE id LIKE ? ORDER BY vtype, id`)
      .all(`https://id.gs1.org/414/${MINE}${R}%`) as { vtype: string; id: string; element: string }[];
    expect(rows.map((r) => r.vtype)).to.deep.equal([BUSINESS_LOCATION, BUSINESS_LOCATION, BUSINESS_LOCATION, BUSINESS_LOCATION, READ_POINT]);
    expect(JSON.parse(rows[0].element)).to.deep.include({ id: SITE, children: [WAREHOUSE] });
  });

  it("WD_bizLocation matches the location and its descendants, transitively (and their GLN extensions)", async function () {
    expect(await select(`WD_bizLocation=${SITE}`)).to.deep.equal(["dock", "warehouse bay"]);
    expect(await select(`WD_bizLocation=${WAREHOUSE}`)).to.deep.equal(["dock", "warehouse bay"]);
    expect(await select(`WD_bizLocation=${DOCK}`)).to.deep.equal(["dock"]);
    expect(await select(`WD_bizLocation=${ELSEWHERE}|${DOCK}`)).to.deep.equal(["dock", "elsewhere", "gate reader"]);
  });

  it("WD_readPoint follows the ReadPoint hierarchy, not the BusinessLocation one", async function () {
    expect(await select(`WD_readPoint=${GATE}`)).to.deep.equal(["gate reader"]);
    expect(await select(`WD_readPoint=${SITE}`)).to.deep.equal([]);
  });

  it("refuses a rival's master data grafting its location under a member's site", async function () {
    // The rival reads its own event, but not as a descendant of organisation 1's site.
    expect(await select(`WD_bizLocation=${SITE}`, rival)).to.deep.equal([]);
    expect(await select(`WD_bizLocation=${RIVAL_SHED}`, rival)).to.deep.equal(["rival shed"]);
  });

  it("refuses a rival's master data claiming a member's location as a child of its own site", async function () {
    expect(await select(`WD_bizLocation=${RIVAL_SITE}`)).to.deep.equal([]);
    // Its own shed under its own site is followed.
    expect(await select(`WD_bizLocation=${RIVAL_SITE}`, rival)).to.deep.equal(["rival shed"]);
  });
});
