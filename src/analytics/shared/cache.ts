/**
 * withCacheText: the one cache path of the analytics reads (answers kept as JSON text).
 *
 * - single flight per key in this process: concurrent callers of the same key share one computation
 *   (a hundred concurrent misses ⇒ one cache look-up and one database query);
 * - TTL with ± 10 % jitter, so answers cached together do not expire together;
 * - the cache is an optimisation, never a dependency: any cache error (or a cache call slower than
 *   CACHE_OP_TIMEOUT_MS) ⇒ the answer comes from the database. The first failure logs one warning and
 *   marks the cache degraded (readiness shows it, check `analytics_cache`); while degraded the cache is
 *   skipped and retried at most every CACHE_RETRY_MS; the first success after that logs the recovery.
 *   So an outage costs one log line, not one per request;
 * - an in-process LRU of answers (by size, `localBytes`) in front of Redis/Upstash: a hit costs no
 *   round trip. Its keys are the same keys, generation included, so it is never staler than the
 *   generation the caller read (see generation.ts for how long a generation is reused), and an answer
 *   taken from Redis/Upstash is kept no longer than its TTL left there;
 * - refresh ahead: a hit on an answer with less than REFRESH_AHEAD_SHARE of its TTL left is answered
 *   at once and starts one recomputation in the background (a miss of the key meanwhile joins it),
 *   which replaces the answer with a full TTL. A key read steadily never expires under its readers, so
 *   they never queue behind a slow query (a funnel takes seconds); a key nobody reads expires as before.
 *   A failed refresh is not retried before the answer expires;
 * - counted in pulse_cache_requests_total{result}: hit (in process or shared), miss, error (the
 *   look-up failed), bypass (skipped while degraded or without a generation), coalesced (joined an
 *   in-flight computation); refreshes ahead in pulse_cache_refresh_ahead_total{result} (ok, error:
 *   logged as a warning; the current answer stays until its TTL).
 */
import { LRUCache } from "lru-cache";
import type { Cache } from "../../cache/cache.ts";
import type { Logger } from "../../logger.ts";
import type { Metrics } from "../../metrics/metrics.ts";

export const CACHE_OP_TIMEOUT_MS = 1_000;
export const CACHE_RETRY_MS = 5_000;
/** a hit with less than this share of the TTL left starts a recomputation in the background */
export const REFRESH_AHEAD_SHARE = 0.2;

interface CacheState {
  degraded: boolean;
  since: Date | null;
  lastError: string | null;
  lastFailureAt: number;
}

const states = new WeakMap<Cache, CacheState>();
const locals = new WeakMap<Cache, LRUCache<string, string>>();

/** the in-process answer cache in front of `cache` (none for the memory driver: it is in process already) */
function localOf(ctx: CacheContext): LRUCache<string, string> | undefined {
  if (!ctx.localBytes || ctx.cache.driver === "memory") return undefined;
  let l = locals.get(ctx.cache);
  if (!l) {
    l = new LRUCache<string, string>({ maxSize: ctx.localBytes, sizeCalculation: (v, k) => v.length + k.length + 64 });
    locals.set(ctx.cache, l);
  }
  return l;
}
/** computations in flight per cache and key: the misses (readers join them), and the refreshes ahead
 * (kept apart: readers keep the current answer meanwhile) */
const flights = new WeakMap<Cache, Map<string, Promise<string>>>();
const refreshes = new WeakMap<Cache, Map<string, Promise<string>>>();
/** per cache: keys whose refresh ahead failed lately (each kept for a fifth of its TTL: no retry meanwhile) */
const refreshFailed = new WeakMap<Cache, LRUCache<string, true>>();

const noFlights = () => new Map<string, Promise<string>>();

/** the state kept for `cache` in `maps`, made on first use */
function perCache<S extends object>(maps: WeakMap<Cache, S>, cache: Cache, make: () => S): S {
  let m = maps.get(cache);
  if (!m) {
    m = make();
    maps.set(cache, m);
  }
  return m;
}

/** run `work` as the one flight of `key` in `inflight`, removed from it once settled */
function fly(inflight: Map<string, Promise<string>>, key: string, work: () => Promise<string>): Promise<string> {
  const flight = work();
  inflight.set(key, flight);
  const done = () => {
    if (inflight.get(key) === flight) inflight.delete(key);
  };
  flight.then(done, done);
  return flight;
}

