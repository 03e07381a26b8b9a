import hre from "hardhat";
import { expect } from "chai";
import { id, keccak256, toBeHex, toUtf8Bytes, ZeroAddress, ZeroHash, zeroPadValue } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { connectLotline, deployLotline } from "../../../services/chain/deploy";
import { ConsortiumTimelock__factory } from "../../../services/chain/contracts";
import { rolesToMask, ROLE } from "../../../services/chain/roles";

const MIN_DELAY = 3600;
const SALT = id("admit Alpenmilch Kooperative");
const ORG = {
  name: "Alpenmilch Kooperative",
  prefix: "9012345",
  metadata: keccak256(toUtf8Bytes("Alpenmilch Kooperative eG, Innsbruck")),
  allowed: rolesToMask(["producer", "processor"]),
};
/** TimelockController's OperationState.Ready as the bitmap its errors carry. */
const READY_STATE = zeroPadValue(toBeHex(1n << 2n), 32);

describe("ConsortiumRegistry governed by a ConsortiumTimelock (OpenZeppelin TimelockController)", function () {
  /** Lotline whose governor is a timelock; one council account proposes and executes. */
  async function timelockGoverned() {
    const [deployer, council, firstAdmin, outsider] = await hre.ethers.getSigners();
    const timelock = await new ConsortiumTimelock__factory(deployer).deploy(
      MIN_DELAY,
      [council.address],
      [council.address],
      ZeroAddress,
    );
    await timelock.waitForDeployment();
    const timelockAddress = await timelock.getAddress();
    const record = await deployLotline(deployer, { governor: timelockAddress });
    const { registry } = connectLotline(record, deployer);
    const registryAddress = await registry.getAddress();
    const admission = registry.interface.encodeFunctionData("admitOrganisation", [
      ORG.name,
      [ORG.prefix],
      ORG.metadata,
      ORG.allowed,
      firstAdmin.address,
    ]);
    const operation = [registryAddress, 0n, admission, ZeroHash, SALT] as const;
    return {
      deployer,
      council,
      firstAdmin,
      outsider,
      timelock: timelock.connect(council),
      timelockAddress,
      record,
      registry,
      operation,
      operationId: await timelock.hashOperation(...operation),
      GOVERNOR_ROLE: await registry.GOVERNOR_ROLE(),
    };
  }

  async function scheduledAdmission() {
    const f = await timelockGoverned();
    await (await f.timelock.schedule(...f.operation, MIN_DELAY)).wait();
    return f;
  }

  it("records the timelock as the deployment's governor", async function () {
    const { record, registry, timelockAddress, GOVERNOR_ROLE } = await loadFixture(timelockGoverned);
    expect(record.governor).to.equal(timelockAddress);
    expect(await registry.hasRole(GOVERNOR_ROLE, timelockAddress)).to.equal(true);
  });

  it("refuses a direct governance call by the deployer", async function () {
    const { registry, deployer, firstAdmin, GOVERNOR_ROLE } = await loadFixture(timelockGoverned);
    await expect(registry.admitOrganisation(ORG.name, [ORG.prefix], ORG.metadata, ORG.allowed, firstAdmin.address))
      .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
      .withArgs(deployer.address, GOVERNOR_ROLE);
  });

  it("refuses a direct governance call by the council account", async function () {
    const { registry, council, firstAdmin, GOVERNOR_ROLE } = await loadFixture(timelockGoverned);
    await expect(
      registry.connect(council).admitOrganisation(ORG.name, [ORG.prefix], ORG.metadata, ORG.allowed, firstAdmin.address),
    )
      .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
      .withArgs(council.address, GOVERNOR_ROLE);
  });

  it("lets the proposer schedule an admission", async function () {
    const { timelock, operation, operationId } = await loadFixture(timelockGoverned);
    await expect(timelock.schedule(...operation, MIN_DELAY))
      .to.emit(timelock, "CallScheduled")
      .withArgs(operationId, 0n, operation[0], 0n, operation[2], ZeroHash, MIN_DELAY);
  });

  it("refuses to schedule for an account without the proposer role", async function () {
    const { timelock, operation, outsider } = await loadFixture(timelockGoverned);
    await expect(timelock.connect(outsider).schedule(...operation, MIN_DELAY))
      .to.be.revertedWithCustomError(timelock, "AccessControlUnauthorizedAccount")
      .withArgs(outsider.address, await timelock.PROPOSER_ROLE());
  });

  it("refuses a delay shorter than the minimum", async function () {
    const { timelock, operation } = await loadFixture(timelockGoverned);
    await expect(timelock.schedule(...operation, MIN_DELAY - 1))
      .to.be.revertedWithCustomError(timelock, "TimelockInsufficientDelay")
      .withArgs(MIN_DELAY - 1, MIN_DELAY);
  });

  it("refuses to execute a scheduled admission before the delay has passed", async function () {
    const { timelock, operation, operationId } = await loadFixture(scheduledAdmission);
    await time.increase(MIN_DELAY - 10);
    await expect(timelock.execute(...operation))
      .to.be.revertedWithCustomError(timelock, "TimelockUnexpectedOperationState")
      .withArgs(operationId, READY_STATE);
  });

  it("refuses to execute an admission that was never scheduled", async function () {
    const { timelock, operation, operationId } = await loadFixture(timelockGoverned);
    await expect(timelock.execute(...operation))
      .to.be.revertedWithCustomError(timelock, "TimelockUnexpectedOperationState")
      .withArgs(operationId, READY_STATE);
  });

  it("executes the admission once the delay has passed", async function () {
    const { timelock, registry, operation } = await loadFixture(scheduledAdmission);
    await time.increase(MIN_DELAY);
    await expect(timelock.execute(...operation))
      .to.emit(registry, "OrganisationAdmitted")
      .withArgs(1n, ORG.name, ORG.metadata, ORG.allowed);
  });

  it("leaves the admitted organisation active with its prefix", async function () {
    const { timelock, registry, operation } = await loadFixture(scheduledAdmission);
    await time.increase(MIN_DELAY);
    await timelock.execute(...operation);
    const org = await registry.organisation(1n);
    expect([org.name, org.allowedRoles]).to.deep.equal([ORG.name, ORG.allowed]);
    expect(await registry.isOrganisationActive(1n)).to.equal(true);
    expect(await registry.orgOfCompanyPrefix(ORG.prefix)).to.equal(1n);
  });

  it("attributes the first admin's binding to the timelock", async function () {
    const { timelock, timelockAddress, registry, operation, firstAdmin } = await loadFixture(scheduledAdmission);
    await time.increase(MIN_DELAY);
    await expect(timelock.execute(...operation))
      .to.emit(registry, "AgentSet")
      .withArgs(firstAdmin.address, 1n, ROLE["org-admin"], 0n, timelockAddress);
  });

  /**
   * A rival organisation (admin: `outsider`) admitted through the timelock first; then the
   * admission naming `firstAdmin` is scheduled and waits out its delay in public.
   */
  async function rivalAndScheduledAdmission() {
    const f = await timelockGoverned();
    const rival = f.registry.interface.encodeFunctionData("admitOrganisation", [
      "Rival Dairy",
      ["9112345"],
      ORG.metadata,
      ORG.allowed,
      f.outsider.address,
    ]);
    const rivalOperation = [await f.registry.getAddress(), 0n, rival, ZeroHash, id("admit Rival Dairy")] as const;
    await (await f.timelock.schedule(...rivalOperation, MIN_DELAY)).wait();
    await time.increase(MIN_DELAY);
    await (await f.timelock.execute(...rivalOperation)).wait();
    await (await f.timelock.schedule(...f.operation, MIN_DELAY)).wait();
    return { ...f, rivalOrg: 1n, admittedOrg: 2n };
  }

  it("still executes a pending admission after a rival's admin tried to bind its first admin elsewhere", async function () {
    const { timelock, registry, operation, firstAdmin, outsider, rivalOrg, admittedOrg } =
      await loadFixture(rivalAndScheduledAdmission);
    await registry.connect(outsider).setAgent(firstAdmin.address, rivalOrg, ROLE["org-admin"], 0);
    expect((await registry.agent(firstAdmin.address)).orgId).to.equal(0n);
    await time.increase(MIN_DELAY);
    await expect(timelock.execute(...operation))
      .to.emit(registry, "OrganisationAdmitted")
      .withArgs(admittedOrg, ORG.name, ORG.metadata, ORG.allowed);
    expect(await registry.requireAgent(firstAdmin.address, ROLE["org-admin"])).to.equal(admittedOrg);
  });

  it("still executes a pending admission whose first admin joined another organisation, offering it the binding", async function () {
    const { timelock, timelockAddress, registry, operation, firstAdmin, outsider, rivalOrg, admittedOrg } =
      await loadFixture(rivalAndScheduledAdmission);
    await registry.connect(outsider).setAgent(firstAdmin.address, rivalOrg, ROLE.producer, 0);
    await registry.connect(firstAdmin).acceptAgent(rivalOrg, ROLE.producer, 0);
    await time.increase(MIN_DELAY);
    await expect(timelock.execute(...operation))
      .to.emit(registry, "AgentProposed")
      .withArgs(firstAdmin.address, admittedOrg, ROLE["org-admin"], 0n, timelockAddress);
    expect(await registry.isOrganisationActive(admittedOrg)).to.equal(true);
    await registry.connect(firstAdmin).leaveOrganisation();
    await registry.connect(firstAdmin).acceptAgent(admittedOrg, ROLE["org-admin"], 0);
    expect(await registry.requireAgent(firstAdmin.address, ROLE["org-admin"])).to.equal(admittedOrg);
  });

  it("refuses to execute for an account without the executor role", async function () {
    const { timelock, operation, outsider } = await loadFixture(scheduledAdmission);
    await time.increase(MIN_DELAY);
    await expect(timelock.connect(outsider).execute(...operation))
      .to.be.revertedWithCustomError(timelock, "AccessControlUnauthorizedAccount")
      .withArgs(outsider.address, await timelock.EXECUTOR_ROLE());
  });

  it("refuses to execute the same admission twice", async function () {
    const { timelock, operation, operationId } = await loadFixture(scheduledAdmission);
    await time.increase(MIN_DELAY);
    await timelock.execute(...operation);
    await expect(timelock.execute(...operation))
      .to.be.revertedWithCustomError(timelock, "TimelockUnexpectedOperationState")
      .withArgs(operationId, READY_STATE);
  });
});
