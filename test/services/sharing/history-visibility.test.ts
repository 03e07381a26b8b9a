import { expect } from "chai";
import { AbiCoder, keccak256 } from "ethers";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import type { TestNode } from "../../helpers/node";
import { bearer, get, sharedNode, tokenFor } from "../api/helpers";
import { agentToken, captureAndWait, epcisDocument } from "../epcis/helpers";

const butter = keccak256(AbiCoder.defaultAbiCoder().encode(["uint64", "string"], [BigInt(DEMO_GOODS.butter), "BTR-2611"]));
const account = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!.account;

interface Entry {
  type: string;
  details: { orgId?: string; eventID?: string };
}

/** A batch's history is chain data for members; the EPCIS events in it are their owners' records. */
describe("visibility: EPCIS events in a batch's history", function () {
  let node: TestNode;

  // The carrier records the butter's temperature: its own record, shared with nobody by the demo or any test.
  const carrierEventID = "urn:uuid:6f1c2a0e-7d5b-4c3e-9a8f-0123456789ab";

  before(async function () {
    node = await sharedNode();
    const butterLot = `https://id.gs1.org/01/${DEMO_GOODS.butter}/10/BTR-2611`;
    const inspect = (extra: Record<string, unknown>) => ({
      type: "ObjectEvent",
      eventTime: "2026-11-20T10:00:00.000Z",
      eventTimeZoneOffset: "+00:00",
      action: "OBSERVE",
      bizStep: "inspecting",
      quantityList: [{ epcClass: butterLot, quantity: 1, uom: "KGM" }],
      ...extra,
    });
    // The cheese maker inspects its butter: an EPCIS event naming the lot, its own record.
    await captureAndWait(node, await agentToken(node, "processor2"), epcisDocument([inspect({})]));
    await captureAndWait(node, await agentToken(node, "carrier"), epcisDocument([inspect({ eventID: carrierEventID })]));
  });

  const epcisEntries = async (key: string) => {
    const token = await tokenFor(node, demoWallet(account(key)));
    const res = await get(node, `/api/v1/batches/${butter}/history`, bearer(token));
    expect(res.status, res.text).to.equal(200);
    return (res.body.items as Entry[]).filter((e) => e.type === "epcis");
  };

  it("shows a reader the events their owners shared with it (the auditor, appointed by every producer)", async function () {
    const seen = await epcisEntries("auditor");
    expect(seen.length).to.be.greaterThan(0);
  });

  it("attack: hides from a member the ids and business steps of events their owners did not share with it", async function () {
    const certifierOrg = String(DEMO_MEMBERS.findIndex((m) => m.key === "certifier") + 1);
    const seen = await epcisEntries("certifier");
    // The demo shares nothing commercial with the certifier; other test files on the shared node may grant it
    // some organisation's events: it sees its own captures and those of organisations that granted it EPCIS only.
    const token = await tokenFor(node, demoWallet(account("certifier")));
    const grants = await get(node, `/api/v1/grants?grantee=${certifierOrg}&inForce=true&limit=500`, bearer(token));
    const granting = new Set(
      (grants.body.items as { grantorOrgId: string; classes: string[] }[]).filter((g) => g.classes.includes("EPCIS")).map((g) => g.grantorOrgId),
    );
    const shown = seen.map((e) => String(e.details.orgId));
    expect(shown.every((orgId) => orgId === certifierOrg || granting.has(orgId)), `events of ${shown.join(", ")}; grants from ${[...granting].join(", ")}`).to.equal(true);
    // The carrier's own event is in the history its owner reads, and absent from the certifier's.
    const carrierOrg = String(account("carrier"));
    expect(granting.has(carrierOrg), "no test grants the carrier's events to the certifier").to.equal(false);
    expect((await epcisEntries("carrier")).map((e) => e.details.eventID)).to.include(carrierEventID);
    expect(seen.map((e) => e.details.eventID)).to.not.include(carrierEventID);
  });
});
