/**
 * Ingest benchmark: NATS JetStream → IngestConsumer → pipeline → a fresh embedded TimescaleDB.
 *
 *   bun run bench:ingest [--events N] [--batch-size B]
 *   (N default 200,000; B = INGEST_BATCH_SIZE, default 500; NATS_URL defaults to nats://127.0.0.1:4222)
 *
 * Processes: this bench process runs the worker (and the raw consume+ack ceiling) and nothing else,
 * so its RSS is the worker's (a full GC before each worker starts drops the earlier phases' garbage;
 * the RSS at that moment is printed too); the messages are built and published by publisher children
 * (ingest-publisher.ts, the mix in ingest-events.ts), and the embedded engine is a child of its own.
 * A child reports one JSON line per event on its stdout ("built", "published", "error") and publishes
 * only when told "go" on its stdin, so its build time is in no measurement.
 *
 * What it does, in one run:
 *   1. a publisher child builds N realistic mixed events for 20 tenants (pre-serialised): 1 %
 *      duplicates (the same bytes republished with a DIFFERENT Nats-Msg-Id, so JetStream's duplicate
 *      window keeps them and the pipeline must catch them) and 0.5 % invalid (bad total, unknown type,
 *      malformed JSON bytes, tenant mismatch, round-robin), times validateEvent alone on them, and
 *      reports the counts (per dead-letter reason) the verification expects;
 *   2. ceiling (a) publish only: on "go", the child publishes the N messages to a throwaway stream
 *      (acks awaited in windows of 1000) and reports its own time;
 *   3. ceiling (b) consume+ack only: a throwaway durable pull consumer on that stream, in this
 *      process, acks everything;
 *   4. end to end: the worker (IngestConsumer + the pipeline of buildIngest) runs here against its
 *      own embedded engine (temp data dir, migrated); the clock starts when the child is told "go" and
 *      publishes the same N messages to the bench's own stream; it stops when every message is handled
 *      and the stored and dead-lettered counts reach the expected numbers (polled cheaply from
 *      ingest_counters, written in the batch's own statement, on the SAME one-connection sql client
 *      the pipeline uses); the final check is an exact `count(*)` of events and dead_letter_events;
 *      the child then exits;
 *   5. (c) drain: a second publisher child publishes N more messages (same tenants, fresh ids, same
 *      mix) while no worker runs and exits; then a new consumer drains them: the worker and the engine
 *      alone on the 2 cores (in production the publishers run elsewhere); counts checked exactly
 *      again, in total and per dead-letter reason;
 *   6. prints the table (with the worker's peak RSS per phase), the worker's peak RSS during end to
 *      end and drain against the goal (< 300 MB), the publisher children's and the engine child's
 *      peaks (/proc VmRSS sampled every 100 ms, and VmHWM), and where the time went.
 * Exit code 1 when the stored / dead-lettered counts are not exactly the expected ones, or when a
 * publisher child fails or dies (it reports an error line, or exits non-zero or early).
 * Stream, subject prefix and consumer names are unique per run; everything is deleted at the end.
 *
 * If the embedded engine dies during the run the bench says so and exits 1 instead of waiting. It also
 * prints the consumer's effective ack_wait and how many messages were processed more than once (a
 * redelivered invalid event is dead-lettered twice: exit 1).
 * The time breakdown comes from bench-only wrappers (sql proxy, pipeline.process, the privacy step,
 * dead-letter publishes, metric updates); event-loop waits show up in whatever was being awaited.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Subprocess } from "bun";
import { AckPolicy, DeliverPolicy, DiscardPolicy, nanos, RetentionPolicy, StorageType } from "nats";
import { loadConfig } from "../../src/config.ts";
import { createSql, type Sql } from "../../src/db/client.ts";
import { EmbeddedEngine } from "../../src/db/embedded/manager.ts";
import { migrate, migrateSettings } from "../../src/db/migrate.ts";
import { buildIngest } from "../../src/deps.ts";
import { IngestConsumer } from "../../src/ingest/consumer.ts";
import type { IngestPipeline } from "../../src/ingest/pipeline.ts";
import type { Privacy } from "../../src/ingest/privacy/privacy.ts";
import type { ValidEvent } from "../../src/ingest/types.ts";
import { createLogger } from "../../src/logger.ts";
import { createMetrics, type Metrics } from "../../src/metrics/metrics.ts";
import { closeNats, connectNats, type NatsHandle } from "../../src/nats/connection.ts";
import { lineReader, mixCounts, type PublisherEvent, TENANTS } from "./ingest-events.ts";
import { engineChildPid, machineIdleSeconds, pidOf, procCpuSeconds, procStatusKb } from "./proc.ts";

// ─── arguments, configuration ───────────────────────────────────────────────────────────────────────

const { values: args } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    events: { type: "string", default: "200000" },
    "batch-size": { type: "string", default: "500" },
  },
  strict: true,
});
const N = Number(args.events);
if (!Number.isInteger(N) || N < 1_000) {
  console.error("--events must be an integer ≥ 1000");
  process.exit(2);
}

const BATCH = Number(args["batch-size"]);
if (!Number.isInteger(BATCH) || BATCH < 1 || BATCH > 10_000) {
  console.error("--batch-size must be an integer from 1 to 10000");
  process.exit(2);
}

const { duplicates: DUPLICATES, invalid: INVALID, originals: ORIGINALS } = mixCounts(N);
const EXPECTED_STORED = ORIGINALS - INVALID;
const EXPECTED_DEAD = INVALID;
/** what the worker's peak RSS should stay under (end to end and drain) */
const RSS_GOAL_MB = 300;
/** the clock stops at the first poll that sees the expected counts; give up after this long without progress */
const STALL_MS = 120_000;

const runId = `${Date.now().toString(36)}${crypto.randomUUID().slice(0, 4)}`;
const dataDir = mkdtempSync(join(tmpdir(), "pulse-bench-"));
const env: Record<string, string> = {
  NODE_ENV: "test",
  LOG_LEVEL: "warn",
  NATS_URL: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  NATS_STREAM: `PULSE_BENCH_${runId.toUpperCase()}`,
  NATS_SUBJECT_PREFIX: `bench_${runId}`,
  NATS_CONSUMER: `pulse-bench-${runId}`,
  EMBEDDED_DATA_DIR: join(dataDir, "timescaledb"),
  EMBEDDED_PORT: "0",
  DB_POOL_MAX: "1",
  INGEST_BATCH_SIZE: String(BATCH),
  INGEST_FLUSH_MS: "200",
  TIMESCALE_JOBS: "service",
};
const config = loadConfig(env);
const logger = createLogger({ level: "warn", format: "pretty" });
const RAW_STREAM = `${config.nats.stream}_RAW`;
const RAW_PREFIX = `${config.nats.subjectPrefix}_raw`;

