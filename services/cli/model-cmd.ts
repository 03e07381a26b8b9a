import fs from "node:fs";
import type { Command } from "commander";
import { SingleBar } from "cli-progress";
import { readDatasetFile, parseColumnMapping } from "../scoring/dataset";
import { evaluateBaseline, evaluateModel } from "../scoring/evaluate";
import { loadModel, type ModelFile } from "../scoring/model";
import { trainQualityModel, type TrainProgress } from "../scoring/train";
import { writeModelFile } from "../scoring/default-model";
import { CliError } from "./client";
import type { Print } from "./batch-cmd";

const COLUMNS_HELP =
  "column mapping for other datasets: field=column pairs (fields: airTemp, processTemp, rotationalSpeed, torque, toolWear, productType, failure) or a JSON file of the same object; default: AI4I 2020's header";

/** A progress bar on stderr (drawn only on a terminal) fed by the trainer's steps. */
function progressBar(): { progress: TrainProgress; stop(): void } {
  const bar = new SingleBar({
    stream: process.stderr,
    format: "training |{bar}| {value}/{total} {stage}",
    hideCursor: true,
    clearOnComplete: false,
  });
  let started = false;
  return {
    progress: ({ step, total, label }) => {
      if (!started) {
        bar.start(total, step, { stage: label });
        started = true;
      } else bar.update(step, { stage: label });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** `lotline model …`: train and evaluate the quality-risk model (docs/adr/0007-quality-model.md). */
export function registerModelCommands(program: Command, print: Print): void {
  const model = program.command("model").description("the quality-risk model: the probability that a production run fails");

  model
    .command("train")
    .description("train on a labelled CSV (5-fold CV picks the threshold) and write a self-describing model file")
    .requiredOption("--data <csv>", "training data (AI4I 2020 layout, or see --columns)")
    .requiredOption("--out <model.json>", "where to write the model file")
    .option("--columns <mapping>", COLUMNS_HELP)
    .action(async (opts: { data: string; out: string; columns?: string }) => {
      const dataset = readDatasetFile(opts.data, { mapping: parseColumnMapping(opts.columns) });
      const bar = progressBar();
      let file: ModelFile;
      try {
        ({ file } = await trainQualityModel(dataset, { fileName: opts.data, progress: bar.progress }));
      } finally {
        bar.stop();
      }
      try {
        writeModelFile(opts.out, file);
      } catch (err) {
        throw new CliError(`cannot write ${opts.out}: ${(err as Error).message}`);
      }
      const cv = file.crossValidation.metrics;
      print({ out: opts.out, modelHash: file.modelHash, threshold: file.threshold, crossValidation: cv }, () =>
        [
          `wrote ${opts.out} (modelHash ${file.modelHash})`,
          `  trained on ${file.training.rows} runs, ${file.training.positives} failures (sha256 ${file.training.sha256})`,
          `  ${file.crossValidation.folds}-fold CV: ROC-AUC ${cv.rocAuc}, PR-AUC ${cv.prAuc}, F1 ${cv.f1} [${cv.f1Interval.join(", ")}] at threshold ${cv.threshold}`,
        ].join("\n"),
      );
    });

  model
    .command("eval")
    .description(
      "evaluate a model file (or, with --baseline, the documented failure rules) on a labelled CSV; prints one line of JSON",
    )
    .option("--model <model.json>", "model file to evaluate")
    .option("--baseline", "evaluate the transparent rule baseline instead of a model")
    .requiredOption("--data <csv>", "labelled data (AI4I 2020 layout, or see --columns)")
    .option("--columns <mapping>", COLUMNS_HELP)
    .action(async (opts: { model?: string; baseline?: boolean; data: string; columns?: string }) => {
      if (Boolean(opts.model) === Boolean(opts.baseline))
        throw new CliError("give exactly one of --model <model.json> or --baseline");
      const mapping = parseColumnMapping(opts.columns);
      let text: string | undefined;
      if (opts.model) {
        try {
          text = fs.readFileSync(opts.model, "utf8");
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          throw new CliError(
            code === "ENOENT" ? `no such file: ${opts.model}` : `cannot read ${opts.model}: ${(err as Error).message}`,
          );
        }
      }
      const dataset = readDatasetFile(opts.data, { mapping });
      let report;
      if (text === undefined) report = evaluateBaseline(dataset);
      else {
        const loaded = await loadModel(text);
        report = evaluateModel(loaded, dataset);
        loaded.dispose();
      }
      process.stdout.write(`${JSON.stringify(report)}\n`);
    });
}
