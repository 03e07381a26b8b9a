import { SiweMessage } from "siwe";
import type { Wallet, HDNodeWallet } from "ethers";

/** Signs in over the API (nonce → EIP-4361 message → login) and returns the bearer token. */
export async function signIn(url: string, wallet: Wallet | HDNodeWallet): Promise<string> {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const { nonce } = await post("/api/v1/auth/nonce", { address: wallet.address });
  const now = Date.now();
  const message = new SiweMessage({
    domain: new URL(url).host,
    address: wallet.address,
    statement: "Sign in to Lotline",
    uri: url,
    version: "1",
    chainId: 31337,
    nonce: nonce as string,
    issuedAt: new Date(now).toISOString(),
    expirationTime: new Date(now + 5 * 60_000).toISOString(),
  }).prepareMessage();
  const { token } = await post("/api/v1/auth/login", { message, signature: await wallet.signMessage(message) });
  return token as string;
}
