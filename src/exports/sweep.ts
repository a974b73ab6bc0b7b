/**
 * The expiry sweep (started by main.ts with the export worker, ROLE=worker and ROLE=all): every
 * EXPORT_SWEEP_INTERVAL_MS, under a session advisory lock (one replica at a time), it fails jobs
 * abandoned after their last attempt, deletes the files of expired jobs and marks them expired (their
 * download answers 410), deletes rows that expired KEEP_EXPIRED_DAYS ago, and sets the gauges (jobs per
 * status, stored bytes; over every tenant).
 */
import type { Deps } from "../deps.ts";
import * as q from "./exports.queries.ts";

const SWEEP_LOCK_KEY = 0x65787377; // "exsw"
const KEEP_EXPIRED_DAYS = 30;

export class ExportSweep {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: Deps) {}

  start(): void {
    if (this.timer) return;
    const tick = () => void this.tick().catch((err) => this.deps.logger.error({ err }, "export sweep failed"));
    this.timer = setInterval(tick, this.deps.config.exports.sweepIntervalMs);
    tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** one sweep now; false when another replica holds the sweep lock */
  tick(): Promise<void> {
    this.running ??= this.sweep().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweep(): Promise<void> {
    const { deps } = this;
    const cfg = deps.config.exports;
    const conn = await deps.sql.reserve();
    try {
      if (!(await q.trySweepLock(conn, SWEEP_LOCK_KEY))) return;
      try {
        await q.failAbandoned(conn, cfg.maxAttempts, cfg.ttlHours);
        for (;;) {
          const due = await q.dueForExpiry(conn, 200);
          for (const j of due) {
            await deps.exportStorage.removeJob(j.tenant_id, j.id);
            await q.markExpired(conn, j.id);
          }
          if (due.length > 0) deps.logger.info({ expired: due.length }, "export files expired and deleted");
          if (due.length < 200) break;
        }
        await q.purgeExpired(conn, KEEP_EXPIRED_DAYS);
        const totals = await q.exportTotals(conn);
        for (const s of ["queued", "running", "succeeded", "failed", "expired"])
          deps.metrics.exportJobs.set({ status: s }, totals.byStatus[s] ?? 0);
        deps.metrics.exportStorageBytes.set(totals.storedBytes);
      } finally {
        await q.releaseSweepLock(conn, SWEEP_LOCK_KEY);
      }
    } finally {
      conn.release();
    }
  }
}
