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
    // The certifier holds no EPCIS grant (the demo shares nothing commercial with it): it sees its own captures only.
    expect(seen.every((e) => e.details.orgId === certifierOrg)).to.equal(true);
    expect(seen.length).to.be.lessThan(all.length);
  });
});
