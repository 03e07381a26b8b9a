import type { Wallet, HDNodeWallet } from "ethers";
import { signInMessage, type SignInChallenge } from "../../services/identity/sign-in-message";

/** Signs in over the API (nonce → EIP-4361 message → login) and returns the bearer token. */
export async function signIn(url: string, wallet: Wallet | HDNodeWallet): Promise<string> {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const challenge = (await post("/api/v1/auth/nonce", { address: wallet.address })) as unknown as SignInChallenge;
  const message = signInMessage(challenge, wallet.address);
  const { token } = await post("/api/v1/auth/login", { message, signature: await wallet.signMessage(message) });
  return token as string;
}
