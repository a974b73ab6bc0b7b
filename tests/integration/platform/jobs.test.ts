import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Deps } from "../../../src/deps.ts";
import type { JobRow } from "../../../src/jobs/jobs.queries.ts";
import { dueJobs, JobsRunner, jobStatus } from "../../../src/jobs/timescale-jobs.ts";
import { getTestDeps, ingestAccepted, testApp, testLogger } from "../../helpers/deps.ts";
import { pageViewed } from "../../helpers/events.ts";

const NOW = new Date("2026-11-21T12:00:00Z");
const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);
function row(over: Partial<JobRow> = {}): JobRow {
  return {
    job_id: 1000,
    application_name: "Retention Policy [1000]",
    proc_schema: "_timescaledb_functions",
    proc_name: "policy_retention",
    schedule_interval_s: 3600,
    scheduled: true,
    hypertable_name: "events",
    sched_last_status: null,
    sched_last_start: null,
    sched_last_success: null,
    sched_next_start: null,
    svc_last_start: null,
    svc_last_succeeded: null,
    svc_last_error: null,
    svc_last_success: null,
    now: NOW,
    ...over,
  };
}
const GRACE = 5 * 60_000;

describe("jobStatus and dueJobs (who runs what, by TIMESCALE_JOBS)", () => {
  test("service mode: a job never run is due now; one run 30 min ago with a 1 h interval is not", () => {
    expect(dueJobs([row()], "service", GRACE)).toHaveLength(1);
    const ran = row({ svc_last_start: minutes(-30), svc_last_succeeded: true, svc_last_success: minutes(-30) });
    expect(jobStatus(ran, "service", GRACE).next_start).toBe(minutes(30).toISOString());
    expect(dueJobs([ran], "service", GRACE)).toHaveLength(0);
    expect(dueJobs([row({ svc_last_start: minutes(-61), svc_last_succeeded: true })], "service", GRACE)).toHaveLength(1);
  });

  test("scheduler mode: the service never runs a job, but flags a failed last run and an overdue one", () => {
    const failed = row({ sched_last_status: "Failed", sched_last_start: minutes(-10), sched_next_start: minutes(20) });
    const overdue = row({ sched_last_status: "Success", sched_last_start: minutes(-90), sched_next_start: minutes(-30) });
    const fine = row({ sched_last_status: "Success", sched_last_start: minutes(-10), sched_next_start: minutes(50) });
    expect(dueJobs([failed, overdue, fine], "scheduler", GRACE)).toHaveLength(0);
    expect(jobStatus(failed, "scheduler", GRACE)).toMatchObject({ failed: true, overdue: false });
    expect(jobStatus(overdue, "scheduler", GRACE)).toMatchObject({ failed: false, overdue: true });
    expect(jobStatus(fine, "scheduler", GRACE)).toMatchObject({ failed: false, overdue: false });
  });

  test("watch mode: the service steps in for failed and overdue jobs only, and a later service success clears the flag", () => {
    const failed = row({ job_id: 1, sched_last_status: "Failed", sched_last_start: minutes(-10), sched_next_start: minutes(20) });
    const overdue = row({ job_id: 2, sched_last_status: "Success", sched_last_start: minutes(-90), sched_next_start: minutes(-30) });
    const fine = row({ job_id: 3, sched_last_status: "Success", sched_last_start: minutes(-10), sched_next_start: minutes(50) });
    expect(dueJobs([failed, overdue, fine], "watch", GRACE).map((r) => r.job_id)).toEqual([1, 2]);
    const rescued = row({ ...failed, svc_last_start: minutes(-1), svc_last_succeeded: true, svc_last_success: minutes(-1) });
    expect(jobStatus(rescued, "watch", GRACE)).toMatchObject({ failed: false, last_run_status: "Success" });
    expect(dueJobs([rescued], "watch", GRACE)).toHaveLength(0);
  });

  test("a job is overdue only past the grace period, and unscheduled jobs never are", () => {
    expect(jobStatus(row({ sched_next_start: minutes(-4) }), "scheduler", GRACE).overdue).toBe(false);
    expect(jobStatus(row({ sched_next_start: minutes(-6) }), "scheduler", GRACE).overdue).toBe(true);
    expect(jobStatus(row({ sched_next_start: minutes(-6), scheduled: false }), "scheduler", GRACE).overdue).toBe(false);
  });

  test("the telemetry job is never run by the service", () => {
    expect(dueJobs([row({ proc_name: "policy_telemetry" })], "service", GRACE)).toHaveLength(0);
  });
});

