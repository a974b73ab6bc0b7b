/**
 * SQL of saved dashboards (table dashboards, sql/0015_dashboards.sql). Every function takes a tenant
 * transaction (withTenant): row-level security limits it to the caller's tenant, and every statement
 * names the tenant as well. `version` is the optimistic-concurrency token: an update or delete names the
 * version it read, and a row at another version is left alone (the caller answers 412).
 */
import type { TxSql } from "../db/client.ts";
import type { Dashboard, DashboardInput } from "./dashboards.schemas.ts";

interface Row {
  id: string;
  name: string;
  description: string;
  is_default: boolean;
  filters: Dashboard["filters"];
  widgets: Dashboard["widgets"];
  version: number;
  created_by: string;
  updated_by: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = [
  "id",
  "name",
  "description",
  "is_default",
  "filters",
  "widgets",
  "version",
  "created_by",
  "updated_by",
  "created_at",
  "updated_at",
];

function dashboardOf(r: Row): Dashboard {
  const widgets = [...r.widgets].sort((a, b) => a.position - b.position || a.id.localeCompare(b.id));
  return { ...r, widgets, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString() };
}

const json = (v: unknown) => JSON.stringify(v);

/** the tenant's default dashboard, inserted when it has none (concurrent first reads: one wins) */
export async function ensureDefault(tx: TxSql, tenantId: string, d: DashboardInput, by: string): Promise<void> {
  await tx`
    insert into dashboards (tenant_id, id, name, description, filters, widgets, is_default, created_by, updated_by)
    select ${tenantId}, ${crypto.randomUUID()}, ${d.name}, ${d.description},
           ${json(d.filters)}::text::jsonb, ${json(d.widgets)}::text::jsonb, true, ${by}, ${by}
     where not exists (select 1 from dashboards where tenant_id = ${tenantId} and is_default)
    on conflict (tenant_id) where is_default do nothing`;
}

export interface ListPosition {
  /** the row is the default */
  d: boolean;
  /** created_at (ISO-8601) */
  c: string;
  i: string;
}

/** a page in list order (the default first, then oldest first), one row more than `limit` when there is a next page */
export async function listDashboards(
  tx: TxSql,
  tenantId: string,
  limit: number,
  after?: ListPosition,
): Promise<{ rows: Dashboard[]; last?: ListPosition }> {
  const rows = await tx<Row[]>`
    select ${tx(COLUMNS)} from dashboards
     where tenant_id = ${tenantId}
       ${after ? tx`and (not is_default, created_at, id) > (${!after.d}, ${after.c}::timestamptz, ${after.i}::uuid)` : tx``}
     order by (not is_default), created_at, id
     limit ${limit + 1}`;
  const page = rows.slice(0, limit);
  const tail = page.at(-1);
  return {
    rows: page.map(dashboardOf),
    ...(rows.length > limit && tail ? { last: { d: tail.is_default, c: tail.created_at.toISOString(), i: tail.id } } : {}),
  };
}

export async function getDashboard(tx: TxSql, tenantId: string, id: string): Promise<Dashboard | undefined> {
  const [r] = await tx<Row[]>`select ${tx(COLUMNS)} from dashboards where tenant_id = ${tenantId} and id = ${id}`;
  return r ? dashboardOf(r) : undefined;
}

export async function insertDashboard(tx: TxSql, tenantId: string, d: DashboardInput, by: string): Promise<Dashboard> {
  const [r] = await tx<Row[]>`
    insert into dashboards (tenant_id, id, name, description, filters, widgets, created_by, updated_by)
    values (${tenantId}, ${crypto.randomUUID()}, ${d.name}, ${d.description},
            ${json(d.filters)}::text::jsonb, ${json(d.widgets)}::text::jsonb, ${by}, ${by})
    returning ${tx(COLUMNS)}`;
  return dashboardOf(r!);
}

export type WriteOutcome<T> = { ok: T } | { missing: true } | { stale: number };

/** replace a dashboard's content if it is still at `version` (undefined: any version) */
export async function updateDashboard(
  tx: TxSql,
  tenantId: string,
  id: string,
  version: number | undefined,
  d: DashboardInput,
  by: string,
): Promise<WriteOutcome<Dashboard>> {
  const [r] = await tx<Row[]>`
    update dashboards
       set name = ${d.name}, description = ${d.description},
           filters = ${json(d.filters)}::text::jsonb, widgets = ${json(d.widgets)}::text::jsonb,
           version = version + 1, updated_by = ${by}, updated_at = now()
     where tenant_id = ${tenantId} and id = ${id} ${version === undefined ? tx`` : tx`and version = ${version}`}
    returning ${tx(COLUMNS)}`;
  if (r) return { ok: dashboardOf(r) };
  return missingOrStale(tx, tenantId, id);
}

/** delete a dashboard if it is still at `version` (undefined: any version); the default is never deleted */
export async function deleteDashboard(
  tx: TxSql,
  tenantId: string,
  id: string,
  version: number | undefined,
): Promise<WriteOutcome<true> | { isDefault: true }> {
  const [current] = await tx<{ version: number; is_default: boolean }[]>`
    select version, is_default from dashboards where tenant_id = ${tenantId} and id = ${id} for update`;
  if (!current) return { missing: true };
  if (current.is_default) return { isDefault: true };
  if (version !== undefined && current.version !== version) return { stale: current.version };
  await tx`delete from dashboards where tenant_id = ${tenantId} and id = ${id}`;
  return { ok: true };
}

async function missingOrStale(tx: TxSql, tenantId: string, id: string): Promise<{ missing: true } | { stale: number }> {
  const [cur] = await tx<{ version: number }[]>`select version from dashboards where tenant_id = ${tenantId} and id = ${id}`;
  return cur ? { stale: cur.version } : { missing: true };
}