/**
 * Compute and store afresh in the background, unless a refresh of `key` is running or failed within
 * the last REFRESH_AHEAD_SHARE of the TTL (then the answer simply expires: no retry on every hit).
 */
function refreshAhead(
  ctx: CacheContext,
  local: LRUCache<string, string> | undefined,
  key: string,
  ttlSeconds: number,
  compute: () => Promise<string>,
): void {
  const inRefresh = perCache(refreshes, ctx.cache, noFlights);
  const failed = perCache(refreshFailed, ctx.cache, () => new LRUCache<string, true>({ max: 10_000 }));
  if (inRefresh.has(key) || failed.has(key)) return;
  fly(inRefresh, key, async () => {
    const text = await compute();
    const ttl = jitteredTtl(ttlSeconds);
    local?.set(key, text, { ttl: ttl * 1000 });
    if (cacheUsable(ctx.cache)) await guarded(ctx, () => ctx.cache.set(key, text, ttl));
    return text;
  }).then(
    () => ctx.metrics.cacheRefreshAhead.inc({ result: "ok" }),
    (err: unknown) => {
      failed.set(key, true, { ttl: ttlSeconds * 1000 * REFRESH_AHEAD_SHARE });
      ctx.metrics.cacheRefreshAhead.inc({ result: "error" });
      ctx.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        "analytics answer refresh ahead failed: the cached answer stays until its TTL",
      );
    },
  );
}

/** whether an answer with `leftMs` of its TTL left is due for a refresh ahead */
function nearExpiry(leftMs: number | null, ttlSeconds: number): boolean {
  return leftMs !== null && leftMs < ttlSeconds * 1000 * REFRESH_AHEAD_SHARE;
}

function state(cache: Cache): CacheState {
  let s = states.get(cache);
  if (!s) {
    s = { degraded: false, since: null, lastError: null, lastFailureAt: 0 };
    states.set(cache, s);
  }
  return s;
}

export interface AnalyticsCacheStatus {
  degraded: boolean;
  since: string | null;
  last_error: string | null;
}

/** whether analytics reads currently bypass the cache because it failed (for readiness) */
export function analyticsCacheStatus(cache: Cache): AnalyticsCacheStatus {
  const s = state(cache);
  return { degraded: s.degraded, since: s.since?.toISOString() ?? null, last_error: s.lastError };
}

/** record a cache failure; logs only on the transition to degraded */
export function cacheFailed(cache: Cache, err: unknown, logger?: Logger, metrics?: Metrics): void {
  const s = state(cache);
  s.lastFailureAt = Date.now();
  s.lastError = err instanceof Error ? err.message : String(err);
  if (!s.degraded) {
    s.degraded = true;
    s.since = new Date();
    logger?.warn(
      { cache_driver: cache.driver, err: s.lastError },
      "analytics cache unavailable: answering from the database until it recovers",
    );
  }
  metrics?.cacheDegraded.set(1);
}

/** record a cache success; logs only on the transition back from degraded */
export function cacheSucceeded(cache: Cache, logger?: Logger, metrics?: Metrics): void {
  const s = state(cache);
  if (s.degraded) {
    logger?.info({ cache_driver: cache.driver, degraded_since: s.since?.toISOString() }, "analytics cache recovered");
    s.degraded = false;
    s.since = null;
    s.lastError = null;
  }
  metrics?.cacheDegraded.set(0);
}

/**
 * false while degraded, except once per CACHE_RETRY_MS (that call probes the cache); a cache behind a
 * circuit breaker (src/cache/circuit.ts) is usable exactly while its circuit is closed (it probes)
 */
export function cacheUsable(cache: Cache): boolean {
  if (cache.circuit) return cache.circuit().state === "closed";
  const s = state(cache);
  if (!s.degraded) return true;
  if (Date.now() - s.lastFailureAt < CACHE_RETRY_MS) return false;
  s.lastFailureAt = Date.now(); // one prober per interval
  return true;
}

