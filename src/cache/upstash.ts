/** Upstash Redis over REST (fetch only: runs on Bun, Deno and edge runtimes). */
import { Redis } from "@upstash/redis";
import type { Cache } from "./cache.ts";

export interface UpstashCacheOptions {
  url: string;
  token: string;
  /** abort one REST call after this many ms (default 5000) */
  requestTimeoutMs?: number;
}

function ttlMs(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`cache ttl must be a positive number of seconds, got ${ttlSeconds}`);
  }
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

export function createUpstashCache(opts: UpstashCacheOptions): Cache {
  const timeoutMs = opts.requestTimeoutMs ?? 5000;
  const redis = new Redis({
    url: opts.url,
    token: opts.token,
    // values are opaque strings: no JSON.parse on the way back
    automaticDeserialization: false,
    // the client's default is 5 retries with exp backoff (~7.4 s of waiting on a dead endpoint)
    retry: { retries: 1, backoff: () => 100 },
    // a function (not a fixed signal) so every request gets a fresh timeout, and an abort rejects;
    // a plain AbortSignal would make the client turn the abort into a fake 200 "Aborted" result
    signal: () => AbortSignal.timeout(timeoutMs),
    enableTelemetry: false,
  });
  let closed = false;
  const open = (): void => {
    if (closed) throw new Error("upstash cache is closed");
  };

  return {
    driver: "upstash",
    async get(key) {
      open();
      const v = await redis.get<string>(key);
      return v ?? null;
    },
    async getWithTtl(key) {
      open();
      // one REST call for both
      const [value, pttl] = await redis.pipeline().get<string>(key).pttl(key).exec<[string | null, number]>();
      if (value === null || value === undefined) return null;
      return { value, ttlMs: pttl === -1 ? null : Math.max(0, pttl) };
    },
    async set(key, value, ttlSeconds) {
      open();
      await redis.set(key, value, { px: ttlMs(ttlSeconds) });
    },
    async del(key) {
      open();
      await redis.del(key);
    },
    async incr(key) {
      open();
      return await redis.incr(key);
    },
    async ping() {
      open();
      const reply = await redis.ping();
      if (reply !== "PONG") throw new Error(`upstash cache: unexpected PING reply ${String(reply)}`);
    },
    async close() {
      closed = true; // stateless HTTP client: nothing to release
    },
  };
}
