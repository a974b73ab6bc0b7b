/**
 * The export worker and the expiry sweep (started by main.ts for ROLE=worker and ROLE=all).
 *
 * Worker: claims one job at a time from the database queue (exports.queries.ts claimJob: FOR UPDATE
 * SKIP LOCKED, so replicas never take the same job), renews its lease every lease/3 while writing
 * (recording progress), and streams the file: answer pages (read as a bulk reader, pages.ts) → rows →
 * format writer → storage upload (committed only at the end); for a list as CSV or XLSX, rows and
 * format run on a writer thread (threaded.ts) while this thread reads the next pages. A worker killed
 * mid-file leaves a lease that runs out: the next worker claims the job again (attempts + 1) and writes it from the start under a new key; after
 * EXPORT_MAX_ATTEMPTS it fails. A lost lease (the job was deleted, or its lease expired and another
 * worker took it) stops the write and drops the upload; the completion only counts while the lease is
 * ours, so a job completes once. On shutdown the job in hand is given back to the queue.
 * The expiry sweep is in sweep.ts.
 */
import { Transform, type TransformCallback } from "node:stream";
import { findAnalyticsOperation } from "../analytics/registry.ts";
import { withTenant } from "../db/tenant.ts";
import type { Deps } from "../deps.ts";
import type { Logger } from "../logger.ts";
import * as q from "./exports.queries.ts";
import { loadWriter, type ReportMeta } from "./formats/writer.ts";
import type { ExportLayout } from "./layout.ts";
import { answerPages, layoutOfPage, PAGE_SIZES, timezoneOf, validateParams } from "./pages.ts";
import { type ObjectUpload, storageKey } from "./storage/storage.ts";
import { collectIfLarge, inProcessWriter, type PageWriter, threadedWriter } from "./threaded.ts";

/** the job is no longer ours: deleted, or its lease was taken */
class LostLease extends Error {}
/** the file would take the tenant past its stored-bytes limit */
class TooLarge extends Error {}

/** counts bytes on their way to storage and stops past `limit` */
class ByteCounter extends Transform {
  bytes = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit)
      cb(
        new TooLarge(
          `the file would exceed the tenant's stored-bytes limit (EXPORT_MAX_STORED_MB_PER_TENANT) by ${this.bytes - this.limit} bytes`,
        ),
      );
    else cb(null, chunk);
  }
}

export interface ExportWorkerOptions {
  /** a name unique to this process (the lease owner) */
  workerId?: string;
}

export class ExportWorker {
  readonly id: string;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private current: { id: string; abort: AbortController } | undefined;
  private readonly logger: Logger;

