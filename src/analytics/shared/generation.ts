/**
 * Per-tenant data generations: the invalidation scheme of the analytics cache.
 *
 * Keys:
 *   pulse:gen:{tenant}                                           the tenant's generation (INCR; no TTL)
 *   pulse:a:{tenant}:{generation}:{operationId}:{sha256(params)}  a cached answer (TTL ± 10 % jitter)
 * A missing generation reads as "0". Bumping the generation (INCR) makes every cached answer of the
 * tenant unreachable at once (they expire by TTL); nothing has to be found and deleted.
 *
 * Who bumps: whatever changes a tenant's data, right AFTER its transaction commits: the ingest
 * pipeline (`onCommitted` in src/deps.ts), the on-demand customer score refresh, price changes. (A
 * scheduled score refresh runs inside the database and bumps nothing: its answers show within the TTL.)
 *
 * Read-after-write bound: once bumpGeneration has resolved, every read in this process computes afresh
 * from the database, and every read in another replica sharing the Redis/Upstash cache does so within
 * ANALYTICS_GENERATION_REUSE_MS (default 1 s: a replica reuses a generation it read that long, which
 * lets a cache hit be served from the in-process answer cache without a round trip to Redis).
 * What the database then shows: events newer than an aggregate's materialisation watermark at once (real-time aggregation); a late event older
 * than the watermark after the next refresh of each level (≤ 5 + 10 + 30 minutes, see
 * sql/repeatable/030_analytics_policies.sql). Exceptions, bounded by the TTL (ANALYTICS_CACHE_TTL_SECONDS
 * + 10 %): a bump that failed because the cache was down (logged), and the in-process memory cache,
 * which is per process (a write through another process is not seen before the TTL).
 * Redis must not evict the generation keys: use maxmemory-policy noeviction or volatile-* (answers
 * carry a TTL, generations do not).
 */
import type { Cache } from "../../cache/cache.ts";
import type { Logger } from "../../logger.ts";
import { cacheFailed, cacheSucceeded } from "./cache.ts";

export const ANSWER_PREFIX = "pulse:a";
export const GENERATION_PREFIX = "pulse:gen";

export function generationKey(tenantId: string): string {
  return `${GENERATION_PREFIX}:${tenantId}`;
}

export function answerKey(tenantId: string, generation: string, operationId: string, paramsHash: string): string {
  return `${ANSWER_PREFIX}:${tenantId}:${generation}:${operationId}:${paramsHash}`;
}

/** the tenant's current generation ("0" when never bumped), from the cache itself; rejects when the cache does */
export async function readGeneration(cache: Cache, tenantId: string): Promise<string> {
  return (await cache.get(generationKey(tenantId))) ?? "0";
}

/** generations this process read or set, per cache, with when (ms) */
const seen = new WeakMap<Cache, Map<string, { value: string; at: number }>>();

function seenOf(cache: Cache): Map<string, { value: string; at: number }> {
  let m = seen.get(cache);
  if (!m) {
    m = new Map();
    seen.set(cache, m);
  }
  return m;
}

/**
 * The tenant's generation, reusing one this process read (or bumped) less than `reuseMs` ago. A bump
 * through this process is seen at once; a bump through another replica within `reuseMs`
 * (ANALYTICS_GENERATION_REUSE_MS): that is the cross-replica read-after-write bound. Rejects when
 * the cache does.
 */
export async function currentGeneration(cache: Cache, tenantId: string, reuseMs: number): Promise<string> {
  const reused = reusedGeneration(cache, tenantId, reuseMs);
  if (reused !== undefined) return reused;
  const m = seenOf(cache);
  const now = Date.now();
  const value = await readGeneration(cache, tenantId);
  if (reuseMs > 0) {
    if (m.size >= 100_000) m.clear(); // bounded: a reuse window is short, re-reading is cheap
    m.set(tenantId, { value, at: now });
  }
  return value;
}

/** the generation this process read or bumped less than `reuseMs` ago, or undefined (no cache call) */
export function reusedGeneration(cache: Cache, tenantId: string, reuseMs: number): string | undefined {
  const known = seenOf(cache).get(tenantId);
  return known && Date.now() - known.at < reuseMs ? known.value : undefined;
}

/**
 * Bump the generation of each tenant (duplicates ignored). Never rejects: a cache failure is logged
 * (once per outage) and marks the cache degraded; answers then stay reachable until their TTL.
 * Resolves to true when every tenant was bumped.
 */
export async function bumpGeneration(cache: Cache, tenantIds: string[], opts: { logger?: Logger } = {}): Promise<boolean> {
  const unique = [...new Set(tenantIds)];
  const results = await Promise.allSettled(unique.map((t) => cache.incr(generationKey(t))));
  // this process sees its own writes at once: the new generation, or (failed) none remembered
  const m = seenOf(cache);
  const now = Date.now();
  results.forEach((r, i) => {
    if (r.status === "fulfilled") m.set(unique[i]!, { value: String(r.value), at: now });
    else m.delete(unique[i]!);
  });
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    cacheFailed(cache, failed.reason, opts.logger);
    return false;
  }
  if (unique.length > 0) cacheSucceeded(cache, opts.logger);
  return true;
}
