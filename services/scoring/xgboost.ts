import fs from "node:fs";
import path from "node:path";

/**
 * ml-xgboost: XGBoost compiled to WebAssembly (mljs). Its module exports a Promise of the
 * booster class. Boosters live in the WebAssembly heap and are not garbage-collected: free them.
 *
 * On Node it first tries a streaming compile that needs fetch() of a file path, fails, says so
 * on stderr ("wasm streaming compile failed … falling back to ArrayBuffer instantiation") and
 * then loads fine. Those two lines are noise for the CLI (whose errors must be one line), so the
 * module's printErr is filtered for exactly them while the module loads.
 */

export interface XGBoostParams {
  booster: "gbtree";
  objective: "binary:logistic";
  max_depth: number;
  eta: number;
  min_child_weight: number;
  subsample: number;
  colsample_bytree: number;
  seed: number;
  /** "(c1,…,cn)", one of −1, 0, 1 per feature: the prediction may only fall, be free, or only rise along it. */
  monotone_constraints?: string;
  silent: 1;
  iterations: number;
}

export interface Booster {
  train(rows: number[][], labels: number[]): void;
  predict(rows: number[][]): number[];
  toJSON(): { name: string; model: number[]; options: Record<string, unknown> };
  free(): void;
}

export interface BoosterClass {
  new (options: Record<string, unknown>): Booster;
  load(model: { name: string; model: ArrayLike<number>; options: Record<string, unknown> }): Booster;
}

const NOISE = [/^wasm streaming compile failed/, /^falling back to ArrayBuffer instantiation/];

let loading: Promise<BoosterClass> | undefined;

export function loadXGBoost(): Promise<BoosterClass> {
  if (!loading) {
    const original = console.warn;
    // The emscripten module binds Module.printErr = console.warn when it is required.
    console.warn = (...args: unknown[]) => {
      if (args.length === 1 && typeof args[0] === "string" && NOISE.some((re) => re.test(args[0] as string))) return;
      original.apply(console, args);
    };
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loading = require("ml-xgboost") as Promise<BoosterClass>;
    } finally {
      console.warn = original;
    }
  }
  return loading;
}

/** The installed ml-xgboost version, recorded in every model file. */
export function xgboostVersion(): string {
  const file = path.join(path.dirname(require.resolve("ml-xgboost/package.json")), "package.json");
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
}
