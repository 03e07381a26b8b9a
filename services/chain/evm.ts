/**
 * The one place where Lotline pins its EVM target. Hardhat's compiler settings, Hardhat's
 * in-process network, the embedded Anvil chain and the documented Besu genesis all read these
 * values (see docs/adr/0002-evm-target.md): gas figures and opcode availability (OpenZeppelin 5.x
 * uses `mcopy`) depend on them, so they must never drift apart.
 */
export const SOLC_VERSION = "0.8.28";
export const EVM_HARDFORK = "cancun";
export const OPTIMIZER_RUNS = 200;
/** Chain id of the embedded chain and of Hardhat's network (both default to 31337). */
export const LOCAL_CHAIN_ID = 31337;
/** The standard development mnemonic; the demo roster derives its accounts from it. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";