  constructor(
    private readonly deps: Deps,
    opts: ExportWorkerOptions = {},
  ) {
    this.id = opts.workerId ?? `${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
    this.logger = deps.logger.child({ component: "export-worker", worker: this.id });
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** stop claiming; the job in hand is given back to the queue */
  async stop(): Promise<void> {
    this.stopping = true;
    this.current?.abort.abort();
    this.wake?.();
    await this.loop?.catch(() => undefined);
  }

  /** claim and run jobs until none is left (tests and the benchmark drive the worker with this) */
  async drain(): Promise<number> {
    let n = 0;
    while (!this.stopping && (await this.runOne())) n += 1;
    return n;
  }

  /** claim and run jobs while not stopping; a failing database is retried with backoff (up to 30 s) and logged once per outage */
  private async run(): Promise<void> {
    const cfg = this.deps.config.exports;
    let failures = 0;
    while (!this.stopping) {
      let ran = false;
      try {
        ran = await this.runOne();
        if (failures > 0) this.logger.info({ failures }, "export worker: claiming works again");
        failures = 0;
      } catch (err) {
        if (failures === 0) this.logger.warn({ err }, "export worker: claiming failed (retried with backoff)");
        failures += 1;
      }
      if (!ran && !this.stopping) {
        const wait = Math.min(30_000, cfg.pollIntervalMs * 2 ** Math.min(failures, 10));
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    }
  }

  /** claim one job and write it; false when the queue had none */
  async runOne(): Promise<boolean> {
    const cfg = this.deps.config.exports;
    await q.failAbandoned(this.deps.sql, cfg.maxAttempts, cfg.ttlHours);
    const job = await q.claimJob(this.deps.sql, { worker: this.id, leaseSeconds: cfg.leaseSeconds, maxAttempts: cfg.maxAttempts });
    if (!job) return false;
    const abort = new AbortController();
    this.current = { id: job.id, abort };
    try {
      await this.execute(job, abort.signal);
    } finally {
      this.current = undefined;
    }
    return true;
  }

  private async execute(job: q.ExportJobRow, signal: AbortSignal): Promise<void> {
    const { deps } = this;
    const cfg = deps.config.exports;
    const log = this.logger.child({
      export_id: job.id,
      tenant_id: job.tenant_id,
      operation: job.operation,
      format: job.format,
      attempt: job.attempts,
    });
    const started = performance.now();
    const key = storageKey(job.tenant_id, job.id, job.attempts, job.format);
    const progress = { rowsWritten: 0, rowsTotal: job.rows_total as number | null };
    let lost = false;
    // the lease is renewed on a timer (a page can take long), recording progress as it goes
    const renew = async () => {
      if (lost) return;
      try {
        if (!(await q.renewLease(deps.sql, job.id, this.id, cfg.leaseSeconds, progress))) lost = true;
      } catch (err) {
        log.warn({ err }, "export lease renewal failed (retried)");
      }
    };
    const timer = setInterval(() => void renew(), Math.max(500, (cfg.leaseSeconds * 1000) / 3));
    let upload: ObjectUpload | undefined;
    try {
      const op = findAnalyticsOperation(job.operation);
      if (!op) throw new Error(`${job.operation} is not an analytics operation`);
      validateParams(op, job.params);
      // bulk: thousands of pages nobody reads again are stored in no cache (read.ts ReadContext.bulk)
      const ctx = { deps, tenantId: job.tenant_id, logger: log, bulk: true };
      const usage = await withTenantUsage(deps, job.tenant_id);
      upload = await deps.exportStorage.create(key);
      const counter = new ByteCounter(Math.max(0, cfg.maxStoredBytesPerTenant - usage));
      counter.pipe(upload.stream);
      // a failing stream (the byte limit, a full disk, the bucket) fails whatever the writer awaits
      const broken = new Promise<never>((_, reject) => {
        counter.once("error", reject);
        upload!.stream.once("error", reject);
      });
      broken.catch(() => undefined);
      const guard = <T>(p: Promise<T>) => Promise.race([p, broken]);
      let writer: PageWriter | undefined;
      let layout: ExportLayout | undefined;
      let firstBody: unknown;
      const tz = timezoneOf(validateParams(op, job.params));
      try {
        for await (const page of answerPages(op, ctx, job.params, PAGE_SIZES[job.format])) {
          if (lost || signal.aborted) throw new LostLease();
          if (!layout) {
            layout = layoutOfPage(op, page);
            firstBody = page.body;
            const opts = { out: counter, meta: metaOf(job, op.summary, tz, page.body) };
            // a list as CSV or XLSX: rows and file on the writer thread while this one reads the next pages
            writer =
              op.list && job.format !== "pdf" ? threadedWriter(job.format, opts) : inProcessWriter((await loadWriter(job.format))(opts));
            await guard(writer.begin(layout.tables[layout.main]!, true));
          }
          await guard(writer!.page(layout.tables[layout.main]!, page.body, tz));
          progress.rowsWritten = writer!.rowsWritten;
          if (job.format === "pdf" && progress.rowsWritten > cfg.pdfMaxRows) {
            throw new Error(`the PDF would hold more than ${cfg.pdfMaxRows} rows (EXPORT_PDF_MAX_ROWS); export it as csv or xlsx`);
          }
          collectIfLarge();
        }
        await guard(writer!.settled());
        progress.rowsWritten = writer!.rowsWritten;
        progress.rowsTotal = progress.rowsWritten;
        // the other tables of the answer (the first page's), after the main one
        for (const [i, t] of layout!.tables.entries()) {
          if (i === layout!.main) continue;
          await guard(writer!.begin(t, false));
          await guard(writer!.page(t, firstBody, tz));
        }
        await guard(writer!.end());
      } finally {
        writer?.close();
      }
      if (lost || signal.aborted) throw new LostLease();
      const size = await guard(upload.commit());
      if (
        !(await q.completeJob(deps.sql, job.id, this.id, { storageKey: key, size, rows: progress.rowsWritten, ttlHours: cfg.ttlHours }))
      ) {
        lost = true;
        throw new LostLease();
      }
      await deps.exportStorage
        .removeOthers(job.tenant_id, job.id, key)
        .catch((err) => log.warn({ err }, "could not delete an earlier attempt's file"));
      deps.metrics.exportRuns.inc({ format: job.format, result: "succeeded" });
      log.info({ rows: progress.rowsWritten, bytes: size, duration_ms: Math.round(performance.now() - started) }, "export written");
    } catch (err) {
      await upload?.abort();
      if (err instanceof LostLease || lost) {
        if (signal.aborted && !lost) {
          await q.releaseJob(deps.sql, job.id, this.id).catch(() => undefined);
          deps.metrics.exportRuns.inc({ format: job.format, result: "released" });
          log.info("export given back to the queue (shutting down)");
        } else {
          await deps.exportStorage.remove(key).catch(() => undefined);
          deps.metrics.exportRuns.inc({ format: job.format, result: "lost" });
          log.warn("export stopped: the job was deleted or its lease was taken");
        }
        return;
      }
      const message =
        err instanceof TooLarge || (err as { status?: number }).status
          ? (err as Error).message
          : `the export failed: ${(err as Error).message}`;
      await q
        .failJob(deps.sql, job.id, this.id, message, cfg.ttlHours)
        .catch((e) => log.error({ err: e }, "could not record the export's failure"));
      await deps.exportStorage.removeJob(job.tenant_id, job.id).catch(() => undefined);
      deps.metrics.exportRuns.inc({ format: job.format, result: "failed" });
      log.error({ err }, "export failed");
    } finally {
      clearInterval(timer);
    }
  }
}

async function withTenantUsage(deps: Deps, tenantId: string): Promise<number> {
  return (await withTenant(deps.sql, tenantId, q.tenantUsage)).storedBytes;
}

function metaOf(job: q.ExportJobRow, title: string, timezone: string, body: unknown): ReportMeta {
  const b = (body ?? {}) as { as_of?: unknown; watermark?: unknown; scored_at?: unknown };
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  return {
    operation: job.operation,
    title,
    tenantId: job.tenant_id,
    params: job.params,
    timezone,
    asOf: str(b.as_of),
    watermark: str(b.watermark),
    scoredAt: "scored_at" in b ? str(b.scored_at) : null,
    generatedAt: new Date().toISOString(),
  };
}
