/**
 * Replay benchmark: does live ingest keep its throughput while a replay runs?
 *
 *   bun run bench:replay [-- --history N] [--live N]
 *   (history default 40,000 messages, live default 20,000; NATS_URL defaults to nats://127.0.0.1:4222)
 *
 * One embedded engine (temp data dir, migrated), one private stream, the live IngestConsumer, in this
 * process. The messages are the ingest benchmark's mix (ingest-events.ts: 20 tenants, 1 % duplicates,
 * 0.5 % invalid). The history is published with its event times moved two days back, ingested, then
 * deleted from events and order_lines (the loss a replay repairs). After an untimed live warm-up batch,
 * each phase timed:
 *   A. live alone: N live messages (fresh ids, recent times) published and stored;
 *   B. live while a paced replay (this configuration's REPLAY_* settings, default 2,000 messages/s,
 *      yielding while the live consumer has more than REPLAY_YIELD_PENDING messages waiting) restores
 *      the history: N more live messages, timed the same way; the replay's own time to the end;
 *   C. the same with the replay unpaced (REPLAY_RATE_PER_SEC 1,000,000, no yielding): what pacing buys;
 *   A'. live alone again, after C: how far the machine drifted during the run (other load on the cores).
 * Live throughput = live messages / time from the first publish until every valid live event is stored.
 * Exit code 1 when a replay does not restore exactly the deleted history or live events go missing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../../src/config.ts";
import { createSql } from "../../src/db/client.ts";
import { EmbeddedEngine } from "../../src/db/embedded/manager.ts";
import { migrate } from "../../src/db/migrate.ts";
import { buildIngest } from "../../src/deps.ts";
import { IngestConsumer } from "../../src/ingest/consumer.ts";
import { createLogger } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics/metrics.ts";
import { connectNats } from "../../src/nats/connection.ts";
import { getReplayJob, insertReplayJob } from "../../src/recovery/replay/replay.queries.ts";
import { ReplayRunner } from "../../src/recovery/replay/replay.runner.ts";
import { type BenchMsg, buildEvents, mixCounts, publishAll } from "./ingest-events.ts";

const { values } = parseArgs({ options: { history: { type: "string", default: "40000" }, live: { type: "string", default: "20000" } } });
const H = Number(values.history);
const L = Number(values.live);
const DAY_MS = 86_400_000;
const run = crypto.randomUUID().slice(0, 8);
const out = (s: string) => process.stdout.write(`${s}\n`);

const config = loadConfig({
  NODE_ENV: "test",
  NATS_URL: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  NATS_STREAM: `BENCH_REPLAY_${run.toUpperCase()}`,
  NATS_SUBJECT_PREFIX: `br${run}`,
  NATS_CONSUMER: `bench-replay-${run}`,
  LOG_LEVEL: "warn",
  // the bench process also holds the messages it publishes: the worker's soft memory limit would collect all the time
  INGEST_MEMORY_SOFT_LIMIT_MB: "0",
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("REPLAY_")) as Array<[string, string]>),
});
const logger = createLogger({ level: "warn", format: "json" });
const dir = mkdtempSync(join(tmpdir(), "pulse-bench-replay-"));
const engine = new EmbeddedEngine({ dataDir: join(dir, "db"), port: 0, logger });
await engine.start();
const sql = createSql(engine.url, { max: 1, statementTimeoutMs: 600_000, logger, embedded: true });
const nats = await connectNats(config.nats, logger);
const metrics = createMetrics();
let failed = false;

/** the history's messages two days back: the replay range [now − 3 d, now − 1 d) holds them and no live event */
function twoDaysBack(msgs: BenchMsg[]): BenchMsg[] {
  const dec = new TextDecoder();
  const enc = new TextEncoder();
  return msgs.map((m) => {
    try {
      const e = JSON.parse(dec.decode(m.data)) as { time: string };
      e.time = new Date(Date.parse(e.time) - 2 * DAY_MS).toISOString();
      return { ...m, data: enc.encode(JSON.stringify(e)) };
    } catch {
      return m; // the malformed ones stay as they are (dead-lettered either way)
    }
  });
}

const count = async (recent: boolean) =>
  Number(
    (recent
      ? await sql`select count(*)::int as n from events where time > now() - interval '1 day'`
      : await sql`select count(*)::int as n from events where time <= now() - interval '1 day'`)[0]!.n,
  );

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await Bun.sleep(100);
  }
  return check();
}

/** publish a live batch and time it until every valid live event is stored */
async function livePhase(seed: number, before: number): Promise<number> {
  const { msgs } = buildEvents({ n: L, runId: `live-${run}`, seed });
  const { originals, invalid } = mixCounts(L);
  const want = before + originals - invalid;
  const started = performance.now();
  await publishAll(nats.js, nats.subjectPrefix, msgs, nats.stream);
  if (!(await until(async () => (await count(true)) >= want, 600_000))) {
    out(`live events missing: ${await count(true)} of ${want}`);
    failed = true;
  }
  return (performance.now() - started) / 1000;
}

