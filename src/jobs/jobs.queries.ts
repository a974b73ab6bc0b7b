import type { Sql } from "../db/client.ts";

export interface JobRow {
  job_id: number;
  application_name: string;
  proc_schema: string;
  proc_name: string;
  schedule_interval_s: number;
  scheduled: boolean;
  hypertable_name: string | null;
  sched_last_status: string | null;
  sched_last_start: Date | null;
  sched_last_success: Date | null;
  sched_next_start: Date | null;
  svc_last_start: Date | null;
  svc_last_succeeded: boolean | null;
  svc_last_error: string | null;
  svc_last_success: Date | null;
  now: Date;
}

/** every TimescaleDB job with the scheduler's stats and the service's own latest run */
export async function listJobRows(sql: Sql): Promise<JobRow[]> {
  const rows = await sql<JobRow[]>`
    select j.job_id,
           j.application_name,
           j.proc_schema,
           j.proc_name,
           extract(epoch from j.schedule_interval)::float8 as schedule_interval_s,
           j.scheduled,
           j.hypertable_name,
           s.last_run_status as sched_last_status,
           -- never-run jobs carry -infinity, which is no date: map it to null
           case when isfinite(s.last_run_started_at) then s.last_run_started_at end as sched_last_start,
           case when isfinite(s.last_successful_finish) then s.last_successful_finish end as sched_last_success,
           case when isfinite(coalesce(s.next_start, j.next_start)) then coalesce(s.next_start, j.next_start) end as sched_next_start,
           r.started_at as svc_last_start,
           r.succeeded as svc_last_succeeded,
           r.error as svc_last_error,
           ok.finished_at as svc_last_success,
           now() as now
      from timescaledb_information.jobs j
      left join timescaledb_information.job_stats s on s.job_id = j.job_id
      left join lateral (
        select started_at, succeeded, error from job_runs where job_id = j.job_id order by started_at desc limit 1
      ) r on true
      left join lateral (
        select finished_at from job_runs where job_id = j.job_id and succeeded order by started_at desc limit 1
      ) ok on true
     order by j.job_id`;
  return rows.map((r) => ({ ...r, schedule_interval_s: Number(r.schedule_interval_s), job_id: Number(r.job_id) }));
}

export async function recordJobRun(
  sql: Sql,
  run: { jobId: number; startedAt: Date; finishedAt: Date; succeeded: boolean; error: string | null; runner: string },
): Promise<void> {
  await sql`
    insert into job_runs (job_id, started_at, finished_at, succeeded, error, runner)
    values (${run.jobId}, ${run.startedAt}, ${run.finishedAt}, ${run.succeeded}, ${run.error}, ${run.runner})
    on conflict do nothing`;
}

/** run one job now, on the given connection (CALL run_job commits by itself: no transaction around it) */
export async function runJob(sql: Sql, jobId: number): Promise<void> {
  await sql`call run_job(${jobId})`;
}

export async function tryJobsLock(sql: Sql, key: number): Promise<boolean> {
  const [row] = await sql`select pg_try_advisory_lock(${key}) as ok`;
  return Boolean(row?.ok);
}

export async function releaseJobsLock(sql: Sql, key: number): Promise<void> {
  await sql`select pg_advisory_unlock(${key})`;
}
