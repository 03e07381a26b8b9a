import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { demoWallet } from "../../../services/demo/roster";
import { expectProblem, get, post, sharedNode, type ApiResponse } from "./helpers";

/**
 * Malformed input: every route that takes input answers it with a 400 problem document
 * (application/problem+json, a `code`, and for schema failures the failing `errors`), never a
 * 500 and never a partial success.
 */
const PRODUCER = demoWallet(1).address;
/** An address with its first letter's case flipped: right shape, wrong EIP-55 checksum. */
function breakChecksum(address: string): string {
  const i = address.slice(2).search(/[a-fA-F]/) + 2;
  const c = address[i];
  return address.slice(0, i) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + address.slice(i + 1);
}
const BAD_CHECKSUM = breakChecksum(PRODUCER);
const cursorOf = (text: string) => Buffer.from(text).toString("base64url");

function expectInvalidRequest(res: ApiResponse, path?: string): void {
  expectProblem(res, 400, "invalid_request");
  expect(res.body.errors, "the failing fields").to.be.an("array").that.is.not.empty;
  if (path) expect(res.body.errors.map((e: { path: string }) => e.path)).to.include(path);
}

describe("API malformed input", function () {
  let node: TestNode;
  let relayBody: Record<string, unknown>;

  before(async function () {
    this.timeout(120_000);
    node = await sharedNode();
    relayBody = {
      from: PRODUCER,
      to: node.state.deployment!.contracts.registry,
      value: "0",
      gas: "100000",
      deadline: Math.floor(Date.now() / 1000) + 3600,
      data: node.contracts.registry.interface.encodeFunctionData("addLocation", [1n, "4012345000993"]),
      signature: `0x${"11".repeat(65)}`,
    };
  });

  describe("POST /api/v1/auth/nonce", function () {
    it("answers a body that is not JSON with 400 malformed_json", async function () {
      expectProblem(await post(node, "/api/v1/auth/nonce", "{address:"), 400, "malformed_json");
    });

    it("answers an empty JSON body with 400", async function () {
      expectProblem(await post(node, "/api/v1/auth/nonce", ""), 400);
    });

    it("answers a JSON array instead of an object with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/auth/nonce", [PRODUCER]), "body");
    });

    it("answers a missing address with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/auth/nonce", {}), "body");
    });

    it("does not coerce a number where the body needs a decimal string (gas: 5)", async function () {
      expectInvalidRequest(await post(node, "/api/v1/relay", { ...relayBody, gas: 5 }), "body/gas");
    });

    it("does not coerce a numeric string where the body needs an integer (deadline)", async function () {
      expectInvalidRequest(await post(node, "/api/v1/relay", { ...relayBody, deadline: String(relayBody.deadline) }), "body/deadline");
    });

    it("does not unwrap a one-element array where the body needs an address", async function () {
      expectInvalidRequest(await post(node, "/api/v1/relay", { ...relayBody, from: [PRODUCER] }), "body/from");
    });

    it("answers an extra field with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/auth/nonce", { address: PRODUCER, admin: true }), "body");
    });

    it("answers an address of the wrong type with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/auth/nonce", { address: { hex: PRODUCER } }), "body/address");
    });

    it("answers an address that is too short with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/auth/nonce", { address: "0x1234" }), "body/address");
    });

    it("answers an address with a wrong EIP-55 checksum with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/auth/nonce", { address: BAD_CHECKSUM }), "body/address");
    });

    it("accepts an all-lowercase address", async function () {
      const res = await post(node, "/api/v1/auth/nonce", { address: PRODUCER.toLowerCase() });
      expect(res.status, res.text).to.equal(200);
    });

    it("answers an unsupported content type with 415 unsupported_media_type", async function () {
      const res = await post(node, "/api/v1/auth/nonce", `<address>${PRODUCER}</address>`, { "content-type": "application/xml" });
      expectProblem(res, 415, "unsupported_media_type");
    });
  });

  describe("POST /api/v1/auth/login", function () {
    const signature = `0x${"ab".repeat(65)}`;

    it("answers a body that is not JSON with 400 malformed_json", async function () {
      expectProblem(await post(node, "/api/v1/auth/login", '{"message": "x", '), 400, "malformed_json");
    });

    it("answers a missing signature with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/auth/login", { message: "hello" }), "body");
    });

    it("answers an extra field with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/auth/login", { message: "hello", signature, address: PRODUCER }), "body");
    });

    it("answers a message of the wrong type with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/auth/login", { message: { text: "hello" }, signature }), "body/message");
    });

    it("answers a signature that is not 65 hex bytes with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/auth/login", { message: "hello", signature: "0xabcdef" }), "body/signature");
    });

    it("answers an empty message with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/auth/login", { message: "", signature }), "body/message");
    });

    it("answers an oversized message with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/auth/login", { message: "x".repeat(4097), signature }), "body/message");
    });

    it("answers a message that is not EIP-4361 with 400 invalid_siwe_message", async function () {
      expectProblem(
        await post(node, "/api/v1/auth/login", { message: "please let me in", signature }),
        400,
        "invalid_siwe_message",
      );
    });
  });

  describe("POST /api/v1/relay", function () {
    it("answers a body that is not JSON with 400 malformed_json", async function () {
      expectProblem(await post(node, "/api/v1/relay", "from=0x&to=0x"), 400, "malformed_json");
    });

    it("answers an empty object with 400 invalid_request naming every missing field", async function () {
      const res = await post(node, "/api/v1/relay", {});
      expectInvalidRequest(res, "body");
      for (const field of ["from", "to", "gas", "deadline", "data", "signature"])
        expect(res.body.detail).to.include(`'${field}'`);
    });

    for (const field of ["from", "to", "gas", "deadline", "data", "signature"]) {
      it(`answers a request without ${field} with 400 invalid_request`, async function () {
        const { [field]: _omitted, ...rest } = relayBody;
        const res = await post(node, "/api/v1/relay", rest);
        expectInvalidRequest(res, "body");
        expect(res.body.detail).to.include(`'${field}'`);
      });
    }

    it("answers an extra field with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/relay", { ...relayBody, nonce: "0" }), "body");
    });

    const wrong: [string, unknown, string][] = [
      ["a deadline that is not a number", "tomorrow", "body/deadline"],
      ["a deadline beyond uint48", 2 ** 48, "body/deadline"],
      ["a negative gas", "-1", "body/gas"],
      ["a gas that is an object", { amount: 100000 }, "body/gas"],
      ["a fractional value", "0.5", "body/value"],
      ["calldata shorter than a selector", "0x1234", "body/data"],
      ["calldata that is not hex", "0xnothexatall", "body/data"],
      ["calldata of odd length", "0xb78b7b6c0", "body/data"],
      ["a signature that is not 65 bytes", "0x1234", "body/signature"],
      ["a from that is not an address", "0x1234", "body/from"],
      ["a to without the 0x prefix", PRODUCER.slice(2), "body/to"],
    ];
    for (const [what, value, path] of wrong) {
      const field = path.split("/")[1];
      it(`answers ${what} with 400 invalid_request`, async function () {
        expectInvalidRequest(await post(node, "/api/v1/relay", { ...relayBody, [field]: value }), path);
      });
    }

    it("answers a from with a wrong EIP-55 checksum with 400 invalid_request", async function () {
      expectInvalidRequest(await post(node, "/api/v1/relay", { ...relayBody, from: BAD_CHECKSUM }), "body/from");
    });

    it("answers a to with a wrong EIP-55 checksum with 400 invalid_request", async function () {
      expectInvalidRequest(
        await post(node, "/api/v1/relay", { ...relayBody, to: breakChecksum(String(relayBody.to)) }),
        "body/to",
      );
    });

    it("answers a body over the 1 MiB limit with 413 payload_too_large", async function () {
      const res = await post(node, "/api/v1/relay", { ...relayBody, data: `0x${"00".repeat(600_000)}` });
      expectProblem(res, 413, "payload_too_large");
    });
  });

  describe("GET /api/v1/orgs", function () {
    for (const limit of ["0", "501", "x", "2.5", "-1"]) {
      it(`answers limit=${limit} with 400 invalid_request`, async function () {
        expectInvalidRequest(await get(node, `/api/v1/orgs?limit=${limit}`), "querystring/limit");
      });
    }

    it("answers a garbage cursor with 400 invalid_cursor", async function () {
      expectProblem(await get(node, "/api/v1/orgs?cursor=zzz"), 400, "invalid_cursor");
    });

    it("answers a cursor from another kind of list with 400 invalid_cursor", async function () {
      expectProblem(await get(node, `/api/v1/orgs?cursor=${cursorOf("agent:3")}`), 400, "invalid_cursor");
    });

    for (const forged of ["orgId:abc", "orgId:-5", "orgId:1.5", "orgId:1e3"]) {
      it(`answers a forged cursor holding "${forged}" with 400 invalid_cursor`, async function () {
        expectProblem(await get(node, `/api/v1/orgs?cursor=${cursorOf(forged)}`), 400, "invalid_cursor");
      });
    }

    it("answers an over-long cursor with 400 invalid_request", async function () {
      expectInvalidRequest(await get(node, `/api/v1/orgs?cursor=${"a".repeat(201)}`), "querystring/cursor");
    });

    it("answers an unknown status with 400 invalid_request", async function () {
      expectInvalidRequest(await get(node, "/api/v1/orgs?status=deleted"));
    });

    it("answers an unknown query parameter with 400 invalid_request", async function () {
      expectInvalidRequest(await get(node, "/api/v1/orgs?sort=name"), "querystring");
    });
  });

  describe("GET /api/v1/orgs/{orgId}", function () {
    for (const orgId of ["abc", "0", "-1", "01", "1.5", "1e3", "12345678901234567890"]) {
      it(`answers orgId ${orgId} with 400 invalid_request`, async function () {
        expectInvalidRequest(await get(node, `/api/v1/orgs/${orgId}`), "params/orgId");
      });
    }
  });

  describe("GET /api/v1/agents/{address}", function () {
    for (const address of ["0x1234", "0xZZ00000000000000000000000000000000000000", PRODUCER.slice(2), `${PRODUCER}00`]) {
      it(`answers the address ${address} with 400 invalid_request`, async function () {
        expectInvalidRequest(await get(node, `/api/v1/agents/${address}`), "params/address");
      });
    }
  });

  describe("routes that do not exist", function () {
    it("answers an unknown path with a 404 not_found problem", async function () {
      const res = await get(node, "/api/v1/shipments");
      expectProblem(res, 404, "not_found");
      expect(res.body.instance).to.equal("/api/v1/shipments");
    });

    it("answers a method a path does not have with a 404 not_found problem", async function () {
      const res = await fetch(`${node.url}/api/v1/orgs`, { method: "DELETE" });
      expect(res.status).to.equal(404);
      expect(res.headers.get("content-type")).to.match(/^application\/problem\+json/);
      expect(((await res.json()) as { code: string }).code).to.equal("not_found");
    });
  });
});
