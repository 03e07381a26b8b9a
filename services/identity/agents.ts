import { Refusal } from "../common/refusal";
import type { AgentView, IdentityStore } from "../store/identity";

/**
 * The one rule for "may this wallet act now", per the index: bound to an organisation, the
 * organisation active, the binding unexpired. Sign-in, every authenticated request and the
 * relayer all apply it, with the same error codes.
 */
export function requireActiveAgentOf(identity: IdentityStore, address: string): AgentView {
  const agent = identity.getAgent(address);
  if (!agent) throw new Refusal(403, "not_an_agent", `${address} is not an agent of any organisation`);
  if (agent.status === "suspended") throw new Refusal(403, "organisation_suspended", `the organisation of ${address} is suspended`);
  if (agent.status === "expired") throw new Refusal(403, "agent_expired", `the agent binding of ${address} has expired`);
  return agent;
}
