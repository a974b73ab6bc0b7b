/**
 * The shared cache behind its circuit breaker (src/cache/circuit.ts), against a redis-server of this
 * file's own (a free port) that the tests stop and start again: a cache outage costs a read nothing.
 * The latency figures before, during and after an outage are measured by the fault suite
 * (tests/faults/redis-outage.fault.ts); here the behaviour, with bounds far from what a wait on the
 * dead cache costs (about 360 ms a call before the circuit).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { analyticsRead, type ReadContext } from "../../../src/analytics/shared/read.ts";
import { normaliseParams } from "../../../src/analytics/shared/params.ts";
import type { Cache } from "../../../src/cache/cache.ts";
import { CacheUnavailableError } from "../../../src/cache/circuit.ts";
import { createCache } from "../../../src/cache/index.ts";
import type { Deps } from "../../../src/deps.ts";
import { getTestDeps, testApp, testLogger } from "../../helpers/deps.ts";
import { until } from "../../helpers/nats.ts";
import { type PrivateServer, startRedisServer } from "../../helpers/servers.ts";

const PROBE_MS = 200;
let redis: PrivateServer;
let deps: Deps;
const opened: Cache[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  deps = await getTestDeps();
});
afterAll(async () => {
  for (const c of opened) await c.close();
  await redis.close();
});

async function cache(): Promise<Cache> {
  const c = await createCache({ redisUrl: redis.url, logger: testLogger, probeIntervalMs: PROBE_MS });
  opened.push(c);
  return c;
}

describe("the shared cache behind its circuit breaker", () => {
  test("Redis stopped: the first call fails, later calls are skipped at once until a probe finds Redis again", async () => {
    const c = await cache();
    const key = `pulse:test:circuit:${crypto.randomUUID()}`;
    await c.set(key, "v", 60);
    expect(await c.get(key)).toBe("v");
    expect(c.circuit?.()).toMatchObject({ state: "closed", opens: 0 });

    await redis.stop();
    await expect(c.get(key)).rejects.toThrow();
    expect(c.circuit?.()).toMatchObject({ state: "open", opens: 1 });
    expect(c.circuit?.().since).toBeTruthy();

    // 200 calls while open: each rejects with the circuit's own error, without a round trip
    const started = performance.now();
    for (let i = 0; i < 200; i++) {
      const err = await c.get(key).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CacheUnavailableError);
    }
    // one wait on the dead server costs hundreds of ms; 200 skipped calls stay far below one of those
    expect(performance.now() - started).toBeLessThan(200);
    await expect(c.ping()).rejects.toBeInstanceOf(CacheUnavailableError);

    await redis.start(); // same port; the data is gone (no persistence), as after a cache restart
    const back = performance.now();
    expect(await until(async () => c.circuit?.().state === "closed", 5_000, 20)).toBe(true);
    expect(performance.now() - back).toBeLessThan(PROBE_MS * 10);
    await c.set(key, "again", 60);
    expect(await c.get(key)).toBe("again");
    expect(c.circuit?.().opens).toBe(1);
  }, 30_000);

  test("a caller's bad argument (a ttl of 0) is not a cache failure: the circuit stays closed", async () => {
    const c = await cache();
    await expect(c.set(`pulse:test:circuit:${crypto.randomUUID()}`, "v", 0)).rejects.toBeInstanceOf(RangeError);
    expect(c.circuit?.().state).toBe("closed");
  });

  test("analytics reads with Redis stopped come from the database without waiting on it; readiness is degraded, then up within a probe interval of Redis returning", async () => {
    const c = await cache();
    const tenantId = crypto.randomUUID();
    const ctx: ReadContext = { deps: { ...deps, cache: c }, tenantId, logger: testLogger };
    let computed = 0;
    const read = (probe: string) =>
      analyticsRead(ctx, "testCircuit", normaliseParams({ probe }), async (tx) => {
        await tx`select 1`;
        computed += 1;
        return computed;
      });
    const { app } = await testApp({ cache: c });

    expect((await read("a")).data).toBe(1);
    expect((await read("a")).data).toBe(1); // cached
    expect(computed).toBe(1);

    await redis.stop();
    await read("b"); // the failure that opens the circuit (it may wait on the dead server)
    expect(c.circuit?.().state).toBe("open");
    const before = computed;
    const started = performance.now();
    for (let i = 0; i < 20; i++) await read(`during-${i}`);
    const elapsed = performance.now() - started;
    expect(computed - before).toBe(20); // every one answered by the database
    // 20 reads that each waited on the dead cache took ≥ 20 × 360 ms; from the database alone they
    // take a few ms each (the bound leaves room for a loaded machine)
    expect(elapsed).toBeLessThan(2_000);

    const down = await app.request("/health/ready");
    expect(down.status).toBe(200);
    const downBody = await down.json();
    expect(downBody.status).toBe("degraded");
    expect(downBody.checks.cache).toMatchObject({ status: "down", required: false, details: { circuit: { state: "open" } } });
    expect(downBody.checks.analytics_cache).toMatchObject({ status: "down", required: false });
    expect(downBody.reasons.some((r: string) => r.startsWith("cache (optional for all)"))).toBe(true);

    await redis.start();
    expect(await until(async () => c.circuit?.().state === "closed", 5_000, 20)).toBe(true);
    const up = await (await app.request("/health/ready")).json();
    expect(up.checks.cache.status).toBe("up");
    expect(up.checks.analytics_cache.status).toBe("up");
    expect(up.reasons.filter((r: string) => r.includes("cache"))).toEqual([]);
    // the cache is used again: a read is stored, and the next one is a hit
    const n = computed;
    await read("after");
    await read("after");
    expect(computed).toBe(n + 1);
  }, 30_000);
});
