import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createCache } from "../../../src/cache/index.ts";
import { createSql } from "../../../src/db/client.ts";
import { EmbeddedEngine } from "../../../src/db/embedded/manager.ts";
import type { Deps } from "../../../src/deps.ts";
import { DbBreaker } from "../../../src/ingest/breaker.ts";
import { connectNats, connectNatsLater, type NatsHandle } from "../../../src/nats/connection.ts";
import { testApp, testConfig, testLogger } from "../../helpers/deps.ts";
import { until } from "../../helpers/nats.ts";
import { startNatsServer } from "../../helpers/servers.ts";
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

  test("reports NATS and its JetStream account up; once the connection is closed a worker is 503, an api and all stay ready (degraded, with the reason)", async () => {
    const { app } = await testApp({ nats });
    const up = await (await app.request("/health/ready")).json();
    expect(up.checks.nats.status).toBe("up");
    expect(up.checks.nats.details.streams).toBeGreaterThanOrEqual(1);
    await nats.jsm.streams.delete(stream);
    await nats.nc.close();

    const worker = await roleApp("worker", { nats });
    const res = await worker.request("/health/ready");
    expect(res.status).toBe(503);
    const body = await res.json();
    expect(body).toMatchObject({
      status: "down",
      role: "worker",
      checks: { nats: { status: "down", required: true, error: "connection closed" } },
    });
    expect(body.reasons).toContain("nats (required for worker): connection closed");

    for (const role of ["api", "all"] as const) {
      const r = await (await roleApp(role, { nats })).request("/health/ready");
      expect(r.status).toBe(200);
      const b = await r.json();
      expect(b).toMatchObject({
        status: "degraded",
        role,
        checks: { nats: { status: "down", required: false }, database: { status: "up", required: true } },
      });
      expect(b.reasons).toContain(`nats (optional for ${role}): connection closed`);
    }
    // liveness never asks a dependency
    expect((await worker.request("/health/live")).status).toBe(200);
  });
});

/** an app whose process runs as `role` */
async function roleApp(role: "api" | "worker" | "all", overrides: Partial<Deps> = {}) {
  return (await testApp({ config: testConfig({ ROLE: role }), ...overrides })).app;
}

/** a breaker opened the way the ingest pipeline opens it: consecutive transient database errors */
async function openBreaker(): Promise<DbBreaker> {
  const breaker = new DbBreaker({ failures: 3, halfOpenMs: 60_000, logger: testLogger });
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
  for (let i = 0; i < 3; i++) {
    await breaker
      .execute(async () => {
        throw refused;
      })
      .catch(() => undefined);
  }
  expect(breaker.open).toBe(true);
  return breaker;
}

describe("GET /health/ready per role", () => {
  test("ingest breaker open: a worker is 503; an api and all stay ready, degraded, and say database writes are paused", async () => {
    const breaker = await openBreaker();
    const worker = await (await roleApp("worker", { breaker })).request("/health/ready");
    expect(worker.status).toBe(503);
    const w = await worker.json();
    expect(w.checks.ingest).toMatchObject({ status: "down", required: true });
    expect(w.checks.ingest.error).toContain("database circuit breaker open");
    for (const role of ["api", "all"] as const) {
      const res = await (await roleApp(role, { breaker })).request("/health/ready");
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.status).toBe("degraded");
      expect(body.checks.ingest).toMatchObject({ status: "down", required: false });
      expect(body.reasons.some((r: string) => r.startsWith(`ingest (optional for ${role}): ingest paused`))).toBe(true);
    }
  });

  test("NATS stopped: a worker's readiness says disconnected at once (no wait for a timeout) and is 200 again once NATS is back", async () => {
    const server = await startNatsServer();
    const handle = await connectNats(testConfig({ NATS_URL: server.url }).nats, testLogger);
    try {
      const worker = await roleApp("worker", { nats: handle });
      expect((await worker.request("/health/ready")).status).toBe(200);
      await server.stop();
      expect(await until(async () => !handle.link.connected, 5_000, 20)).toBe(true);
      const started = performance.now();
      const down = await worker.request("/health/ready");
      expect(performance.now() - started).toBeLessThan(1_000); // the probe timeout is 2 s
      expect(down.status).toBe(503);
      expect((await down.json()).checks.nats.error).toMatch(/^disconnected since .* \(reconnecting\)$/);
      await server.start();
      expect(await until(async () => (await worker.request("/health/ready")).status === 200, 10_000, 100)).toBe(true);
    } finally {
      await handle.nc.close();
      await server.close();
    }
  }, 30_000);

  test("an api whose NATS did not answer at start is ready (degraded: not connected, with the attempts) and connects once NATS answers", async () => {
    const server = await startNatsServer();
    await server.stop();
    const config = testConfig({ ROLE: "api", NATS_URL: server.url });
    let connected: NatsHandle | undefined;
    const pending = connectNatsLater(config.nats, testLogger, new Error("connect ECONNREFUSED"), (h) => (connected = h), 100);
    try {
      expect(await until(async () => pending.attempts >= 3, 5_000, 20)).toBe(true);
      const res = await (await roleApp("api", { config, natsPending: pending })).request("/health/ready");
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.status).toBe("degraded");
      expect(body.checks.nats).toMatchObject({ status: "down", required: false });
      expect(body.checks.nats.error).toMatch(/^not connected since .* \(\d+ attempts; last: .+\)$/);
      await server.start();
      expect(await until(async () => connected !== undefined, 10_000, 50)).toBe(true);
      expect(connected!.link.connected).toBe(true);
      const up = await (await roleApp("api", { config, nats: connected })).request("/health/ready");
      expect((await up.json()).checks.nats.status).toBe("up");
    } finally {
      pending.stop();
      await connected?.nc.close();
      await server.close();
    }
  }, 30_000);

  test("a worker without NATS_URL is not ready (it has nothing to consume); an api without it is", async () => {
    const worker = await (await roleApp("worker")).request("/health/ready");
    expect(worker.status).toBe(503);
    expect((await worker.json()).checks.nats).toMatchObject({
      status: "down",
      required: true,
      error: expect.stringContaining("NATS_URL is not set"),
    });
    const api = await (await roleApp("api")).request("/health/ready");
    expect(api.status).toBe(200);
    expect((await api.json()).checks.nats).toBeUndefined();
  });

  test("the database down is 503 for every role, and liveness stays 200", async () => {
    const dead = createSql("postgres://postgres@127.0.0.1:1/postgres", {
      max: 1,
      statementTimeoutMs: 1_000,
      logger: testLogger,
      embedded: false,
    });
    try {
      for (const role of ["api", "worker", "all"] as const) {
        const app = await roleApp(role, { sql: dead });
        const res = await app.request("/health/ready");
        expect(res.status).toBe(503);
        const body = await res.json();
        expect(body.checks.database).toMatchObject({ status: "down", required: true });
        expect(body.reasons.some((r: string) => r.startsWith(`database (required for ${role})`))).toBe(true);
        expect((await app.request("/health/live")).status).toBe(200);
      }
    } finally {
      await dead.end({ timeout: 1 });
    }
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
