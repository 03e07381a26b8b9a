import { createWorkerThread, type WorkerThread } from "../runtime/worker";
import { validateEpcisDocument, type EventError } from "./validate";

/**
 * Validation of a capture off the event loop: a document of LARGE_DOCUMENT_BYTES or more (a
 * 10,000-event capture takes seconds to check against the EPCIS schema) is validated in a worker
 * thread, with the same code and the same result; smaller ones in place, where a worker's round
 * trip would cost more than it saves.
 */
export const LARGE_DOCUMENT_BYTES = 256 * 1024;

let thread: WorkerThread | null = null;

export async function validateCapture(doc: unknown, bytes: number): Promise<{ valid: boolean; errors: EventError[] }> {
  if (bytes < LARGE_DOCUMENT_BYTES) return validateEpcisDocument(doc);
  thread ??= createWorkerThread("epcis-validation");
  return thread.run(require.resolve("./validate-off-thread"), "validateInWorker", [doc]);
}

/** Runs in the worker: the validation result without the event list (the caller has the document). */
export function validateInWorker(doc: unknown): { valid: boolean; errors: EventError[] } {
  const { valid, errors } = validateEpcisDocument(doc);
  return { valid, errors };
}

/** Ends the validation worker (tests; the worker never keeps the process alive). */
export async function closeValidationWorker(): Promise<void> {
  await thread?.close();
  thread = null;
}
