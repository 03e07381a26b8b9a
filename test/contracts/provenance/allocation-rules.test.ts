import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { provenanceFixture } from "../../helpers/provenance-fixture";

/**
 * Allocation rules per transformation kind (docs/adr/0026): set by governance only, one of the
 * four rules (or 0 to clear), for a kind governance enabled; the event carries what the indexer needs.
 */
const PROCESS = encodeBytes32String("PROCESS");
const DRY_MATTER = 2;

describe("ProvenanceRegistry allocation rules", function () {
  it("lets governance set a kind's rule, emitting AllocationRuleSet", async function () {
    const { provenance } = await loadFixture(provenanceFixture);
    await expect(provenance.setAllocationRule(PROCESS, DRY_MATTER)).to.emit(provenance, "AllocationRuleSet").withArgs(PROCESS, DRY_MATTER);
    expect(await provenance.allocationRule(PROCESS)).to.equal(DRY_MATTER);
  });

  it("has no rule for a kind until governance sets one, and clears it with 0", async function () {
    const { provenance } = await loadFixture(provenanceFixture);
    expect(await provenance.allocationRule(PROCESS)).to.equal(0);
    await provenance.setAllocationRule(PROCESS, 4);
    await expect(provenance.setAllocationRule(PROCESS, 0)).to.emit(provenance, "AllocationRuleSet").withArgs(PROCESS, 0);
    expect(await provenance.allocationRule(PROCESS)).to.equal(0);
  });

  it("refuses a non-governor member setting a rule, even its own organisation's admin", async function () {
    const { provenance, agents, admins } = await loadFixture(provenanceFixture);
    for (const signer of [agents.processor, admins.processor]) {
      await expect(provenance.connect(signer).setAllocationRule(PROCESS, 3))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotGovernor")
        .withArgs(signer.address);
    }
    expect(await provenance.allocationRule(PROCESS)).to.equal(0);
  });

  it("refuses a rule value outside 0–4", async function () {
    const { provenance } = await loadFixture(provenanceFixture);
    await expect(provenance.setAllocationRule(PROCESS, 5))
      .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidAllocationRule")
      .withArgs(PROCESS, 5);
  });

  it("refuses a rule for a kind governance has not enabled", async function () {
    const { provenance } = await loadFixture(provenanceFixture);
    const churn = encodeBytes32String("CHURN");
    await expect(provenance.setAllocationRule(churn, 1)).to.be.revertedWithCustomError(provenance, "ProvenanceUnknownTransformKind").withArgs(churn);
  });
});
