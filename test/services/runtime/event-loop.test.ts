import { expect } from "chai";
import { createStallMonitor, measureStall } from "../../../services/runtime/event-loop";
import { createWorkerThread, WorkerTaskError } from "../../../services/runtime/worker";
import { closeValidationWorker, LARGE_DOCUMENT_BYTES, validateCapture } from "../../../services/epcis/validate-off-thread";
import { validateEpcisDocument } from "../../../services/epcis/validate";
import { epcisDocument } from "../epcis/helpers";

/** The event loop stays free (issue 12): the stall monitor, and work moved to worker threads. */
describe("the event loop stays free", function () {
  this.timeout(120_000);

  /** Holds the event loop for `ms` (what a long synchronous computation does). */
  const block = (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until);
  };

  it("measures a stall of the event loop", async function () {
    const { maxStallMs } = await measureStall(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      block(250);
    });
    expect(maxStallMs).to.be.at.least(200);
  });

  it("forgets stalls older than its last reset", async function () {
    const monitor = createStallMonitor();
    try {
      await new Promise((resolve) => setTimeout(resolve, 30));
      block(250);
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(monitor.maxStallMs()).to.be.at.least(200);
      monitor.reset();
      expect(monitor.maxStallMs()).to.equal(0);
    } finally {
      monitor.stop();
    }
  });

  it("runs an exported function of a TypeScript module in a worker thread, and reports its errors", async function () {
    const thread = createWorkerThread("test");
    try {
      const module = require.resolve("../../../services/epcis/validate-off-thread");
      const result = await thread.run<{ valid: boolean }>(module, "validateInWorker", [{ not: "epcis" }]);
      expect(result.valid).to.equal(false);
      const error = await thread.run(module, "noSuchFunction", []).catch((err: unknown) => err);
      expect(error).to.be.instanceOf(WorkerTaskError);
      expect((error as Error).message).to.include("noSuchFunction");
    } finally {
      await thread.close();
    }
  });

  it("validates a large capture in a worker with the same result, without stalling the event loop", async function () {
    const events = Array.from({ length: 4_000 }, (_, i) => ({
      type: "ObjectEvent",
      eventTime: "2024-03-10T12:00:00.000Z",
      eventTimeZoneOffset: "+00:00",
      action: "OBSERVE",
      // Every 500th event invalid, so the errors are compared too.
      bizStep: i % 500 === 0 ? "not-a-cbv-step" : "inspecting",
      epcList: [`urn:epc:id:sgtin:4012345.011111.${i}`],
    }));
    const doc = epcisDocument(events);
    const bytes = Buffer.byteLength(JSON.stringify(doc));
    expect(bytes).to.be.at.least(LARGE_DOCUMENT_BYTES);
    const inPlace = validateEpcisDocument(doc);
    try {
      await validateCapture({ warm: "up" }, bytes); // the worker's first start loads its modules
      const { result, maxStallMs } = await measureStall(() => validateCapture(doc, bytes));
      expect(result.valid).to.equal(false);
      expect(result.errors).to.deep.equal(inPlace.errors);
      expect(maxStallMs, "longest stall (ms) while the worker validated").to.be.below(200);
    } finally {
      await closeValidationWorker();
    }
  });
});
