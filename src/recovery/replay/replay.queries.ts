/**
 * SQL of replay jobs (table replay_jobs, sql/0016_recovery.sql). Operators' rows: the routes and the
 * runner use the service's connection role outside withTenant (like GET /v1/admin/dead-letters). A job is
 * a claimed row with a lease: claimReplayJob takes a queued job, or a running one whose lease expired
 * (its runner died or stopped), and saveProgress renews the lease with every batch.
 */
import type { Sql, TxSql } from "../../db/client.ts";

export const REPLAY_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type ReplayStatus = (typeof REPLAY_STATUSES)[number];

export interface ReplayJobRow {
  id: string;
  tenant_id: string | null;
  range_from: Date;
  range_to: Date;
  types: string[] | null;
  status: ReplayStatus;
  requested_by: string;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  cancel_requested: boolean;
  stream: string;
  start_seq: string | null;
  end_seq: string | null;
  resume_seq: string | null;
  read: string;
  in_range: string;
  stored: string;
  duplicates: string;
  dead_lettered: string;
  lease_owner: string | null;
  error: string | null;
}

type Db = Sql | TxSql;

const COLUMNS = (db: Db) => db`
  id, tenant_id, range_from, range_to, types, status, requested_by, created_at, started_at, finished_at, cancel_requested,
  stream, start_seq::text, end_seq::text, resume_seq::text, read::text, in_range::text, stored::text, duplicates::text,
  dead_lettered::text, lease_owner, error`;

export async function insertReplayJob(
  sql: Sql,
  j: { id: string; tenantId: string | null; from: string; to: string; types: string[] | null; requestedBy: string; stream: string },
): Promise<ReplayJobRow> {
  const [row] = await sql<ReplayJobRow[]>`
    insert into replay_jobs (id, tenant_id, range_from, range_to, types, requested_by, stream)
    values (${j.id}, ${j.tenantId}, ${j.from}, ${j.to}, ${j.types}, ${j.requestedBy}, ${j.stream})
    returning ${COLUMNS(sql)}`;
  return row!;
}

export async function getReplayJob(sql: Sql, id: string): Promise<ReplayJobRow | undefined> {
  const [row] = await sql<ReplayJobRow[]>`select ${COLUMNS(sql)} from replay_jobs where id = ${id}`;
  return row;
}

/** one page (limit + 1 rows), newest first */
export async function listReplayJobs(sql: Sql, f: { status?: ReplayStatus; limit: number; after?: { created_at: string; id: string } }) {
  return sql<ReplayJobRow[]>`
    select ${COLUMNS(sql)} from replay_jobs
     where true
       ${f.status ? sql`and status = ${f.status}` : sql``}
       ${f.after ? sql`and (created_at, id) < (${f.after.created_at}::timestamptz, ${f.after.id}::uuid)` : sql``}
     order by created_at desc, id desc
     limit ${f.limit + 1}`;
}

/**
 * Ask a job to stop: a queued one is cancelled at once; a running one at its next batch (the runner
 * reads cancel_requested when it saves progress). A finished job is returned unchanged.
 */
export async function requestCancel(sql: Sql, id: string): Promise<ReplayJobRow | undefined> {
  const [row] = await sql<ReplayJobRow[]>`
    update replay_jobs
       set cancel_requested = case when status in ('queued', 'running') then true else cancel_requested end,
           status = case when status = 'queued' then 'cancelled' else status end,
           finished_at = case when status = 'queued' then now() else finished_at end
     where id = ${id}
    returning ${COLUMNS(sql)}`;
  return row;
}

/** take the oldest runnable job of this stream (queued, or running with an expired lease) for leaseMs */
export async function claimReplayJob(sql: Sql, stream: string, owner: string, leaseMs: number): Promise<ReplayJobRow | undefined> {
  const [row] = await sql<ReplayJobRow[]>`
    with picked as materialized (
      select id as picked_id from replay_jobs
       where stream = ${stream} and (status = 'queued' or (status = 'running' and (lease_until is null or lease_until < now())))
       order by created_at
       limit 1
       for update skip locked
    )
    update replay_jobs j
       set status = 'running', lease_owner = ${owner}, lease_until = now() + make_interval(secs => ${leaseMs / 1000}),
           started_at = coalesce(j.started_at, now())
      from picked
     where j.id = picked.picked_id
    returning ${COLUMNS(sql)}`;
  return row;
}

/** the stream positions of a job's first run: where it starts, where it ends */
export async function setStreamBounds(sql: Sql, id: string, owner: string, b: { startSeq: number | null; endSeq: number }): Promise<void> {
  await sql`update replay_jobs set start_seq = ${b.startSeq}, end_seq = ${b.endSeq} where id = ${id} and lease_owner = ${owner}`;
}

export interface ReplayProgress {
  read: number;
  inRange: number;
  stored: number;
  duplicates: number;
  deadLettered: number;
  /** the last stream sequence handled: a runner taking the job over goes on after it */
  resumeSeq: number | null;
}

/**
 * Add a batch's counts, move resume_seq and renew the lease, while this runner holds the job. Returns
 * whether the job was asked to stop, or undefined when the lease was lost (another runner has the job).
 */
export async function saveProgress(
  sql: Sql,
  id: string,
  owner: string,
  p: ReplayProgress,
  leaseMs: number,
): Promise<{ cancel: boolean } | undefined> {
  const [row] = await sql<Array<{ cancel_requested: boolean }>>`
    update replay_jobs
       set read = read + ${p.read}, in_range = in_range + ${p.inRange}, stored = stored + ${p.stored},
           duplicates = duplicates + ${p.duplicates}, dead_lettered = dead_lettered + ${p.deadLettered},
           resume_seq = coalesce(${p.resumeSeq}::bigint, resume_seq),
           lease_until = now() + make_interval(secs => ${leaseMs / 1000})
     where id = ${id} and lease_owner = ${owner} and status = 'running'
    returning cancel_requested`;
  return row ? { cancel: row.cancel_requested } : undefined;
}

/** the end of a job's run: succeeded, failed (with the error), cancelled; or released for another runner (null) */
export async function finishReplayJob(
  sql: Sql,
  id: string,
  owner: string,
  status: "succeeded" | "failed" | "cancelled" | null,
  error?: string,
): Promise<void> {
  if (status === null) {
    await sql`update replay_jobs set lease_until = now() where id = ${id} and lease_owner = ${owner} and status = 'running'`;
    return;
  }
  await sql`
    update replay_jobs set status = ${status}, finished_at = now(), error = ${error ?? null}, lease_until = null
     where id = ${id} and lease_owner = ${owner} and status = 'running'`;
}
