import { expect } from "chai";
import { ZeroHash } from "ethers";
import { openDatabase } from "../../../services/store/db";
import { createIdentityStore } from "../../../services/store/identity";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { isoFromChainSeconds, MAX_ISO } from "../../../services/chain/time";
import type { TestNode } from "../../helpers/node";
import { get, sharedNode } from "./helpers";

const UINT64_MAX = (1n << 64n) - 1n;
const account = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!.account;
const orgOf = (key: string) => BigInt(DEMO_MEMBERS.findIndex((m) => m.key === key) + 1);

describe("values from the chain never crash a read", function () {
  let node: TestNode;

  before(async function () {
    node = await sharedNode();
  });

  it("shows uint64 seconds beyond year 9999 as the capped ISO time (pure)", function () {
    expect(isoFromChainSeconds(UINT64_MAX)).to.equal(MAX_ISO);
    expect(isoFromChainSeconds(Number(UINT64_MAX))).to.equal(MAX_ISO);
    expect(isoFromChainSeconds(253_402_300_800)).to.equal(MAX_ISO); // 10000-01-01
    expect(isoFromChainSeconds(1_700_000_000)).to.equal("2023-11-14T22:13:20.000Z");
  });

  it("attack: an order whose delivery deadline is the largest uint64 does not break the orders routes for everyone", async function () {
    const buyer = node.contracts.escrow.connect(demoWallet(account("retailer"), node.provider));
    const terms = {
      seller: orgOf("carrier"),
      arbiter: 0n,
      token: await node.contracts.token.getAddress(),
      gtin: 4012345000016n,
      quantity: 1_000n,
      pricePerUnit: (1n << 127n) / 1_000n,
      deliveryDeadline: UINT64_MAX,
      inspectionWindow: 3_600,
      disputeTimeout: 86_400,
      defaultSellerShareBps: 5_000,
      termsHash: ZeroHash,
    };
    const orderId = await buyer.createOrder.staticCall(terms);
    await (await buyer.createOrder(terms)).wait();
    await node.synced();
    const one = await get(node, `/api/v1/orders/${orderId}`);
    expect(one.status, one.text).to.equal(200);
    expect(one.body.deliveryDeadline).to.equal(MAX_ISO);
    const list = await get(node, `/api/v1/orders?limit=500`);
    expect(list.status, list.text).to.equal(200);
  });

  it("attack: a credential valid until the largest uint64 does not break the organisation's page", function () {
    // In the identity read model directly (a credential on the shared node would change other tests' counts).
    const db = openDatabase(":memory:");
    db.prepare(
      `INSERT INTO credentials (credential_id, credential_type, issuer_org, subject_org, claim_hash, valid_from, valid_until, issued_by, issued_at, issued_tx)
       VALUES (1, 'GLOBALGAP', 8, 4, ?, 0, ?, ?, '2026-01-01T00:00:00.000Z', ?)`,
    ).run(ZeroHash, Number(UINT64_MAX), demoWallet(8).address, ZeroHash);
    const [credential] = createIdentityStore(db).credentialsOf(4);
    expect(credential.validUntil).to.equal(MAX_ISO);
    db.close();
  });
});
