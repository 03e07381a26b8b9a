import type { Command } from "commander";
import { apiRequest, CliError } from "./client";
import { deadlineArg, gtinArg, orgIdArg, wholeNumberArg } from "./args";
import { actor, getBatch, signing, type Print } from "./batch-cmd";
import { signIn } from "./product-cmd";
import type { SignerOptions } from "./keystore";
import { namesToClasses, scopeToChain, type Scope } from "../sharing/grants";

interface GrantJson {
  grantId: string;
  grantorOrgId: string;
  granteeOrgId: string;
  classes: string[];
  scope: { kind: string; value: string | null };
  expiresAt: string;
  revokedAt: string | null;
  inForce: boolean;
}

/** `--classes EPCIS,PRODUCTION_RUN` (or ALL) → the contract's bit set. */
function classesArg(raw: string): number {
  try {
    return namesToClasses(raw.split(","));
  } catch (err) {
    throw new CliError(`--classes: ${(err as Error).message}`);
  }
}

/** `--scope all`, `--scope gtin:<GTIN>` or `--scope lot:<batch id or Digital Link>` (the lot and everything made from it). */
async function scopeArg(raw: string): Promise<Scope> {
  const [kind, ...rest] = raw.split(":");
  const value = rest.join(":");
  if (kind === "all" && !value) return { kind: "all", value: null };
  if (kind === "gtin" && value) return { kind: "gtin", value: gtinArg(value, "--scope gtin:") };
  if (kind === "lot" && value) return { kind: "lot", value: (await getBatch(value)).lotId.toLowerCase() };
  throw new CliError(`--scope must be all, gtin:<GTIN> or lot:<batch id or Digital Link>, got "${raw}"`);
}

function grantLine(g: GrantJson): string {
  const scope = g.scope.kind === "all" ? "everything" : `${g.scope.kind} ${g.scope.value}`;
  const state = g.inForce ? `until ${g.expiresAt}` : g.revokedAt ? `revoked ${g.revokedAt}` : `ended (expired ${g.expiresAt})`;
  return `#${g.grantId}  org ${g.grantorOrgId} → org ${g.granteeOrgId}  ${g.classes.join(",")}  ${scope}  ${state}`;
}

/** `lotline grant add|revoke|list`: on-chain grants of read access to your organisation's off-chain records. */
export function registerGrantCommands(program: Command, print: Print): void {
  const grant = program.command("grant").description("share your organisation's off-chain records with another organisation (on-chain grants)");

  signing(
    grant
      .command("add")
      .description("grant another organisation read access to record classes over a scope until an expiry (org admin)")
      .requiredOption("--to <orgId>", "the organisation that may read")
      .requiredOption("--classes <list>", "EPCIS, PRODUCTION_RUN, ORDER_TERMS (comma-separated) or ALL")
      .option("--scope <scope>", "all, gtin:<GTIN> or lot:<batch id or Digital Link> (the lot and everything made from it)", "all")
      .requiredOption("--expires <when>", 'an ISO date ("2027-03-31") or a time from now ("+90d")'),
  ).action(async (opts: SignerOptions & { to: string; classes: string; scope: string; expires: string }) => {
    const grantee = orgIdArg(opts.to);
    const classes = classesArg(opts.classes);
    const scope = await scopeArg(opts.scope);
    const expiresAt = deadlineArg(opts.expires, Date.now(), "--expires");
    const onChain = scopeToChain(scope);
    const { relay, signer } = await actor(opts);
    const tx = await relay.send(signer, "sharing", "grant", [grantee, classes, onChain.kind, onChain.value, expiresAt]);
    const token = await signIn(signer);
    const latest = await apiRequest<{ items: GrantJson[] }>("GET", `/api/v1/grants?grantee=${grantee}&limit=1`, { token });
    const made = latest.items[0];
    print({ ...tx, grant: made }, () => `granted: ${made ? grantLine(made) : "(not indexed yet)"}`);
  });

  signing(
    grant
      .command("revoke")
      .description("end a grant your organisation gave (or renounce one it was given) (org admin)")
      .argument("<grantId>", "the grant's id (lotline grant list)"),
  ).action(async (rawId: string, opts: SignerOptions) => {
    const grantId = wholeNumberArg(rawId, "<grantId>");
    if (grantId < 1) throw new CliError(`<grantId> must be a positive grant id, got "${rawId}"`);
    const { relay, signer } = await actor(opts);
    const tx = await relay.send(signer, "sharing", "revoke", [grantId]);
    const token = await signIn(signer);
    const after = await apiRequest<GrantJson>("GET", `/api/v1/grants/${grantId}`, { token });
    print({ ...tx, grant: after }, () => `revoked: ${grantLine(after)}`);
  });

  const org = program.commands.find((c) => c.name() === "org") ?? program.command("org");
  signing(
    org
      .command("publish-url")
      .description("publish the URL of your organisation's Lotline node on-chain, where grantees fetch what you share (org admin)")
      .argument("<orgId>", "your organisation")
      .argument("<url>", 'http(s) URL of the node, or "" to clear it'),
  ).action(async (rawOrg: string, url: string, opts: SignerOptions) => {
    const orgId = orgIdArg(rawOrg, "<orgId>");
    if (url !== "" && !/^https?:\/\/\S+$/.test(url)) throw new CliError(`<url> must be an http(s) URL, got "${url}"`);
    const { relay, signer } = await actor(opts);
    const tx = await relay.send(signer, "sharing", "setServiceUrl", [orgId, url]);
    print({ ...tx, orgId: String(orgId), serviceUrl: url || null }, () => (url ? `organisation ${orgId} serves at ${url}` : `organisation ${orgId} publishes no node URL`));
  });

  signing(
    grant
      .command("list")
      .description("grants given or received (signed in as any agent)")
      .option("--grantor <orgId>", "only grants given by this organisation")
      .option("--grantee <orgId>", "only grants given to this organisation")
      .option("--in-force", "only grants in force now"),
  ).action(async (opts: SignerOptions & { grantor?: string; grantee?: string; inForce?: boolean }) => {
    const params = new URLSearchParams();
    if (opts.grantor) params.set("grantor", String(orgIdArg(opts.grantor, "--grantor")));
    if (opts.grantee) params.set("grantee", String(orgIdArg(opts.grantee, "--grantee")));
    if (opts.inForce) params.set("inForce", "true");
    params.set("limit", "500");
    const { signer } = await actor(opts);
    const token = await signIn(signer);
    const page = await apiRequest<{ items: GrantJson[] }>("GET", `/api/v1/grants?${params}`, { token });
    print(page.items, () => (page.items.length ? page.items.map(grantLine).join("\n") : "no grants"));
  });
}
