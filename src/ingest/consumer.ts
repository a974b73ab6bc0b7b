/**
 * The JetStream side of ingest: a durable pull consumer shared by every worker replica (replicas
 * split the work), explicit acks, ack wait, max deliveries with backoff. Messages are batched (flush
 * at INGEST_BATCH_SIZE or INGEST_FLUSH_MS, whichever first) and acked only after the batch's
 * transaction committed. Invalid ⇒ dead letter + term(); database unavailable ⇒ nak(delay) and stop
 * fetching until a probe without messages (pipeline.probe()) gets through the breaker; messages stay in
 * the stream meanwhile. Probing with a batch would cost its messages a delivery each time: an outage
 * longer than NATS_MAX_DELIVER probes would make JetStream give up on them (lost, not dead-lettered).
 * About 300 lines: the loop, batching, acks, the pause with its give-back and probe are one state machine.
 */
import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JsMsg, nanos } from "nats";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { NatsHandle } from "../nats/connection.ts";
import { DatabaseUnavailableError } from "./breaker.ts";
import type { IngestPipeline } from "./pipeline.ts";

export interface ConsumerStats {
  batches: number;
  acked: number;
  terminated: number;
  nakked: number;
  skipped: number;
}

export async function ensureConsumer(nats: NatsHandle, cfg: Config["ingest"]): Promise<void> {
  // no `backoff` list: JetStream applies its first value as the ack wait of the first delivery,
  // which redelivers batches that are merely slow. Retries are paced by nak(delay) instead.
  const config = {
    durable_name: cfg.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(cfg.ackWaitMs),
    max_deliver: cfg.maxDeliver,
    filter_subject: `${nats.subjectPrefix}.>`,
    max_ack_pending: Math.max(cfg.batchSize * 4, 1_000),
  };
  try {
    await nats.jsm.consumers.info(nats.stream, cfg.consumer);
    await nats.jsm.consumers.update(nats.stream, cfg.consumer, {
      ack_wait: config.ack_wait,
      max_deliver: config.max_deliver,
      max_ack_pending: config.max_ack_pending,
    });
  } catch (err) {
    if (!/consumer not found/i.test((err as Error).message) && (err as { code?: string }).code !== "404") throw err;
    await nats.jsm.consumers.add(nats.stream, config);
  }
}

