import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import { ConfigError } from "./index";

/**
 * The node's logger. On a terminal it prints readable lines (pino-pretty: time, level, component,
 * message, then the fields); otherwise one JSON object a line for log collectors. LOTLINE_LOG_FORMAT
 * (pretty or json) overrides the choice. Request logs are at `debug` (LOTLINE_LOG_LEVEL=debug shows
 * them). Secrets are redacted in both formats: authorization headers, the session cookie,
 * signatures, tokens and keys.
 */
export const LOG_REDACT = ["req.headers.authorization", "req.headers.cookie", "token", "signature", "privateKey", "*.signature", "*.token", "*.privateKey", "*.cookie"];

export type LogFormat = "pretty" | "json";

export function logFormat(env: NodeJS.ProcessEnv = process.env, isTty = Boolean(process.stdout.isTTY)): LogFormat {
  const explicit = env.LOTLINE_LOG_FORMAT?.trim();
  if (explicit === undefined || explicit === "") return isTty ? "pretty" : "json";
  if (explicit !== "pretty" && explicit !== "json") throw new ConfigError(`LOTLINE_LOG_FORMAT must be pretty or json, got "${explicit}"`);
  return explicit;
}

export function createLogger(level: string, format: LogFormat = logFormat(), destination: NodeJS.WritableStream = process.stdout): Logger {
  const options = { level, redact: LOG_REDACT };
  if (format === "json") return pino(options, destination as pino.DestinationStream);
  const stream = pretty({
    destination,
    sync: true,
    colorize: destination === process.stdout && Boolean(process.stdout.isTTY),
    translateTime: "SYS:HH:MM:ss",
    ignore: "pid,hostname,component",
    messageFormat: "{if component}{component}: {end}{msg}",
    singleLine: true,
  });
  return pino(options, stream);
}
