import pino, { type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";

export type { Logger };

/** Paths that must never reach a log line (tokens, contact data, network identity). */
export const REDACT_PATHS = [
  "authorization",
  "token",
  "password",
  "secret",
  "email",
  "ip",
  "user_agent",
  "customer_name",
  "name",
  "*.authorization",
  "*.token",
  "*.password",
  "*.secret",
  "*.email",
  "*.ip",
  "*.user_agent",
  "*.customer_name",
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "headers.cookie",
];

export interface LoggerOptions {
  level: string;
  format: "json" | "pretty";
  /** where lines go; stdout by default (tests pass a capturing stream) */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const base = {
    level: opts.level,
    base: { service: "pulse" },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (opts.destination) return pino(base, opts.destination);
  if (opts.format === "pretty") {
    return pino(base, pretty({ colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,service" }));
  }
  return pino(base);
}

/** log a fatal start-up error as one JSON line (before the configured logger exists) */
export function fatalLine(fields: Record<string, unknown>, message: string): void {
  createLogger({ level: "fatal", format: "json" }).fatal(fields, message);
}