export class IngestConsumer {
  private running = false;
  private loop: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private buffer: JsMsg[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** batches handed on and not yet written and acked */
  private readonly held = new Set<Promise<void>>();
  private writing = 0;
  private readonly waiting: Array<() => void> = [];
  private pausedUntil = 0;
  /** a batch found the database unavailable: probe it before fetching again */
  private probeFirst = false;
  private pendingTimer: ReturnType<typeof setInterval> | undefined;
  readonly stats: ConsumerStats = { batches: 0, acked: 0, terminated: 0, nakked: 0, skipped: 0 };

  constructor(
    private readonly o: {
      nats: NatsHandle;
      pipeline: IngestPipeline;
      cfg: Config["ingest"];
      logger: Logger;
      metrics: Metrics;
    },
  ) {}

  async start(): Promise<void> {
    if (this.running) return;
    await ensureConsumer(this.o.nats, this.o.cfg);
    this.running = true;
    this.loop = this.run();
    this.pendingTimer = setInterval(() => void this.samplePending(), 5_000);
    this.o.logger.info({ stream: this.o.nats.stream, consumer: this.o.cfg.consumer }, "ingest consumer started");
  }

  /** stop fetching, flush and ack what was fetched, then return */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.pendingTimer);
    this.messages?.stop();
    await this.loop?.catch(() => undefined);
    await this.drain();
    this.o.logger.info(this.stats, "ingest consumer stopped");
  }

  private async run(): Promise<void> {
    const consumer = await this.o.nats.js.consumers.get(this.o.nats.stream, this.o.cfg.consumer);
    while (this.running) {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) {
        await Bun.sleep(Math.min(wait, 1_000));
        continue;
      }
      if ((this.probeFirst || this.o.pipeline.paused) && !(await this.databaseBack())) continue;
      try {
        const messages = await consumer.consume({ max_messages: this.o.cfg.batchSize * 2, expires: 5_000 });
        this.messages = messages;
        let pulling = true;
        for await (const m of messages) {
          if (!this.running || this.pausedUntil > Date.now()) {
            // paused or stopping: stop pulling, and give back what was already fetched (the
            // iterator yields it before it ends) instead of leaving it to ack_wait. Found by the
            // fault suite: after the engine was killed, up to 2 × INGEST_BATCH_SIZE fetched
            // messages waited NATS_ACK_WAIT_MS (30 s) for their redelivery
            if (pulling) messages.stop();
            pulling = false;
            this.giveBack(m);
            continue;
          }
          this.enqueue(m);
          if (this.buffer.length >= this.o.cfg.batchSize) await this.flush();
        }
      } catch (err) {
        if (!this.running) break;
        this.o.logger.error({ err: (err as Error).message }, "ingest consumer error; retrying in 1 s");
        await Bun.sleep(1_000);
      } finally {
        // after an error: the pull is abandoned at once; messages fetched but not handed out are
        // redelivered after ack_wait
        this.messages?.stop();
      }
      // flush what we hold
      await this.drain();
    }
  }

  /** a fetched message not handled here: redelivered when the pause ends (at once, to another replica, on shutdown) */
  private giveBack(m: JsMsg): void {
    m.nak(this.running ? Math.max(0, this.pausedUntil - Date.now()) : 0);
    this.stats.nakked += 1;
  }

  /** while writes are paused: probe the database (no messages); false ⇒ paused until the next probe */
  private async databaseBack(): Promise<boolean> {
    try {
      await this.o.pipeline.probe();
      if (this.probeFirst) this.o.logger.info("database reachable again: fetching resumes");
      this.probeFirst = false;
      return true;
    } catch (err) {
      const delay = err instanceof DatabaseUnavailableError ? err.retryAfterMs : 2_000;
      this.pausedUntil = Date.now() + delay;
      return false;
    }
  }

  private enqueue(m: JsMsg): void {
    this.buffer.push(m);
    this.timer ??= setTimeout(() => void this.flush(), this.o.cfg.flushMs);
  }

  /**
   * Hand the buffered messages on as a batch. Its CPU part (validation) runs now; its write starts as
   * soon as fewer than INGEST_PIPELINE_DEPTH batches are being written, in the order batches were
   * handed on. On the embedded engine (one connection) the statements of concurrent writes queue on
   * the connection and run one after another with no idle gap between them; on a server each write
   * has its own connection. Resolves once at most INGEST_PIPELINE_DEPTH batches are held, so the
   * loop collects the next batch meanwhile.
   */
  private flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer.splice(0);
    if (batch.length > 0) {
      const write = this.handle(batch);
      const held = this.slot()
        .then(write)
        .finally(() => {
          this.writing -= 1;
          this.waiting.shift()?.();
        });
      this.held.add(held);
      void held.finally(() => this.held.delete(held));
    }
    return this.room();
  }

  /** a write slot: now, or when an earlier batch's write ends (first come, first served) */
  private slot(): Promise<void> {
    if (this.writing < this.o.cfg.pipelineDepth) {
      this.writing += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.writing += 1;
        resolve();
      }),
    );
  }

  private async room(): Promise<void> {
    while (this.held.size > this.o.cfg.pipelineDepth) await Promise.race(this.held);
  }

  /** every batch handed on so far is written and acked (or nakked) */
  private async drain(): Promise<void> {
    await this.flush();
    while (this.held.size > 0) await Promise.race(this.held);
  }

  /** prepare a batch now; the returned function writes it and acks (never rejects) */
  private handle(batch: JsMsg[]): () => Promise<void> {
    const prefix = this.o.nats.subjectPrefix;
    const dlqPrefix = `${prefix}.dlq.`;
    const work: JsMsg[] = [];
    for (const m of batch) {
      if (m.subject.startsWith(dlqPrefix)) {
        m.ack(); // our own dead letters share the stream; not events to ingest
        this.stats.skipped += 1;
      } else {
        work.push(m);
      }
    }
    if (work.length === 0) return async () => {};
    let prepared: ReturnType<IngestPipeline["prepare"]>;
    try {
      prepared = this.o.pipeline.prepare(
        work.map((m) => ({
          input: m.data,
          expectedTenant: m.subject.split(".")[1] ?? null,
          transport: "nats" as const,
          subject: m.subject,
          stream: this.o.nats.stream,
          // read only for a dead letter: m.seq parses the message's reply subject (about 1 µs)
          get streamSequence() {
            return m.seq;
          },
        })),
      );
    } catch (err) {
      this.o.logger.error({ err }, "ingest batch could not be prepared; nakked for redelivery");
      for (const m of work) m.nak(2_000);
      this.stats.nakked += work.length;
      return async () => {};
    }
    return () => this.commit(work, prepared);
  }

  private async commit(work: JsMsg[], prepared: ReturnType<IngestPipeline["prepare"]>): Promise<void> {
    try {
      const outcomes = await this.o.pipeline.commit(prepared);
      outcomes.forEach((out, i) => {
        const m = work[i]!;
        if (out.status === "rejected") {
          m.term(); // no reason text: servers before 2.10 ignore "+TERM <reason>"
          this.stats.terminated += 1;
        } else {
          m.ack();
          this.stats.acked += 1;
        }
      });
      this.stats.batches += 1;
    } catch (err) {
      const delay = err instanceof DatabaseUnavailableError ? err.retryAfterMs : 2_000;
      for (const m of work) m.nak(delay);
      this.stats.nakked += work.length;
      if (err instanceof DatabaseUnavailableError) {
        this.pausedUntil = Date.now() + delay;
        this.probeFirst = true;
        this.o.logger.warn(
          { err: err.message, paused_ms: delay, batch: work.length },
          "database unavailable: batch nakked, fetching paused",
        );
      } else {
        this.o.logger.error({ err }, "ingest batch failed; nakked for redelivery");
      }
    }
  }

  /** pulse_ingest_consumer_pending and pulse_ingest_consumer_lag_seconds, every 5 s (public for tests) */
  async samplePending(): Promise<void> {
    try {
      const info = await this.o.nats.jsm.consumers.info(this.o.nats.stream, this.o.cfg.consumer);
      const pending = info.num_pending + info.num_ack_pending;
      this.o.metrics.consumerPending.set(pending);
      this.o.metrics.consumerLagSeconds.set(pending === 0 ? 0 : await this.oldestUnackedAge(info.ack_floor.stream_seq + 1));
    } catch {
      // NATS down: readiness reports it
    }
  }

  /**
   * Seconds since the oldest message not yet acknowledged was published: the first after the ack floor
   * (every message of the stream is on the consumer's subjects), or the stream's first when that one
   * has expired.
   */
  private async oldestUnackedAge(seq: number): Promise<number> {
    const { jsm, stream } = this.o.nats;
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(async () => {
      const first = (await jsm.streams.info(stream)).state.first_seq;
      return jsm.streams.getMessage(stream, { seq: Math.max(first, seq) });
    });
    return Math.max(0, (Date.now() - msg.time.getTime()) / 1000);
  }
}
