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

  before(async function () {
    node = await sharedNode();
    // The cheese maker inspects its butter: an EPCIS event naming the lot, its own record.
    const token = await agentToken(node, "processor2");
    await captureAndWait(
      node,
      token,
      epcisDocument([
        {
          type: "ObjectEvent",
          eventTime: "2026-11-20T10:00:00.000Z",
          eventTimeZoneOffset: "+00:00",
          action: "OBSERVE",
          bizStep: "inspecting",
          quantityList: [{ epcClass: `https://id.gs1.org/01/${DEMO_GOODS.butter}/10/BTR-2611`, quantity: 1, uom: "KGM" }],
        },
      ]),
    );
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
    const all = await epcisEntries("auditor");
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
    expect(seen.length).to.be.lessThan(all.length);
  });
});
