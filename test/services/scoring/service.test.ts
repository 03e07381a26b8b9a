import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { openDatabase, type Db } from "../../../services/store/db";
import { proofOf } from "../../../services/anchoring/outbox";
import {
  combine,
  countryOfGln,
  createBatchScorer,
  createScoringService,
  dwellOutliers,
  fastHandovers,
  inputsHash,
  mapParams,
  MIN_CROSS_BORDER_TRANSIT_HOURS,
  robustStats,
  robustZ,
  sensorFindings,
  toCelsius,
  type Component,
  type LocatedEntry,
  type ScoringService,
} from "../../../services/scoring/service";
import type { BatchView } from "../../../services/store/provenance";

/**
 * The scoring service's parts without a chain: parameter mapping, the robust dwell-time rule, the
 * country-transit rule, sensor excursions, the supplier formula, and the service on an in-memory
 * database (model record and anchor queue, production-run scoring, a batch's own quality).
 */
const HOUR = 3_600_000;

describe("scoring service: parameters", function () {
  it("maps the API's names and the model's names onto the model's inputs, ignoring other parameters", function () {
    const api = {
      airTemperatureK: 300,
      processTemperatureK: 310,
      rotationalSpeedRpm: 1500,
      torqueNm: 40,
      toolWearMin: 100,
      productType: "M",
      vacuumKpa: 42,
    };
    const own = { airTemp: 300, processTemp: 310, rotationalSpeed: 1500, torque: 40, toolWear: 100, productType: 1 };
    expect(mapParams(api)).to.deep.equal({ params: { ...own, productType: "M" }, conflicts: [] });
    expect(mapParams(own).params).to.deep.equal(own);
    expect(inputsHash(mapParams(api).params)).to.equal(inputsHash(mapParams(own).params));
    // Both names with the same value are fine; different values are a conflict.
    expect(mapParams({ ...api, torque: 40, productType: "m" }).conflicts).to.deep.equal([]);
    expect(mapParams({ ...api, torque: 41 }).conflicts).to.deep.equal([{ apiName: "torqueNm", modelInput: "torque" }]);
    // Nothing is filled in.
    expect(mapParams({ torqueNm: 40, toolWearMin: null }).params).to.deep.equal({ torque: 40 });
  });
});

describe("scoring service: dwell-time outliers (robust statistics)", function () {
  const day = (hours: number) => hours * HOUR;

  it("computes the median, MAD and the modified z-score (x − median) / (1.4826 · MAD)", function () {
    const history = [20, 22, 23, 24, 24, 25, 26, 28, 30].map(day);
    const stats = robustStats(history);
    expect(stats.median).to.equal(day(24));
    // |x − 24| = 4, 2, 1, 0, 0, 1, 2, 4, 6 → sorted 0 0 1 1 2 2 4 4 6 → MAD = 2 h
    expect(stats.mad).to.equal(day(2));
    expect(stats.scaleMethod).to.equal("mad");
    const { z } = robustZ(day(40), history);
    expect(z).to.be.closeTo(16 / (1.4826 * 2), 1e-9);
  });

  it("flags a step far outside the consortium's history of the same step type, and only that one", function () {
    const history = new Map<string, number[]>([
      ["chain:offered→handed_over", [1, 2, 2, 3, 3, 3, 4, 4, 5, 6].map(day)],
      ["chain:handed_over→offered", [20, 22, 23, 24, 24, 25, 26, 28, 30].map(day)],
    ]);
    const result = dwellOutliers(
      [
        { key: "chain:offered→handed_over", start: 0, end: day(30), label: "offered → handed_over" }, // 30 h in transit: median 3 h, MAD 1 h, z = 27 / 1.4826 ≈ 18.2
        { key: "chain:handed_over→offered", start: 0, end: day(29) }, // 29 h at the holder: z ≈ 1.7, normal
        { key: "chain:handed_over→offered", start: 0, end: day(31.4) }, // z = 7.4 / 2.9652 ≈ 2.5, normal
      ],
      history,
    );
    expect(result.checked).to.equal(3);
    expect(result.outliers).to.have.length(1);
    expect(result.outliers[0]).to.include({
      key: "chain:offered→handed_over",
      hours: 30,
      medianHours: 3,
      madHours: 1,
      direction: "longer",
      historySize: 10,
    });
    expect(result.outliers[0].z).to.be.closeTo(27 / 1.4826, 0.01);
    // The threshold is 3.5: a step just past it is flagged, just short of it is not.
    const scale = 1.4826 * 2;
    const at = (z: number) =>
      dwellOutliers([{ key: "chain:handed_over→offered", start: 0, end: day(24 + z * scale) }], history).outliers.length;
    expect(at(3.6)).to.equal(1);
    expect(at(3.4)).to.equal(0);
    expect(at(-3.6)).to.equal(1); // far too short is flagged too ("shorter")
  });

  it("falls back to the mean absolute deviation when MAD is 0, and judges nothing without spread or history", function () {
    const mostlyEqual = [10, 10, 10, 10, 10, 10, 16].map(day);
    const stats = robustStats(mostlyEqual);
    expect(stats.mad).to.equal(0);
    expect(stats.scaleMethod).to.equal("meanAbsoluteDeviation");
    expect(stats.scale).to.be.closeTo(1.2533 * (day(6) / 7), 1e-6);
    const history = new Map<string, number[]>([
      ["a", mostlyEqual],
      ["b", [5, 5, 5, 5, 5, 5].map(day)],
      ["c", [1, 2, 3].map(day)],
    ]);
    const result = dwellOutliers(
      [
        { key: "a", start: 0, end: day(20) },
        { key: "b", start: 0, end: day(50) },
        { key: "c", start: 0, end: day(50) },
        { key: "d", start: 0, end: day(50) },
      ],
      history,
    );
    expect(result.outliers.map((o) => o.key)).to.deep.equal(["a"]);
    expect(result.notJudged).to.deep.equal([
      { key: "b", historySize: 6, reason: "no_spread" },
      { key: "c", historySize: 3, reason: "short_history" },
      { key: "d", historySize: 0, reason: "short_history" },
    ]);
  });
});

