import type { Cache } from "./cache.ts";
import { createMemoryCache } from "./memory.ts";
import { createUpstashCache } from "./upstash.ts";

export type { Cache, CacheDriverName } from "./cache.ts";

export interface CacheConfig {
  /** a redis:// or rediss:// URL: Bun's RedisClient (Bun only) */
  redisUrl?: string;
  /** Upstash REST settings: preferred when present (works on every runtime) */
  upstash?: { url: string; token: string };
}

/** upstash when configured, else redis when a URL is given, else in-process memory */
export async function createCache(cfg: CacheConfig = {}): Promise<Cache> {
  if (cfg.upstash) return createUpstashCache(cfg.upstash);
  if (cfg.redisUrl) {
    // dynamic so that non-Bun runtimes (Deno) never load the Bun-only module
    const { createRedisCache } = await import("./redis.ts");
    return createRedisCache(cfg.redisUrl);
  }
  return createMemoryCache();
}
