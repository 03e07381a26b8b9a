import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { glnFor } from "../gs1/keys";
import { createProvenanceStore } from "../store/provenance";
import { ProductionRunError, recordProductionRun, type MaterialInput, type ProductionRunInput } from "../analytics/store";
import { DEMO_MEMBERS, demoWallet } from "./roster";
import { DEMO_GOODS } from "./supply-chain";

/**
 * The demo's production history: six months of runs (off-chain records with their own times, so
 * the history reaches back before the demo chain's 60 days) for each producing site, stored
 * through recordProductionRun exactly as the API stores them, and anchored by the anchor job.
 *
 *   Alpenmilch Hof (producer)      parlour-1 at site 1, parlour-2 at site 2: daily milking and cooling
 *   Brabant Dairy (processor)      reception (tanker intake into silo) and separator-1, daily
 *   Lyon Fromagerie (processor2)   churn-1, a continuous butter churn, Monday to Friday
 *
 * An improvement programme runs through it: separator-1 is automated (automatic separator control
 * and CIP) AUTOMATION_DAYS_AGO days before seeding, ramping up over two weeks, so its good output
 * per run-hour rises ~17 %; RENEWABLE_DAYS_AGO days before seeding the cheese maker's site moves
 * to on-site solar and a wind PPA with a grid top-up, so its CO2e per kg falls ~4-fold. churn-1
 * records AI4I-2020-style process parameters (air/process temperature K, rpm, torque Nm, tool
 * wear min, with AI4I's distributions). The runs that made the demo's real lots (MILK-2611-A/B,
 * POOL-2611, CRM-2611 + SKM-2611, BTR-2611) carry those batches and fixed figures, so the
 * butter's footprint is a five-stage calculation (test/services/analytics/api.test.ts writes it out).
 *
 * Deterministic: a fixed-seed generator; times relative to the UTC day of seeding (and the chain
 * times of the demo's lots). Seeds only a store with no production runs.
 */
export const AUTOMATION_DAYS_AGO = 100;
export const RENEWABLE_DAYS_AGO = 60;
export const HISTORY_DAYS = 180;
const SEED = 0x10711e;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
const orgOf = (key: string) => DEMO_MEMBERS.indexOf(member(key)) + 1;
const siteOf = (key: string, ref = 1) => glnFor(member(key).companyPrefixes[0], ref);

/** mulberry32: a small deterministic generator. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (mean = 0, sd = 1) => mean + sd * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return { next, normal };
}

const round = (value: number, decimals = 0) => Math.round(value * 10 ** decimals) / 10 ** decimals;
const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));
const dayOfYear = (ms: number) => Math.floor((ms - Date.UTC(new Date(ms).getUTCFullYear(), 0, 1)) / DAY);
/** 1 at the spring flush (mid-May), −1 in mid-November. */
const season = (ms: number) => Math.cos((2 * Math.PI * (dayOfYear(ms) - 135)) / 365);
/** 1 at midsummer, −1 at midwinter. */
const summer = (ms: number) => Math.cos((2 * Math.PI * (dayOfYear(ms) - 172)) / 365);

interface DemoRun {
  key: string;
  input: ProductionRunInput;
}

const iso = (ms: number) => new Date(ms).toISOString();
const litres = (q: number) => round(q, 0).toString();

