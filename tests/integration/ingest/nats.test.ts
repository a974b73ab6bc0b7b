import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Config } from "../../../src/config.ts";
import { createSql } from "../../../src/db/client.ts";
import { EmbeddedEngine } from "../../../src/db/embedded/manager.ts";
import { migrate } from "../../../src/db/migrate.ts";
import { buildIngest, type Deps } from "../../../src/deps.ts";
import { IngestConsumer } from "../../../src/ingest/consumer.ts";
import { createMetrics } from "../../../src/metrics/metrics.ts";
import type { NatsHandle } from "../../../src/nats/connection.ts";
import { testApp, testLogger, token } from "../../helpers/deps.ts";
import { type CloudEvent, orderCompleted, pageViewed } from "../../helpers/events.ts";
import { natsTestApp, privateNats, until } from "../../helpers/nats.ts";
import { tempDir } from "../../helpers/tmp.ts";

const enc = new TextEncoder();

function publish(nats: NatsHandle, e: CloudEvent | { raw: string; tenant: string; type: string }, msgID?: string) {
  const isRaw = "raw" in e;
  const tenant = isRaw ? e.tenant : e.tenantid!;
  const type = isRaw ? e.type : e.type;
  return nats.js.publish(`${nats.subjectPrefix}.${tenant}.${type}`, enc.encode(isRaw ? e.raw : JSON.stringify(e)), {
    msgID: msgID ?? (isRaw ? crypto.randomUUID() : e.id),
  });
}

describe("ingest from NATS JetStream", () => {
  let deps: Deps;
  let app: Awaited<ReturnType<typeof testApp>>["app"];
  let nats: NatsHandle;
  let config: Config;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ nats, config, deps, app, stop } = await natsTestApp());
  });
  afterAll(() => stop());

  const count = async (t: string) => Number((await deps.sql`select count(*)::int as n from events where tenant_id = ${t}`)[0]!.n);

  test("HTTP and NATS paths give the same stored rows", async () => {
    const t = crypto.randomUUID();
    const time = new Date(Date.now() - 90_000).toISOString();
    const viaHttp = orderCompleted(t, { time, id: "same-fact-http" }, { order_id: "o-same" });
    const viaNats = { ...viaHttp, id: "same-fact-nats" };
    const res = await app.request("/v1/events", {
      method: "POST",
      headers: {
        authorization: `Bearer ${await token({ tenantId: t, roles: ["ingest"] })}`,
        "content-type": "application/cloudevents+json",
      },
      body: JSON.stringify(viaHttp),
    });
    expect(res.status).toBe(202);
    await publish(nats, viaNats);
    expect(await until(async () => (await count(t)) === 2, 10_000)).toBe(true);
    const [a, b] = await deps.sql`select * from events where tenant_id = ${t} order by event_id`;
    const strip = ({ event_id, received_at, ...rest }: Record<string, unknown>) => rest;
    expect(strip(a!)).toEqual(strip(b!));
  }, 30_000);

  test("a redelivered event (same id, new Nats-Msg-Id) is stored once", async () => {
    const t = crypto.randomUUID();
    const e = pageViewed(t);
    await publish(nats, e, "first");
    await publish(nats, e, "second");
    await publish(nats, pageViewed(t));
    expect(await until(async () => (await count(t)) === 2, 10_000)).toBe(true);
    await Bun.sleep(300);
    expect(await count(t)).toBe(2);
  }, 30_000);

  test("an invalid event becomes a dead letter, is republished on <prefix>.dlq.<reason> and terminated (not redelivered)", async () => {
    const t = crypto.randomUUID();
    const sub = nats.nc.subscribe(`${nats.subjectPrefix}.dlq.>`);
    const seen: string[] = [];
    void (async () => {
      for await (const m of sub) seen.push(m.subject);
    })();
    await publish(nats, orderCompleted(t, {}, { total_minor: 1 }));
    await publish(nats, { raw: "{not json", tenant: t, type: "page.viewed" });
    const forged = pageViewed(crypto.randomUUID());
    await nats.js.publish(`${nats.subjectPrefix}.${t}.page.viewed`, enc.encode(JSON.stringify(forged)), { msgID: forged.id });
    const letters = async () =>
      deps.sql`select reason, transport, stream_sequence, subject from dead_letter_events where tenant_id = ${t} or (tenant_id is null and subject like ${`${nats.subjectPrefix}.${t}.%`}) order by id`;
    expect(await until(async () => (await letters()).length === 3, 10_000)).toBe(true);
    const rows = await letters();
    expect(rows.map((r) => r.reason).sort()).toEqual(["invalid_data", "malformed_json", "tenant_mismatch"]);
    for (const r of rows) {
      expect(r.transport).toBe("nats");
      expect(Number(r.stream_sequence)).toBeGreaterThan(0);
    }
    expect(await until(async () => seen.length >= 3, 5_000)).toBe(true);
    expect(seen.sort()).toEqual([
      `${nats.subjectPrefix}.dlq.invalid_data`,
      `${nats.subjectPrefix}.dlq.malformed_json`,
      `${nats.subjectPrefix}.dlq.tenant_mismatch`,
    ]);
    sub.unsubscribe();
    expect(await count(t)).toBe(0);
    // terminated, not left pending for redelivery
    expect(
      await until(async () => {
        const info = await nats.jsm.consumers.info(config.nats.stream, config.ingest.consumer);
        return info.num_ack_pending === 0 && info.num_pending === 0;
      }, 5_000),
    ).toBe(true);
    await Bun.sleep(300);
    expect((await letters()).length).toBe(3);
  }, 30_000);
});

