import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { parseCsv } from "../../../services/scoring/dataset";
import { SHIPPED_DATA_FILE } from "../../../services/scoring/default-model";
import { stratifiedSplit } from "../../../services/scoring/random";
import { lotline, oneLine, type Run } from "../cli/run";

const REPORT_KEYS = ["n", "positives", "rocAuc", "prAuc", "f1", "precision", "recall", "threshold", "f1Interval"];

/** The single JSON line `lotline model eval` prints. */
function evalLine(run: Run): Record<string, unknown> {
  expect(run.code, run.stderr).to.equal(0);
  const lines = run.stdout.split("\n").filter((l) => l !== "");
  expect(lines, run.stdout).to.have.length(1);
  const report = JSON.parse(lines[0]) as Record<string, unknown>;
  expect(Object.keys(report)).to.deep.equal(REPORT_KEYS);
  return report;
}

/** `lotline model train` and `lotline model eval` end to end on small CSV files. */
describe("lotline model", function () {
  this.timeout(120_000);
  let dir: string;
  let trainCsv: string;
  let testCsv: string;
  let renamedCsv: string;

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-model-cli-"));
    const table = parseCsv(fs.readFileSync(SHIPPED_DATA_FILE, "utf8"));
    const [header, ...rows] = table;
    const labels = rows.map((r) => Number(r[header.indexOf("Machine failure")]));
    // 1,500 rows to train and 600 to evaluate, stratified (about 50 and 20 failures).
    const { first: small } = stratifiedSplit(labels, 2100 / rows.length, 7);
    const { first: a, second: b } = stratifiedSplit(
      small.map((i) => labels[i]),
      1500 / 2100,
      8,
    );
    const write = (file: string, head: string[], picked: number[]) =>
      fs.writeFileSync(file, [head, ...picked.map((i) => rows[small[i]])].map((r) => r.join(",")).join("\n") + "\n");
    trainCsv = path.join(dir, "train.csv");
    testCsv = path.join(dir, "test.csv");
    renamedCsv = path.join(dir, "renamed.csv");
    write(trainCsv, header, a);
    write(testCsv, header, b);
    const renamed = header.map(
      (h) =>
        ({
          "Air temperature [K]": "air_k",
          "Process temperature [K]": "process_k",
          "Torque [Nm]": "torque_nm",
          "Machine failure": "failed",
        })[h] ?? h,
    );
    write(renamedCsv, renamed, b);
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("trains a model file and evaluates it, printing one line of JSON", async function () {
    const out = path.join(dir, "model.json");
    const train = await lotline(["model", "train", "--data", trainCsv, "--out", out]);
    expect(train.code, train.stderr).to.equal(0);
    expect(train.stdout).to.match(/^wrote .*model\.json \(modelHash [0-9a-f]{64}\)/);
    const file = JSON.parse(fs.readFileSync(out, "utf8"));
    expect(file).to.include.keys("features", "threshold", "learner", "training", "crossValidation", "model", "modelHash");
    expect(file.training.rows).to.equal(1500);

    const report = evalLine(await lotline(["model", "eval", "--model", out, "--data", testCsv]));
    expect(report.n).to.equal(600);
    expect(report.threshold).to.equal(Math.round(file.threshold * 1e6) / 1e6);
    expect(report.rocAuc).to.be.greaterThan(0.9);

    // Another dataset's header, through a mapping given inline or as a JSON file.
    const inline = "airTemp=air_k,processTemp=process_k,torque=torque_nm,failure=failed";
    expect(evalLine(await lotline(["model", "eval", "--model", out, "--data", renamedCsv, "--columns", inline]))).to.deep.equal(
      report,
    );
    const mappingFile = path.join(dir, "mapping.json");
    fs.writeFileSync(
      mappingFile,
      JSON.stringify({ airTemp: "air_k", processTemp: "process_k", torque: "torque_nm", failure: "failed" }),
    );
    expect(
      evalLine(await lotline(["model", "eval", "--model", out, "--data", renamedCsv, "--columns", mappingFile])),
    ).to.deep.equal(report);
  });

  it("evaluates the rule baseline the same way", async function () {
    const report = evalLine(await lotline(["model", "eval", "--baseline", "--data", testCsv]));
    expect(report).to.include({ n: 600, threshold: 1 });
  });

  it("fails with one line on a bad path, a missing or leaking column, or a bad choice of model", async function () {
    expect(
      oneLine(await lotline(["model", "train", "--data", path.join(dir, "nope.csv"), "--out", path.join(dir, "x.json")])),
    ).to.match(/no such file: .*nope\.csv/);
    expect(oneLine(await lotline(["model", "eval", "--baseline", "--data", renamedCsv]))).to.match(/no column for airTemp/);
    expect(oneLine(await lotline(["model", "eval", "--baseline", "--data", testCsv, "--columns", "torque=Nope"]))).to.match(
      /column "Nope" \(for torque\) is not in the CSV header/,
    );
    expect(oneLine(await lotline(["model", "eval", "--baseline", "--data", testCsv, "--columns", "torque=OSF"]))).to.match(
      /leakage/,
    );
    expect(oneLine(await lotline(["model", "eval", "--baseline", "--data", testCsv, "--columns", "speed=x"]))).to.match(
      /unknown field "speed"/,
    );
    expect(oneLine(await lotline(["model", "eval", "--model", path.join(dir, "missing.json"), "--data", testCsv]))).to.match(
      /no such file/,
    );
    expect(oneLine(await lotline(["model", "eval", "--data", testCsv]))).to.match(/exactly one of --model/);
    fs.writeFileSync(
      path.join(dir, "bad.csv"),
      "Type,Air temperature [K],Process temperature [K],Rotational speed [rpm],Torque [Nm],Tool wear [min],Machine failure\nL,298,308,abc,40,10,0\n",
    );
    expect(oneLine(await lotline(["model", "eval", "--baseline", "--data", path.join(dir, "bad.csv")]))).to.match(
      /line 2: rotationalSpeed .* not a number/,
    );
  });
});