/** The regular daily history of every line, before the runs of the demo's real lots replace some. */
function history(today: number): DemoRun[] {
  const rng = random(SEED);
  const runs: DemoRun[] = [];
  let toolWear = 0;
  let toolLimit = 200 + rng.next() * 40;
  for (let d = HISTORY_DAYS; d >= 1; d--) {
    const day = today - d * DAY;
    const flush = 1 + 0.07 * season(day);

    // Farm, site 1: two milkings and bulk-tank cooling, 04:30–16:30, 11 h planned.
    {
      const volume = 20_000 * flush * (1 + rng.normal(0, 0.025));
      const rejected = volume * (0.002 + Math.abs(rng.normal(0, 0.0015)));
      const downtime = clamp(rng.normal(1500, 600), 300, 4000);
      const good = round(volume - rejected);
      runs.push({
        key: "producer",
        input: {
          site: siteOf("producer", 1),
          line: "parlour-1",
          startTime: iso(day + 4.5 * HOUR),
          endTime: iso(day + 16.5 * HOUR),
          plannedTimeSeconds: 39_600,
          runTimeSeconds: round(39_600 - downtime),
          idealCycleTimeSeconds: 1.4,
          totalCount: round(volume),
          goodCount: good,
          countUnit: "LTR",
          outputs: [{ material: "raw cow's milk", quantity: litres(good), unit: "LTR" }],
          energyKwh: {
            grid: round(0.036 * volume * (1 + 0.08 * summer(day)) * (1 + rng.normal(0, 0.04)), 1),
            gas: round(0.008 * volume * (1 + rng.normal(0, 0.05)), 1),
          },
          waterM3: round(0.0015 * volume * (1 + rng.normal(0, 0.05)), 1),
          scrapKg: round(rejected * 1.03, 1),
          processParameters: {
            bulkTankTemperatureK: round(277.4 + rng.normal(0, 0.25), 2),
            vacuumKpa: round(42 + rng.normal(0, 0.4), 1),
          },
        },
      });
    }

    // Farm, site 2: a smaller parlour with electric water heating; a diesel generator on some days.
    {
      const volume = 15_000 * flush * (1 + rng.normal(0, 0.025));
      const rejected = volume * (0.002 + Math.abs(rng.normal(0, 0.0015)));
      const downtime = clamp(rng.normal(1800, 700), 300, 5000);
      const good = round(volume - rejected);
      const electricity = 0.044 * volume * (1 + 0.08 * summer(day)) * (1 + rng.normal(0, 0.04));
      const diesel = rng.next() < 0.15 ? 30 + rng.next() * 50 : 0;
      runs.push({
        key: "producer",
        input: {
          site: siteOf("producer", 2),
          line: "parlour-2",
          startTime: iso(day + 5 * HOUR),
          endTime: iso(day + 16 * HOUR),
          plannedTimeSeconds: 36_000,
          runTimeSeconds: round(36_000 - downtime),
          idealCycleTimeSeconds: 1.6,
          totalCount: round(volume),
          goodCount: good,
          countUnit: "LTR",
          outputs: [{ material: "raw cow's milk", quantity: litres(good), unit: "LTR" }],
          energyKwh:
            diesel > 0 ? { grid: round(electricity - diesel, 1), diesel: round(diesel, 1) } : { grid: round(electricity, 1) },
          waterM3: round(0.0015 * volume * (1 + rng.normal(0, 0.05)), 1),
          scrapKg: round(rejected * 1.03, 1),
          processParameters: {
            bulkTankTemperatureK: round(277.6 + rng.normal(0, 0.3), 2),
            vacuumKpa: round(41.5 + rng.normal(0, 0.4), 1),
          },
        },
      });
    }

    // Dairy: tanker intake into the silo, 06:00–09:00; the day's milk is then separated.
    const intake = 27_000 * flush * (1 + rng.normal(0, 0.02));
    {
      const rejected = intake * Math.abs(rng.normal(0, 0.001));
      const pooled = round(intake - rejected);
      runs.push({
        key: "processor",
        input: {
          site: siteOf("processor", 1),
          line: "reception",
          startTime: iso(day + 6 * HOUR),
          endTime: iso(day + 9 * HOUR),
          plannedTimeSeconds: 10_800,
          runTimeSeconds: round(Math.max(clamp(rng.normal(7000, 400), 5500, 10_000), (0.18 * intake) / 0.9)),
          idealCycleTimeSeconds: 0.18,
          totalCount: round(intake),
          goodCount: pooled,
          countUnit: "LTR",
          inputs: [{ material: "raw milk, tanker intake", quantity: litres(intake), unit: "LTR" }],
          outputs: [{ material: "pooled raw milk", quantity: litres(pooled), unit: "LTR" }],
          energyKwh: { grid: round(0.005 * intake * (1 + rng.normal(0, 0.04)), 1) },
          waterM3: round(6 + rng.normal(0, 0.4), 1),
          scrapKg: round(rejected * 1.03, 1),
          processParameters: { intakeTemperatureK: round(279.2 + rng.normal(0, 0.4), 2) },
        },
      });
    }

    // Dairy: separator-1 (warm separation at 55 °C, thermisation by gas), automated from day −100.
    {
      const ramp = clamp((AUTOMATION_DAYS_AGO - d) / 14, 0, 1);
      const volume = intake;
      const performance = 0.78 + 0.14 * ramp + rng.normal(0, 0.02);
      const planned = ramp >= 1 ? 25_200 : 28_800;
      const runTime = Math.min(planned, (0.72 * volume) / clamp(performance, 0.7, 0.97));
      const quality = clamp(0.985 + 0.008 * ramp + rng.normal(0, 0.002), 0.97, 0.999);
      const good = round(volume * quality);
      const outputs = 0.981 * volume;
      runs.push({
        key: "processor",
        input: {
          site: siteOf("processor", 1),
          line: "separator-1",
          startTime: iso(day + 10 * HOUR),
          endTime: iso(day + 10 * HOUR + planned * 1000),
          plannedTimeSeconds: planned,
          runTimeSeconds: round(runTime),
          idealCycleTimeSeconds: 0.72,
          totalCount: round(volume),
          goodCount: good,
          countUnit: "LTR",
          inputs: [{ material: "pooled raw milk", quantity: litres(volume), unit: "LTR" }],
          outputs: [
            { material: "sweet cream 35 % fat", quantity: litres(outputs * 0.113), unit: "LTR" },
            { material: "skimmed milk", quantity: litres(outputs * 0.887), unit: "LTR" },
          ],
          energyKwh: {
            grid: round((15 * runTime) / 3600 + 0.006 * volume * (1 + rng.normal(0, 0.03)), 1),
            gas: round(0.035 * volume * (1 + rng.normal(0, 0.03)), 1),
          },
          waterM3: round(18 - 5 * ramp + rng.normal(0, 0.8), 1),
          scrapKg: round(volume * 0.0005 * 1.03, 1),
          processParameters: {
            bowlSpeedRpm: round(7200 + rng.normal(0, 35)),
            separationTemperatureK: round(328.15 + rng.normal(0, 0.4), 2),
          },
        },
      });
    }

    // Cheese maker: churn-1, Monday to Friday, 07:00–10:00; renewable electricity from day −60.
    const weekday = new Date(day).getUTCDay();
    if (weekday !== 0 && weekday !== 6) {
      const butter = 900 * (1 + rng.normal(0, 0.05));
      // AI4I 2020: air ~300 K (σ 2), process = air + 10 K (σ 1), torque ~ N(40, 10) Nm, speed
      // falling with torque (r ≈ −0.88), tool wear accumulating until the tool is changed.
      const airK = 300 + 1.6 * summer(day) + rng.normal(0, 0.9);
      const processK = airK + 10 + rng.normal(0, 1);
      const torque = clamp(rng.normal(40, 10), 3.8, 76.6);
      const rpm = clamp(1538 - 15.8 * (torque - 40) + rng.normal(0, 86), 1168, 2886);
      toolWear += 12 + rng.next() * 6;
      if (toolWear > toolLimit) {
        toolWear = rng.next() * 5;
        toolLimit = 200 + rng.next() * 40;
      }
      const strain = toolWear * torque;
      const reject =
        0.004 + Math.abs(rng.normal(0, 0.002)) + (strain > 9000 ? 0.02 : 0) + (processK - airK < 8.6 && rpm < 1380 ? 0.015 : 0);
      const total = round(butter);
      const good = round(butter * (1 - reject));
      const energy = 0.25 * butter * (1 + rng.normal(0, 0.04));
      const renewable = d <= RENEWABLE_DAYS_AGO;
      const solar = clamp(0.35 + 0.2 * summer(day) + rng.normal(0, 0.08), 0.05, 0.6);
      const wind = clamp(0.45 + rng.normal(0, 0.05), 0.3, 0.6);
      const grid = Math.max(0.05, 1 - solar - wind);
      const scale = renewable ? 1 / (solar + wind + grid) : 0;
      runs.push({
        key: "processor2",
        input: {
          site: siteOf("processor2", 1),
          line: "churn-1",
          startTime: iso(day + 7 * HOUR),
          endTime: iso(day + 10 * HOUR),
          plannedTimeSeconds: 10_800,
          runTimeSeconds: round(Math.min(10_800, (7.2 * total) / clamp(rng.normal(0.8, 0.04), 0.68, 0.95))),
          idealCycleTimeSeconds: 7.2,
          totalCount: total,
          goodCount: good,
          countUnit: "KGM",
          inputs: [{ material: "sweet cream 35 % fat", quantity: litres(butter / 0.45), unit: "LTR" }],
          outputs: [{ material: "butter", quantity: good.toString(), unit: "KGM" }],
          energyKwh: renewable
            ? {
                solar: round(energy * solar * scale, 1),
                wind: round(energy * wind * scale, 1),
                grid: round(energy * grid * scale, 1),
              }
            : { grid: round(energy, 1) },
          waterM3: round(2.5 + rng.normal(0, 0.3), 1),
          scrapKg: round(total - good + 3, 1),
          processParameters: {
            airTemperatureK: round(airK, 1),
            processTemperatureK: round(processK, 1),
            rotationalSpeedRpm: round(rpm),
            torqueNm: round(torque, 1),
            toolWearMin: round(toolWear),
            // AI4I product quality variant (L = 0, M = 1, H = 2): the churn line makes the M variant.
            productType: 1,
          },
        },
      });
    }
  }
  return runs;
}

