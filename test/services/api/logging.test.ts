import { PassThrough } from "node:stream";
import { expect } from "chai";
import { createLogger, logFormat } from "../../../services/config/logger";
import { ConfigError } from "../../../services/config";

function capture(format: "pretty" | "json", level = "debug") {
  const out = new PassThrough();
  let text = "";
  out.on("data", (chunk) => (text += chunk.toString()));
  return { log: createLogger(level, format, out), text: () => text };
}

describe("node logs", function () {
  it("prints readable lines on a terminal and JSON otherwise", function () {
    expect(logFormat({}, true)).to.equal("pretty");
    expect(logFormat({}, false)).to.equal("json");
    expect(logFormat({ LOTLINE_LOG_FORMAT: "json" }, true)).to.equal("json");
    expect(() => logFormat({ LOTLINE_LOG_FORMAT: "xml" }, true)).to.throw(ConfigError, /pretty or json/);
    const pretty = capture("pretty");
    pretty.log.child({ component: "api" }).info({ port: 8080 }, "listening");
    expect(pretty.text()).to.match(/^\[\d\d:\d\d:\d\d\] INFO: api: listening \{"port":8080\}\n$/);
    const json = capture("json");
    json.log.info("listening");
    expect(JSON.parse(json.text())).to.include({ level: 30, msg: "listening" });
  });

  it("never prints a session cookie, bearer token, signature or key, in either format", function () {
    for (const format of ["pretty", "json"] as const) {
      const { log, text } = capture(format);
      log.debug({ req: { headers: { cookie: "lotline_session=SECRET1", authorization: "Bearer SECRET2" } }, token: "SECRET3", body: { signature: "SECRET4", privateKey: "SECRET5" } }, "request");
      expect(text()).to.include("request");
      expect(text()).to.not.match(/SECRET/);
    }
  });
});
