import type { IncomingMessage } from "node:http";
import WebSocket from "ws";

/** A real `ws` client on a node's socket, with what it received in order. */
export interface Client {
  ws: WebSocket;
  /** The 101 answer's headers. */
  headers: IncomingMessage["headers"];
  messages: string[];
  /** The next message not yet taken (waits for it, at most `ms`). */
  next(ms?: number): Promise<string>;
  /** Resolves once the server has answered a ping: every message it sent before is in `messages`. */
  roundTrip(): Promise<void>;
  /** Resolves with the close code and reason once the socket is closed. */
  closed: Promise<{ code: number; reason: string }>;
}

const wsUrl = (base: string, path: string) => base.replace(/^http/, "ws") + path;

/** Opens a socket; rejects if the server refuses the upgrade. */
export function connect(
  base: string,
  path: string,
  options: { headers?: Record<string, string>; protocols?: string[] } = {},
): Promise<Client> {
  const ws = new WebSocket(wsUrl(base, path), options.protocols, { headers: options.headers, handshakeTimeout: 10_000 });
  const messages: string[] = [];
  const waiting: (() => void)[] = [];
  let taken = 0;
  let headers: IncomingMessage["headers"] = {};
  ws.on("message", (data) => {
    messages.push(data.toString("utf8"));
    waiting.splice(0).forEach((wake) => wake());
  });
  ws.on("upgrade", (response) => {
    headers = response.headers;
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => {
      resolve({ code, reason: reason.toString("utf8") });
      waiting.splice(0).forEach((wake) => wake());
    }),
  );
  const client: Client = {
    ws,
    get headers() {
      return headers;
    },
    messages,
    closed,
    async next(ms = 15_000) {
      const deadline = Date.now() + ms;
      while (taken >= messages.length) {
        if (ws.readyState === WebSocket.CLOSED) throw new Error(`the socket closed before message ${taken + 1}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no message ${taken + 1} within ${ms} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiting.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return messages[taken++];
    },
    roundTrip() {
      return new Promise<void>((resolve) => {
        ws.once("pong", () => resolve());
        ws.ping();
      });
    },
  };
  return new Promise<Client>((resolve, reject) => {
    ws.once("open", () => resolve(client));
    ws.once("error", reject);
  });
}

/** Tries an upgrade the server should refuse: the HTTP status and problem document it answered instead. */
export function refusal(
  base: string,
  path: string,
  options: { headers?: Record<string, string>; protocols?: string[] } = {},
): Promise<{ status: number; body: { code?: string; detail?: string } }> {
  const ws = new WebSocket(wsUrl(base, path), options.protocols, { headers: options.headers, handshakeTimeout: 10_000 });
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      ws.terminate();
      reject(new Error(`the upgrade of ${path} was accepted`));
    });
    ws.once("unexpected-response", (_request, response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      response.on("end", () => {
        resolve({ status: response.statusCode ?? 0, body: text ? (JSON.parse(text) as { code?: string; detail?: string }) : {} });
        ws.terminate();
      });
    });
    ws.once("error", (err) => reject(err));
  });
}
