/**
 * The in-process layer of the analytics cache, with Redis shared by two "replicas" (two cache clients,
 * each with its own in-process state, as two processes would have).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type CacheContext, REFRESH_AHEAD_SHARE, withCacheText } from "../../../src/analytics/shared/cache.ts";
import { bumpGeneration } from "../../../src/analytics/shared/generation.ts";
import { normaliseParams } from "../../../src/analytics/shared/params.ts";
import { Hono } from "hono";
import { analyticsRead, derivedAnswer, type ReadContext, readContext, sendAnswer } from "../../../src/analytics/shared/read.ts";
import type { AppEnv } from "../../../src/http/env.ts";
import type { Cache } from "../../../src/cache/cache.ts";
import { createCache } from "../../../src/cache/index.ts";
import type { Deps } from "../../../src/deps.ts";
import { createMetrics, type Metrics } from "../../../src/metrics/metrics.ts";
import { getTestDeps, testConfig } from "../../helpers/deps.ts";

const REDIS = "redis://127.0.0.1:6379";
let deps: Deps;
const opened: Cache[] = [];

beforeAll(async () => {
  deps = await getTestDeps();
});
afterAll(async () => {
  for (const c of opened) await c.close();
});

/** a replica: its own Redis client (so its own in-process answers and generations), counting GETs */
async function replica(tenantId: string, reuseMs: number) {
  const redis = await createCache({ redisUrl: REDIS });
  opened.push(redis);
  const gets: string[] = [];
  const cache: Cache = {
    driver: redis.driver,
    get: (k) => {
      gets.push(k);
      return redis.get(k);
    },
    getWithTtl: (k) => {
      gets.push(k);
      return redis.getWithTtl(k);
    },
    set: (k, v, ttl) => redis.set(k, v, ttl),
    del: (k) => redis.del(k),
    incr: (k) => redis.incr(k),
    ping: () => redis.ping(),
    close: () => redis.close(),
  };
  const config = testConfig({ REDIS_URL: REDIS, ANALYTICS_GENERATION_REUSE_MS: String(reuseMs) });
  const ctx: ReadContext = { deps: { ...deps, cache, config }, tenantId, logger: deps.logger };
  return { cache, ctx, gets };
}

/** an analytics read whose answer says how many times it was computed */
function counter() {
  let computed = 0;
  return (ctx: ReadContext) =>
    analyticsRead(ctx, "testLocalCache", normaliseParams({ probe: "local" }), async (tx) => {
      await tx`select 1`;
      computed += 1;
      return computed;
    });
}

describe("analytics cache in process", () => {
  test("a repeated read is answered in process: no round trip to Redis for the answer, nor for the generation within the reuse window", async () => {
    const t = crypto.randomUUID();
    const a = await replica(t, 60_000);
    const read = counter();
    const first = await read(a.ctx);
    // the miss: one GET of the generation, one of the answer
    expect(a.gets.map((k) => k.split(":").slice(0, 2).join(":"))).toEqual(["pulse:gen", "pulse:a"]);
    const second = await read(a.ctx);
    expect(second).toEqual(first);
    expect(a.gets).toHaveLength(2);
  });

  test("a bulk reader (an export's pages) takes what Redis holds but stores nothing, there or in process: each of its misses is computed again", async () => {
    const t = crypto.randomUUID();
    const a = await replica(t, 60_000);
    const read = counter();
    const bulk: ReadContext = { ...a.ctx, bulk: true };
    const prefixes = () => a.gets.map((k) => k.split(":").slice(0, 2).join(":"));
    expect((await read(bulk)).data).toBe(1);
    expect(prefixes()).toEqual(["pulse:gen", "pulse:a"]);
    // not stored in Redis: the next bulk read misses and computes again
    expect((await read(bulk)).data).toBe(2);
    expect(prefixes()).toEqual(["pulse:gen", "pulse:a", "pulse:a"]);
    // an ordinary reader misses too (nothing was stored), computes and stores
    expect((await read(a.ctx)).data).toBe(3);
    expect(a.gets).toHaveLength(4);
    // a bulk reader now takes that answer from Redis (as_of and all), an ordinary one from its process
    const stored = await read(bulk);
    expect(stored.data).toBe(3);
    expect(a.gets).toHaveLength(5);
    expect(await read(a.ctx)).toEqual(stored);
    expect(a.gets).toHaveLength(5);
  });

  test("a write through another replica is seen here once ANALYTICS_GENERATION_REUSE_MS has passed, and a write through this one at once", async () => {
    const t = crypto.randomUUID();
    const a = await replica(t, 300);
    const b = await replica(t, 300);
    const read = counter();
    expect((await read(a.ctx)).data).toBe(1);
    await bumpGeneration(b.cache, [t]);
    await Bun.sleep(350);
    expect((await read(a.ctx)).data).toBe(2);
    await bumpGeneration(a.cache, [t]);
    expect((await read(a.ctx)).data).toBe(3);
  });

  test("with ANALYTICS_GENERATION_REUSE_MS=0 a write through another replica is seen at once", async () => {
    const t = crypto.randomUUID();
    const a = await replica(t, 0);
    const b = await replica(t, 0);
    const read = counter();
    expect((await read(a.ctx)).data).toBe(1);
    expect((await read(a.ctx)).data).toBe(1);
    await bumpGeneration(b.cache, [t]);
    expect((await read(a.ctx)).data).toBe(2);
  });

  test("replicas share answers through Redis: what one computed, another reads without computing", async () => {
    const t = crypto.randomUUID();
    const a = await replica(t, 1_000);
    const b = await replica(t, 1_000);
    const read = counter();
    const fromA = await read(a.ctx);
    const fromB = await read(b.ctx);
    expect(fromB).toEqual(fromA);
    expect(fromB.data).toBe(1);
  });
});