/** a cache call under the operation timeout, with failure bookkeeping; undefined when it failed */
export async function guarded<T>(ctx: CacheContext, op: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
  try {
    const value = await withTimeout(op(), CACHE_OP_TIMEOUT_MS);
    cacheSucceeded(ctx.cache, ctx.logger, ctx.metrics);
    return { ok: true, value };
  } catch (err) {
    cacheFailed(ctx.cache, err, ctx.logger, ctx.metrics);
    return { ok: false };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`cache call timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** ttl × a uniform factor in [0.9, 1.1) */
export function jitteredTtl(ttlSeconds: number, random: () => number = Math.random): number {
  return ttlSeconds * (0.9 + 0.2 * random());
}

export interface CacheContext {
  cache: Cache;
  logger: Logger;
  metrics: Metrics;
  /** size of the in-process answer cache in bytes; 0 or absent ⇒ none */
  localBytes?: number;
}

/**
 * The JSON text under `key` in the shared cache, or undefined (absent, or the cache failed or is
 * degraded): a look-up that stores nothing and joins no flight (a bulk reader's page, see read.ts).
 */
export async function lookupText(ctx: CacheContext, key: string): Promise<string | undefined> {
  if (!cacheUsable(ctx.cache)) {
    ctx.metrics.cacheRequests.inc({ result: "bypass" });
    return undefined;
  }
  const got = await guarded(ctx, () => ctx.cache.get(key));
  const hit = got.ok && got.value !== null;
  ctx.metrics.cacheRequests.inc({ result: hit ? "hit" : got.ok ? "miss" : "error" });
  return hit ? (got.value as string) : undefined;
}

/**
 * The JSON text under `key`, or compute()'s text stored under it for ttlSeconds (± 10 %). A hit is
 * returned as stored, with no parse and no serialisation (what an HTTP answer needs).
 * `store: false` skips the cache look-up and store (e.g. the generation could not be read) but keeps
 * the single flight. Errors of compute() are not cached and reach every caller sharing the flight.
 */
export function withCacheText(
  ctx: CacheContext,
  key: string,
  ttlSeconds: number,
  compute: () => Promise<string>,
  opts: { store?: boolean } = {},
): Promise<string> {
  const local = opts.store !== false ? localOf(ctx) : undefined;
  const near = local?.get(key);
  if (near !== undefined) {
    ctx.metrics.cacheRequests.inc({ result: "hit" });
    if (nearExpiry(local!.getRemainingTTL(key), ttlSeconds)) refreshAhead(ctx, local, key, ttlSeconds, compute);
    return Promise.resolve(near);
  }
  const inflight = perCache(flights, ctx.cache, noFlights);
  const existing = inflight.get(key);
  if (existing) {
    ctx.metrics.cacheRequests.inc({ result: "coalesced" });
    return existing;
  }
  return fly(inflight, key, async () => {
    let store = opts.store !== false && cacheUsable(ctx.cache);
    if (store) {
      const got = await guarded(ctx, () => ctx.cache.getWithTtl(key));
      if (got.ok && got.value !== null) {
        ctx.metrics.cacheRequests.inc({ result: "hit" });
        const { value, ttlMs } = got.value;
        // kept in process no longer than it lives in the shared cache
        const localMs = Math.min(jitteredTtl(ttlSeconds) * 1000, ttlMs ?? Number.POSITIVE_INFINITY);
        if (localMs >= 1) local?.set(key, value, { ttl: localMs });
        if (nearExpiry(ttlMs, ttlSeconds)) refreshAhead(ctx, local, key, ttlSeconds, compute);
        return value;
      }
      store = got.ok;
      ctx.metrics.cacheRequests.inc({ result: got.ok ? "miss" : "error" });
      // expired while a refresh ahead was computing it: that computation is the answer
      const refreshing = refreshes.get(ctx.cache)?.get(key);
      if (refreshing) return refreshing;
    } else {
      ctx.metrics.cacheRequests.inc({ result: "bypass" });
    }
    const text = await compute();
    if (store) {
      const ttl = jitteredTtl(ttlSeconds);
      local?.set(key, text, { ttl: ttl * 1000 });
      await guarded(ctx, () => ctx.cache.set(key, text, ttl));
    }
    return text;
  });
}
