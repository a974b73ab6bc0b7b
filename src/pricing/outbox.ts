/**
 * The pricing worker (roles worker and all; src/main.ts), every PRICING_OUTBOX_POLL_MS:
 * 1. publishes the outbox: approved changes as price.change_approved CloudEvents on
 *    <PRICING_SUBJECT_PREFIX>.<tenantid>.price.change_approved in the stream PRICING_NATS_STREAM, with
 *    Nats-Msg-Id = the change id, then marks the rows published. The row is written in the approval's
 *    transaction, so an approval is never lost; a crash between the publish and the mark republishes,
 *    which JetStream drops inside its duplicate window (NATS_DUPLICATE_WINDOW_MS): at least once on the
 *    wire, once in the stream. Failed publishes are retried after a back-off; without NATS the rows wait.
 * 2. marks approved changes applied once the catalog holds their new price (an item.upserted arrived);
 * 3. expires pending changes past PRICING_PENDING_TTL_HOURS;
 * 4. drops idempotency keys older than 24 hours.
 * Each step's changes bump the tenants' data generations (cached analytics stay correct). Replicas may
 * all run it: the steps are safe to run at once (outbox.queries.ts).
 */
import { DiscardPolicy, nanos, RetentionPolicy, StorageType, type JetStreamManager } from "nats";
import { bumpGeneration } from "../analytics/shared/generation.ts";
import type { Cache } from "../cache/cache.ts";
import type { Config } from "../config.ts";
import type { Sql } from "../db/client.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { NatsHandle } from "../nats/connection.ts";
import {
  applyArrivedPrices,
  claimOutbox,
  expirePending,
  markFailed,
  markPublished,
  outboxBacklog,
  purgeIdempotencyKeys,
} from "./outbox.queries.ts";

const encoder = new TextEncoder();
/** rows claimed per publish round, and how long a claim lasts */
const CLAIM_LIMIT = 100;
const LEASE_MS = 30_000;
/** a failed publish is retried after this long, doubling per attempt up to RETRY_MAX_MS */
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;
const PURGE_EVERY_MS = 3_600_000;

export interface PricingWorkerOptions {
  sql: Sql;
  nats: NatsHandle | undefined;
  cache: Cache;
  logger: Logger;
  metrics: Metrics;
  pricing: Config["pricing"];
  /** the stream's duplicate window and limits (the NATS section) */
  natsConfig: Config["nats"];
}

export interface TickReport {
  published: number;
  duplicates: number;
  failed: number;
  applied: number;
  expired: number;
}

export function approvalSubject(prefix: string, tenantId: string): string {
  return `${prefix}.${tenantId}.price.change_approved`;
}

/** the stream of approved changes, created or updated to the configuration */
export async function ensurePricingStream(jsm: JetStreamManager, p: Config["pricing"], n: Config["nats"]): Promise<void> {
  const desired = {
    name: p.natsStream,
    subjects: [`${p.subjectPrefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(n.duplicateWindowMs),
    max_age: nanos(n.maxAgeMs),
    num_replicas: n.replicas,
  };
  try {
    await jsm.streams.info(p.natsStream);
    await jsm.streams.update(p.natsStream, desired);
  } catch (err) {
    if ((err as { code?: string }).code !== "404" && !/stream not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add(desired);
  }
}

export class PricingWorker {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<TickReport> | undefined;
  private lastPurge = 0;
  private warnedNoNats = false;

  constructor(private readonly o: PricingWorkerOptions) {}

  async start(): Promise<void> {
    if (this.timer) return;
    if (this.o.nats) await ensurePricingStream(this.o.nats.jsm, this.o.pricing, this.o.natsConfig);
    this.timer = setInterval(
      () => void this.tick().catch((err) => this.o.logger.error({ err }, "pricing worker tick failed")),
      this.o.pricing.outboxPollMs,
    );
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** one round of every step (one at a time per process) */
  tick(): Promise<TickReport> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<TickReport> {
    const report: TickReport = { published: 0, duplicates: 0, failed: 0, applied: 0, expired: 0 };
    const touched: string[] = [];
    await this.step("publish", () => this.publish(report));
    await this.step("apply", async () => {
      const rows = await applyArrivedPrices(this.o.sql);
      report.applied = rows.length;
      touched.push(...rows.map((r) => r.tenant_id));
      if (rows.length > 0) this.o.metrics.pricingTransitions.inc({ to: "applied" }, rows.length);
    });
    await this.step("expire", async () => {
      const rows = await expirePending(this.o.sql);
      report.expired = rows.length;
      touched.push(...rows.map((r) => r.tenant_id));
      if (rows.length > 0) this.o.metrics.pricingTransitions.inc({ to: "expired" }, rows.length);
    });
    if (Date.now() - this.lastPurge > PURGE_EVERY_MS) {
      await this.step("purge", async () => {
        await purgeIdempotencyKeys(this.o.sql);
        this.lastPurge = Date.now();
      });
    }
    if (touched.length > 0) await bumpGeneration(this.o.cache, touched, { logger: this.o.logger });
    await this.step("backlog", async () => {
      const b = await outboxBacklog(this.o.sql);
      this.o.metrics.pricingOutboxBacklog.set(b.rows);
      this.o.metrics.pricingOutboxOldestSeconds.set(b.oldest_s);
    });
    return report;
  }

  private async step(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.o.logger.error({ err, step: name }, "pricing worker step failed; retried next round");
    }
  }

  private async publish(report: TickReport): Promise<void> {
    const nats = this.o.nats;
    if (!nats) {
      if (!this.warnedNoNats) this.o.logger.warn("NATS_URL is not set: approved price changes stay in the outbox until it is");
      this.warnedNoNats = true;
      return;
    }
    const rows = await claimOutbox(this.o.sql, CLAIM_LIMIT, LEASE_MS);
    for (const row of rows) {
      const subject = approvalSubject(this.o.pricing.subjectPrefix, row.tenant_id);
      try {
        const ack = await nats.js.publish(subject, encoder.encode(JSON.stringify(row.event)), {
          msgID: row.change_id,
          expect: { streamName: this.o.pricing.natsStream },
        });
        await markPublished(this.o.sql, row.change_id, ack.seq);
        if (ack.duplicate) report.duplicates += 1;
        else report.published += 1;
        this.o.metrics.pricingOutboxPublishes.inc({ result: ack.duplicate ? "duplicate" : "published" });
      } catch (err) {
        report.failed += 1;
        this.o.metrics.pricingOutboxPublishes.inc({ result: "failed" });
        const retryMs = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(10, row.attempts - 1));
        this.o.logger.warn(
          { err, change_id: row.change_id, attempts: row.attempts, retry_ms: retryMs },
          "price.change_approved publish failed; retried",
        );
        await markFailed(this.o.sql, row.change_id, (err as Error).message, retryMs);
      }
    }
  }
}
