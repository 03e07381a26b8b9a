/**
 * Background jobs of a node (anchoring, recall propagation): run one after another every
 * `intervalMs`, never two at once, each failure logged and retried on the next round.
 */
export interface Job {
  name: string;
  runOnce(): Promise<unknown>;
}

export function createJobLoop(jobs: Job[], options: { intervalMs: number; log?: { warn(obj: object, msg?: string): void } }) {
  let running = false;
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<void> = Promise.resolve();

  async function round(): Promise<void> {
    for (const job of jobs) {
      if (!running) return;
      try {
        await job.runOnce();
      } catch (err) {
        options.log?.warn({ job: job.name, err: (err as { shortMessage?: string }).shortMessage ?? (err as Error).message }, "background job failed; retrying next round");
      }
    }
  }

  function schedule(): void {
    if (!running) return;
    timer = setTimeout(() => {
      current = round().finally(schedule);
    }, options.intervalMs);
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      schedule();
    },
    /** Runs one round now (after any round in progress), e.g. at boot before declaring ready. */
    async runNow(): Promise<void> {
      await current;
      const wasRunning = running;
      running = true;
      try {
        await round();
      } finally {
        running = wasRunning;
      }
    },
    async stop(): Promise<void> {
      running = false;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