async function replayPhase(ratePerSec: number, yieldPending: number, liveSeed: number, liveBefore: number) {
  const { ingest } = buildIngest({ config, logger, sql, metrics, nats: undefined, share: { breaker: live.breaker } });
  const recovery = { ...config.recovery, replayRatePerSec: ratePerSec, replayYieldPending: yieldPending };
  const runner = new ReplayRunner({
    sql,
    nats,
    pipeline: ingest,
    recovery,
    maxFutureMs: config.ingest.maxFutureMs,
    liveConsumer: config.ingest.consumer,
    logger,
  });
  const now = Date.now();
  const job = await insertReplayJob(sql, {
    id: crypto.randomUUID(),
    tenantId: null,
    from: new Date(now - 3 * DAY_MS).toISOString(),
    to: new Date(now - DAY_MS).toISOString(),
    types: null,
    requestedBy: "bench",
    stream: nats.stream,
  });
  const started = performance.now();
  let replayDone = 0;
  const replay = runner.runOnce().then(() => {
    replayDone = (performance.now() - started) / 1000;
  });
  const liveS = await livePhase(liveSeed, liveBefore);
  const overlapped = replayDone === 0;
  await replay;
  const j = (await getReplayJob(sql, job.id))!;
  if (j.status !== "succeeded" || Number(j.stored) !== historyStored) {
    out(`replay: status ${j.status}, stored ${j.stored}, expected ${historyStored}`);
    failed = true;
  }
  return { liveS, replayS: replayDone, read: Number(j.read), stored: Number(j.stored), overlapped };
}

const live = buildIngest({ config, logger, sql, metrics, nats });
let historyStored = 0;
try {
  await migrate(sql, { logger });
  const consumer = new IngestConsumer({ nats, pipeline: live.ingest, cfg: config.ingest, logger, metrics });
  await consumer.start();

  out(`replay benchmark: history ${H} messages, live ${L} per phase; stream ${nats.stream}`);
  const history = twoDaysBack(buildEvents({ n: H, runId: `hist-${run}`, seed: 1 }).msgs);
  const { originals, invalid } = mixCounts(H);
  historyStored = originals - invalid;
  await publishAll(nats.js, nats.subjectPrefix, history, nats.stream);
  if (!(await until(async () => (await count(false)) === historyStored, 600_000))) throw new Error("the history was not ingested");
  const forget = async () => {
    await sql`delete from order_lines where time <= now() - interval '1 day'`;
    await sql`delete from events where time <= now() - interval '1 day'`;
  };
  await forget();

  await livePhase(1, 0); // warm-up (untimed): the first batches compile and cache what every later one uses
  const aS = await livePhase(2, await count(true));
  const liveAfterA = await count(true);
  const b = await replayPhase(config.recovery.replayRatePerSec, config.recovery.replayYieldPending, 3, liveAfterA);
  await forget();
  const liveAfterB = await count(true);
  const c = await replayPhase(1_000_000, 0, 4, liveAfterB);
  const a2S = await livePhase(5, await count(true)); // live alone again: how far the machine drifted meanwhile
  await consumer.stop();

  const rate = (n: number, s: number) => (s > 0 ? Math.round(n / s).toLocaleString("en-US") : "-");
  const rows = [
    ["phase", "live msgs/s", "live vs alone", "replay read msgs/s", "replay stored", "replay s", "replay ran through live"],
    ["A live alone", rate(L, aS), "100 %", "-", "-", "-", "-"],
    [
      `B + replay paced (${config.recovery.replayRatePerSec}/s, yield > ${config.recovery.replayYieldPending})`,
      rate(L, b.liveS),
      `${Math.round((aS / b.liveS) * 100)} %`,
      rate(b.read, b.replayS),
      String(b.stored),
      b.replayS.toFixed(1),
      b.overlapped ? "yes" : "no",
    ],
    [
      "C + replay unpaced",
      rate(L, c.liveS),
      `${Math.round((aS / c.liveS) * 100)} %`,
      rate(c.read, c.replayS),
      String(c.stored),
      c.replayS.toFixed(1),
      c.overlapped ? "yes" : "no",
    ],
    ["A' live alone again", rate(L, a2S), `${Math.round((aS / a2S) * 100)} %`, "-", "-", "-", "-"],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) out(r.map((c2, i) => c2.padEnd(widths[i]!)).join("  "));
} catch (err) {
  out(`bench failed: ${(err as Error).message}`);
  failed = true;
} finally {
  await nats.jsm.streams.delete(config.nats.stream).catch(() => undefined);
  await nats.nc.close();
  await sql.end({ timeout: 5 });
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
