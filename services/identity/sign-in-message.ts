import { SiweMessage } from "siwe";

/** What the API's nonce route answers (`POST /api/v1/auth/nonce`): all a sign-in message must name. */
export interface SignInChallenge {
  nonce: string;
  domain: string;
  uri: string;
  chainId: number;
}

/**
 * The Sign-In with Ethereum (EIP-4361) message the API's login accepts, for `address`, from the
 * nonce route's answer: its domain, URI and chain id are the node's own, so the message is right
 * for whichever node answered. Valid from now for `validMs`.
 */
export function signInMessage(challenge: SignInChallenge, address: string, statement = "Sign in to Lotline", validMs = 5 * 60_000): string {
  const now = Date.now();
  return new SiweMessage({
    domain: challenge.domain,
    address,
    statement,
    uri: challenge.uri,
    version: "1",
    chainId: challenge.chainId,
    nonce: challenge.nonce,
    issuedAt: new Date(now).toISOString(),
    expirationTime: new Date(now + validMs).toISOString(),
  }).prepareMessage();
}
