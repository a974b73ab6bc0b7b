/** A private JetStream stream + consumer per test file, so tests never share subjects. */
import type { Config } from "../../src/config.ts";
import { connectNats, type NatsHandle } from "../../src/nats/connection.ts";
import { buildIngest } from "../../src/deps.ts";
import { IngestConsumer } from "../../src/ingest/consumer.ts";
import { testApp, testConfig, testLogger } from "./deps.ts";

export async function privateNats(
  extra: Record<string, string> = {},
): Promise<{ nats: NatsHandle; config: Config; cleanup: () => Promise<void> }> {
  const suffix = crypto.randomUUID().slice(0, 8);
  const config = testConfig({
    NATS_URL: "nats://127.0.0.1:4222",
    NATS_STREAM: `PULSE_T_${suffix.toUpperCase()}`,
    NATS_SUBJECT_PREFIX: `t${suffix}`,
    NATS_CONSUMER: `pulse-test-${suffix}`,
    ...extra,
  });
  const nats = await connectNats(config.nats, testLogger);
  return {
    nats,
    config,
    cleanup: async () => {
      await nats.jsm.streams.delete(config.nats.stream).catch(() => undefined);
      await nats.nc.close();
    },
  };
}

export async function until(check: () => Promise<boolean>, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await Bun.sleep(stepMs);
  }
  return check();
}

/**
 * The app on the shared test database with its ingest on a private JetStream stream, and that stream's
 * consumer running (what a worker does). `stop` stops the consumer and deletes the stream.
 */
export async function natsTestApp(extra: Record<string, string> = { INGEST_FLUSH_MS: "50" }) {
  const { nats, config, cleanup } = await privateNats(extra);
  const shared = (await testApp()).deps;
  const ingest = buildIngest({ config, logger: testLogger, sql: shared.sql, metrics: shared.metrics, nats });
  const { deps, app } = await testApp({ nats, ...ingest });
  const consumer = new IngestConsumer({ nats, pipeline: deps.ingest, cfg: config.ingest, logger: testLogger, metrics: deps.metrics });
  await consumer.start();
  const stop = async () => {
    await consumer.stop();
    await cleanup();
  };
  return { nats, config, deps, app, consumer, stop };
}