describe("database unavailable mid-stream", () => {
  test("the breaker opens, fetching pauses (fetched messages given back, not left to ack_wait), nothing is lost or duplicated, and ingest resumes", async () => {
    // ack wait 60 s: messages fetched when the pause began are given back (nak), not left to ack_wait,
    // so everything is stored well before it (the 40 s bound below)
    const { nats, config, cleanup } = await privateNats({
      BREAKER_FAILURES: "5",
      BREAKER_HALF_OPEN_MS: "1000",
      INGEST_BATCH_SIZE: "50",
      INGEST_FLUSH_MS: "50",
      NATS_ACK_WAIT_MS: "60000",
    });
    const engine = new EmbeddedEngine({ dataDir: join(tempDir("breaker"), "db"), port: 0, logger: testLogger });
    await engine.start();
    const sql = createSql(engine.url, { max: 1, statementTimeoutMs: 30_000, logger: testLogger, embedded: true });
    const metrics = createMetrics();
    let consumer: IngestConsumer | undefined;
    try {
      await migrate(sql, { logger: testLogger });
      const { ingest, breaker } = buildIngest({ config, logger: testLogger, sql, metrics, nats });
      consumer = new IngestConsumer({ nats, pipeline: ingest, cfg: config.ingest, logger: testLogger, metrics });
      await consumer.start();
      const t = crypto.randomUUID();
      const stored = async () => Number((await sql`select count(*)::int as n from events where tenant_id = ${t}`)[0]!.n);

      const first = Array.from({ length: 100 }, () => pageViewed(t));
      for (const e of first) await publish(nats, e);
      expect(await until(async () => (await stored()) === 100, 15_000)).toBe(true);

      await engine.stop(); // the database goes away
      const second = Array.from({ length: 200 }, () => pageViewed(t));
      for (const e of second) await publish(nats, e);
      expect(await until(async () => breaker.open, 20_000, 100)).toBe(true);
      expect(consumer.stats.nakked).toBeGreaterThan(0);
      // a worker is unready while its writes are paused (an api would stay ready: tests/integration/platform/health.test.ts)
      const { app } = await testApp({ breaker, config: { ...config, role: "worker" }, nats });
      const ready = await app.request("/health/ready");
      expect(ready.status).toBe(503);
      expect((await ready.json()).checks.ingest.error).toContain("circuit breaker open");

      await engine.start(); // back on the same port and data dir
      expect(await until(async () => (await stored().catch(() => -1)) === 300, 40_000, 200)).toBe(true);
      expect(breaker.open).toBe(false);
      const [dups] =
        await sql`select count(*)::int as n from (select event_id from events where tenant_id = ${t} group by event_id having count(*) > 1) d`;
      expect(dups!.n).toBe(0);
      expect((await metrics.breakerOpen.get()).values[0]?.value).toBe(0);
    } finally {
      await consumer?.stop();
      await sql.end({ timeout: 1 });
      await engine.stop();
      await cleanup();
    }
  }, 90_000);
});
