// solidity-coverage settings for `npm run coverage` (docs/reliability.md, "Coverage").
module.exports = {
  // Test doubles are not Lotline's contracts (the gate is over contracts/, mocks excluded).
  skipFiles: ["mocks/"],
  // Instrumented contracts run several times slower; a test's duration says nothing then.
  mocha: { timeout: 0 },
  istanbulReporter: ["html", "json", "json-summary", "text", "text-summary"],
};