describe("answer lifetime: refresh ahead, and the in-process copy bounded by the shared TTL", () => {
  const LOCAL_BYTES = 1_000_000;
  const ctxFor = async (driver: "redis" | "memory"): Promise<CacheContext & { metrics: Metrics }> => {
    const cache = await createCache(driver === "redis" ? { redisUrl: REDIS } : {});
    opened.push(cache);
    return { cache, logger: deps.logger, metrics: createMetrics(), localBytes: LOCAL_BYTES };
  };
  const refreshes = async (m: Metrics, result: string) =>
    (await m.cacheRefreshAhead.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

  test.each(["redis", "memory"] as const)(
    "%s: a key read steadily is recomputed in the background before its TTL: no read waits for the slow query, and the answer is replaced",
    async (driver) => {
      const ctx = await ctxFor(driver);
      const key = `pulse:test:refresh:${crypto.randomUUID()}`;
      const TTL_S = 4; // ± 10 %: refresh ahead from 0.8 s before expiry (REFRESH_AHEAD_SHARE 0.2)
      const COMPUTE_MS = 400;
      expect(REFRESH_AHEAD_SHARE * TTL_S * 1000).toBeGreaterThan(COMPUTE_MS);
      let computed = 0;
      const compute = async () => {
        await Bun.sleep(COMPUTE_MS);
        computed += 1;
        return `answer ${computed}`;
      };
      expect(await withCacheText(ctx, key, TTL_S, compute)).toBe("answer 1");
      const seen = new Set<string>();
      const slow: number[] = [];
      const until = Date.now() + TTL_S * 1.1 * 1000 + 800; // past the longest first TTL
      while (Date.now() < until) {
        const t0 = performance.now();
        seen.add(await withCacheText(ctx, key, TTL_S, compute));
        const ms = performance.now() - t0;
        if (ms >= COMPUTE_MS * 0.75) slow.push(Math.round(ms));
        await Bun.sleep(50);
      }
      expect(slow).toEqual([]); // no read waited for a computation
      expect(computed).toBe(2); // one refresh: single flight, and the new answer has a full TTL again
      expect([...seen]).toEqual(["answer 1", "answer 2"]);
      expect(await refreshes(ctx.metrics, "ok")).toBe(1);
    },
    15_000,
  );

  test("a key nobody reads near its end is not refreshed: it expires and the next read computes", async () => {
    const ctx = await ctxFor("redis");
    const key = `pulse:test:refresh:${crypto.randomUUID()}`;
    let computed = 0;
    const compute = async () => `answer ${++computed}`;
    expect(await withCacheText(ctx, key, 1, compute)).toBe("answer 1");
    expect(await withCacheText(ctx, key, 1, compute)).toBe("answer 1"); // a hit with most of its TTL left
    await Bun.sleep(1_300);
    expect(computed).toBe(1);
    expect(await withCacheText(ctx, key, 1, compute)).toBe("answer 2");
    expect(await refreshes(ctx.metrics, "ok")).toBe(0);
  });

  test("an answer read from Redis is kept in process no longer than its TTL left in Redis", async () => {
    const ctx = await ctxFor("redis");
    const key = `pulse:test:bounded:${crypto.randomUUID()}`;
    await ctx.cache.set(key, "computed elsewhere", 1); // another replica's answer, 1 s left
    let computed = 0;
    const compute = async () => `computed here ${++computed}`;
    // the answer's TTL is 60 s, but this copy has about 1 s left in Redis
    expect(await withCacheText(ctx, key, 60, compute)).toBe("computed elsewhere");
    await Bun.sleep(1_300);
    expect(await withCacheText(ctx, key, 60, compute)).toBe("computed here 1");
  });

  test("a failed refresh keeps the cached answer until its TTL, is tried once (not on every later hit), logs a warning and counts an error", async () => {
    const ctx = await ctxFor("redis");
    const key = `pulse:test:refresh:${crypto.randomUUID()}`;
    let calls = 0;
    const compute = async () => {
      calls += 1;
      if (calls > 1) throw new Error("database on fire");
      return "first";
    };
    expect(await withCacheText(ctx, key, 1, compute)).toBe("first");
    // read every 20 ms: hits, one failed refresh in the last fifth of the TTL, then the miss once it expired
    const results: string[] = [];
    const until = Date.now() + 1_500;
    while (Date.now() < until) {
      try {
        results.push(await withCacheText(ctx, key, 1, compute));
      } catch (err) {
        results.push(`error: ${(err as Error).message}`);
        break;
      }
      await Bun.sleep(20);
    }
    expect(results.at(-1)).toBe("error: database on fire");
    expect(results.slice(0, -1).every((r) => r === "first")).toBe(true);
    expect(results.length).toBeGreaterThan(20);
    expect(await refreshes(ctx.metrics, "error")).toBe(1);
    expect(calls).toBe(3); // the first computation, one refresh, the miss after expiry
  });
});

describe("derived answers (a route answering a page or the data of the cached envelope)", () => {
  /** GET /t?limit=N answers the first N of the cached numbers; counts computations and derivations */
  function derivedApp(ctx: ReadContext) {
    const counts = { computed: 0, reshaped: 0 };
    const app = new Hono<AppEnv>();
    app.use("*", async (c, next) => {
      c.set("deps", ctx.deps);
      c.set("logger", ctx.logger);
      c.set("principal", { sub: "test", tenantId: ctx.tenantId, roles: ["viewer"] });
      await next();
    });
    app.get("/t", async (c) => {
      const limit = Number(c.req.query("limit"));
      const answer = await derivedAnswer(
        readContext(c),
        "testDerived",
        normaliseParams({ probe: "derived" }),
        async (tx) => {
          await tx`select 1`;
          counts.computed += 1;
          return Array.from({ length: 10 }, (_, i) => i + 1);
        },
        {
          variant: String(limit),
          reshape: (envelope) => {
            counts.reshaped += 1;
            return { as_of: envelope.as_of, data: envelope.data.slice(0, limit) };
          },
        },
      );
      return sendAnswer(c, answer);
    });
    const get = async (limit: number) => {
      const res = await app.request(`/t?limit=${limit}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      return (await res.json()) as { as_of: string; data: number[] };
    };
    return { counts, get };
  }

  test("a page is derived once per variant and then reused while the cached answer stays the same; each variant gets its own page", async () => {
    const a = await replica(crypto.randomUUID(), 60_000);
    const { counts, get } = derivedApp(a.ctx);
    expect((await get(3)).data).toEqual([1, 2, 3]);
    expect((await get(3)).data).toEqual([1, 2, 3]);
    expect(counts).toEqual({ computed: 1, reshaped: 1 });
    expect((await get(5)).data).toEqual([1, 2, 3, 4, 5]);
    expect(counts).toEqual({ computed: 1, reshaped: 2 });
  });

  test("when the answer under the key is another one, the page is derived from it, not taken from the earlier derivation", async () => {
    const tenant = crypto.randomUUID();
    const a = await replica(tenant, 60_000);
    const fromA = derivedApp(a.ctx);
    const first = await fromA.get(3);
    expect(first.data).toEqual([1, 2, 3]);
    // the shared answer is replaced (as a refresh ahead of another replica would): replica b, with
    // nothing in process yet, reads the new one; the earlier derivation must not answer for it
    const key = a.gets.find((k) => k.startsWith("pulse:a:"))!;
    await a.cache.set(key, JSON.stringify({ as_of: "2026-01-01T00:00:00.000Z", watermark: null, data: [10, 9, 8, 7] }), 60);
    const b = await replica(tenant, 60_000);
    const fromB = derivedApp(b.ctx);
    expect(await fromB.get(3)).toEqual({ as_of: "2026-01-01T00:00:00.000Z", data: [10, 9, 8] });
    expect(fromB.counts).toEqual({ computed: 0, reshaped: 1 });
    // replica a still holds its own copy of the earlier answer, and its page is derived from that one
    expect(await fromA.get(3)).toEqual(first);
    expect(fromA.counts.computed).toBe(1);
  });
});