// ─── memory sampling ────────────────────────────────────────────────────────────────────────────────
// The bench process runs the worker and never holds the messages (the publisher children do), so its
// RSS during end to end and (c) drain is the worker's (plus the bench's own small instrumentation).

let peakRss = process.memoryUsage.rss();
/** the phase running now, and the peak RSS of the bench process per phase (bytes) */
let phase = "setup";
const phasePeaks = new Map<string, number>();
/** the embedded engine child, once started, and its peak VmRSS per phase (kB) */
let enginePid: number | null = null;
const enginePhasePeaksKb = new Map<string, number>();
/** the publisher children alive now (each samples its own VmRSS / VmHWM) */
const livePublishers = new Set<PublisherChild>();
const rssTimer = setInterval(() => {
  const r = process.memoryUsage.rss();
  if (r > peakRss) peakRss = r;
  if (r > (phasePeaks.get(phase) ?? 0)) phasePeaks.set(phase, r);
  const e = enginePid ? procStatusKb(enginePid, "VmRSS") : null;
  if (e !== null && e > (enginePhasePeaksKb.get(phase) ?? 0)) enginePhasePeaksKb.set(phase, e);
  for (const p of livePublishers) p.sample();
}, 100);

/** the soft-limit collections a worker ran (src/ingest/memory-guard.ts), from its metrics */
async function guardSummary(m: Metrics): Promise<string> {
  const runs = (await m.memoryCollections.get()).values;
  const n = (result: string) => runs.find((v) => v.labels.result === result)?.value ?? 0;
  const seconds = (await m.memoryCollectionSeconds.get()).values.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0;
  return `${n("under") + n("over")} full collections (${n("over")} left it above the limit), ${(seconds * 1000).toFixed(0)} ms in all`;
}

/** the worker's memory right now: RSS, live JS heap and memory outside it (buffers), then RSS after a full GC */
function memoryAtEnd(): string {
  const m = process.memoryUsage();
  const f = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
  Bun.gc(true);
  const after = process.memoryUsage();
  return `RSS ${f(m.rss)} (JS heap used ${f(m.heapUsed)}, array buffers ${f(m.arrayBuffers)}); after a full GC: RSS ${f(after.rss)}, heap used ${f(after.heapUsed)}`;
}

const mb = (kb: number | null) => (kb === null ? "n/a" : `${(kb / 1024).toFixed(0)} MB`);

// ─── the publisher children ─────────────────────────────────────────────────────────────────────────

const PUBLISHER_SCRIPT = join(import.meta.dir, "ingest-publisher.ts");

type PublisherEventOf<K extends PublisherEvent["event"]> = Extract<PublisherEvent, { event: K }>;

/**
 * One ingest-publisher.ts child: it builds the messages, reports "built", then publishes them to each
 * of its targets when told "go" (a line on its stdin), reporting "published" each time, and exits 0.
 * A child that reports an error, prints something else, or ends before the line waited for fails the
 * wait (and `failure` is set for loops that do not wait on it): the bench then exits 1.
 */
class PublisherChild {
  readonly proc: Subprocess<"pipe", "pipe", "inherit">;
  /** peak VmRSS sampled every 100 ms, and VmHWM (sampled, and reported by the child itself), kB */
  peakRssKb = 0;
  hwmKb = 0;
  failure: Error | undefined;
  private readonly received: PublisherEvent[] = [];
  private waiters: Array<() => void> = [];
  private ended = false;
  private readonly reading: Promise<void>;

