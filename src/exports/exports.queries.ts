/**
 * SQL of the export jobs (sql/0014_exports.sql), `tx`/`sql` first.
 * - tenant queries (the API): inside withTenant, so row-level security scopes every row;
 * - worker queries (claim, lease, completion, expiry sweep, gauges): cross-tenant by nature, on the
 *   service's own connection (a member of pulse_owner, which the table's export_worker policy lets see
 *   every row). Each names its job by id and, while running, by the lease owner, so a worker that lost
 *   its lease (or whose job was deleted) changes nothing.
 */
import type { Sql, TxSql } from "../db/client.ts";
import type { ExportFormat } from "./formats/writer.ts";

export type ExportStatus = "queued" | "running" | "succeeded" | "failed" | "expired";

export interface ExportJobRow {
  id: string;
  tenant_id: string;
  created_by: string;
  operation: string;
  params: Record<string, string>;
  format: ExportFormat;
  status: ExportStatus;
  rows_written: number;
  rows_total: number | null;
  size_bytes: number | null;
  storage_key: string | null;
  file_name: string;
  attempts: number;
  lease_owner: string | null;
  lease_until: Date | null;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  expires_at: Date | null;
}

const LOCK_CLASS = 0x65787074; // "expt": per-tenant creation lock (with hashtext(tenant) as the second key)

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function rowOf(r: Record<string, unknown>): ExportJobRow {
  return {
    ...(r as unknown as ExportJobRow),
    rows_written: Number(r.rows_written),
    rows_total: num(r.rows_total),
    size_bytes: num(r.size_bytes),
    attempts: Number(r.attempts),
  };
}

// ------------------------------------------------------------------------------------------------
// tenant queries (withTenant)

/** serialises the tenant's creations until the transaction ends (the limits are checked, then the row inserted) */
export async function lockTenantExports(tx: TxSql, tenantId: string): Promise<void> {
  await tx`select pg_advisory_xact_lock(${LOCK_CLASS}::int, hashtext(${tenantId}))`;
}

/** the tenant's jobs that hold a worker slot (queued, running) and the bytes of its stored files */
export async function tenantUsage(tx: TxSql): Promise<{ active: number; storedBytes: number }> {
  const [r] = await tx`
    select count(*) filter (where status in ('queued', 'running')) as active,
           coalesce(sum(size_bytes) filter (where status = 'succeeded'), 0) as stored
      from export_jobs`;
  return { active: Number(r?.active ?? 0), storedBytes: Number(r?.stored ?? 0) };
}

export async function insertJob(
  tx: TxSql,
  j: {
    id: string;
    tenantId: string;
    createdBy: string;
    operation: string;
    params: Record<string, string>;
    format: ExportFormat;
    fileName: string;
    rowsTotal: number | null;
  },
): Promise<ExportJobRow> {
  const [r] = await tx`
    insert into export_jobs (id, tenant_id, created_by, operation, params, format, file_name, rows_total)
    values (${j.id}, ${j.tenantId}, ${j.createdBy}, ${j.operation}, ${tx.json(j.params)}, ${j.format}, ${j.fileName}, ${j.rowsTotal})
    returning *`;
  return rowOf(r!);
}

export async function getJob(tx: TxSql, id: string): Promise<ExportJobRow | undefined> {
  const [r] = await tx`select * from export_jobs where id = ${id}`;
  return r ? rowOf(r) : undefined;
}

/** newest first, keyset after (created_at, id) */
export async function listJobs(
  tx: TxSql,
  q: { limit: number; status?: ExportStatus; after?: { createdAt: Date; id: string } },
): Promise<ExportJobRow[]> {
  const rows = await tx`
    select * from export_jobs
     where true
       ${q.status ? tx`and status = ${q.status}` : tx``}
       ${q.after ? tx`and (created_at, id) < (${q.after.createdAt}::timestamptz, ${q.after.id}::uuid)` : tx``}
     order by created_at desc, id desc
     limit ${q.limit + 1}`;
  return rows.map(rowOf);
}

/** delete a job's row; its storage key (for the caller to delete the file), or undefined when there was none */
export async function deleteJob(tx: TxSql, id: string): Promise<{ storage_key: string | null } | undefined> {
  const [r] = await tx`delete from export_jobs where id = ${id} returning storage_key`;
  return r ? { storage_key: r.storage_key as string | null } : undefined;
}

// ------------------------------------------------------------------------------------------------
// worker queries (the service's connection, every tenant)

/** running jobs whose lease ran out after their last allowed attempt: failed (their worker died every time) */
export async function failAbandoned(sql: Sql, maxAttempts: number, ttlHours: number): Promise<number> {
  const rows = await sql`
    update export_jobs
       set status = 'failed', lease_owner = null, lease_until = null, finished_at = now(),
           expires_at = now() + make_interval(hours => ${ttlHours}),
           error = ${`the export was interrupted ${maxAttempts} times (its worker stopped while writing it)`}
     where status = 'running' and lease_until < now() and attempts >= ${maxAttempts}
     returning id`;
  return rows.length;
}

