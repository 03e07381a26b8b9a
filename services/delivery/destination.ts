import dns from "node:dns";
import net from "node:net";

/**
 * Where webhooks may go (no server-side request forgery): http(s) URLs without credentials whose
 * host resolves to public addresses only, unless LOTLINE_WEBHOOK_ALLOW_PRIVATE=1 (the embedded
 * demo, whose receivers run on the same machine). The check is made on the very address a
 * delivery connects to: the host is resolved once per attempt, every address it resolves to is
 * checked, and the socket connects to that pinned address (the request keeps the URL's host in
 * its Host header and TLS SNI), so a name that answers a public address to the check and a
 * private one to the connection (DNS rebinding) cannot slip through.
 */

const PRIVATE_V4: [string, number][] = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 3],
];

function v4ToInt(ip: string): number {
  return ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

/** Whether an address is loopback, private, link-local, shared, documentation, multicast or reserved. */
export function isPrivateAddress(ip: string): boolean {
  if (net.isIPv4(ip)) return PRIVATE_V4.some(([base, bits]) => v4ToInt(ip) >>> (32 - bits) === v4ToInt(base) >>> (32 - bits));
  const v6 = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(v6);
  if (mapped) return isPrivateAddress(mapped[1]);
  // Other IPv4-mapped spellings (::ffff:7f00:1) and NAT64 / 6to4 forms carry an IPv4 address we do not unpack: refused.
  if (/^::ffff:/.test(v6) || /^64:ff9b:/.test(v6) || /^2002:/.test(v6)) return true;
  return v6 === "::" || v6 === "::1" || /^f[cd]/.test(v6) || /^fe[89ab]/.test(v6) || /^ff/.test(v6) || !net.isIPv6(v6);
}

export const allowPrivateDestinations = () => process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE?.trim() === "1";

/** Resolves a host name to its addresses (all of them). */
export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** Which addresses a delivery may connect to. */
export interface DestinationPolicy {
  resolve: Resolver;
  /** Whether the address may be connected to; default: public addresses, or any with LOTLINE_WEBHOOK_ALLOW_PRIVATE=1. */
  allowAddress: (ip: string) => boolean;
}

export const defaultPolicy = (): DestinationPolicy => ({
  resolve: systemResolver,
  allowAddress: (ip) => allowPrivateDestinations() || !isPrivateAddress(ip),
});

export class DestinationError extends Error {
  override name = "DestinationError";
}

/** The URL of a destination, or why it is not one (scheme, credentials, syntax). */
export function parseDestination(dest: string): URL {
  let url: URL;
  try {
    url = new URL(dest);
  } catch {
    throw new DestinationError(`"${dest}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new DestinationError(`the URL must be http(s), not ${url.protocol}`);
  if (url.username || url.password)
    throw new DestinationError("the URL must not carry credentials; deliveries are authenticated by their signature");
  return url;
}

const bare = (hostname: string) => hostname.replace(/^\[|\]$/g, "");

/**
 * Resolves the destination's host once and checks every address: the addresses a delivery may
 * connect to, or a DestinationError saying which address was refused.
 */
export async function resolveDestination(url: URL, policy: DestinationPolicy = defaultPolicy()): Promise<string[]> {
  const host = bare(url.hostname);
  const addresses = net.isIP(host) ? [host] : await policy.resolve(host).catch(() => []);
  if (addresses.length === 0) throw new DestinationError(`${host} does not resolve`);
  const bad = addresses.find((ip) => !policy.allowAddress(ip));
  if (bad)
    throw new DestinationError(
      `${host} resolves to ${bad}, a private or local address: webhooks go to public addresses only (LOTLINE_WEBHOOK_ALLOW_PRIVATE=1 lifts this on a demo)`,
    );
  return addresses;
}

/** Refuses a destination that is not http(s), carries credentials, or resolves to a refused address. */
export async function checkDestination(dest: string, policy: DestinationPolicy = defaultPolicy()): Promise<void> {
  await resolveDestination(parseDestination(dest), policy);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request / net.connect that answers the pinned, already checked addresses
 * and nothing else: the connection cannot be steered to another address by a second resolution.
 */
export function pinnedLookup(addresses: string[]) {
  const entries = addresses.map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 }));
  return (_hostname: string, options: dns.LookupOptions | LookupCallback, callback?: LookupCallback): void => {
    const cb = (typeof options === "function" ? options : callback)!;
    const opts = typeof options === "function" ? {} : options;
    const family = opts.family === 4 || opts.family === 6 ? opts.family : 0;
    const matching = entries.filter((e) => family === 0 || e.family === family);
    if (matching.length === 0) {
      cb(Object.assign(new Error("no pinned address of the requested family"), { code: "ENOTFOUND" }), opts.all ? [] : "", 0);
      return;
    }
    if (opts.all) cb(null, matching);
    else cb(null, matching[0].address, matching[0].family);
  };
}
