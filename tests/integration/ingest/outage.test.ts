/**
 * A database outage must not use up JetStream's delivery attempts. Found while writing the runbook
 * (issue 20): the worker probed a closed breaker with a batch of messages, each probe a delivery, so an
 * outage longer than NATS_MAX_DELIVER probes (about 5 minutes with the defaults: 10 deliveries, 30 s
 * half-open) made JetStream give up on the oldest messages: not stored, not dead-lettered, not pending.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { createSql } from "../../../src/db/client.ts";
import { EmbeddedEngine } from "../../../src/db/embedded/manager.ts";
import { migrate } from "../../../src/db/migrate.ts";
import { buildIngest } from "../../../src/deps.ts";
import { IngestConsumer } from "../../../src/ingest/consumer.ts";
import { createMetrics } from "../../../src/metrics/metrics.ts";
import { testLogger } from "../../helpers/deps.ts";
import { pageViewed } from "../../helpers/events.ts";
import { privateNats, until } from "../../helpers/nats.ts";
import { tempDir } from "../../helpers/tmp.ts";

test("a database outage far longer than max_deliver half-open probes loses nothing: the breaker is probed without messages", async () => {
  // 2 deliveries at most per message, a probe every 500 ms: the 12 s outage below is some 20 probes
  const { nats, config, cleanup } = await privateNats({
    NATS_MAX_DELIVER: "2",
    BREAKER_FAILURES: "2",
    BREAKER_HALF_OPEN_MS: "500",
    INGEST_BATCH_SIZE: "50",
    INGEST_FLUSH_MS: "50",
  });
  const engine = new EmbeddedEngine({ dataDir: join(tempDir("outage"), "db"), port: 0, logger: testLogger });
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

    await engine.stop();
    const enc = new TextEncoder();
    for (const e of Array.from({ length: 200 }, () => pageViewed(t))) {
      await nats.js.publish(`${nats.subjectPrefix}.${t}.page.viewed`, enc.encode(JSON.stringify(e)), { msgID: e.id });
    }
    expect(await until(async () => breaker.open, 20_000, 100)).toBe(true);
    await Bun.sleep(12_000);
    await engine.start();

    expect(await until(async () => (await stored().catch(() => -1)) === 200, 40_000, 250)).toBe(true);
    // the last batch's acks follow its commit: nothing left pending or waiting for an ack soon after
    const settled = async () => {
      const info = await nats.jsm.consumers.info(config.nats.stream, config.ingest.consumer);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    };
    expect(await until(settled, 5_000, 100)).toBe(true);
    const [dups] =
      await sql`select count(*)::int as n from (select event_id from events where tenant_id = ${t} group by event_id having count(*) > 1) d`;
    expect(dups!.n).toBe(0);
    // the outage cost each message at most the one delivery it was in when the database went
    expect(consumer.stats.nakked).toBeLessThanOrEqual(200);
  } finally {
    await consumer?.stop();
    await sql.end({ timeout: 1 });
    await engine.stop();
    await cleanup();
  }
}, 120_000);
