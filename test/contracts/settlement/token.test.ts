import { expect } from "chai";
import { keccak256, toUtf8Bytes } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { BUYER_FUNDS, eur, settlementFixture } from "../../helpers/settlement-fixture";

const MINTER_ROLE = keccak256(toUtf8Bytes("MINTER_ROLE"));
const DEFAULT_ADMIN_ROLE = `0x${"00".repeat(32)}`;

describe("ConsortiumToken", function () {
  it("is the Lotline Settlement Euro, LEUR, in cents", async function () {
    const { token } = await loadFixture(settlementFixture);
    expect([await token.name(), await token.symbol(), await token.decimals()]).to.deep.equal([
      "Lotline Settlement Euro",
      "LEUR",
      2n,
    ]);
  });

  it("makes governance its admin and minter", async function () {
    const { token, governor } = await loadFixture(settlementFixture);
    expect([
      await token.hasRole(DEFAULT_ADMIN_ROLE, governor.address),
      await token.hasRole(MINTER_ROLE, governor.address),
    ]).to.deep.equal([true, true]);
  });

  it("lets the minter mint", async function () {
    const { token, governor, agents } = await loadFixture(settlementFixture);
    await expect(token.connect(governor).mint(agents.otherBuyer.address, eur(250))).to.changeTokenBalance(
      token,
      agents.otherBuyer,
      25_000n,
    );
  });

  it("refuses to mint for anyone else", async function () {
    const { token, agents } = await loadFixture(settlementFixture);
    await expect(token.connect(agents.buyer).mint(agents.buyer.address, eur(250)))
      .to.be.revertedWithCustomError(token, "AccessControlUnauthorizedAccount")
      .withArgs(agents.buyer.address, MINTER_ROLE);
  });

  it("signs permits under its own name, version 1, on this chain", async function () {
    const { token, tokenAddress } = await loadFixture(settlementFixture);
    const domain = await token.eip712Domain();
    expect([domain.name, domain.version, domain.chainId, domain.verifyingContract]).to.deep.equal([
      "Lotline Settlement Euro",
      "1",
      31337n,
      tokenAddress,
    ]);
  });

  it("holds the buyer's funds minted by the fixture", async function () {
    const { token, agents } = await loadFixture(settlementFixture);
    expect(await token.balanceOf(agents.buyer.address)).to.equal(BUYER_FUNDS);
  });
});
