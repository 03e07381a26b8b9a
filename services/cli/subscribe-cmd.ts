import crypto from "node:crypto";
import type { Command } from "commander";
import { apiRequest, CliError } from "./client";
import { actor, signing, type Print } from "./batch-cmd";
import { signIn } from "./product-cmd";
import type { SignerOptions } from "./keystore";
import { TOPICS } from "../notifications/handlers";

interface SubscriptionJson {
  id: string;
  orgId: string;
  url: string;
  topics: string[];
  createdAt: string;
}

const line = (s: SubscriptionJson) => `${s.id}  ${s.url}  ${s.topics.join(",")}  since ${s.createdAt}`;

function topicsArg(raw: string): string[] {
  const topics = raw === "all" ? [...TOPICS] : [...new Set(raw.split(",").map((t) => t.trim()))];
  const unknown = topics.filter((t) => !(TOPICS as readonly string[]).includes(t));
  if (unknown.length > 0 || topics.length === 0)
    throw new CliError(`--topics must be all or some of ${TOPICS.join(", ")} (comma-separated), got "${raw}"`);
  return topics;
}

function uuidArg(raw: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw))
    throw new CliError(`<id> must be a subscription id (lotline subscribe list), got "${raw}"`);
  return raw.toLowerCase();
}

/** `lotline subscribe add|list|remove`: your organisation's notification webhooks (docs/notifications.md). */
export function registerSubscribeCommands(program: Command, print: Print): void {
  const subscribe = program
    .command("subscribe")
    .description("notification webhooks for what concerns your organisation (recalls, offers, orders, grants, captures)");

  signing(
    subscribe
      .command("add")
      .description(
        "subscribe a webhook; the secret signing deliveries comes from LOTLINE_WEBHOOK_SECRET, or is made and shown once",
      )
      .argument("<url>", "the webhook (http or https, a public address)")
      .option("--topics <list>", `all, or some of ${TOPICS.join(", ")} (comma-separated)`, "all"),
  ).action(async (url: string, opts: SignerOptions & { topics: string }) => {
    const topics = topicsArg(opts.topics);
    if (!/^https?:\/\/\S+$/.test(url)) throw new CliError(`<url> must be an http(s) URL, got "${url}"`);
    const given = process.env.LOTLINE_WEBHOOK_SECRET;
    if (given !== undefined && given.length < 16) throw new CliError("LOTLINE_WEBHOOK_SECRET must be at least 16 characters");
    const secret = given ?? crypto.randomBytes(32).toString("hex");
    const { signer } = await actor(opts);
    const token = await signIn(signer);
    const made = await apiRequest<SubscriptionJson>("POST", "/api/v1/subscriptions", { token, body: { url, topics, secret } });
    // A secret the user gave is theirs already; one made here is shown once, or nobody could check a signature.
    const shown = given === undefined ? { secret } : {};
    print(
      { ...made, ...shown },
      () =>
        `subscribed: ${line(made)}${given === undefined ? `\nsecret (shown once, keep it to check X-Lotline-Signature): ${secret}` : ""}`,
    );
  });

  signing(subscribe.command("list").description("your organisation's notification webhooks")).action(
    async (opts: SignerOptions) => {
      const { signer } = await actor(opts);
      const token = await signIn(signer);
      const page = await apiRequest<{ items: SubscriptionJson[] }>("GET", "/api/v1/subscriptions", { token });
      print(page.items, () => (page.items.length ? page.items.map(line).join("\n") : "no subscriptions"));
    },
  );

  signing(
    subscribe
      .command("remove")
      .description("end one of your organisation's notification webhooks")
      .argument("<id>", "the subscription id (lotline subscribe list)"),
  ).action(async (raw: string, opts: SignerOptions) => {
    const id = uuidArg(raw);
    const { signer } = await actor(opts);
    const token = await signIn(signer);
    const out = await apiRequest<{ id: string; ended: true }>("DELETE", `/api/v1/subscriptions/${id}`, { token });
    print(out, () => `ended subscription ${out.id}`);
  });
}
