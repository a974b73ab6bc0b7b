/**
 * Redis driver over Bun's built-in RedisClient. Bun-only: import it dynamically (see index.ts).
 *
 * Bun's client behaviour that shapes this wrapper (Bun 1.4):
 * - with the defaults (autoReconnect, maxRetries 20, offline queue) a command against an
 *   unreachable server stays pending for ~30 s before rejecting;
 * - once its reconnection attempts are used up the client is permanently failed
 *   ("Connection has failed") until `connect()` is called again, even after Redis is back.
 * So: few quick retries, reconnect on demand before a command, and every call raced with a timeout.
 */
import { RedisClient } from "bun";
import type { Cache } from "./cache.ts";

export interface RedisCacheOptions {
  /** TCP connect timeout in ms (default 1500) */
  connectionTimeoutMs?: number;
  /** upper bound for one cache call, connect included, in ms (default 5000) */
  commandTimeoutMs?: number;
}

function ttlMs(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`cache ttl must be a positive number of seconds, got ${ttlSeconds}`);
  }
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis cache: ${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function createRedisCache(url: string, opts: RedisCacheOptions = {}): Cache {
  const connectionTimeout = opts.connectionTimeoutMs ?? 1500;
  const commandTimeout = opts.commandTimeoutMs ?? 5000;
  const client = new RedisClient(url, {
    connectionTimeout,
    autoReconnect: true,
    maxRetries: 3,
    enableOfflineQueue: true,
    enableAutoPipelining: true,
  });
  let closed = false;
  let connecting: Promise<void> | undefined;

  const ensureConnected = async (): Promise<void> => {
    if (client.connected) return;
    connecting ??= client.connect().finally(() => {
      connecting = undefined;
    });
    await connecting;
  };

  const run = <T>(what: string, op: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new Error("redis cache is closed"));
    return withTimeout(ensureConnected().then(op), commandTimeout, what);
  };

  return {
    driver: "redis",
    get: (key) => run("GET", () => client.get(key)),
    // GET and PTTL leave together (auto-pipelining): one round trip
    getWithTtl: (key) =>
      run("GET+PTTL", async () => {
        const [value, pttl] = await Promise.all([client.get(key), client.pttl(key)]);
        if (value === null) return null;
        // -1: no expiry; -2: expired between the two commands (the value was still current)
        return { value, ttlMs: pttl === -1 ? null : Math.max(0, pttl) };
      }),
    async set(key, value, ttlSeconds) {
      const ms = ttlMs(ttlSeconds);
      await run("SET", () => client.set(key, value, "PX", ms));
    },
    async del(key) {
      await run("DEL", () => client.del(key));
    },
    incr: (key) => run("INCR", () => client.incr(key)),
    async ping() {
      const reply = await run("PING", () => client.ping());
      if (reply !== "PONG") throw new Error(`redis cache: unexpected PING reply ${String(reply)}`);
    },
    async close() {
      if (closed) return;
      closed = true;
      client.close();
    },
  };
}
