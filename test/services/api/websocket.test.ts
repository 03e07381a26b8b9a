import { expect } from "chai";
import Fastify, { type FastifyInstance } from "fastify";
import { connect } from "../../helpers/ws";
import { registerWebsocket } from "../../../services/api/websocket";

/** The WebSocket plumbing every socket route shares: the node stops within its deadline with sockets open. */
describe("WebSocket upgrades", function () {
  let app: FastifyInstance;

  beforeEach(async function () {
    app = Fastify({ logger: false });
    await registerWebsocket(app);
    // A route that keeps its socket open until the server ends it.
    app.get("/hold", { websocket: true }, () => undefined);
    await app.listen({ port: 0, host: "127.0.0.1" });
  });

  afterEach(async function () {
    await app.close();
  });

  it("closes open sockets (1001, going away) when the app closes, well within the node's 10 s stop deadline", async function () {
    const { port } = app.server.address() as { port: number };
    const clients = await Promise.all([1, 2, 3].map(() => connect(`http://127.0.0.1:${port}`, "/hold")));
    const started = Date.now();
    await app.close();
    expect(Date.now() - started).to.be.below(2_000);
    for (const client of clients) expect(await client.closed).to.deep.include({ code: 1001 });
  });

  it("selects the lotline subprotocol when offered, and none otherwise", async function () {
    const { port } = app.server.address() as { port: number };
    const browser = await connect(`http://127.0.0.1:${port}`, "/hold", { protocols: ["lotline"] });
    expect(browser.ws.protocol).to.equal("lotline");
    const plain = await connect(`http://127.0.0.1:${port}`, "/hold");
    expect(plain.ws.protocol).to.equal("");
  });
});
