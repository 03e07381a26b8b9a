import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { bindAgent } from "../../helpers/identity-fixture";
import {
  digest,
  GLN,
  gtinFor,
  LOT,
  milkAtProcessorFixture,
  newLot,
  PREFIX,
  provenanceFixture,
  qty,
  unitCode,
} from "../../helpers/provenance-fixture";
import { ROLE } from "../../../services/chain/roles";

const PROCESS = encodeBytes32String("PROCESS");
const RUN = digest("separation run 2024-04-13 #2");
/** A product the carrier would like to register under its own prefix. */
const CARRIER_GTIN = gtinFor(PREFIX.carrier, 42);
/** A new farm product (item reference 77). */
const FARM_GTIN = gtinFor(PREFIX.producer, 77);

/**
 * The provenance fixture plus each organisation's node key: an agent holding only the integration
 * role, bound by its org admin and accepted by the key. The carrier organisation is allowed only
 * the carrier role; the producer only the producer role; the processor processor, receiver, buyer.
 */
async function withIntegrationKeys(base: typeof provenanceFixture) {
  const f = await base();
  const [carrierNode, producerNode, processorNode] = f.spare;
  await bindAgent(f.registry, f.admins.carrier, carrierNode, f.orgs.carrier, ROLE.integration);
  await bindAgent(f.registry, f.admins.producer, producerNode, f.orgs.producer, ROLE.integration);
  await bindAgent(f.registry, f.admins.processor, processorNode, f.orgs.processor, ROLE.integration);
  return { ...f, nodes: { carrier: carrierNode, producer: producerNode, processor: processorNode } };
}
const integrationFixture = () => withIntegrationKeys(provenanceFixture);
const integrationAtProcessorFixture = () => withIntegrationKeys(milkAtProcessorFixture);

describe("The integration role acts within what governance allowed its organisation", function () {
  describe("effective roles of an integration key", function () {
    it("are its organisation's allowed business roles, without the integration bit", async function () {
      const { registry, nodes } = await loadFixture(integrationFixture);
      expect(await registry.effectiveRoles(nodes.processor.address)).to.equal(ROLE.processor | ROLE.receiver | ROLE.buyer);
      expect(await registry.effectiveRoles(nodes.carrier.address)).to.equal(ROLE.carrier);
    });

    it("never include the integration bit, even for an agent holding integration and business roles", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(integrationFixture);
      const mixed = spare[3];
      await bindAgent(registry, admins.processor, mixed, orgs.processor, ROLE.integration | ROLE.buyer | ROLE["org-admin"]);
      const roles = await registry.effectiveRoles(mixed.address);
      expect(roles & ROLE.integration).to.equal(0n);
      expect(roles).to.equal(ROLE.processor | ROLE.receiver | ROLE.buyer | ROLE["org-admin"]);
    });

    it("include neither org-admin nor treasury, which an agent must hold explicitly", async function () {
      const { registry, nodes } = await loadFixture(integrationFixture);
      expect((await registry.effectiveRoles(nodes.producer.address)) & (ROLE["org-admin"] | ROLE.treasury)).to.equal(0n);
    });

    it("shrink at once when governance narrows the organisation's allowance", async function () {
      const { registry, orgs, nodes } = await loadFixture(integrationFixture);
      await registry.setAllowedRoles(orgs.processor, ROLE.receiver);
      expect(await registry.effectiveRoles(nodes.processor.address)).to.equal(ROLE.receiver);
    });

    it("are none when governance allows the organisation no business role", async function () {
      const { registry, orgs, nodes } = await loadFixture(integrationFixture);
      await registry.setAllowedRoles(orgs.carrier, 0n);
      expect(await registry.effectiveRoles(nodes.carrier.address)).to.equal(0n);
    });

    it("give no internal role even when governance lists internal roles in the allowance", async function () {
      const { registry, orgs, nodes } = await loadFixture(integrationFixture);
      await registry.setAllowedRoles(orgs.carrier, ROLE.carrier | ROLE.integration | ROLE["org-admin"] | ROLE.treasury);
      expect(await registry.effectiveRoles(nodes.carrier.address)).to.equal(ROLE.carrier);
    });
  });

  describe("provenance actions of a carrier-only organisation's integration key", function () {
    it("refuses the key registering a product under its organisation's prefix", async function () {
      const { provenance, registry, nodes } = await loadFixture(integrationFixture);
      await expect(provenance.connect(nodes.carrier).registerProduct(CARRIER_GTIN, unitCode("KGM"), digest("pallet wrap")))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent");
      expect((await provenance.product(CARRIER_GTIN)).org).to.equal(0n);
    });

    it("refuses the key minting lots of a registered product", async function () {
      const { provenance, registry, nodes } = await loadFixture(integrationFixture);
      const lot = newLot("milk", "FAKE-1", qty(1_000), GLN.carrier);
      await expect(provenance.connect(nodes.carrier).registerLots([lot])).to.be.revertedWithCustomError(
        registry,
        "IdentityUnauthorizedAgent",
      );
      expect((await provenance.batch(await provenance.lotId(lot.gtin, lot.lot))).quantity).to.equal(0n);
    });

    it("refuses the key transforming goods", async function () {
      const { provenance, registry, nodes, lotIds } = await loadFixture(integrationFixture);
      const outputs = [newLot("cream", "R-FAKE", qty(100), GLN.carrier)];
      await expect(
        provenance.connect(nodes.carrier).transform(PROCESS, [lotIds.milk], [qty(1_000)], outputs, RUN),
      ).to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent");
      expect((await provenance.batch(lotIds.milk)).quantity).to.equal(LOT.milk.quantity);
    });
  });

  describe("provenance actions of an integration key whose organisation is allowed them", function () {
    it("lets a producer organisation's key register a product", async function () {
      const { provenance, nodes, orgs } = await loadFixture(integrationFixture);
      await expect(provenance.connect(nodes.producer).registerProduct(FARM_GTIN, unitCode("LTR"), digest("goat milk")))
        .to.emit(provenance, "ProductRegistered")
        .withArgs(FARM_GTIN, orgs.producer, unitCode("LTR"), digest("goat milk"));
    });

    it("lets a producer organisation's key mint lots", async function () {
      const { provenance, nodes } = await loadFixture(integrationFixture);
      const lot = newLot("milk", "M240413-N", qty(4_000), GLN.producer);
      await provenance.connect(nodes.producer).registerLots([lot]);
      expect((await provenance.batch(await provenance.lotId(lot.gtin, lot.lot))).quantity).to.equal(qty(4_000));
    });

    it("lets a processor organisation's key transform goods it holds", async function () {
      const { provenance, nodes, orgs, lotIds } = await loadFixture(integrationAtProcessorFixture);
      const outputs = [
        newLot("cream", "R240413-1", qty(1_200), GLN.processor),
        newLot("skimmedMilk", "S240413-1", qty(8_900_000), GLN.processor),
      ];
      await provenance.connect(nodes.processor).transform(PROCESS, [lotIds.milk], [qty(10_000)], outputs, RUN);
      const cream = await provenance.batch(await provenance.lotId(outputs[0].gtin, outputs[0].lot));
      expect([cream.quantity, cream.owner, cream.producer]).to.deep.equal([qty(1_200), orgs.processor, orgs.processor]);
      expect((await provenance.batch(lotIds.milk)).quantity).to.equal(LOT.milk.quantity - qty(10_000));
    });
  });
});
