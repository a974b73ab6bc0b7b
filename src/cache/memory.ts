import { LRUCache } from "lru-cache";
import type { Cache } from "./cache.ts";

export interface MemoryCacheOptions {
  /** most entries kept before the least recently used are evicted (default 10 000) */
  maxEntries?: number;
}

function ttlMs(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`cache ttl must be a positive number of seconds, got ${ttlSeconds}`);
  }
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

/** In-process cache (one per process: not shared between replicas). */
export function createMemoryCache(opts: MemoryCacheOptions = {}): Cache {
  const lru = new LRUCache<string, string>({ max: opts.maxEntries ?? 10_000 });
  let closed = false;
  const open = (): void => {
    if (closed) throw new Error("memory cache is closed");
  };

  return {
    driver: "memory",
    async get(key) {
      open();
      return lru.get(key) ?? null;
    },
    async getWithTtl(key) {
      open();
      const value = lru.get(key);
      if (value === undefined) return null;
      const left = lru.getRemainingTTL(key);
      return { value, ttlMs: Number.isFinite(left) ? Math.max(0, left) : null };
    },
    async set(key, value, ttlSeconds) {
      open();
      lru.set(key, value, { ttl: ttlMs(ttlSeconds) });
    },
    async del(key) {
      open();
      lru.delete(key);
    },
    async incr(key) {
      open();
      const current = lru.get(key);
      const next = (current === undefined ? 0 : Number(current)) + 1;
      if ((current !== undefined && !/^-?\d+$/.test(current)) || !Number.isSafeInteger(next)) {
        throw new Error("ERR value is not an integer or out of range");
      }
      // like Redis INCR: a new key never expires; an existing key keeps its remaining ttl
      lru.set(key, String(next), { ttl: 0, noUpdateTTL: current !== undefined });
      return next;
    },
    async ping() {
      open();
    },
    async close() {
      closed = true;
      lru.clear();
    },
  };
}
