import { expect } from "chai";
import { buildApp, schemasCompiled } from "../../../services/api/app";
import { initialState } from "../../../services/api/state";
import { openDatabase } from "../../../services/store/db";

/**
 * Route schemas compile on first use and in the background once the app is ready
 * (services/api/lazy-compile.ts): every one of them must still compile, and a request that fails
 * validation before its schema was warmed still gets the validator's errors.
 */
describe("API schemas compiled lazily", function () {
  it("compiles every route's validators and serializers after ready", async function () {
    const db = openDatabase(":memory:");
    const app = await buildApp({ config: { rateLimit: 1_000, finalityDepth: 0 }, db, state: initialState(), publicUrl: () => "http://127.0.0.1:8080" });
    const errors: string[] = [];
    app.log.error = ((obj: { err?: string }) => errors.push(String(obj?.err))) as typeof app.log.error;
    await app.ready();
    // A validation failure answered by a validator compiled on this very request.
    const res = await app.inject({ method: "GET", url: `/api/v1/batches/${"a".repeat(600)}` });
    expect(res.statusCode).to.equal(400);
    expect(res.json()).to.include({ code: "invalid_request" });
    expect(res.json().errors).to.be.an("array").that.is.not.empty;
    await schemasCompiled(app);
    expect(errors).to.deep.equal([]);
    await app.close();
    db.close();
  });
});
