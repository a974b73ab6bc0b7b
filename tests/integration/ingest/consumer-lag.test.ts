import { afterAll, describe, expect, test } from "bun:test";
import { buildIngest } from "../../../src/deps.ts";
import { ensureConsumer, IngestConsumer } from "../../../src/ingest/consumer.ts";
import { createMetrics } from "../../../src/metrics/metrics.ts";
import { testApp, testLogger } from "../../helpers/deps.ts";
import { pageViewed } from "../../helpers/events.ts";
import { privateNats, until } from "../../helpers/nats.ts";

const enc = new TextEncoder();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe("consumer lag (pulse_ingest_consumer_lag_seconds)", () => {
  test("is the age of the oldest unacknowledged message while messages wait, and 0 once they are all acked", async () => {
    const { nats, config, cleanup } = await privateNats({ INGEST_FLUSH_MS: "50" });
    cleanups.push(cleanup);
    const { deps } = await testApp();
    const metrics = createMetrics();
    const { ingest } = buildIngest({ config, logger: testLogger, sql: deps.sql, metrics, nats });
    await ensureConsumer(nats, config.ingest); // the durable exists, nobody consumes yet
    const consumer = new IngestConsumer({ nats, pipeline: ingest, cfg: config.ingest, logger: testLogger, metrics });
    cleanups.unshift(() => consumer.stop());
    const value = async (g: typeof metrics.consumerLagSeconds) => (await g.get()).values[0]?.value ?? -1;

    const t = crypto.randomUUID();
    const publishedAt = Date.now();
    for (const e of [pageViewed(t), pageViewed(t), pageViewed(t)]) {
      await nats.js.publish(`${nats.subjectPrefix}.${t}.page.viewed`, enc.encode(JSON.stringify(e)), { msgID: e.id });
    }
    await Bun.sleep(1_500);
    await consumer.samplePending();
    const sampledAt = Date.now();
    expect(await value(metrics.consumerPending)).toBe(3);
    // the first message was published at publishedAt (± the publish round trip), sampled 1.5 s or more later
    const lag = await value(metrics.consumerLagSeconds);
    expect(lag).toBeGreaterThanOrEqual(1.4);
    expect(lag).toBeLessThanOrEqual((sampledAt - publishedAt) / 1000 + 0.1);

    await consumer.start();
    expect(
      await until(
        async () => {
          await consumer.samplePending();
          return (await value(metrics.consumerPending)) === 0;
        },
        10_000,
        100,
      ),
    ).toBe(true);
    expect(await value(metrics.consumerLagSeconds)).toBe(0);
  }, 30_000);
});