  constructor(
    readonly label: string,
    argv: string[],
  ) {
    this.proc = Bun.spawn([process.execPath, PUBLISHER_SCRIPT, ...argv], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    livePublishers.add(this);
    this.reading = this.read();
  }

  get pid(): number {
    return this.proc.pid;
  }

  private async read(): Promise<void> {
    const next = lineReader(this.proc.stdout);
    try {
      for (let line = await next(); line !== null; line = await next()) {
        if (line.trim() === "") continue;
        let e: PublisherEvent;
        try {
          e = JSON.parse(line) as PublisherEvent;
        } catch {
          throw new Error(`unexpected output on its stdout: ${line.slice(0, 200)}`);
        }
        if (e.event === "error") throw new Error(e.message);
        if (e.event === "published" && e.vmHwmKb !== null) this.hwmKb = Math.max(this.hwmKb, e.vmHwmKb);
        this.received.push(e);
        this.wake();
      }
      const code = await this.proc.exited;
      if (code !== 0) throw new Error(`exited with code ${code}${this.proc.signalCode ? ` (${this.proc.signalCode})` : ""}`);
    } catch (err) {
      this.failure ??= new Error(
        `publisher child "${this.label}" (pid ${this.pid}) failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    } finally {
      this.ended = true;
      livePublishers.delete(this);
      this.wake();
    }
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** the next line of this kind; throws when the child failed or ended without it */
  async wait<K extends "built" | "published">(kind: K): Promise<PublisherEventOf<K>> {
    for (;;) {
      if (this.failure) throw this.failure;
      const i = this.received.findIndex((e) => e.event === kind);
      if (i >= 0) return this.received.splice(i, 1)[0] as PublisherEventOf<K>;
      if (this.ended) throw new Error(`publisher child "${this.label}" (pid ${this.pid}) ended without reporting "${kind}"`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** tell the child to publish to its next target */
  go(): void {
    if (this.failure) throw this.failure;
    this.proc.stdin.write("go\n");
    void this.proc.stdin.flush();
  }

  /** wait for the child to exit after its last target; throws unless it exited 0 */
  async done(): Promise<void> {
    try {
      await this.proc.stdin.end();
    } catch {
      // its stdin is already closed (it exited): its exit code decides
    }
    await this.reading;
    if (this.failure) throw this.failure;
  }

  sample(): void {
    const rss = procStatusKb(this.pid, "VmRSS");
    const hwm = procStatusKb(this.pid, "VmHWM");
    if (rss !== null && rss > this.peakRssKb) this.peakRssKb = rss;
    if (hwm !== null && hwm > this.hwmKb) this.hwmKb = hwm;
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill();
  }
}

/** the arguments of a publisher child publishing N messages with `seed` to `targets` ([stream, prefix]) */
function publisherArgs(seed: number, targets: Array<[string, string]>, validate?: object): string[] {
  return [
    "--events",
    String(N),
    "--nats-url",
    env.NATS_URL!,
    "--run-id",
    runId,
    "--seed",
    String(seed),
    ...targets.flatMap(([stream, prefix]) => ["--target", `${stream}=${prefix}`]),
    ...(validate ? ["--validate", JSON.stringify(validate)] : []),
  ];
}

/** the child must have built exactly the mix the expected counts assume */
function checkBuilt(label: string, b: PublisherEventOf<"built">): PublisherEventOf<"built"> {
  const invalid = Object.values(b.invalidByReason).reduce((s, x) => s + x, 0);
  if (b.messages !== N || b.duplicates !== DUPLICATES || b.invalid !== INVALID || invalid !== INVALID) {
    throw new Error(
      `publisher child "${label}" built ${b.messages} messages, ${b.duplicates} duplicates, ${b.invalid} invalid (${invalid} by reason); expected ${N}, ${DUPLICATES}, ${INVALID}`,
    );
  }
  return b;
}

// ─── the raw ceilings ───────────────────────────────────────────────────────────────────────────────

async function addStream(nats: NatsHandle, name: string, prefix: string): Promise<void> {
  await nats.jsm.streams.add({
    name,
    subjects: [`${prefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(config.nats.duplicateWindowMs),
    max_age: nanos(config.nats.maxAgeMs),
    num_replicas: 1,
    max_msg_size: 1024 * 1024,
  });
}

/** a throwaway durable consumer (same settings as the ingest one) that only acks */
async function consumeAckAll(nats: NatsHandle, stream: string, prefix: string, expected: number): Promise<number> {
  const name = `${config.ingest.consumer}-raw`;
  await nats.jsm.consumers.add(stream, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(config.ingest.ackWaitMs),
    max_deliver: config.ingest.maxDeliver,
    filter_subject: `${prefix}.>`,
    max_ack_pending: Math.max(config.ingest.batchSize * 4, 1_000),
  });
  const consumer = await nats.js.consumers.get(stream, name);
  const started = performance.now();
  const messages = await consumer.consume({ max_messages: config.ingest.batchSize * 2, expires: 5_000 });
  let acked = 0;
  let last = Date.now();
  const watchdog = setInterval(() => {
    if (Date.now() - last > 30_000) void messages.close();
  }, 1_000);
  try {
    // no `break`: with nats 2.29.3, close() after breaking out of the iterator never resolves; closing
    // while iterating ends the loop cleanly
    for await (const m of messages) {
      m.ack();
      acked += 1;
      last = Date.now();
      if (acked === expected) void messages.close();
    }
  } finally {
    clearInterval(watchdog);
    await Promise.race([messages.close().catch(() => undefined), Bun.sleep(1_000)]);
  }
  await nats.nc.flush();
  const seconds = (performance.now() - started) / 1000;
  if (acked < expected) throw new Error(`consume ceiling: only ${acked} of ${expected} messages arrived`);
  await nats.jsm.consumers.delete(stream, name).catch(() => undefined);
  return seconds;
}

// ─── instrumentation (bench-only wrappers; nothing in src changes) ──────────────────────────────────

interface Profile {
  batches: number;
  messages: number;
  /** pipeline.commit: anonymise, the write, remember, dead-letter publishes (summed: commits overlap) */
  processMs: number;
  /** wall time with at least one commit in flight (INGEST_PIPELINE_DEPTH lets two overlap) */
  commitBusyMs: number;
  /** pipeline.prepare: validation and dedup (CPU, overlaps the previous batch's write) */
  validateMs: number;
  prepareMs: number;
  toRowMs: number;
  txMs: number;
  txCount: number;
  /** time of the statements run inside transactions (the rest of txMs is begin/commit and client overhead) */
  txStatementsMs: number;
  /** the largest `insert into events` (its parameters), bytes */
  maxInsertEventsBytes: number;
  dlqMs: number;
  dlqCount: number;
  metricsMs: number;
  statements: Map<string, { n: number; ms: number }>;
}
const prof: Profile = {
  batches: 0,
  messages: 0,
  processMs: 0,
  commitBusyMs: 0,
  validateMs: 0,
  prepareMs: 0,
  toRowMs: 0,
  txMs: 0,
  txCount: 0,
  txStatementsMs: 0,
  maxInsertEventsBytes: 0,
  dlqMs: 0,
  dlqCount: 0,
  metricsMs: 0,
  statements: new Map(),
};

function labelOf(strings: readonly string[]): string {
  const text = strings.join("?").replace(/\s+/g, " ");
  if (/^ ?with input as \(/i.test(text)) return "write batch (one statement)";
  const ins = /insert into (\w+)/i.exec(text);
  if (/^ ?with ins as \( insert into (\w+)/i.test(text)) return `get-or-create ${ins?.[1]}`;
  if (ins) return `insert ${ins[1]}`;
  const from = /from (\w+)/i.exec(text);
  return from ? `select ${from[1]}` : text.trim().slice(0, 30);
}

function timeStatement(label: string, query: unknown, inTx: boolean): void {
  const q = query as PromiseLike<unknown>;
  const t0 = performance.now();
  const done = () => {
    const s = prof.statements.get(label) ?? { n: 0, ms: 0 };
    s.n += 1;
    s.ms += performance.now() - t0;
    if (inTx) prof.txStatementsMs += performance.now() - t0;
    prof.statements.set(label, s);
  };
  // postgres.js queries run when first awaited; the pipeline awaits each right away, so this is equivalent
  q.then(done, done);
}

/** about the size of a statement's parameters on the wire (text format) */
function paramBytes(params: unknown[]): number {
  let n = 0;
  for (const p of params) {
    if (!Array.isArray(p)) continue;
    for (const x of p) n += (x === null ? 4 : Buffer.byteLength(String(x))) + 3; // value, quoting and separator
  }
  return n;
}

/**
 * the largest batch statement's parameter size, from every 16th batch: sizing every one would add
 * about 0.4 ms per batch (1 % of the worker's CPU) to what is being measured
 */
let batchStatements = 0;
function sizeBatchStatement(params: unknown[]): void {
  if (batchStatements++ % 16 === 0) prof.maxInsertEventsBytes = Math.max(prof.maxInsertEventsBytes, paramBytes(params));
}

function isTemplate(a: unknown): a is TemplateStringsArray {
  return Array.isArray(a) && "raw" in a;
}

/** the same client, with every tagged-template query and every transaction timed */
function instrumentSql(sql: Sql): Sql {
  const wrapTx = <T extends object>(tx: T): T =>
    new Proxy(tx, {
      apply(target, thisArg, argv: unknown[]) {
        const q = Reflect.apply(target as (...a: unknown[]) => unknown, thisArg, argv);
        if (isTemplate(argv[0])) {
          const label = labelOf(argv[0]);
          timeStatement(label, q, true);
          if (label.startsWith("write batch")) sizeBatchStatement(argv.slice(1));
        }
        return q;
      },
    });
  return new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop !== "begin") return Reflect.get(target, prop, receiver);
      return async (...argv: unknown[]) => {
        const fn = argv[argv.length - 1] as (tx: object) => unknown;
        argv[argv.length - 1] = (tx: object) => fn(wrapTx(tx));
        const t0 = performance.now();
        try {
          return await (target.begin as (...a: unknown[]) => Promise<unknown>)(...argv);
        } finally {
          prof.txMs += performance.now() - t0;
          prof.txCount += 1;
        }
      };
    },
    apply(target, thisArg, argv: unknown[]) {
      const q = Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, argv);
      if (isTemplate(argv[0])) {
        const label = labelOf(argv[0]);
        timeStatement(label, q, false);
        if (label.startsWith("write batch")) sizeBatchStatement(argv.slice(1));
      }
      return q;
    },
  });
}

