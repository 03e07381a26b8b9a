import type { HDNodeWallet, Wallet } from "ethers";
import { apiGet, setReadSession } from "./client";
import { resolveSigner } from "./keystore";
import { signIn } from "./product-cmd";

/**
 * Who a command reads as on members-only routes. A signing command reads as its signer
 * (`readAs`); otherwise the environment names a reader: LOTLINE_KEY (a keystore key; its password
 * from LOTLINE_KEY_PASSWORD or a prompt) or, on the local chain, LOTLINE_DEV_ACCOUNT. Sign-in
 * happens only when a route asks for it (HTTP 401), once per command.
 */
export function readAs(signer: Wallet | HDNodeWallet): void {
  setReadSession(() => signIn(signer));
}

export function readAsEnvironmentReader(env: NodeJS.ProcessEnv = process.env): void {
  const key = env.LOTLINE_KEY?.trim() || undefined;
  const devAccount = env.LOTLINE_DEV_ACCOUNT?.trim() || undefined;
  if (!key && devAccount === undefined) return;
  setReadSession(async () => {
    const signer = await resolveSigner({ key, devAccount }, async () => (await apiGet<{ chainId: number }>("/api/v1/deployment")).chainId);
    return signIn(signer);
  });
}
