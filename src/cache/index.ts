import type { Logger } from "../logger.ts";
import type { Cache } from "./cache.ts";
import { withCircuit } from "./circuit.ts";
import { createMemoryCache } from "./memory.ts";
import { createUpstashCache } from "./upstash.ts";

export type { Cache, CacheDriverName, CircuitStatus } from "./cache.ts";

export interface CacheConfig {
  /** a redis:// or rediss:// URL: Bun's RedisClient (Bun only) */
  redisUrl?: string;
  /** Upstash REST settings: preferred when present (works on every runtime) */
  upstash?: { url: string; token: string };
  /** logs the shared cache's circuit transitions (open, closed) */
  logger?: Logger;
  /** how often an open circuit probes the shared cache (default 1000 ms; circuit.ts) */
  probeIntervalMs?: number;
}

/**
 * upstash when configured, else redis when a URL is given, else in-process memory. The shared
 * drivers sit behind a circuit breaker (circuit.ts): while the backend is down, calls fail at once.
 */
export async function createCache(cfg: CacheConfig = {}): Promise<Cache> {
  const circuit = { logger: cfg.logger, probeIntervalMs: cfg.probeIntervalMs };
  if (cfg.upstash) return withCircuit(createUpstashCache(cfg.upstash), circuit);
  if (cfg.redisUrl) {
    // dynamic so that non-Bun runtimes (Deno) never load the Bun-only module
    const { createRedisCache } = await import("./redis.ts");
    return withCircuit(createRedisCache(cfg.redisUrl), circuit);
  }
  return createMemoryCache();
}
