import hre from "hardhat";

/**
 * True while `hardhat coverage` (solidity-coverage) runs the tests: the contracts are instrumented
 * (bigger, slower, different gas) and the network has a fixed gas price with a zero base fee.
 * Tests that measure bytecode size or gas skip themselves then, and the property tests run fewer
 * sequences (docs/reliability.md, "Coverage"). `npm run coverage` also sets SOLIDITY_COVERAGE.
 */
export const UNDER_COVERAGE =
  Boolean((hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING) ||
  Boolean(process.env.SOLIDITY_COVERAGE);

/** The number of property-test sequences: `configured` normally, `underCoverage` when instrumented (unless the env var set it). */
export function propertyRuns(envValue: string | undefined, normal: number, underCoverage: number): number {
  if (envValue !== undefined && envValue !== "") return Number(envValue);
  return UNDER_COVERAGE ? underCoverage : normal;
}