describe("scoring service: hand-overs faster than the locations allow", function () {
  const t0 = Date.UTC(2026, 0, 10, 8);
  const entry = (hours: number, gln: string, type = "handed_over"): LocatedEntry => ({
    at: t0 + hours * HOUR,
    gln,
    type,
    source: "chain",
  });
  // The demo's GLNs: DE farm, NL carrier, BE dairy, FR cheese maker, CH distributor, IT retailer, AT auditor, DK certifier.
  const DE = "4012345000016";
  const DE2 = "4012345000023";
  const NL = "8712345000010";
  const BE = "5412345000013";
  const FR = "3012345000017";

  it("knows the country of a GLN by its GS1 prefix (the member organisation's range)", function () {
    expect([DE, NL, BE, FR, "7612345000014", "8012345000012", "9012345000018", "5701234000016"].map(countryOfGln)).to.deep.equal([
      "DE",
      "NL",
      "BE",
      "FR",
      "CH",
      "IT",
      "AT",
      "DK",
    ]);
    expect(countryOfGln("4400000000003")).to.equal("DE");
    expect(countryOfGln("4410000000001")).to.equal(null); // 441–449: not a country range
    expect(countryOfGln("2000000000008")).to.equal(null); // restricted circulation
    expect(countryOfGln("12345")).to.equal(null);
  });

  it(`flags two consecutive hand-overs in different countries less than ${MIN_CROSS_BORDER_TRANSIT_HOURS} h apart`, function () {
    const flagged = fastHandovers([
      entry(0, DE, "registered"),
      entry(2, NL),
      entry(30, BE),
      entry(30.5, BE, "observed"),
      entry(34, FR),
    ]);
    expect(flagged).to.have.length(2);
    expect(flagged[0]).to.deep.include({ hours: 2, minimumHours: 6 });
    expect(flagged[0].from).to.include({ gln: DE, country: "DE", type: "registered" });
    expect(flagged[0].to).to.include({ gln: NL, country: "NL" });
    // BE → FR 3.5 h after the observation at the same BE site (4 h after arriving there).
    expect(flagged[1].from).to.include({ gln: BE, type: "observed" });
    expect(flagged[1].hours).to.equal(3.5);
  });

  it("does not flag moves within a country, at one site, slow enough, or where a country is unknown", function () {
    expect(fastHandovers([entry(0, DE), entry(0.1, DE2)])).to.deep.equal([]); // same country, 6 minutes
    expect(fastHandovers([entry(0, DE), entry(0, DE, "observed")])).to.deep.equal([]); // same site
    expect(fastHandovers([entry(0, DE), entry(6, NL)])).to.deep.equal([]); // exactly the minimum
    expect(fastHandovers([entry(0, DE), entry(5.99, NL)])).to.have.length(1);
    expect(fastHandovers([entry(0, DE), entry(1, "2000000000008")])).to.deep.equal([]);
    // Order of input does not matter: entries are taken in time order.
    expect(fastHandovers([entry(30, FR), entry(0, DE), entry(29, NL)])).to.have.length(1);
  });
});

