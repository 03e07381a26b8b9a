import { loadModel, type ModelFile, type QualityModel } from "../model";
import { scoreParams, type QualityOutput } from "./service";

/**
 * Runs in the scoring worker thread (services/runtime/worker.ts): scores many production runs'
 * parameters with a model file, which it loads once and keeps while its hash stays the same.
 */
let loaded: { hash: string; model: Promise<QualityModel> } | null = null;

export async function scoreInWorker(
  file: ModelFile,
  runs: Record<string, unknown>[],
): Promise<{ output: QualityOutput; inputsHash: string }[]> {
  if (loaded?.hash !== file.modelHash) {
    const previous = loaded;
    loaded = { hash: file.modelHash, model: loadModel(file) };
    previous?.model.then((m) => m.dispose(), () => undefined);
  }
  const model = await loaded.model;
  return runs.map((params) => scoreParams(model, params));
}