/** time the dead-letter publishes (awaited by the pipeline) and the metric updates */
function instrumentNatsAndMetrics(h: NatsHandle, metrics: Metrics): void {
  const publish = h.js.publish.bind(h.js);
  const dlq = `${h.subjectPrefix}.dlq.`;
  h.js.publish = ((subject: string, ...rest: Parameters<typeof publish> extends [string, ...infer R] ? R : never) => {
    if (!subject.startsWith(dlq)) return publish(subject, ...rest);
    const t0 = performance.now();
    return publish(subject, ...rest).finally(() => {
      prof.dlqMs += performance.now() - t0;
      prof.dlqCount += 1;
    });
  }) as typeof h.js.publish;
  for (const m of [metrics.ingestEvents, metrics.deadLetters, metrics.dedupLookups] as Array<{ inc: (...a: never[]) => void }>) {
    const inc = m.inc.bind(m) as (...a: unknown[]) => void;
    m.inc = ((...a: unknown[]) => {
      const t0 = performance.now();
      inc(...a);
      prof.metricsMs += performance.now() - t0;
    }) as typeof m.inc;
  }
}

function instrumentPipeline(pipeline: IngestPipeline): void {
  // the consumer calls prepare() (validation, dedup: CPU) and later commit() (the write) per batch
  const prepareBatch = pipeline.prepare.bind(pipeline);
  pipeline.prepare = (msgs) => {
    const t0 = performance.now();
    try {
      return prepareBatch(msgs);
    } finally {
      prof.validateMs += performance.now() - t0;
      prof.batches += 1;
      prof.messages += msgs.length;
    }
  };
  const commitBatch = pipeline.commit.bind(pipeline);
  let inFlight = 0;
  let busySince = 0;
  pipeline.commit = async (batch) => {
    const t0 = performance.now();
    if (inFlight++ === 0) busySince = t0;
    try {
      return await commitBatch(batch);
    } finally {
      const t1 = performance.now();
      prof.processMs += t1 - t0;
      if (--inFlight === 0) prof.commitBusyMs += t1 - busySince;
    }
  };
  // the privacy step sits in the pipeline's private options; time it when it is where we expect it
  const privacy = (pipeline as unknown as { o?: { privacy?: Privacy } }).o?.privacy;
  if (!privacy) return;
  const prepare = privacy.prepare.bind(privacy);
  privacy.prepare = async (events: ValidEvent[], now: Date) => {
    const t0 = performance.now();
    const toRow = await prepare(events, now);
    prof.prepareMs += performance.now() - t0;
    return (e) => {
      const t1 = performance.now();
      try {
        return toRow(e);
      } finally {
        prof.toRowMs += performance.now() - t1;
      }
    };
  };
}

// ─── the run ────────────────────────────────────────────────────────────────────────────────────────

interface Row {
  phase: string;
  events: number;
  seconds: number;
  ceiling: number | null;
  /** peak RSS of the worker (the bench process) in this phase, bytes; null where no worker runs */
  workerRss: number | null;
}