describe("scoring service: EPCIS sensor reports", function () {
  const range = { minCelsius: 2, maxCelsius: 6 };
  const event = (reports: Record<string, unknown>[]) => ({
    eventID: "ni:///sha-256;x?ver=CBV2.0",
    eventTime: "2026-01-10T08:00:00.000Z",
    sensorElementList: [{ sensorMetadata: { time: "2026-01-10T07:00:00.000Z" }, sensorReport: reports }],
  });

  it("converts units and flags temperatures outside the product's storage range", function () {
    expect(toCelsius(41, "FAH")).to.be.closeTo(5, 1e-9);
    expect(toCelsius(280.15, "KEL")).to.be.closeTo(7, 1e-9);
    expect(toCelsius(5, "XYZ")).to.equal(null);
    const s = sensorFindings(
      event([
        { type: "gs1:Temperature", value: 4, uom: "CEL" },
        { type: "Temperature", value: 41, uom: "FAH" },
        {
          type: "https://gs1.org/voc/Temperature",
          minValue: 275.15,
          maxValue: 282.15,
          uom: "KEL",
          time: "2026-01-10T07:30:00.000Z",
        },
        { type: "gs1:Temperature", value: 1.5, uom: "CEL" },
        { type: "gs1:Temperature", value: 30 },
      ]),
      range,
    );
    expect(s).to.include({ reports: 5, temperatureReports: 5, notJudged: 1 });
    expect(s.findings.map((f) => [f.type, f.lowestCelsius, f.highestCelsius, f.at])).to.deep.equal([
      ["sensor_excursion", 2, 9, "2026-01-10T07:30:00.000Z"],
      ["sensor_excursion", 1.5, 1.5, "2026-01-10T07:00:00.000Z"],
    ]);
  });

  it("flags alarm reports whatever they measure, and judges no temperature without a storage range", function () {
    const s = sensorFindings(
      event([
        { type: "gs1:Humidity", value: 99, uom: "A93", exception: "gs1:ERROR_CONDITION" },
        { type: "gs1:Temperature", value: 30, uom: "CEL" },
      ]),
      null,
    );
    expect(s.findings).to.have.length(1);
    expect(s.findings[0]).to.include({ type: "sensor_alarm", alert: "ERROR_CONDITION", measurement: "Humidity" });
    expect(s.notJudged).to.equal(1);
    expect(sensorFindings({ eventID: "e", eventTime: "t" }, range)).to.deep.include({ findings: [], reports: 0 });
  });
});

describe("scoring service: the supplier formula", function () {
  const c = (
    name: string,
    weight: number,
    value: number | null,
    status: Component["status"] = value === null ? "missing" : "ok",
  ): Component => ({
    name,
    weight,
    value,
    status,
    formula: "f",
    evidence: {},
  });

  it("weights the components with data and leaves missing ones out (not zero)", function () {
    const result = combine([c("a", 0.2, 0.5), c("b", 0.3, null), c("c", 0.5, 1), c("d", 0, null, "not_observable")]);
    expect(result.score).to.equal(Math.round(((100 * (0.2 * 0.5 + 0.5 * 1)) / 0.7) * 10) / 10);
    expect(result.coverage).to.equal(0.7);
    // Had the missing component counted as 0, the score would be lower.
    expect(result.score!).to.be.greaterThan(100 * (0.2 * 0.5 + 0.5));
    expect(combine([c("a", 0.2, null), c("b", 0, null, "not_observable")])).to.include({ score: null, coverage: 0 });
  });
});

