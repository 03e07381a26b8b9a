import type { JsonRpcProvider } from "ethers";

/**
 * The demo's clock. A fresh embedded chain starts DEMO_HISTORY_DAYS in the past; seeding moves its
 * time forward step by step (so deadlines pass and inspection windows end honestly, with real
 * blocks), and `toPresent` ends it at the wall clock. Uses Anvil's evm_setNextBlockTimestamp,
 * and only while seeding the embedded chain: the service itself never sets a chain's clock.
 */
export const DEMO_HISTORY_DAYS = 60;
export const DAY = 24 * 3600;

export function createDemoClock(provider: JsonRpcProvider, wallClock: () => number = () => Math.floor(Date.now() / 1000)) {
  async function chainTime(): Promise<number> {
    return (await provider.getBlock("latest"))!.timestamp;
  }
  return {
    chainTime,
    /** The next block is `seconds` later (never past the present: a restarted seeding may have less room). */
    async advance(seconds: number): Promise<void> {
      const now = await chainTime();
      const target = Math.min(now + seconds, wallClock() - 60);
      if (target > now + 1) await provider.send("evm_setNextBlockTimestamp", [target]);
    },
    /** Mines a block at the wall clock's time, so everything after seeding happens in the present. */
    async toPresent(): Promise<void> {
      const now = wallClock();
      if (now > (await chainTime())) {
        await provider.send("evm_setNextBlockTimestamp", [now]);
        await provider.send("evm_mine", []);
      }
    },
  };
}
export type DemoClock = ReturnType<typeof createDemoClock>;
