/**
 * The in-process layer of the analytics cache, with Redis shared by two "replicas" (two cache clients,
 * each with its own in-process state, as two processes would have).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bumpGeneration } from "../../src/analytics/generation.ts";
import { normaliseParams } from "../../src/analytics/params.ts";
import { analyticsRead, type ReadContext } from "../../src/analytics/read.ts";
import type { Cache } from "../../src/cache/cache.ts";
import { createCache } from "../../src/cache/index.ts";
import type { Deps } from "../../src/deps.ts";
import { getTestDeps, testConfig } from "../helpers/deps.ts";

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
