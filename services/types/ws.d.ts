/* eslint-disable @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unused-vars -- a declaration: its names are for importers */
/**
 * The part of `ws` (8.x, installed with @fastify/websocket) that Lotline uses: the package ships no
 * types and @types/ws is not installed. Replace this file with @types/ws when it is added.
 */
declare module "ws" {
  import { EventEmitter } from "node:events";
  import type { IncomingMessage } from "node:http";

  class WebSocket extends EventEmitter {
    static readonly CONNECTING: 0;
    static readonly OPEN: 1;
    static readonly CLOSING: 2;
    static readonly CLOSED: 3;
    constructor(address: string, protocols?: string | string[], options?: WebSocket.ClientOptions);
    readonly readyState: 0 | 1 | 2 | 3;
    /** The subprotocol the server selected ("" if none). */
    readonly protocol: string;
    readonly bufferedAmount: number;
    send(data: string | Buffer, cb?: (err?: Error) => void): void;
    close(code?: number, reason?: string): void;
    terminate(): void;
    ping(data?: string | Buffer, mask?: boolean, cb?: (err: Error) => void): void;
    on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this;
    on(event: "close", listener: (code: number, reason: Buffer) => void): this;
    on(event: "error", listener: (err: Error) => void): this;
    on(event: "open", listener: () => void): this;
    on(event: "ping" | "pong", listener: (data: Buffer) => void): this;
    on(event: "unexpected-response", listener: (request: unknown, response: IncomingMessage) => void): this;
    on(event: "upgrade", listener: (response: IncomingMessage) => void): this;
    once(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this;
    once(event: "close", listener: (code: number, reason: Buffer) => void): this;
    once(event: "error", listener: (err: Error) => void): this;
    once(event: "open", listener: () => void): this;
    once(event: "ping" | "pong", listener: (data: Buffer) => void): this;
    once(event: "unexpected-response", listener: (request: unknown, response: IncomingMessage) => void): this;
  }

  const WebSocketAlias: typeof WebSocket;
  interface WebSocketAlias extends WebSocket {}

  namespace WebSocket {
    interface ClientOptions {
      headers?: Record<string, string>;
      handshakeTimeout?: number;
    }
    interface ServerOptions {
      noServer?: boolean;
      maxPayload?: number;
      handleProtocols?: (protocols: Set<string>, request: IncomingMessage) => string | false;
      clientTracking?: boolean;
    }
    class Server extends EventEmitter {
      constructor(options?: ServerOptions);
      readonly clients: Set<WebSocket>;
      close(cb?: (err?: Error) => void): void;
      on(event: "headers", listener: (headers: string[], request: IncomingMessage) => void): this;
      on(event: string, listener: (...args: unknown[]) => void): this;
    }
    export { WebSocketAlias as WebSocket, Server as WebSocketServer };
  }

  export = WebSocket;
}