/** The runs that made the demo's real lots, with fixed figures (the butter's footprint test uses them). */
function lotRuns(db: Db): DemoRun[] {
  const store = createProvenanceStore(db);
  const lotOf = (gtin: string, lot: string) => store.lotIdOf(gtin, lot);
  const lotA = lotOf(DEMO_GOODS.rawMilk, "MILK-2611-A");
  const lotB = lotOf(DEMO_GOODS.rawMilk, "MILK-2611-B");
  const pooled = lotOf(DEMO_GOODS.pooledMilk, "POOL-2611");
  const cream = lotOf(DEMO_GOODS.cream, "CRM-2611");
  const skim = lotOf(DEMO_GOODS.skimMilk, "SKM-2611");
  const butter = lotOf(DEMO_GOODS.butter, "BTR-2611");
  if (!lotA || !lotB || !pooled || !cream || !skim || !butter) return [];
  // The portions that went into the pool and the churn, as the lineage records them.
  const portionA = store.neighbours(pooled, "upstream").find((e) => e.from !== lotB)?.from;
  const creamPortion = store.neighbours(butter, "upstream")[0]?.from;
  if (!portionA || !creamPortion) return [];
  const at = (id: string) => Date.parse(store.getBatch(id)!.createdAt);
  const milked = at(lotA);
  const separated = at(cream);
  const churned = at(butter);
  const batch = (batchId: string, quantity: string): MaterialInput => ({ batchId, quantity });
  return [
    {
      key: "producer",
      input: {
        site: siteOf("producer", 1),
        line: "parlour-1",
        startTime: iso(milked - 12.5 * HOUR),
        endTime: iso(milked - 0.5 * HOUR),
        plannedTimeSeconds: 39_600,
        runTimeSeconds: 38_100,
        idealCycleTimeSeconds: 1.4,
        totalCount: 20_060,
        goodCount: 20_000,
        countUnit: "LTR",
        outputs: [batch(lotA, "20000")],
        energyKwh: { grid: 720, gas: 160 },
        waterM3: 30.1,
        scrapKg: 61.8,
        processParameters: { bulkTankTemperatureK: 277.35, vacuumKpa: 42.1 },
      },
    },
    {
      key: "producer",
      input: {
        site: siteOf("producer", 2),
        line: "parlour-2",
        startTime: iso(milked - 12 * HOUR),
        endTime: iso(milked - 1 * HOUR),
        plannedTimeSeconds: 36_000,
        runTimeSeconds: 34_200,
        idealCycleTimeSeconds: 1.6,
        totalCount: 15_050,
        goodCount: 15_000,
        countUnit: "LTR",
        outputs: [batch(lotB, "15000")],
        energyKwh: { grid: 600, diesel: 40 },
        waterM3: 22.4,
        scrapKg: 51.5,
        processParameters: { bulkTankTemperatureK: 277.5, vacuumKpa: 41.6 },
      },
    },
    {
      key: "processor",
      input: {
        site: siteOf("processor", 1),
        line: "reception",
        startTime: iso(separated - 10 * HOUR),
        endTime: iso(separated - 7 * HOUR),
        plannedTimeSeconds: 10_800,
        runTimeSeconds: 7_200,
        idealCycleTimeSeconds: 0.18,
        totalCount: 27_000,
        goodCount: 27_000,
        countUnit: "LTR",
        inputs: [batch(portionA, "12000"), batch(lotB, "15000")],
        outputs: [batch(pooled, "27000")],
        energyKwh: { grid: 135 },
        waterM3: 6,
        scrapKg: 0,
        processParameters: { intakeTemperatureK: 279.1 },
      },
    },
    {
      key: "processor",
      input: {
        site: siteOf("processor", 1),
        line: "separator-1",
        startTime: iso(separated - 7 * HOUR),
        endTime: iso(separated - 0.25 * HOUR),
        plannedTimeSeconds: 24_300,
        runTimeSeconds: 21_200,
        idealCycleTimeSeconds: 0.72,
        totalCount: 27_000,
        goodCount: 26_800,
        countUnit: "LTR",
        inputs: [batch(pooled, "27000")],
        outputs: [batch(cream, "3000"), batch(skim, "23500")],
        energyKwh: { grid: 250, gas: 945 },
        waterM3: 13,
        scrapKg: 13.9,
        processParameters: { bowlSpeedRpm: 7210, separationTemperatureK: 328.2 },
      },
    },
    {
      key: "processor2",
      input: {
        site: siteOf("processor2", 1),
        line: "churn-1",
        startTime: iso(churned - 4 * HOUR),
        endTime: iso(churned - 1 * HOUR),
        plannedTimeSeconds: 10_800,
        runTimeSeconds: 8_100,
        idealCycleTimeSeconds: 7.2,
        totalCount: 905,
        goodCount: 900,
        countUnit: "KGM",
        inputs: [batch(creamPortion, "2000")],
        outputs: [batch(butter, "900")],
        energyKwh: { solar: 150, wind: 60, grid: 20 },
        waterM3: 2.4,
        scrapKg: 8,
        processParameters: {
          airTemperatureK: 299.1,
          processTemperatureK: 309.3,
          rotationalSpeedRpm: 1551,
          torqueNm: 39.2,
          toolWearMin: 108,
        },
      },
    },
  ];
}