describe("JobsRunner against the embedded engine", () => {
  let deps: Deps;
  let failingJobId: number;
  beforeAll(async () => {
    deps = await getTestDeps();
    await deps.sql`create or replace procedure test_failing_job(job_id int, config jsonb) language plpgsql as $$ begin raise exception 'disk on fire'; end $$`;
    const [j] = await deps.sql`select add_job('test_failing_job', interval '1 hour') as id`;
    failingJobId = Number(j?.id);
  });
  afterAll(async () => {
    await deps.sql`select delete_job(${failingJobId})`;
    await deps.sql`drop procedure if exists test_failing_job`;
  });

  test("runs due jobs, records each run, and does not run them again before their interval", async () => {
    const runner = new JobsRunner(deps.sql, {
      mode: "service",
      pollIntervalMs: 60_000,
      overdueGraceMs: GRACE,
      logger: testLogger,
      metrics: deps.metrics,
    });
    const first = await runner.tick();
    expect(first.skipped).toBeNull();
    const retention = first.ran.find((r) => r.proc.endsWith("policy_retention"));
    expect(retention?.succeeded).toBe(true);
    const failing = first.ran.find((r) => r.job_id === failingJobId);
    expect(failing).toMatchObject({ succeeded: false });
    expect(failing?.error).toContain("disk on fire");
    const recorded = await deps.sql`select succeeded, error from job_runs where job_id = ${failingJobId}`;
    expect(recorded).toHaveLength(1);

    const second = await runner.tick();
    expect(second.ran.map((r) => r.job_id)).not.toContain(failingJobId);
    expect(second.ran.map((r) => r.job_id)).not.toContain(retention?.job_id);
    // the first tick runs every policy (refreshes, compression of the suite's older chunks): not quick
  }, 60_000);

  test("readiness lists the jobs, flags the failing one and says degraded (not down)", async () => {
    const { app } = await testApp();
    const res = await app.request("/health/ready");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.status).toBe("degraded");
    const job = body.jobs.items.find((j: { job_id: number }) => j.job_id === failingJobId);
    expect(job).toMatchObject({ failed: true, last_run_status: "Failed", last_error: expect.stringContaining("disk on fire") });
    expect(job.next_start).toBeTruthy();
    const retention = body.jobs.items.find((j: { proc: string }) => j.proc.endsWith("policy_retention"));
    expect(retention).toMatchObject({ failed: false, overdue: false, last_run_status: "Success" });
    expect(retention.last_success_at).toBeTruthy();
    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toContain(`pulse_timescale_job_failed{job_id="${failingJobId}",proc_name="public.test_failing_job"} 1`);
  });
});

describe("planner statistics job (the embedded engine runs no autovacuum)", () => {
  test("refresh_planner_statistics ANALYZEs a chunk it has never seen: the planner then knows its row count", async () => {
    const deps = await getTestDeps();
    const tenant = crypto.randomUUID();
    // an old day (inside retention): its chunk is new and never analysed, and not among the recent ones
    const at = new Date(Date.now() - 83 * 86_400_000 - 7 * 3_600_000);
    await ingestAccepted(
      deps,
      [0, 1, 2].map((i) => pageViewed(tenant, { time: new Date(at.getTime() + i * 1000).toISOString() })),
    );
    const chunkState = async () => {
      const [c] = await deps.sql<Array<{ reltuples: number; rows: number }>>`
        select c.reltuples::float8 as reltuples,
               (select count(*) from events where time >= ch.range_start and time < ch.range_end)::int as rows
          from timescaledb_information.chunks ch
          join pg_class c on c.oid = format('%I.%I', ch.chunk_schema, ch.chunk_name)::regclass
         where ch.hypertable_name = 'events' and ch.range_start <= ${at} and ch.range_end > ${at}`;
      return c!;
    };
    const before = await chunkState();
    expect(before.rows).toBeGreaterThanOrEqual(3);
    expect(before.reltuples).not.toBe(before.rows); // -1 (never analysed) or an older count
    const [job] = await deps.sql`select job_id from timescaledb_information.jobs where proc_name = 'refresh_planner_statistics'`;
    expect(job).toBeDefined();
    await deps.sql`call run_job(${job!.job_id})`;
    const after = await chunkState();
    expect(after.reltuples).toBe(after.rows);
  }, 60_000);
});
