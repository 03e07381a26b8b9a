import { ZeroAddress, type Signer } from "ethers";
import type { ConsortiumRegistry } from "./contracts";

/**
 * Binds `agent` to `orgId` the way the registry requires: the org admin proposes (setAgent), the
 * wallet accepts (acceptAgent) naming the proposed terms. A wallet already bound to `orgId` is
 * updated by setAgent alone. Both signers must hold gas (or the caller relays the acceptance).
 */
export async function bindAgent(
  registry: ConsortiumRegistry,
  admin: Signer,
  agent: Signer,
  orgId: bigint | number,
  roles: bigint,
  expiresAt: bigint | number = 0,
): Promise<void> {
  const address = await agent.getAddress();
  await (await registry.connect(admin).setAgent(address, orgId, roles, expiresAt)).wait();
  // No proposal left: the wallet was already an agent of `orgId` and setAgent updated it.
  if ((await registry.agentProposal(address, orgId)).proposedBy === ZeroAddress) return;
  await (await registry.connect(agent).acceptAgent(orgId, roles, expiresAt)).wait();
}
