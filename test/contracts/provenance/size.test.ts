import { expect } from "chai";
import hre from "hardhat";
import { UNDER_COVERAGE } from "../../helpers/coverage";

/** EIP-170's limit less the 2 KB of headroom every Lotline contract keeps for fixes (docs/adr/0009). */
const MAX_DEPLOYED_BYTES = 24_576 - 2_048;
const DEPLOYED = [
  "ConsortiumRegistry",
  "CredentialRegistry",
  "ProvenanceRegistry",
  "LogisticUnits",
  "AnchorRegistry",
  "SettlementEscrow",
  "ConsortiumToken",
  "LotlineForwarder",
  "ProductLogic",
  "CustodyLogic",
  "AcceptanceLogic",
  "TransformLogic",
  "RecallLogic",
];

describe("Contract sizes", function () {
  // Instrumented bytecode (solidity-coverage) is far bigger than what is deployed.
  before(function () {
    if (UNDER_COVERAGE) this.skip();
  });
  for (const name of DEPLOYED) {
    it(`keeps ${name} at least 2 KB under the 24,576-byte limit`, async function () {
      const artifact = await hre.artifacts.readArtifact(name);
      const bytes = (artifact.deployedBytecode.length - 2) / 2;
      expect(bytes).to.be.at.most(MAX_DEPLOYED_BYTES);
    });
  }
});
