import { AsyncLocalStorage } from "node:async_hooks";
import pino, { type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";

export type { Logger };

/** keys whose values must never reach a log line, wherever they sit (up to four levels deep) */
const SECRET_KEYS = [
  "authorization",
  "cookie",
  "token",
  "access_token",
  "refresh_token",
  "api_key",
  "password",
  "secret",
  "email",
  "ip",
  "user_agent",
  "ua",
  "customer_name",
  "full_name",
];
const DEPTHS = ["", "*.", "*.*.", "*.*.*."];

/** Paths that must never reach a log line (tokens, contact data, network identity, people's names). */
export const REDACT_PATHS = [
  ...SECRET_KEYS.flatMap((k) => DEPTHS.map((d) => `${d}${k}`)),
  // a person's name: top level, and the `name` of an event's data (customer.registered); item names
  // elsewhere and `err.name` stay readable
  "name",
  ...DEPTHS.slice(0, 3).map((d) => `${d}data.name`),
];

/**
 * Fields every line logged inside the current async context carries (the request id): set once per
 * request with logContext.run(...), instead of a child logger per request (pino builds its redaction
 * for every child: ~18 µs a request).
 */
export const logContext = new AsyncLocalStorage<Record<string, unknown>>();
const EMPTY = {};

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
    mixin: () => logContext.getStore() ?? EMPTY,
    // pino's default merge is Object.assign(mixinObject, lineFields): it writes every line's fields
    // into the object the mixin returned, the shared EMPTY or the request's context, so each later
    // line carried the fields of every earlier one (found by the fault suite's logs). A new object:
    mixinMergeStrategy: (lineFields: object, mixinObject: object) => ({ ...mixinObject, ...lineFields }),
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