function printTable(rows: Row[]): void {
  const header = ["phase", "events", "seconds", "events/s", "ratio to ceiling", "worker peak RSS"];
  const body = rows.map((r) => {
    const rate = r.events / r.seconds;
    return [
      r.phase,
      r.events.toLocaleString("en-US"),
      r.seconds.toFixed(2),
      Math.round(rate).toLocaleString("en-US"),
      r.ceiling === null ? "—" : `${((rate / r.ceiling) * 100).toFixed(1)} %`,
      r.workerRss === null ? "—" : mb(r.workerRss / 1024),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  │  ");
  console.log(line(header));
  console.log(widths.map((w) => "─".repeat(w)).join("──┼──"));
  for (const b of body) console.log(line(b));
}

function engineDied(eng: EmbeddedEngine): Error {
  return new Error(`the embedded engine died during the run (restarts: ${eng.status().restarts}; its stderr is above)`);
}

let engine: EmbeddedEngine | undefined;
let sql: Sql | undefined;
let nats: NatsHandle | undefined;
let worker: IngestConsumer | undefined;
let cleaned = false;

async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  clearInterval(rssTimer);
  for (const p of livePublishers) p.kill();
  await worker?.stop().catch(() => undefined);
  if (nats) {
    await nats.jsm.streams.delete(config.nats.stream).catch(() => undefined);
    await nats.jsm.streams.delete(RAW_STREAM).catch(() => undefined);
    await closeNats(nats).catch(() => undefined);
  }
  await sql?.end({ timeout: 5 }).catch(() => undefined);
  await engine?.stop().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
}

process.once("SIGINT", () => {
  console.error("\ninterrupted: cleaning up");
  void cleanup().finally(() => process.exit(130));
});

async function main(): Promise<number> {
  console.log(
    `Pulse ingest benchmark: ${N.toLocaleString("en-US")} events, ${TENANTS} tenants, ${DUPLICATES} duplicates, ${INVALID} invalid`,
  );
  console.log(
    `stream ${config.nats.stream}, subjects ${config.nats.subjectPrefix}.>, batch ${config.ingest.batchSize}, flush ${config.ingest.flushMs} ms, data dir ${dataDir}`,
  );

  // the publisher child of (a) and end to end: it builds the messages (and times validation alone on
  // them), then publishes them to the raw stream on the first "go" and to the bench's stream on the second
  let t = performance.now();
  phase = "build (publisher child)";
  const publisher = new PublisherChild(
    "ceiling + end to end",
    publisherArgs(
      0,
      [
        [RAW_STREAM, RAW_PREFIX],
        [config.nats.stream, config.nats.subjectPrefix],
      ],
      {
        sample: 50_000,
        maxFutureMs: config.ingest.maxFutureMs,
        retentionMs: config.storage.retentionDays * 86_400_000,
        maxBytes: config.ingest.maxEventBytes,
        maxDepth: config.security.jsonMaxDepth,
      },
    ),
  );
  const built = checkBuilt(publisher.label, await publisher.wait("built"));
  const invalidByReason = built.invalidByReason;
  console.log(
    `publisher child (pid ${publisher.pid}) built ${built.messages.toLocaleString("en-US")} messages (${(built.bytes / 1024 / 1024).toFixed(1)} MB, avg ${Math.round(built.bytes / built.messages)} B) in ${built.seconds.toFixed(1)} s (${((performance.now() - t) / 1000).toFixed(1)} s with its start)`,
  );

  phase = "setup";
  t = performance.now();
  const eng = new EmbeddedEngine({ dataDir: config.db.embedded.dataDir, port: 0, logger });
  engine = eng;
  await eng.start();
  enginePid = engineChildPid();
  sql = createSql(eng.url, { max: 1, statementTimeoutMs: config.db.statementTimeoutMs, logger, embedded: true });
  await migrate(sql, { logger, settings: migrateSettings(config) });
  console.log(
    `embedded engine up and migrated in ${((performance.now() - t) / 1000).toFixed(1)} s (child pid ${enginePid ?? "not found"})`,
  );

  nats = await connectNats(config.nats, logger); // creates the bench's own stream
  await addStream(nats, RAW_STREAM, RAW_PREFIX);

  // (a) publish ceiling: the child publishes to the raw stream alone and times it itself
  phase = "(a) publish (child)";
  publisher.go();
  const raw = await publisher.wait("published");
  const publishSeconds = raw.seconds;
  if (raw.dropped > 0) throw new Error(`JetStream dropped ${raw.dropped} messages as duplicates in the publish ceiling`);
  console.log(`(a) publish ceiling: ${publishSeconds.toFixed(2)} s (in the publisher child)`);

  // (b) consume+ack ceiling (in the bench process; the publisher child idles)
  phase = "(b) consume+ack";
  const consumeSeconds = await consumeAckAll(nats, RAW_STREAM, RAW_PREFIX, N);
  console.log(`(b) consume+ack ceiling: ${consumeSeconds.toFixed(2)} s`);
  await nats.jsm.streams.delete(RAW_STREAM).catch(() => undefined);

  // end to end
  phase = "end to end";
  const metrics = createMetrics({ defaultMetrics: false });
  const timedSql = instrumentSql(sql);
  instrumentNatsAndMetrics(nats, metrics);
  // `let`: released after this phase, so the drain's worker RSS does not carry this one's dedup cache
  let e2eIngest: ReturnType<typeof buildIngest> | undefined = buildIngest({ config, logger, sql: timedSql, metrics, nats });
  instrumentPipeline(e2eIngest.ingest);
  worker = new IngestConsumer({ nats, pipeline: e2eIngest.ingest, cfg: config.ingest, logger, metrics });
  // the garbage of the earlier phases (the consume ceiling's N messages) is not the worker's: collect
  // it before the worker starts, so its peak RSS starts from what it really holds
  Bun.gc(true);
  const workerRssAtStart = process.memoryUsage.rss();
  await worker.start();
  const consumerInfo0 = await nats.jsm.consumers.info(config.nats.stream, config.ingest.consumer);
  const effectiveAckWaitS = (consumerInfo0.config.ack_wait ?? 0) / 1e9;

  const cpu0 = process.cpuUsage();
  const engineCpu0 = enginePid ? procCpuSeconds(enginePid) : null;
  const natsPid = pidOf("nats-server");
  const natsCpu0 = natsPid ? procCpuSeconds(natsPid) : null;
  const idle0 = machineIdleSeconds();
  // the clock starts when the (already built, already connected) child is told to publish
  const e2eStart = performance.now();
  publisher.go();
  let publishDoneAt = 0;
  let publishError: unknown;
  let e2eDropped = 0;
  /** the child's own publish time (the "publish, worker running" row) */
  let e2ePublishSeconds = 0;
  let e2ePublishCpu = 0;
  const publishing = publisher.wait("published").then(
    (p) => {
      e2eDropped = p.dropped;
      e2ePublishSeconds = p.seconds;
      e2ePublishCpu = p.cpuSeconds;
      publishDoneAt = performance.now();
    },
    (err) => {
      publishError = err;
    },
  );

  const h = nats;
  /** nothing left to deliver or to ack (our dead letters, published to the same stream, included) */
  const drained = async () => {
    if (!publishDoneAt) return false;
    const info = await h.jsm.consumers.info(config.nats.stream, config.ingest.consumer);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  };
  let stored = 0;
  let dead = 0;
  let polls = 0;
  let pollMs = 0;
  const poll = async () => {
    const p0 = performance.now();
    if (eng.status().restarts > 0) throw engineDied(eng);
    let row: { stored: number; dead: number } | undefined;
    try {
      [row] = await sql!<Array<{ stored: number; dead: number }>>`
        select (select coalesce(sum(accepted), 0) from ingest_counters)::int as stored,
               (select count(*) from dead_letter_events)::int as dead`;
    } catch (err) {
      throw eng.status().restarts > 0 ? engineDied(eng) : err;
    }
    pollMs += performance.now() - p0;
    polls += 1;
    stored = row!.stored;
    dead = row!.dead;
  };
  let lastPoll = performance.now();
  let lastProgress = Date.now();
  let lastSeen = -1;
  let progressAt = Date.now();
  /** when the counts first reached the expected ones (the end of the end-to-end clock) */
  let doneAt = 0;
  let cpu = process.cpuUsage(cpu0);
  let engineCpu1: number | null = null;
  let natsCpu1: number | null = null;
  let idle1: number | null = null;
  const markDone = () => {
    doneAt = performance.now();
    cpu = process.cpuUsage(cpu0);
    engineCpu1 = enginePid ? procCpuSeconds(enginePid) : null;
    natsCpu1 = natsPid ? procCpuSeconds(natsPid) : null;
    idle1 = machineIdleSeconds();
  };
  for (;;) {
    await Bun.sleep(50);
    // a child that died (or reported an error) fails the run at once
    if (publishError) throw publishError;
    if (publisher.failure) throw publisher.failure;
    const s = worker.stats;
    const handled = s.acked + s.terminated;
    if (handled !== lastSeen) {
      lastSeen = handled;
      lastProgress = Date.now();
    }
    // every message handled at least once (and nothing pending): the counts are final
    if (handled >= N && (await drained())) {
      await poll();
      if (!doneAt) markDone();
      break;
    }
    if (performance.now() - lastPoll >= 1_000) {
      await poll();
      lastPoll = performance.now();
      if (!doneAt && stored >= EXPECTED_STORED && dead >= EXPECTED_DEAD) markDone();
    }
    if (Date.now() - lastProgress > STALL_MS) {
      console.error(`no progress for ${STALL_MS / 1000} s: stats ${JSON.stringify(s)}`);
      await poll();
      break;
    }
    if (Date.now() - progressAt > 10_000) {
      progressAt = Date.now();
      console.log(
        `  … ${((performance.now() - e2eStart) / 1000).toFixed(0)} s: stored ${stored}, dead letters ${dead}, handled ${handled} / ${N}`,
      );
    }
  }
  await publishing;
  if (publishError) throw publishError;
  await publisher.done(); // published to its last target: it exits 0 (anything else fails the run)
  const e2eEnd = doneAt || performance.now();
  const e2eSeconds = (e2eEnd - e2eStart) / 1000;
  const wallSeconds = e2eSeconds;
  /** a process's CPU seconds over the end-to-end clock and its share of one core */
  const cpuShare = (a: number | null, b: number | null) =>
    a !== null && b !== null ? `${(b - a).toFixed(1)} s (${(((b - a) / wallSeconds) * 100).toFixed(0)} %)` : "n/a";
  const e2eMemory = memoryAtEnd(); // before the worker stops: what its RSS is made of
  await worker.stop();
  const e2eDedup = { hits: e2eIngest.dedup.hits, misses: e2eIngest.dedup.misses };
  const e2eConsumerStats = { ...worker.stats };
  // released for the drain; its dedup cache (197k keys, ~45 MB) is emptied as well, because the engine
  // behind Bun (JavaScriptCore) scans the stack conservatively and was seen to keep this phase's
  // pipeline reachable through a stale slot of this top-level frame, and the drain worker's RSS with it
  e2eIngest.dedup.clear();
  e2eIngest = undefined;
  worker = undefined;
  {
    // the verdict comes from the tables themselves, not from the counters
    const [exact] = await sql<Array<{ stored: number; dead: number }>>`
      select (select count(*) from events)::int as stored, (select count(*) from dead_letter_events)::int as dead`;
    stored = exact!.stored;
    dead = exact!.dead;
  }
  const reasons = await sql<
    Array<{ reason: string; n: number }>
  >`select reason, count(*)::int as n from dead_letter_events group by reason order by reason`;

  // (c) the worker alone: N fresh messages (same tenants, new ids) published by a second child while
  // no worker runs, then drained by a new consumer (same durable) — the worker and the engine without
  // a publisher sharing the cores
  phase = "(c) backlog publish (child)";
  const backlogPublisher = new PublisherChild("drain backlog", publisherArgs(1, [[config.nats.stream, config.nats.subjectPrefix]]));
  const backlogBuilt = checkBuilt(backlogPublisher.label, await backlogPublisher.wait("built"));
  backlogPublisher.go();
  const drainDropped = (await backlogPublisher.wait("published")).dropped;
  await backlogPublisher.done();
  phase = "(c) drain";
  const drainMetrics = createMetrics({ defaultMetrics: false });
  const drainIngest = buildIngest({ config, logger, sql, metrics: drainMetrics, nats }).ingest;
  const drainer = new IngestConsumer({
    nats,
    pipeline: drainIngest,
    cfg: config.ingest,
    logger,
    metrics: createMetrics({ defaultMetrics: false }),
  });
  Bun.gc(true); // the same for the end-to-end run's garbage (its worker is stopped)
  const drainRssAtStart = process.memoryUsage.rss();
  const drainCpu0 = process.cpuUsage();
  const drainEngineCpu0 = enginePid ? procCpuSeconds(enginePid) : null;
  const d0 = performance.now();
  await drainer.start();
  let drainStored = 0;
  let drainDead = 0;
  let drainProgressAt = Date.now();
  for (;;) {
    await Bun.sleep(100);
    if (eng.status().restarts > 0) throw engineDied(eng);
    const [r] = await sql<Array<{ stored: number; dead: number }>>`
      select (select coalesce(sum(accepted), 0) from ingest_counters)::int as stored, (select count(*) from dead_letter_events)::int as dead`;
    if (r!.stored + r!.dead !== drainStored + drainDead) drainProgressAt = Date.now();
    drainStored = r!.stored;
    drainDead = r!.dead;
    if (drainStored >= stored + EXPECTED_STORED && drainDead >= dead + EXPECTED_DEAD) break;
    if (Date.now() - drainProgressAt > STALL_MS) {
      console.error(`drain: no progress for ${STALL_MS / 1000} s: stats ${JSON.stringify(drainer.stats)}`);
      break;
    }
  }
  const drainSeconds = (performance.now() - d0) / 1000;
  const drainCpu = process.cpuUsage(drainCpu0);
  const drainEngineCpu = enginePid && drainEngineCpu0 !== null ? (procCpuSeconds(enginePid) ?? drainEngineCpu0) - drainEngineCpu0 : null;
  const drainMemory = memoryAtEnd();
  await drainer.stop();
  const [afterDrain] = await sql<Array<{ stored: number; dead: number }>>`
    select (select count(*) from events)::int as stored, (select count(*) from dead_letter_events)::int as dead`;
  let drainOk = drainDropped === 0 && afterDrain!.stored === stored + EXPECTED_STORED && afterDrain!.dead === dead + EXPECTED_DEAD;
  // and per reason: the end-to-end dead letters plus what the backlog child built invalid
  const drainReasons = await sql<
    Array<{ reason: string; n: number }>
  >`select reason, count(*)::int as n from dead_letter_events group by reason order by reason`;
  const drainReasonMismatches: string[] = [];
  for (const reason of new Set([...Object.keys(backlogBuilt.invalidByReason), ...drainReasons.map((r) => r.reason)])) {
    const expected = (reasons.find((r) => r.reason === reason)?.n ?? 0) + (backlogBuilt.invalidByReason[reason] ?? 0);
    const got = drainReasons.find((r) => r.reason === reason)?.n ?? 0;
    if (got !== expected) drainReasonMismatches.push(`${reason}: ${got} dead letters, expected ${expected}`);
  }
  if (drainReasonMismatches.length > 0) drainOk = false;

  phase = "report";
  const engineHwmKb = enginePid ? procStatusKb(enginePid, "VmHWM") : null;
  const engineRssKb = enginePid ? procStatusKb(enginePid, "VmRSS") : null;
  const benchHwmKb = procStatusKb(process.pid, "VmHWM");
  const e2eWorkerRss = phasePeaks.get("end to end") ?? null;
  const drainWorkerRss = phasePeaks.get("(c) drain") ?? null;
  const validateUs = built.validateUs ?? Number.NaN;

  // ── report ──
  const ceiling = Math.min(N / publishSeconds, N / consumeSeconds);
  console.log("");
  printTable([
    { phase: "(a) publish only (ceiling)", events: N, seconds: publishSeconds, ceiling: N / publishSeconds, workerRss: null },
    { phase: "(b) consume+ack only (ceiling)", events: N, seconds: consumeSeconds, ceiling: N / consumeSeconds, workerRss: null },
    { phase: "publish, worker running", events: N, seconds: e2ePublishSeconds, ceiling: N / publishSeconds, workerRss: null },
    { phase: "end to end (publish → stored/DL)", events: N, seconds: e2eSeconds, ceiling, workerRss: e2eWorkerRss },
    { phase: "(c) worker draining a backlog", events: N, seconds: drainSeconds, ceiling: N / consumeSeconds, workerRss: drainWorkerRss },
  ]);
  console.log(
    `(end-to-end ratio is against the slower ceiling, ${Math.round(ceiling).toLocaleString("en-US")} events/s; the drain's against consume+ack)`,
  );
  console.log(`(publishing runs in a child process and times itself; worker peak RSS = the bench process, sampled every 100 ms)`);
  console.log(
    `(c) drain: the same mix with fresh ids published by a second child (pid ${backlogPublisher.pid}, exited) before the worker starts, so no publisher shares the 2 cores; CPU bench process ${((drainCpu.user + drainCpu.system) / 1e6).toFixed(1)} s, engine child ${drainEngineCpu !== null ? `${drainEngineCpu.toFixed(1)} s (${((drainEngineCpu / drainSeconds) * 100).toFixed(0)} %)` : "n/a"}; ` +
      `counts after it: stored ${afterDrain!.stored} (expected ${stored + EXPECTED_STORED}), dead letters ${afterDrain!.dead} (expected ${dead + EXPECTED_DEAD}) ${drainOk ? "OK" : "MISMATCH"}`,
  );

  console.log("");
  const goal = (b: number | null) => (b === null ? "n/a" : b < RSS_GOAL_MB * 1024 * 1024 ? "met" : "NOT met");
  console.log(
    `worker peak RSS (the bench process: IngestConsumer + pipeline, no messages held): end to end ${mb(e2eWorkerRss === null ? null : e2eWorkerRss / 1024)} (goal < ${RSS_GOAL_MB} MB: ${goal(e2eWorkerRss)}), ` +
      `(c) drain ${mb(drainWorkerRss === null ? null : drainWorkerRss / 1024)} (goal < ${RSS_GOAL_MB} MB: ${goal(drainWorkerRss)})`,
  );
  console.log(
    `  at the worker's start: end to end ${mb(workerRssAtStart / 1024)}, drain ${mb(drainRssAtStart / 1024)}; whole run peak ${mb(peakRss / 1024)} (VmHWM ${mb(benchHwmKb)}); by phase: ${[...phasePeaks].map(([p, b]) => `${p} ${mb(b / 1024)}`).join(", ")}`,
  );
  console.log(`  what it is made of, at the end of each worker phase: end to end ${e2eMemory}; drain ${drainMemory}`);
  console.log(
    `publisher child peak: ceiling + end to end ${mb(publisher.peakRssKb)} (VmHWM ${mb(publisher.hwmKb)}), drain backlog ${mb(backlogPublisher.peakRssKb)} (VmHWM ${mb(backlogPublisher.hwmKb)}; built ${backlogBuilt.messages.toLocaleString("en-US")} in ${backlogBuilt.seconds.toFixed(1)} s)`,
  );
  console.log(
    `embedded engine child peak: VmHWM ${mb(engineHwmKb)} (VmRSS at end ${mb(engineRssKb)}); VmRSS by phase: ${[...enginePhasePeaksKb].map(([p, kb]) => `${p} ${mb(kb)}`).join(", ")}`,
  );
  console.log(
    `CPU during end to end (${wallSeconds.toFixed(1)} s wall, ${cpus().length} cores): bench process ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (${(((cpu.user + cpu.system) / 1e6 / wallSeconds) * 100).toFixed(0)} %), engine child ${cpuShare(engineCpu0, engineCpu1)}, ` +
      `publisher child ${e2ePublishCpu.toFixed(1)} s (while publishing), nats-server ${cpuShare(natsCpu0, natsCpu1)}; machine idle ${idle0 !== null && idle1 !== null ? `${(idle1 - idle0).toFixed(1)} core-s` : "n/a"}`,
  );

  const ms = (x: number) => `${(x / 1000).toFixed(2)} s`;
  const share = (x: number) => `${((x / (e2eSeconds * 1000)) * 100).toFixed(0)} %`;
  console.log("");
  console.log(
    `where the end-to-end time went (${prof.batches} batches, avg ${(prof.messages / Math.max(1, prof.batches)).toFixed(0)} messages; wall ${e2eSeconds.toFixed(2)} s):`,
  );
  console.log(
    `  pipeline.prepare (validation, dedup) ${ms(prof.validateMs).padStart(9)}  ${share(prof.validateMs).padStart(5)}   (${((prof.validateMs * 1000) / Math.max(1, prof.messages)).toFixed(1)} µs/message; overlaps the previous batch's write)`,
  );
  console.log(
    `  pipeline.commit total              ${ms(prof.processMs).padStart(9)}  ${share(prof.processMs).padStart(5)}   (${(prof.processMs / Math.max(1, prof.batches)).toFixed(1)} ms/batch)`,
  );
  console.log(`    privacy.prepare (keys/salts)     ${ms(prof.prepareMs).padStart(9)}  ${share(prof.prepareMs).padStart(5)}`);
  console.log(
    `    privacy toRow (anonymise, CPU)   ${ms(prof.toRowMs).padStart(9)}  ${share(prof.toRowMs).padStart(5)}   (${((prof.toRowMs * 1000) / Math.max(1, EXPECTED_STORED)).toFixed(1)} µs/event)`,
  );
  let statementsMs = 0;
  for (const [label, s] of [...prof.statements].sort((a, b) => b[1].ms - a[1].ms)) {
    statementsMs += s.ms;
    console.log(
      `    ${label.padEnd(32)} ${ms(s.ms).padStart(9)}  ${share(s.ms).padStart(5)}   (${s.n}×, ${(s.ms / s.n).toFixed(1)} ms each)`,
    );
  }
  console.log(
    `      (largest batch statement of every 16th: ≈ ${(prof.maxInsertEventsBytes / 1024).toFixed(0)} KB of parameters, ≈ ${Math.round(prof.maxInsertEventsBytes / config.ingest.batchSize)} B/event)`,
  );
  console.log(
    `    dead-letter publishes            ${ms(prof.dlqMs).padStart(9)}          (${prof.dlqCount}×, concurrent within a batch: summed latencies)`,
  );
  console.log(`    metric updates (per batch)       ${ms(prof.metricsMs).padStart(9)}  ${share(prof.metricsMs).padStart(5)}`);
  const rest = prof.processMs - prof.prepareMs - prof.toRowMs - statementsMs - prof.metricsMs;
  console.log(
    `    rest: dead-letter publishes, event-loop waits ${ms(rest)}  ${share(rest)}   (validation alone: ${validateUs.toFixed(1)} µs/event standalone, timed in the publisher child ≈ ${ms((validateUs * N) / 1000)})`,
  );
  console.log(
    `  wall time with a commit in flight  ${ms(prof.commitBusyMs).padStart(9)}  ${share(prof.commitBusyMs).padStart(5)}   (commits overlap: INGEST_PIPELINE_DEPTH ${config.ingest.pipelineDepth})`,
  );
  const idle = e2eSeconds * 1000 - prof.commitBusyMs;
  console.log(`  no commit in flight (fetch, ack, prepare, waits) ${ms(idle).padStart(9)}  ${share(idle).padStart(5)}`);
  console.log(
    `  bench polls (${polls} × counters)${" ".repeat(Math.max(0, 13 - String(polls).length))}${ms(pollMs).padStart(9)}  ${share(pollMs).padStart(5)}   (same connection: they queue behind batches)`,
  );
  console.log(`  dedup cache: ${e2eDedup.hits} hits / ${e2eDedup.misses} misses; consumer stats ${JSON.stringify(e2eConsumerStats)}`);
  console.log(
    `  memory guard (INGEST_MEMORY_SOFT_LIMIT_MB ${config.ingest.memorySoftLimitBytes / 1_048_576}): end to end ${await guardSummary(metrics)}; drain ${await guardSummary(drainMetrics)}`,
  );
  const handledTotal = e2eConsumerStats.acked + e2eConsumerStats.terminated;
  console.log(
    `  JetStream: effective ack_wait ${effectiveAckWaitS} s (NATS_ACK_WAIT_MS ${config.ingest.ackWaitMs / 1000} s), ` +
      `messages handled ${handledTotal} for ${N} published (${handledTotal - N} redeliveries processed again)`,
  );

  // ── verification ──
  console.log("");
  const reasonText = reasons.map((r) => `${r.reason} ${r.n}`).join(", ");
  console.log(
    `stored ${stored} (expected ${EXPECTED_STORED} = ${N} − ${DUPLICATES} duplicates − ${INVALID} invalid), dead letters ${dead} (expected ${EXPECTED_DEAD}: ${reasonText})`,
  );
  let ok = stored === EXPECTED_STORED && dead === EXPECTED_DEAD && e2eDropped === 0;
  for (const [reason, n] of Object.entries(invalidByReason)) {
    const got = reasons.find((r) => r.reason === reason)?.n ?? 0;
    if (got !== n) {
      console.log(`MISMATCH: ${reason}: ${got} dead letters, expected ${n}`);
      ok = false;
    }
  }
  if (e2eDropped > 0) console.log(`MISMATCH: JetStream dropped ${e2eDropped} messages as duplicates`);
  if (!drainOk) {
    console.log("MISMATCH: the drain phase's counts differ (see its line above)");
    for (const m of drainReasonMismatches) console.log(`MISMATCH: drain: ${m}`);
    ok = false;
  }
  console.log(ok ? "OK: counts match exactly" : "FAILED: counts differ");
  return ok ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
