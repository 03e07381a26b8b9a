import { expect } from "chai";
import { get, sharedNode } from "./helpers";
import type { TestNode } from "../../helpers/node";

/** Found by the hostile-input harness: names of Object.prototype members as parameters or refs. */
describe("attack: Object.prototype names as query parameters and refs", function () {
  let node: TestNode;
  before(async function () {
    node = await sharedNode();
  });

  it("refuses an EPCIS query parameter named toString (a 400, not a 500)", async function () {
    for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
      const res = await get(node, `/epcis/events?${name}=1`);
      expect(res.status, `${name}: ${res.text}`).to.equal(400);
    }
  });

  it("answers a malformed batch ref on the explorer's records route with the refusal of the batch route", async function () {
    const res = await get(node, `/api/v1/batches/${encodeURIComponent(">#$~U.Bhz")}/records`);
    expect(res.status, res.text).to.be.within(400, 499);
    expect(res.body.code).to.be.a("string");
  });
});
