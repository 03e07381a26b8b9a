import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../services/api/app";
import { problem, problemPage } from "../../../services/api/problem";
import { initialState } from "../../../services/api/state";
import { openDatabase, type Db } from "../../../services/store/db";

/**
 * The rate limit, on the HTTP application alone (no chain: booting a second node just to lower
 * LOTLINE_RATE_LIMIT would cost seconds). buildApp is what startNode serves; requests are
 * injected from a chosen client address.
 */
describe("API rate limit", function () {
  const LIMIT = 5;
  let db: Db;
  let app: FastifyInstance;

  beforeEach(async function () {
    // A fresh app per test: the limiter's counters live in the app's memory.
    db = openDatabase(":memory:");
    app = await buildApp({
      config: { rateLimit: LIMIT, finalityDepth: 0 },
      publicUrl: () => "http://127.0.0.1:8080",
      db,
      state: initialState(),
    });
  });

  afterEach(async function () {
    await app.close();
    db.close();
  });

  const from = (remoteAddress: string, url = "/health") => app.inject({ method: "GET", url, remoteAddress });

  it("serves the first LOTLINE_RATE_LIMIT requests of a client within a minute", async function () {
    for (let i = 0; i < LIMIT; i++) {
      const res = await from("10.0.0.1");
      expect(res.statusCode, `request ${i + 1}`).to.equal(200);
      expect(res.headers["x-ratelimit-remaining"]).to.equal(String(LIMIT - i - 1));
    }
  });

  it("answers the next request with 429 and a rate_limited problem document", async function () {
    for (let i = 0; i < LIMIT; i++) await from("10.0.0.1");
    const res = await from("10.0.0.1");
    expect(res.statusCode).to.equal(429);
    expect(res.headers["content-type"]).to.match(/^application\/problem\+json/);
    const body = res.json();
    expect(body).to.include({ status: 429, code: "rate_limited", title: "Too Many Requests" });
    expect(body.type).to.be.a("string");
    expect(body.detail).to.be.a("string").and.include(`${LIMIT} requests per minute`);
  });

  it("tells the refused client when to retry", async function () {
    for (let i = 0; i < LIMIT; i++) await from("10.0.0.1");
    const res = await from("10.0.0.1");
    expect(Number(res.headers["retry-after"])).to.be.within(1, 60);
  });

  it("counts every route against the same budget", async function () {
    const urls = ["/health", "/ready", "/api/v1/orgs", "/api/v1/orgs/1", "/metrics"];
    for (const url of urls) expect((await from("10.0.0.1", url)).statusCode, url).to.not.equal(429);
    expect((await from("10.0.0.1", "/api/v1/orgs")).statusCode).to.equal(429);
  });

  // What a browser sends when the reader opens a page (typed, followed or scanned), not when a script fetches.
  const NAVIGATION = { "sec-fetch-mode": "navigate", "sec-fetch-dest": "document", accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
  const navigate = (url: string) => app.inject({ method: "GET", url, remoteAddress: "10.0.0.1", headers: NAVIGATION });

  it("shows a browser that opens a page over its limit a page saying so and when to retry, not a JSON document", async function () {
    for (let i = 0; i < LIMIT; i++) await from("10.0.0.1");
    const res = await navigate("/01/04012345000016/10/MILK-2611-A");
    expect(res.statusCode).to.equal(429);
    expect(res.headers["content-type"]).to.match(/^text\/html/);
    expect(Number(res.headers["retry-after"])).to.be.within(1, 60);
    expect(res.body).to.include("<h1>429 Too Many Requests</h1>").and.include(`more than ${LIMIT} requests per minute`).and.include("rate_limited");
    // Styled in the page itself: the stylesheet would be refused too.
    expect(res.body).to.not.match(/<link[^>]+stylesheet/);
  });

  it("keeps problem documents for the API, even opened in a browser, and for the explorer's own fetches", async function () {
    for (let i = 0; i < LIMIT; i++) await from("10.0.0.1");
    for (const res of [
      await navigate("/api/v1/orgs"),
      await app.inject({ method: "GET", url: "/explorer/batch/1", remoteAddress: "10.0.0.1", headers: { "sec-fetch-mode": "cors", "sec-fetch-dest": "empty", accept: "application/json" } }),
      await app.inject({ method: "GET", url: "/explorer/batch/1", remoteAddress: "10.0.0.1", headers: { accept: "text/html" } }),
    ]) {
      expect(res.statusCode).to.equal(429);
      expect(res.headers["content-type"]).to.match(/^application\/problem\+json/);
      expect(res.json()).to.include({ code: "rate_limited" });
    }
  });

  it("attack: a link whose path carries markup shows it as text on the error page (no script of the link's author runs)", async function () {
    const res = await navigate("/nowhere/<img src=x onerror=alert(1)>");
    expect(res.statusCode).to.equal(404);
    expect(res.headers["content-type"]).to.match(/^text\/html/);
    expect(res.body).to.not.include("<img");
    expect(res.body.match(/<script/g)).to.equal(null);
    // Whatever reaches a problem's detail (a path, a parameter a route echoes) is written as text.
    const page = problemPage({ ...problem(400, "bad\"code", `lot "<img src=x onerror=alert(1)>" & more`), instance: "/x" });
    expect(page).to.not.include("<img").and.not.include('bad"code');
    expect(page).to.include("lot &#34;&#60;img src=x onerror=alert(1)&#62;&#34; &#38; more");
  });

  it("keeps a separate budget for each client", async function () {
    for (let i = 0; i <= LIMIT; i++) await from("10.0.0.1");
    expect((await from("10.0.0.1")).statusCode).to.equal(429);
    expect((await from("10.0.0.2")).statusCode).to.equal(200);
  });
});