describe("scoring service on a database", function () {
  this.timeout(120_000);
  let db: Db;
  let dataDir: string;
  let service: ScoringService;

  before(async function () {
    db = openDatabase(":memory:");
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-scoring-"));
    service = createScoringService(db);
    // Trains the default model (or reuses the one this process already trained).
    expect(await service.start(dataDir)).to.not.equal(null);
  });

  after(function () {
    service?.stop();
    db?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("records the model and queues its hash for anchoring (kind MODEL, leaf = the hash), once", async function () {
    const hash = service.model!.modelHash;
    const row = db.prepare(`SELECT * FROM models`).get() as Record<string, unknown>;
    expect(row).to.include({ model_hash: hash, threshold: service.model!.file.threshold });
    expect(JSON.parse(row.learner as string)).to.include({ name: "XGBoost" });
    expect(JSON.parse(row.features as string)).to.include("strainRatio");
    expect(JSON.parse(row.cv_metrics as string).metrics.rocAuc).to.be.greaterThan(0.97);
    expect(proofOf(db, `model:${hash}`)).to.include({ kind: "MODEL", leaf: `0x${hash}`, status: "pending", verified: false });
    // A second start on the same data (a restart) records nothing new.
    const again = createScoringService(db);
    expect((await again.start(dataDir))!.modelHash).to.equal(hash);
    again.stop();
    expect((db.prepare(`SELECT COUNT(*) AS n FROM models`).get() as { n: number }).n).to.equal(1);
    expect((db.prepare(`SELECT COUNT(*) AS n FROM anchor_outbox WHERE kind = 'MODEL'`).get() as { n: number }).n).to.equal(1);
    expect(fs.existsSync(path.join(dataDir, "models", "quality-default.json"))).to.equal(true);
  });

  const lot = `0x${"11".repeat(32)}`;
  function insertRun(id: string, processParameters: Record<string, number>, supersededBy: string | null = null) {
    const record = {
      id,
      orgId: "3",
      site: "3012345000017",
      line: "churn-1",
      startTime: "2026-01-05T07:00:00.000Z",
      endTime: "2026-01-05T10:00:00.000Z",
      totalCount: 100,
      goodCount: 99,
      processParameters,
    };
    db.prepare(
      `INSERT INTO production_runs (run_id, org_id, site, line, start_ms, end_ms, record, record_hash, corrects, superseded_by, created_at)
       VALUES (?, 3, ?, 'churn-1', ?, ?, ?, '0x', NULL, ?, ?)`,
    ).run(
      id,
      record.site,
      Date.parse(record.startTime),
      Date.parse(record.endTime),
      JSON.stringify(record),
      supersededBy,
      new Date().toISOString(),
    );
    db.prepare(`INSERT INTO production_run_batches (run_id, role, batch_id, quantity) VALUES (?, 'output', ?, '99000')`).run(
      id,
      lot,
    );
  }

  it("scores every current production run once per model: scorable or not, never superseded ones", async function () {
    const overstrain = {
      airTemperatureK: 300.1,
      processTemperatureK: 310.1,
      rotationalSpeedRpm: 1320,
      torqueNm: 60,
      toolWearMin: 190,
      productType: 0,
    };
    insertRun("pr_000000000000000000000001", overstrain);
    insertRun("pr_000000000000000000000002", { ...overstrain, productType: undefined as unknown as number, bowlSpeedRpm: 7200 });
    insertRun("pr_000000000000000000000003", overstrain, "pr_000000000000000000000001");
    expect(await service.job.runOnce()).to.equal(2);
    expect(await service.job.runOnce()).to.equal(0);
    const rows = db
      .prepare(
        `SELECT run_id, scorable, risk_band, model_hash FROM quality_scores WHERE source = 'production_run' ORDER BY run_id`,
      )
      .all();
    expect(rows).to.deep.equal([
      { run_id: "pr_000000000000000000000001", scorable: 1, risk_band: "high", model_hash: service.model!.modelHash },
      { run_id: "pr_000000000000000000000002", scorable: 0, risk_band: null, model_hash: service.model!.modelHash },
    ]);
    expect(service.productionRunScore("pr_000000000000000000000002")!.output).to.deep.equal({
      scorable: false,
      missing: ["productType"],
      invalid: [],
      modelHash: service.model!.modelHash,
    });
  });

  it("shows the runs that made a lot as the batch's own quality, with the model hash", function () {
    db.prepare(
      `INSERT INTO batches (batch_id, lot_id, gtin, lot, parent_id, portion_index, quantity, unit, owner_org, custodian_org, producer_org, location, status, recall,
         unit_key, offer_to, offer_kind, offer_quantity, metadata_hash, created_at, created_block, created_tx, updated_block)
       VALUES (?, ?, '03012345000208', 'BTR-TEST', NULL, NULL, '99000', 'KGM', 3, 3, 3, '3012345000017', 'active', 'none', NULL, NULL, NULL, NULL, ?, ?, 1, ?, 1)`,
    ).run(lot, lot, `0x${"00".repeat(32)}`, "2026-01-05T10:00:00.000Z", `0x${"22".repeat(32)}`);
    const batch = {
      id: lot,
      batchId: lot,
      lotId: lot,
      gtin: "03012345000208",
      lot: "BTR-TEST",
      digitalLink: "x",
      parentId: null,
      createdAt: "2026-01-05T10:00:00.000Z",
      recall: null,
    } as unknown as BatchView;
    const score = createBatchScorer(db, service).score(batch);
    expect(score.ownQuality).to.not.equal(null);
    expect(score.ownQuality!.runs.map((r) => r.runId)).to.deep.equal([
      "pr_000000000000000000000001",
      "pr_000000000000000000000002",
    ]);
    expect(score.ownQuality!.riskBand).to.equal("high");
    expect(score.ownQuality!.probability).to.equal((score.ownQuality!.runs[0] as { probability: number }).probability);
    expect(score.ownQuality!.modelHash).to.equal(service.model!.modelHash);
    expect(score.inheritedRisk).to.include({ score: null, upstreamBatches: 0 });
    expect(score.anomalies).to.deep.equal([]);
    expect(score.checks.sensorReports.status).to.equal("no_epcis_events");
  });
});
