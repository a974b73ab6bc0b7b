/**
 * Rate limiting: a fixed 60-second window per budget (read, export, ingest, public) and key.
 *
 * - Upstash REST configured ⇒ `@upstash/ratelimit` over an `@upstash/redis` client;
 * - REDIS_URL ⇒ the same `@upstash/ratelimit` over Bun's RedisClient: the fixed-window limiter only
 *   calls `evalsha` (and `eval` after a NOSCRIPT reply), so a two-method adapter over `send()` runs
 *   the library's own Lua script on the server (tested against a real Redis). Since 2.1 the library's
 *   scripts start with `#!lua flags=allow-key-locking`, an Upstash-only locking hint that Redis and
 *   Valkey refuse ("Unexpected flag in script shebang"); the adapter drops that flag (Redis then
 *   locks as it always does) and maps the library's script hash to the hash of what it sent;
 * - otherwise in process memory with rate-limiter-flexible's memory limiter, also a fixed window (per
 *   replica: N replicas allow N × the budget).
 *
 * Keys are hashed (a token subject may be an email, an IP is personal data): Redis never holds them
 * in clear. When the backend fails or is slower than 1 s the request is let through (fail open: rate
 * limiting protects capacity, it is not an access control) and counted as `error`.
 */
import { createHash } from "node:crypto";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis as UpstashRedis } from "@upstash/redis";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { Budget } from "./roles.ts";

export const RATE_WINDOW_MS = 60_000;
/** how long a failed backend is left alone (requests pass meanwhile) */
export const BACKEND_PAUSE_MS = 5_000;

export interface RateDecision {
  success: boolean;
  limit: number;
  remaining: number;
  /** when the window ends (epoch ms) */
  reset: number;
}

export type RateLimitDriver = "memory" | "redis" | "upstash" | "off";

export interface RateLimiter {
  readonly driver: RateLimitDriver;
  /** spend one unit of `budget` for `key`; never throws (a backend failure lets the request through) */
  limit(budget: Budget, key: string): Promise<RateDecision | undefined>;
  close(): Promise<void>;
}

/** the part of a Redis client @upstash/ratelimit's fixed window uses */
export interface EvalClient {
  evalsha(sha: string, keys: string[], args: unknown[]): Promise<unknown>;
  eval(script: string, keys: string[], args: unknown[]): Promise<unknown>;
}

export function budgetsFrom(config: Config): Record<Budget, number> {
  const r = config.security.rateLimit;
  return { read: r.readPerMin, export: r.exportPerMin, ingest: r.ingestPerMin, public: r.publicPerMin };
}

/** a stable, non-reversible key: the subject or IP never reaches the backend in clear */
export function hashKey(parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("base64url").slice(0, 32);
}

interface Deps {
  logger?: Logger;
  metrics?: Metrics;
  /** how long a failed backend is left alone before the next background probe (default BACKEND_PAUSE_MS) */
  pauseMs?: number;
}

function guarded(
  driver: RateLimitDriver,
  check: (budget: Budget, key: string) => Promise<RateDecision>,
  close: () => Promise<void>,
  d: Deps,
): RateLimiter {
  let lastWarn = 0;
  // after a backend failure, let requests through without asking it: every pause (BACKEND_PAUSE_MS) one
  // request's check runs in the background as a probe (that request passes at once too), and its
  // success ends the pause. So a dead Redis costs no request a wait (measured before: ~355 ms for
  // every request in flight when a pause ended), only one probe per pause
  let failing = false;
  let pausedUntil = 0;
  let probing = false;
  const failed = (err: unknown): void => {
    failing = true;
    pausedUntil = Date.now() + (d.pauseMs ?? BACKEND_PAUSE_MS);
    if (Date.now() - lastWarn > 10_000) {
      lastWarn = Date.now();
      d.logger?.warn({ err, driver }, "rate limiter backend failed: letting requests through");
    }
  };
  return {
    driver,
    async limit(budget, key) {
      if (failing) {
        d.metrics?.rateLimit.inc({ budget, result: "error" });
        if (!probing && Date.now() >= pausedUntil) {
          probing = true;
          check(budget, key)
            .then(() => {
              failing = false;
            }, failed)
            .finally(() => {
              probing = false;
            });
        }
        return undefined;
      }
      try {
        const decision = await check(budget, key);
        d.metrics?.rateLimit.inc({ budget, result: decision.success ? "allowed" : "limited" });
        return decision;
      } catch (err) {
        d.metrics?.rateLimit.inc({ budget, result: "error" });
        failed(err);
        return undefined;
      }
    },
    close,
  };
}

/** in process: rate-limiter-flexible's memory limiter, a fixed window per key (from its first request) */
export function createMemoryRateLimiter(budgets: Record<Budget, number>, d: Deps = {}, windowMs = RATE_WINDOW_MS): RateLimiter {
  const limiters = new Map<Budget, RateLimiterMemory>();
  for (const budget of Object.keys(budgets) as Budget[]) {
    limiters.set(budget, new RateLimiterMemory({ points: budgets[budget], duration: windowMs / 1000, keyPrefix: budget }));
  }
  return guarded(
    "memory",
    async (budget, key) => {
      const limit = budgets[budget];
      try {
        const r = await limiters.get(budget)!.consume(key);
        return { success: true, limit, remaining: r.remainingPoints, reset: Date.now() + r.msBeforeNext };
      } catch (refused) {
        // the library rejects with its RateLimiterRes when the budget is spent (any other error is a failure)
        if (refused instanceof RateLimiterRes) return { success: false, limit, remaining: 0, reset: Date.now() + refused.msBeforeNext };
        throw refused;
      }
    },
    async () => undefined,
    d,
  );
}

