import { createHash } from "node:crypto";
import fs from "node:fs";
import { INPUT_NAMES, LEAKAGE_COLUMNS, productTypeCode, type InputName, type RunInputs } from "./features";

/**
 * Reading labelled runs from a CSV file. AI4I 2020's published header is understood as it is;
 * any other dataset names its columns through a mapping from Lotline's field names to its own
 * header names, given as `airTemp=Air_K,torque=Tq,failure=broken` or as a JSON file holding the
 * same object. Fields not mapped are looked up under the AI4I name, then under the field's own
 * name. Units are Lotline's (kelvin, rpm, Nm, min); the label is 0/1 (or false/true).
 */

export class DatasetError extends Error {
  override name = "DatasetError";
}

export type FieldName = InputName | "failure";
export const FIELD_NAMES: readonly FieldName[] = [...INPUT_NAMES, "failure"];

/** AI4I 2020's header names of each field. */
export const AI4I_COLUMNS: Readonly<Record<FieldName, string>> = {
  airTemp: "Air temperature [K]",
  processTemp: "Process temperature [K]",
  rotationalSpeed: "Rotational speed [rpm]",
  torque: "Torque [Nm]",
  toolWear: "Tool wear [min]",
  productType: "Type",
  failure: "Machine failure",
};

export type ColumnMapping = Partial<Record<FieldName, string>>;

export interface Dataset {
  runs: RunInputs[];
  labels: number[];
  /** Which CSV column each field was read from. */
  columns: Record<FieldName, string>;
  /** SHA-256 (hex) of the file's bytes. */
  sha256: string;
}

/** RFC 4180 CSV: quoted fields with "" escapes, CRLF or LF, a leading BOM ignored. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      field = "";
      if (!(row.length === 1 && row[0] === "")) rows.push(row);
      row = [];
    } else field += ch;
  }
  if (quoted) throw new DatasetError("the CSV ends inside a quoted field");
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/**
 * Parses `--columns`: either `field=column,field=column` or the path of a JSON file holding
 * `{ "field": "column", ... }`.
 */
export function parseColumnMapping(spec: string | undefined): ColumnMapping {
  if (spec === undefined || spec.trim() === "") return {};
  let entries: Array<[string, unknown]>;
  if (!spec.includes("=")) {
    let text: string;
    try {
      text = fs.readFileSync(spec, "utf8");
    } catch {
      throw new DatasetError(`--columns: "${spec}" is neither field=column pairs nor a readable JSON file`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new DatasetError(`--columns: ${spec} is not valid JSON`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new DatasetError(`--columns: ${spec} must hold a JSON object of field → column name`);
    }
    entries = Object.entries(parsed);
  } else {
    entries = spec.split(",").map((pair) => {
      const at = pair.indexOf("=");
      if (at <= 0) throw new DatasetError(`--columns: "${pair}" is not field=column`);
      return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    });
  }
  const mapping: ColumnMapping = {};
  for (const [field, column] of entries) {
    if (!FIELD_NAMES.includes(field as FieldName)) {
      throw new DatasetError(`--columns: unknown field "${field}" (fields: ${FIELD_NAMES.join(", ")})`);
    }
    if (typeof column !== "string" || column === "")
      throw new DatasetError(`--columns: the column of "${field}" must be a non-empty name`);
    mapping[field as FieldName] = column;
  }
  return mapping;
}

/** Which header column each field comes from; fails on a missing column or a leakage column. */
export function resolveColumns(
  header: readonly string[],
  mapping: ColumnMapping,
  requireLabel: boolean,
): Partial<Record<FieldName, number>> {
  const at: Partial<Record<FieldName, number>> = {};
  const fields = requireLabel ? FIELD_NAMES : INPUT_NAMES;
  for (const field of fields) {
    const explicit = mapping[field];
    if (explicit !== undefined) {
      if ((LEAKAGE_COLUMNS as readonly string[]).includes(explicit) && field !== "failure") {
        throw new DatasetError(`column "${explicit}" records a failure mode (leakage); it cannot be the model's ${field}`);
      }
      const index = header.indexOf(explicit);
      if (index < 0)
        throw new DatasetError(`column "${explicit}" (for ${field}) is not in the CSV header (columns: ${header.join(", ")})`);
      at[field] = index;
      continue;
    }
    const index = [AI4I_COLUMNS[field], field].map((name) => header.indexOf(name)).find((i) => i >= 0);
    if (index === undefined) {
      throw new DatasetError(
        `no column for ${field}: expected "${AI4I_COLUMNS[field]}" or "${field}", or map one with --columns ${field}=<column>`,
      );
    }
    at[field] = index;
  }
  return at;
}

/** Reads labelled (or, with requireLabel false, unlabelled) runs from CSV text. */
export function readDataset(
  text: string,
  options: { mapping?: ColumnMapping; requireLabel?: boolean; source?: string } = {},
): Dataset {
  const requireLabel = options.requireLabel ?? true;
  const source = options.source ?? "the CSV";
  const table = parseCsv(text);
  if (table.length < 2) throw new DatasetError(`${source} has no data rows`);
  const header = table[0].map((h) => h.trim());
  const at = resolveColumns(header, options.mapping ?? {}, requireLabel);
  const runs: RunInputs[] = [];
  const labels: number[] = [];
  for (let r = 1; r < table.length; r++) {
    const cells = table[r];
    const line = r + 1;
    const run = {} as RunInputs;
    for (const field of INPUT_NAMES) {
      const raw = (cells[at[field]!] ?? "").trim();
      if (field === "productType") {
        const code = productTypeCode(raw);
        if (code === undefined) throw new DatasetError(`${source} line ${line}: product type "${raw}" is not L, M or H`);
        run.productType = code;
        continue;
      }
      const value = raw === "" ? Number.NaN : Number(raw);
      if (!Number.isFinite(value))
        throw new DatasetError(`${source} line ${line}: ${field} ("${header[at[field]!]}") is "${raw}", not a number`);
      run[field] = value;
    }
    runs.push(run);
    if (requireLabel) {
      const raw = (cells[at.failure!] ?? "").trim().toLowerCase();
      const label = raw === "1" || raw === "true" ? 1 : raw === "0" || raw === "false" ? 0 : undefined;
      if (label === undefined)
        throw new DatasetError(`${source} line ${line}: the label ("${header[at.failure!]}") is "${raw}", not 0 or 1`);
      labels.push(label);
    }
  }
  const columns = Object.fromEntries(Object.entries(at).map(([field, index]) => [field, header[index!]])) as Record<
    FieldName,
    string
  >;
  return { runs, labels, columns, sha256: "" };
}

/** Reads a CSV file: its runs, labels and the SHA-256 of its bytes. */
export function readDatasetFile(file: string, options: { mapping?: ColumnMapping; requireLabel?: boolean } = {}): Dataset {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetError(code === "ENOENT" ? `no such file: ${file}` : `cannot read ${file}: ${(err as Error).message}`);
  }
  const dataset = readDataset(bytes.toString("utf8"), { ...options, source: file });
  return { ...dataset, sha256: createHash("sha256").update(bytes).digest("hex") };
}
