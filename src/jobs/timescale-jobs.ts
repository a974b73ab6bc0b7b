/**
 * TimescaleDB jobs are watched, not trusted. Who runs due jobs depends on TIMESCALE_JOBS:
 * - scheduler: the server's background scheduler; the service only watches;
 * - service:   the service runs every due job itself (forced for the embedded engine, which has no
 *              background workers);
 * - watch:     the scheduler runs them, and the service steps in for jobs that are overdue or whose
 *              last run failed.
 * Only one replica runs jobs at a time: a session advisory lock on a reserved connection.
 */
import type { JobsMode } from "../config.ts";
import type { Sql } from "../db/client.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { type JobRow, listJobRows, recordJobRun, releaseJobsLock, runJob, tryJobsLock } from "./jobs.queries.ts";

const JOBS_LOCK_KEY = 0x6a6f6273; // "jobs"
/** never run by the service: it would phone home */
const NEVER_RUN = new Set(["policy_telemetry"]);

export interface JobStatus {
  job_id: number;
  name: string;
  proc: string;
  hypertable: string | null;
  schedule_interval_s: number;
  scheduled: boolean;
  last_run_status: "Success" | "Failed" | null;
  last_run_at: string | null;
  last_success_at: string | null;
  next_start: string | null;
  last_error: string | null;
  failed: boolean;
  overdue: boolean;
}

function latest(a: Date | null, b: Date | null): Date | null {
  if (!a) return b;
  if (!b) return a;
  return a > b ? a : b;
}

/** merge the scheduler's view and the service's ledger into one status per job */
export function jobStatus(row: JobRow, mode: JobsMode, overdueGraceMs: number): JobStatus {
  const svcIsLatest = row.svc_last_start !== null && (row.sched_last_start === null || row.svc_last_start >= row.sched_last_start);
  const lastRunAt = latest(row.sched_last_start, row.svc_last_start);
  const lastStatus: JobStatus["last_run_status"] = svcIsLatest
    ? row.svc_last_succeeded
      ? "Success"
      : "Failed"
    : row.sched_last_status === "Success" || row.sched_last_status === "Failed"
      ? row.sched_last_status
      : null;
  const lastSuccess = latest(row.sched_last_success, row.svc_last_success);
  let nextStart: Date | null;
  if (mode === "scheduler" || (mode === "watch" && !svcIsLatest)) {
    nextStart = row.sched_next_start;
  } else {
    nextStart = lastRunAt ? new Date(lastRunAt.getTime() + row.schedule_interval_s * 1000) : row.now;
  }
  const overdue = row.scheduled && nextStart !== null && row.now.getTime() - nextStart.getTime() > overdueGraceMs;
  return {
    job_id: row.job_id,
    name: row.application_name,
    proc: `${row.proc_schema}.${row.proc_name}`,
    hypertable: row.hypertable_name,
    schedule_interval_s: row.schedule_interval_s,
    scheduled: row.scheduled,
    last_run_status: lastStatus,
    last_run_at: lastRunAt?.toISOString() ?? null,
    last_success_at: lastSuccess?.toISOString() ?? null,
    next_start: nextStart?.toISOString() ?? null,
    last_error: svcIsLatest ? row.svc_last_error : null,
    failed: lastStatus === "Failed",
    overdue,
  };
}

export async function listJobs(sql: Sql, mode: JobsMode, overdueGraceMs: number): Promise<JobStatus[]> {
  const rows = await listJobRows(sql);
  return rows.map((r) => jobStatus(r, mode, overdueGraceMs));
}

/** which jobs this service should run now, by mode */
export function dueJobs(rows: JobRow[], mode: JobsMode, overdueGraceMs: number): JobRow[] {
  if (mode === "scheduler") return [];
  return rows.filter((r) => {
    if (!r.scheduled || NEVER_RUN.has(r.proc_name)) return false;
    const s = jobStatus(r, mode, overdueGraceMs);
    if (mode === "service") return s.next_start === null || new Date(s.next_start) <= r.now;
    return s.failed || s.overdue; // watch
  });
}

export interface RunReport {
  ran: Array<{ job_id: number; proc: string; succeeded: boolean; duration_ms: number; error?: string }>;
  skipped: "locked" | null;
}

export class JobsRunner {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<RunReport> | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly opts: { mode: JobsMode; pollIntervalMs: number; overdueGraceMs: number; logger: Logger; metrics: Metrics },
  ) {}

  start(): void {
    if (this.opts.mode === "scheduler" || this.timer) return;
    this.timer = setInterval(() => {
      void this.tick().catch((err) => this.opts.logger.error({ err }, "TimescaleDB jobs tick failed"));
    }, this.opts.pollIntervalMs);
    void this.tick().catch((err) => this.opts.logger.error({ err }, "TimescaleDB jobs tick failed"));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** run what is due once (one at a time per process; one replica at a time by advisory lock) */
  tick(): Promise<RunReport> {
    this.running ??= this.runDue().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runDue(): Promise<RunReport> {
    const { mode, overdueGraceMs, logger, metrics } = this.opts;
    const report: RunReport = { ran: [], skipped: null };
    const conn = await this.sql.reserve();
    try {
      if (!(await tryJobsLock(conn, JOBS_LOCK_KEY))) {
        report.skipped = "locked";
        return report;
      }
      try {
        const rows = await listJobRows(conn);
        for (const job of dueJobs(rows, mode, overdueGraceMs)) {
          const startedAt = new Date();
          let error: string | null = null;
          try {
            await runJob(conn, job.job_id);
          } catch (err) {
            error = (err as Error).message;
          }
          const finishedAt = new Date();
          await recordJobRun(conn, { jobId: job.job_id, startedAt, finishedAt, succeeded: error === null, error, runner: mode });
          const proc = `${job.proc_schema}.${job.proc_name}`;
          metrics.timescaleJobRuns.inc({ proc_name: job.proc_name, result: error ? "failed" : "succeeded", runner: mode });
          const entry = { job_id: job.job_id, proc, succeeded: error === null, duration_ms: finishedAt.getTime() - startedAt.getTime() };
          report.ran.push(error ? { ...entry, error } : entry);
          if (error) logger.error({ job_id: job.job_id, proc, error }, "TimescaleDB job failed");
          else logger.debug({ job_id: job.job_id, proc, duration_ms: entry.duration_ms }, "TimescaleDB job ran");
        }
      } finally {
        await releaseJobsLock(conn, JOBS_LOCK_KEY);
      }
    } finally {
      conn.release();
    }
    return report;
  }
}