/** @upstash/ratelimit (fixed window) over any client with evalsha/eval */
export function createLibraryRateLimiter(
  driver: "redis" | "upstash",
  client: EvalClient | UpstashRedis,
  budgets: Record<Budget, number>,
  d: Deps & { prefix?: string; timeoutMs?: number; close?: () => Promise<void> } = {},
): RateLimiter {
  const limiters = new Map<Budget, Ratelimit>();
  for (const budget of Object.keys(budgets) as Budget[]) {
    limiters.set(
      budget,
      new Ratelimit({
        // the adapter implements exactly what the fixed-window limiter calls (evalsha, eval)
        redis: client as UpstashRedis,
        limiter: Ratelimit.fixedWindow(budgets[budget], `${RATE_WINDOW_MS / 1000} s`),
        prefix: `${d.prefix ?? "pulse:rl"}:${budget}`,
        timeout: d.timeoutMs ?? 1_000,
        analytics: false,
        enableProtection: false,
        enableTelemetry: false,
        ephemeralCache: new Map(),
      }),
    );
  }
  return guarded(
    driver,
    async (budget, key) => {
      const r = await limiters.get(budget)!.limit(key);
      // "timeout": the backend did not answer in time and the library let the request pass
      if (r.reason === "timeout") throw new Error(`rate limiter ${driver} timed out`);
      return { success: r.success, limit: r.limit, remaining: r.remaining, reset: r.reset };
    },
    d.close ?? (async () => undefined),
    d,
  );
}

/** drop shebang flags only Upstash understands; a shebang left with no flag is dropped entirely */
export function portableScript(script: string): string {
  const m = /^#!lua flags=([^\n]*)\n/.exec(script);
  if (!m) return script;
  const flags = m[1]!
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f && f !== "allow-key-locking");
  const body = script.slice(m[0].length);
  return flags.length > 0 ? `#!lua flags=${flags.join(",")}\n${body}` : body;
}

const sha1 = (s: string) => createHash("sha1").update(s, "utf8").digest("hex");

/** evalsha/eval over Bun's RedisClient `send()` (Bun only: "bun" is imported on first use) */
export function createBunRedisEvalClient(url: string, opts: { commandTimeoutMs?: number } = {}): EvalClient & { close(): void } {
  type Client = InstanceType<typeof import("bun").RedisClient>;
  const timeoutMs = opts.commandTimeoutMs ?? 2_000;
  let client: Promise<Client> | undefined;
  let closed = false;
  const connected = async (): Promise<Client> => {
    client ??= import("bun").then(
      ({ RedisClient }) => new RedisClient(url, { connectionTimeout: 1_500, autoReconnect: true, maxRetries: 3, enableOfflineQueue: true }),
    );
    const c = await client;
    if (!c.connected) await c.connect();
    return c;
  };
  const run = async (cmd: string, head: string, keys: string[], args: unknown[]) => {
    if (closed) throw new Error("rate limiter redis client is closed");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis ${cmd} timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    const argv = [head, String(keys.length), ...keys, ...args.map((a) => (a === null || a === undefined ? "" : String(a)))];
    try {
      return await Promise.race([connected().then((c) => c.send(cmd, argv)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  // the library's hash of a script → the hash of the portable script Redis actually holds
  const hashes = new Map<string, string>();
  return {
    evalsha: (sha, keys, args) => run("EVALSHA", hashes.get(sha) ?? sha, keys, args),
    eval: (script, keys, args) => {
      const sent = portableScript(script);
      if (sent !== script) hashes.set(sha1(script), sha1(sent));
      return run("EVAL", sent, keys, args);
    },
    close() {
      closed = true;
      void client?.then((c) => c.close());
    },
  };
}

/** the limiter for a configuration: upstash, else redis, else memory; "off" when disabled */
export function createRateLimiter(config: Config, d: Deps = {}): RateLimiter {
  const budgets = budgetsFrom(config);
  if (!config.security.rateLimit.enabled) {
    return { driver: "off", limit: async () => undefined, close: async () => undefined };
  }
  if (config.cache.upstash) {
    const redis = new UpstashRedis({
      url: config.cache.upstash.url,
      token: config.cache.upstash.token,
      retry: { retries: 1, backoff: () => 100 },
      signal: () => AbortSignal.timeout(2_000),
      enableTelemetry: false,
    });
    return createLibraryRateLimiter("upstash", redis, budgets, d);
  }
  if (config.cache.redisUrl) {
    const client = createBunRedisEvalClient(config.cache.redisUrl);
    return createLibraryRateLimiter("redis", client, budgets, { ...d, close: async () => client.close() });
  }
  return createMemoryRateLimiter(budgets, d);
}