/** Runs stored per transaction; the event loop turns between chunks (about 20-50 ms of CPU each). */
const SEED_CHUNK = 50;
/** meta key holding the `now` of a seeding under way (its runs depend on it); absent once it finished. */
const SEEDING_KEY = "demo_production_seeding";

/**
 * Seeds the demo's production runs once the index holds the demo's batches (the lot runs name
 * them, and recordProductionRun checks them against the index). A no-op when runs exist.
 *
 * About 850 runs: stored SEED_CHUNK per transaction, with a turn of the event loop between chunks, so
 * the node's first start never stalls on them (docs/performance.md "Event loop"). A seeding that
 * stops half way (a crash) resumes at the next start from the `now` it began with: the runs are
 * the same, and those already stored are found by their content-derived ids.
 */
export async function seedDemoProduction(
  db: Db,
  options: {
    now?: number;
    log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
    /** The organisations whose runs this node keeps (each member node its own; default every one). */
    serves?: (orgId: number) => boolean;
  } = {},
): Promise<number> {
  const underWay = prepared(db, `SELECT value FROM meta WHERE key = ?`).get(SEEDING_KEY) as { value: string } | undefined;
  if (!underWay && prepared(db, `SELECT 1 FROM production_runs WHERE served_by IS NULL LIMIT 1`).get()) return 0;
  const serves = options.serves ?? (() => true);
  const now = underWay ? Number(underWay.value) : (options.now ?? Date.now());
  const today = Math.floor(now / DAY) * DAY;
  const linked = lotRuns(db);
  const span = (run: ProductionRunInput) => [Date.parse(run.startTime), Date.parse(run.endTime)] as const;
  const sameLine = (a: ProductionRunInput, b: ProductionRunInput) => a.site === b.site && a.line === b.line;
  // A lot's run takes the place of that line's regular runs on its day and any it would overlap.
  const regular = history(today).filter(({ input }) => {
    const [start, end] = span(input);
    return !linked.some(({ input: l }) => {
      if (!sameLine(input, l)) return false;
      const [ls, le] = span(l);
      return Math.floor(ls / DAY) === Math.floor(start / DAY) || (start < le + HOUR && end > ls - HOUR);
    });
  });
  const runs = [...regular, ...linked].sort((a, b) => span(a.input)[0] - span(b.input)[0]);
  const agents = new Map(["producer", "processor", "processor2"].map((key) => [key, demoWallet(member(key).account).address]));
  let stored = 0;
  const refused: string[] = [];
  const markUnderWay = prepared(db, `INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`);
  const markDone = prepared(db, `DELETE FROM meta WHERE key = ?`);
  for (let from = 0; from < runs.length; from += SEED_CHUNK) {
    await new Promise((resolve) => setImmediate(resolve));
    db.transaction(() => {
      if (from === 0) markUnderWay.run(SEEDING_KEY, String(now));
      for (const { key, input } of runs.slice(from, from + SEED_CHUNK)) {
        if (!serves(Number(orgOf(key)))) continue;
        const recordedAt = iso(span(input)[1] + 20 * 60_000);
        try {
          recordProductionRun(db, input, { orgId: orgOf(key), submittedBy: agents.get(key)!, recordedAt, now });
          stored++;
        } catch (err) {
          // A refused run (an unusual demo timeline) is skipped: the demo must not stop the node.
          if (!(err instanceof ProductionRunError)) throw err;
          refused.push(`${input.line} ${input.startTime}: ${err.detail}`);
        }
      }
      if (from + SEED_CHUNK >= runs.length) markDone.run(SEEDING_KEY);
    })();
  }
  if (refused.length > 0)
    options.log?.warn({ refused: refused.length, first: refused.slice(0, 3) }, "some demo production runs were refused");
  options.log?.info({ runs: stored, lotRuns: linked.length }, "demo production runs stored");
  return stored;
}
