import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createCache } from "../../../src/cache/index.ts";
import { createSql } from "../../../src/db/client.ts";
import { EmbeddedEngine } from "../../../src/db/embedded/manager.ts";
import { connectNats, type NatsHandle } from "../../../src/nats/connection.ts";
import { testApp, testConfig, testLogger } from "../../helpers/deps.ts";
import { tempDir } from "../../helpers/tmp.ts";

describe("GET /health/live", () => {
  test("answers 200 without touching any dependency", async () => {
    const { app } = await testApp();
    const res = await app.request("/health/live");
    expect(res.status).toBe(200);
    expect((await res.json()).status).toBe("ok");
  });
});

describe("GET /health/ready", () => {
  test("answers 200 and names the TimescaleDB version when the database is up", async () => {
    const { app } = await testApp();
    const res = await app.request("/health/ready");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(["ok", "degraded"]).toContain(body.status);
    expect(Date.parse(body.timestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(body.checks.database.status).toBe("up");
    expect(body.checks.database.details.timescaledb_version).toMatch(/^2\.\d+/);
    expect(typeof body.checks.database.latency_ms).toBe("number");
  });

  test("stays ready but degraded, within 5 s, when Redis is configured on a closed port (reads fall back to the database)", async () => {
    const cache = await createCache({ redisUrl: "redis://127.0.0.1:1" });
    try {
      const { app } = await testApp({ cache, config: testConfig({ REDIS_URL: "redis://127.0.0.1:1" }) });
      const started = performance.now();
      const res = await app.request("/health/ready");
      const elapsed = performance.now() - started;
      expect(res.status).toBe(200);
      expect(elapsed).toBeLessThan(5_000);
      const body = await res.json();
      expect(body.status).toBe("degraded");
      expect(body.checks.cache).toMatchObject({ status: "down", required: false });
      expect(body.checks.cache.error).toBeTruthy();
      expect(body.checks.database.status).toBe("up");
    } finally {
      await cache.close();
    }
  });

  test("reports Redis up with its latency when it answers", async () => {
    const cache = await createCache({ redisUrl: "redis://127.0.0.1:6379" });
    try {
      const { app } = await testApp({ cache });
      const body = await (await app.request("/health/ready")).json();
      expect(body.checks.cache).toMatchObject({ status: "up", details: { driver: "redis" } });
    } finally {
      await cache.close();
    }
  });
});

describe("GET /health/ready with NATS", () => {
  let nats: NatsHandle;
  const suffix = crypto.randomUUID().slice(0, 8);
  const stream = `PULSE_TEST_${suffix.toUpperCase()}`;
  beforeAll(async () => {
    const config = testConfig({
      NATS_URL: "nats://127.0.0.1:4222",
      NATS_STREAM: stream,
      NATS_SUBJECT_PREFIX: `t${suffix}`,
      NATS_DUPLICATE_WINDOW_MS: "90000",
    });
    nats = await connectNats(config.nats, testLogger);
  });
  afterAll(async () => {
    if (!nats.nc.isClosed()) {
      await nats.jsm.streams.delete(stream).catch(() => undefined);
      await nats.nc.close();
    }
  });

  test("creates the JetStream stream with the configured subjects and duplicate window", async () => {
    const info = await nats.jsm.streams.info(stream);
    expect(info.config.subjects).toEqual([`t${suffix}.>`]);
    expect(info.config.duplicate_window).toBe(90_000 * 1_000_000);
  });

  test("reports NATS and its JetStream account up, and 503 once the connection is closed", async () => {
    const { app } = await testApp({ nats });
    const up = await (await app.request("/health/ready")).json();
    expect(up.checks.nats.status).toBe("up");
    expect(up.checks.nats.details.streams).toBeGreaterThanOrEqual(1);
    await nats.jsm.streams.delete(stream);
    await nats.nc.close();
    const res = await app.request("/health/ready");
    expect(res.status).toBe(503);
    expect((await res.json()).checks.nats.status).toBe("down");
  });
});

describe("GET /health/ready when the embedded engine dies", () => {
  test("turns 503 while the child is down, restarts it, and is 200 again", async () => {
    const engine = new EmbeddedEngine({ dataDir: join(tempDir("crash"), "db"), port: 0, logger: testLogger });
    await engine.start();
    const sql = createSql(engine.url, { max: 1, statementTimeoutMs: 30_000, logger: testLogger, embedded: true });
    try {
      await sql`create extension if not exists timescaledb`;
      const { app } = await testApp({ engine, sql });
      expect((await app.request("/health/ready")).status).toBe(200);

      engine.crash();
      for (let i = 0; i < 100 && engine.status().state === "up"; i++) await Bun.sleep(20);
      expect(engine.status().state).not.toBe("up");
      const started = performance.now();
      const down = await app.request("/health/ready");
      expect(down.status).toBe(503);
      expect(performance.now() - started).toBeLessThan(5_000);
      expect((await down.json()).checks.database.error).toMatch(/embedded TimescaleDB is (down|starting)/);

      expect(await engine.waitUntilUp(20_000)).toBe(true);
      expect(engine.status().restarts).toBe(1);
      const again = await app.request("/health/ready");
      expect(again.status).toBe(200);
    } finally {
      await sql.end({ timeout: 1 });
      await engine.stop();
    }
  }, 60_000);
});
