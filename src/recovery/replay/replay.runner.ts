/**
 * Runs replay jobs (POST /v1/admin/replays) on worker replicas: takes the oldest runnable job (a claimed
 * row with a lease, replay.queries.ts), re-reads the stream for it (replay.stream.ts) and passes each
 * message whose event falls in the job's [from, to) (and types) through the ingest pipeline as it is:
 * the same validation, anonymisation and exactly-once storage as live ingest, so what is stored already
 * is a duplicate and nothing is stored twice. Re-rejected messages find their dead letter already filed
 * (dead letters are keyed by stream and sequence) and are not republished.
 *
 * Pacing, so live ingest keeps its throughput: at most REPLAY_RATE_PER_SEC messages read per second
 * (default 2,000: a tenth of the ~20,000 rows/s design.md measured for the engine), in batches of REPLAY_BATCH_SIZE
 * (default 250: one pipeline write each, so live batches interleave on the engine's connection between
 * replay batches), and no reading at all while the live consumer has more than REPLAY_YIELD_PENDING
 * messages waiting (default 10,000). One job at a time per replica. While the database is unavailable a
 * batch waits for the breaker and is retried.
 *
 * Progress is saved after every batch with the last sequence handled: a job whose runner stops or dies
 * is taken over (after its lease, REPLAY_LEASE_MS) and goes on from there. A cancel request is seen at
 * the next batch. When a job succeeds, reconciliation runs again for its tenant and days.
 */
import type { JsMsg } from "nats";
import type { Config } from "../../config.ts";
import type { Sql } from "../../db/client.ts";
import { DatabaseUnavailableError } from "../../ingest/breaker.ts";
import type { IncomingMessage, IngestPipeline } from "../../ingest/pipeline.ts";
import type { Logger } from "../../logger.ts";
import type { NatsHandle } from "../../nats/connection.ts";
import { runReconciliation } from "../reconciliation/reconciliation.queries.ts";
import {
  claimReplayJob,
  finishReplayJob,
  type ReplayJobRow,
  type ReplayProgress,
  saveProgress,
  setStreamBounds,
} from "./replay.queries.ts";
import { readBatches, readWindow } from "./replay.stream.ts";

export interface ReplayRunnerOptions {
  sql: Sql;
  nats: NatsHandle;
  /** a pipeline of its own (buildIngest without NATS: re-rejections are not republished) */
  pipeline: IngestPipeline;
  recovery: Config["recovery"];
  /** INGEST_MAX_FUTURE_MS: the stream is read from `from` minus this (an event may be published before its time) */
  maxFutureMs: number;
  /** the live durable consumer, whose backlog the replay yields to */
  liveConsumer: string;
  logger: Logger;
}

const decoder = new TextDecoder();

/** the event time and type of a message, read leniently (an unreadable one falls back to the stream's time and the subject) */
export function eventOf(m: Pick<JsMsg, "data" | "subject" | "info">, prefix: string): { time: number; type: string; tenant: string } {
  const tokens = m.subject.split(".");
  const tenant = tokens[prefix.split(".").length] ?? "";
  const subjectType = tokens.slice(prefix.split(".").length + 1).join(".");
  let time = Math.floor(m.info.timestampNanos / 1e6);
  let type = subjectType;
  try {
    const e = JSON.parse(decoder.decode(m.data)) as { time?: unknown; type?: unknown };
    const t = typeof e.time === "string" ? Date.parse(e.time) : Number.NaN;
    if (Number.isFinite(t)) time = t;
    if (typeof e.type === "string") type = e.type;
  } catch {
    // not JSON: the pipeline dead-letters it (once: keyed by stream and sequence)
  }
  return { time, type, tenant };
}

export class ReplayRunner {
  private running = false;
  /** stop() was called: a job in progress is released after its batch */
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private liveCheckedAt = 0;
  readonly owner = `replay-${crypto.randomUUID().slice(0, 8)}`;

  constructor(private readonly o: ReplayRunnerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.loop = this.poll();
  }

