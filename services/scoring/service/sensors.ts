/**
 * Sensor excursions in EPCIS 2.0 sensor reports (pure). A report is an excursion when it is a
 * temperature (measurement type `Temperature`, bare, `gs1:` or the gs1.org/voc URI) whose value,
 * minValue, maxValue or meanValue — converted from its unit (CEL, FAH, KEL) to °C — lies outside
 * the product's storage range from its master data (`storageTemperature {minCelsius,
 * maxCelsius}`), and an alarm when it carries a sensor alert (`exception`: ALARM_CONDITION or
 * ERROR_CONDITION), whatever it measures. A temperature without a unit is not judged (its unit is
 * not guessed), nor is any temperature when the product has no storage range.
 */
export interface StorageRange {
  minCelsius: number;
  maxCelsius: number;
}

export interface SensorFinding {
  type: "sensor_excursion" | "sensor_alarm";
  eventID: string;
  eventTime: string;
  /** The report's own time, else its element's metadata time, else the event time. */
  at: string;
  measurement: string;
  detail: string;
  /** For excursions: the lowest and highest reading of the report in °C, and the range. */
  lowestCelsius?: number;
  highestCelsius?: number;
  range?: StorageRange;
  /** For alarms: the alert type. */
  alert?: string;
}

export interface SensorSummary {
  findings: SensorFinding[];
  reports: number;
  temperatureReports: number;
  /** Temperature reports that could not be judged (no unit, unknown unit, or no storage range). */
  notJudged: number;
}

const GS1_VOC = /^(?:gs1:|https?:\/\/gs1\.org\/voc\/)/;
const short = (value: string) => value.replace(GS1_VOC, "");

export function toCelsius(value: number, uom: string): number | null {
  switch (uom) {
    case "CEL":
      return value;
    case "FAH":
      return ((value - 32) * 5) / 9;
    case "KEL":
      return value - 273.15;
    default:
      return null;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const round = (x: number) => Math.round(x * 100) / 100;

export function sensorFindings(event: Record<string, unknown>, range: StorageRange | null): SensorSummary {
  const eventID = String(event.eventID ?? "");
  const eventTime = String(event.eventTime ?? "");
  const summary: SensorSummary = { findings: [], reports: 0, temperatureReports: 0, notJudged: 0 };
  const elements = Array.isArray(event.sensorElementList) ? event.sensorElementList : [];
  for (const element of elements) {
    if (!isObject(element)) continue;
    const metadata = isObject(element.sensorMetadata) ? element.sensorMetadata : {};
    const reports = Array.isArray(element.sensorReport) ? element.sensorReport : [];
    for (const report of reports) {
      if (!isObject(report)) continue;
      summary.reports++;
      const measurement = typeof report.type === "string" ? short(report.type) : "unspecified";
      const at = typeof report.time === "string" ? report.time : typeof metadata.time === "string" ? metadata.time : eventTime;
      if (typeof report.exception === "string" && report.exception.trim() !== "") {
        const alert = short(report.exception);
        summary.findings.push({
          type: "sensor_alarm",
          eventID,
          eventTime,
          at,
          measurement,
          alert,
          detail: `sensor report ${alert} (${measurement}) at ${at}`,
        });
      }
      if (measurement !== "Temperature") continue;
      summary.temperatureReports++;
      const readings = ["value", "minValue", "maxValue", "meanValue"]
        .map((k) => report[k])
        .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
      if (readings.length === 0) continue;
      const celsius = typeof report.uom === "string" ? readings.map((v) => toCelsius(v, report.uom as string)) : [null];
      if (!range || celsius.some((c) => c === null)) {
        summary.notJudged++;
        continue;
      }
      const values = celsius as number[];
      const lowest = Math.min(...values);
      const highest = Math.max(...values);
      if (lowest < range.minCelsius || highest > range.maxCelsius) {
        summary.findings.push({
          type: "sensor_excursion",
          eventID,
          eventTime,
          at,
          measurement,
          lowestCelsius: round(lowest),
          highestCelsius: round(highest),
          range,
          detail: `temperature ${round(lowest) === round(highest) ? `${round(lowest)}` : `${round(lowest)}–${round(highest)}`} °C at ${at}, outside the storage range ${range.minCelsius}–${range.maxCelsius} °C`,
        });
      }
    }
  }
  return summary;
}