/** claim the oldest queued job, or a running one whose lease ran out (its worker died): one at a time, never twice */
export async function claimJob(
  sql: Sql,
  c: { worker: string; leaseSeconds: number; maxAttempts: number },
): Promise<ExportJobRow | undefined> {
  const [r] = await sql`
    update export_jobs j
       set status = 'running', lease_owner = ${c.worker}, lease_until = now() + make_interval(secs => ${c.leaseSeconds}),
           attempts = j.attempts + 1, started_at = coalesce(j.started_at, now()), rows_written = 0, error = null
     where j.id = (
       select id from export_jobs
        where status = 'queued' or (status = 'running' and lease_until < now() and attempts < ${c.maxAttempts})
        order by created_at
        limit 1
        for update skip locked)
     returning j.*`;
  return r ? rowOf(r) : undefined;
}

/** extend the lease and record progress; false when the job is no longer this worker's (lease lost, deleted) */
export async function renewLease(
  sql: Sql,
  id: string,
  worker: string,
  leaseSeconds: number,
  p: { rowsWritten: number; rowsTotal: number | null },
): Promise<boolean> {
  const rows = await sql`
    update export_jobs
       set lease_until = now() + make_interval(secs => ${leaseSeconds}), rows_written = ${p.rowsWritten},
           rows_total = coalesce(${p.rowsTotal}::bigint, rows_total)
     where id = ${id} and status = 'running' and lease_owner = ${worker}
     returning id`;
  return rows.length === 1;
}

export async function completeJob(
  sql: Sql,
  id: string,
  worker: string,
  d: { storageKey: string; size: number; rows: number; ttlHours: number },
): Promise<boolean> {
  const rows = await sql`
    update export_jobs
       set status = 'succeeded', storage_key = ${d.storageKey}, size_bytes = ${d.size}, rows_written = ${d.rows}, rows_total = ${d.rows},
           lease_owner = null, lease_until = null, finished_at = now(), expires_at = now() + make_interval(hours => ${d.ttlHours})
     where id = ${id} and status = 'running' and lease_owner = ${worker}
     returning id`;
  return rows.length === 1;
}

export async function failJob(sql: Sql, id: string, worker: string, error: string, ttlHours: number): Promise<boolean> {
  const rows = await sql`
    update export_jobs
       set status = 'failed', error = ${error.slice(0, 2000)}, lease_owner = null, lease_until = null, finished_at = now(),
           expires_at = now() + make_interval(hours => ${ttlHours})
     where id = ${id} and status = 'running' and lease_owner = ${worker}
     returning id`;
  return rows.length === 1;
}

/** give a job back to the queue (this worker is shutting down): another worker takes it at once */
export async function releaseJob(sql: Sql, id: string, worker: string): Promise<void> {
  await sql`
    update export_jobs set status = 'queued', lease_owner = null, lease_until = null, attempts = greatest(attempts - 1, 0), rows_written = 0
     where id = ${id} and status = 'running' and lease_owner = ${worker}`;
}

/** finished jobs past their expires_at (oldest first) */
export async function dueForExpiry(sql: Sql, limit: number): Promise<Array<{ id: string; tenant_id: string; storage_key: string | null }>> {
  const rows = await sql`
    select id, tenant_id, storage_key from export_jobs
     where status in ('succeeded', 'failed') and expires_at <= now()
     order by expires_at
     limit ${limit}`;
  return rows as unknown as Array<{ id: string; tenant_id: string; storage_key: string | null }>;
}

export async function markExpired(sql: Sql, id: string): Promise<void> {
  await sql`update export_jobs set status = 'expired', storage_key = null where id = ${id} and status in ('succeeded', 'failed')`;
}

/** expired rows are kept `keepDays` after they expired (GET answers 410 meanwhile), then deleted */
export async function purgeExpired(sql: Sql, keepDays: number): Promise<number> {
  const rows =
    await sql`delete from export_jobs where status = 'expired' and expires_at < now() - make_interval(days => ${keepDays}) returning id`;
  return rows.length;
}

/** jobs per status and the bytes of the stored files, over every tenant (the gauges) */
export async function exportTotals(sql: Sql): Promise<{ byStatus: Record<string, number>; storedBytes: number }> {
  const rows = await sql`
    select status, count(*) as n, coalesce(sum(size_bytes) filter (where status = 'succeeded'), 0) as bytes
      from export_jobs group by status`;
  const byStatus: Record<string, number> = {};
  let storedBytes = 0;
  for (const r of rows) {
    byStatus[r.status as string] = Number(r.n);
    storedBytes += Number(r.bytes);
  }
  return { byStatus, storedBytes };
}

export async function trySweepLock(sql: Sql, key: number): Promise<boolean> {
  const [r] = await sql`select pg_try_advisory_lock(${key}) as ok`;
  return Boolean(r?.ok);
}

export async function releaseSweepLock(sql: Sql, key: number): Promise<void> {
  await sql`select pg_advisory_unlock(${key})`;
}