  /** stop taking jobs; a job in progress stops after its batch and is released for another runner */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }

  private async poll(): Promise<void> {
    while (this.running) {
      let ran = false;
      try {
        ran = (await this.runOnce()) !== undefined;
      } catch (err) {
        this.o.logger.error({ err: (err as Error).message }, "replay runner: could not take a job");
      }
      if (!ran && this.running) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.o.recovery.replayPollMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  /** take one runnable job and run it to its end; its id, or undefined when there was none */
  async runOnce(): Promise<string | undefined> {
    const job = await claimReplayJob(this.o.sql, this.o.nats.stream, this.owner, this.o.recovery.replayLeaseMs);
    if (!job) return undefined;
    const log = this.o.logger.child({ replay: job.id });
    log.info({ tenant_id: job.tenant_id, from: job.range_from, to: job.range_to, types: job.types }, "replay started");
    try {
      const end = await this.run(job);
      if (end === "released") {
        await finishReplayJob(this.o.sql, job.id, this.owner, null);
        log.info("replay released (runner stopping): another runner goes on from its last batch");
      } else if (end !== "lost") {
        await finishReplayJob(this.o.sql, job.id, this.owner, end);
        log.info({ status: end }, "replay finished");
        if (end === "succeeded") await this.reconcile(job, log);
      }
    } catch (err) {
      if (this.stopping) {
        // stopped while waiting for the database: another runner goes on from the last batch saved
        log.warn({ err: (err as Error).message }, "replay released (runner stopping) after an error");
        await finishReplayJob(this.o.sql, job.id, this.owner, null).catch(() => undefined);
      } else {
        log.error({ err: (err as Error).message }, "replay failed");
        await finishReplayJob(this.o.sql, job.id, this.owner, "failed", (err as Error).message);
      }
    }
    return job.id;
  }

  private async run(job: ReplayJobRow): Promise<"succeeded" | "cancelled" | "released" | "lost"> {
    const { nats, recovery } = this.o;
    let endSeq = job.end_seq === null ? null : Number(job.end_seq);
    if (endSeq === null) {
      endSeq = (await readWindow(nats)).lastSeq;
      await setStreamBounds(this.o.sql, job.id, this.owner, { startSeq: null, endSeq });
    }
    if (endSeq === 0) return "succeeded";
    const from = job.range_from.getTime();
    const to = job.range_to.getTime();
    const types = job.types ? new Set(job.types) : null;
    const prefix = nats.subjectPrefix;
    const batches = readBatches(
      nats,
      {
        filter: job.tenant_id ? `${prefix}.${job.tenant_id}.>` : `${prefix}.>`,
        startTime: new Date(from - this.o.maxFutureMs),
        resumeSeq: job.resume_seq === null ? null : Number(job.resume_seq),
        endSeq,
      },
      recovery.replayBatchSize,
    );
    for await (const batch of batches) {
      const started = performance.now();
      const progress: ReplayProgress = {
        read: batch.length,
        inRange: 0,
        stored: 0,
        duplicates: 0,
        deadLettered: 0,
        resumeSeq: batch.at(-1)!.seq,
      };
      const work: IncomingMessage[] = [];
      for (const m of batch) {
        if (m.subject.startsWith(`${prefix}.dlq.`)) continue; // our own dead letters share the stream
        const e = eventOf(m, prefix);
        if (e.time < from || e.time >= to || (types && !types.has(e.type))) continue;
        work.push({
          input: m.data,
          expectedTenant: e.tenant || null,
          transport: "nats",
          subject: m.subject,
          stream: nats.stream,
          streamSequence: m.seq,
        });
      }
      progress.inRange = work.length;
      if (work.length > 0) {
        for (const out of await this.process(work)) {
          if (out === "accepted") progress.stored += 1;
          else if (out === "duplicate") progress.duplicates += 1;
          else progress.deadLettered += 1;
        }
      }
      const saved = await saveProgress(this.o.sql, job.id, this.owner, progress, recovery.replayLeaseMs);
      if (!saved) return "lost";
      if (saved.cancel) return "cancelled";
      if (this.stopping) return "released";
      await this.pace(batch.length, started);
    }
    return "succeeded";
  }

  /** one pipeline write; while the database is unavailable, wait for the breaker and try the batch again */
  private async process(work: IncomingMessage[]): Promise<Array<"accepted" | "duplicate" | "rejected">> {
    for (;;) {
      try {
        return (await this.o.pipeline.process(work)).map((o) => o.status);
      } catch (err) {
        if (!(err instanceof DatabaseUnavailableError) || this.stopping) throw err;
        this.o.logger.warn({ retry_ms: err.retryAfterMs }, "replay: database unavailable; the batch waits");
        await Bun.sleep(err.retryAfterMs);
      }
    }
  }

  /** REPLAY_RATE_PER_SEC over the batch, then wait while the live consumer has a backlog */
  private async pace(read: number, startedMs: number): Promise<void> {
    const minMs = (read * 1000) / this.o.recovery.replayRatePerSec;
    const left = minMs - (performance.now() - startedMs);
    if (left > 0) await Bun.sleep(left);
    const limit = this.o.recovery.replayYieldPending;
    if (limit === 0) return;
    while (!this.stopping && Date.now() - this.liveCheckedAt >= 1_000) {
      this.liveCheckedAt = Date.now();
      const pending = await this.livePending();
      if (pending <= limit) return;
      await Bun.sleep(1_000);
    }
  }

  private async livePending(): Promise<number> {
    try {
      const info = await this.o.nats.jsm.consumers.info(this.o.nats.stream, this.o.liveConsumer);
      return info.num_pending + info.num_ack_pending;
    } catch {
      return 0; // no live consumer (yet): nothing to yield to
    }
  }

  /** reports of the replayed days again (a local day reaches up to 14 h either side of the UTC date) */
  private async reconcile(job: ReplayJobRow, log: Logger): Promise<void> {
    const day = 86_400_000;
    const fromDate = new Date(job.range_from.getTime() - day).toISOString().slice(0, 10);
    const toDate = new Date(job.range_to.getTime() + 2 * day).toISOString().slice(0, 10);
    try {
      await runReconciliation(this.o.sql, { tenantId: job.tenant_id ?? undefined, fromDate, toDate });
    } catch (err) {
      log.error({ err: (err as Error).message }, "reconciliation after the replay failed (the hourly job runs it again)");
    }
  }
}
