/**
 * SQL of the privacy step: per-tenant HMAC keys (versioned) and daily visitor salts. Keys and salts are
 * created in the database (32 random bytes from two v4 uuids), each lookup is one round trip.
 */
import type { Sql } from "../../db/client.ts";

export interface TenantKey {
  version: number;
  key: Buffer;
}

/**
 * The latest key of each tenant, creating version 1 for tenants that have none, in one round trip.
 * (The data-modifying CTE's rows are not visible to the same statement's select, hence the union.)
 * A tenant whose key a concurrent transaction created after this statement's snapshot is missing
 * from the answer: callers ask again for those.
 */
export async function getOrCreateTenantKeys(sql: Sql, tenantIds: string[]): Promise<Map<string, TenantKey>> {
  const out = new Map<string, TenantKey>();
  if (tenantIds.length === 0) return out;
  const rows = await sql<Array<{ tenant_id: string; version: number; key: Buffer }>>`
    with ins as (
      insert into tenant_keys (tenant_id, version, key)
      select t, 1, uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
        from unnest(${tenantIds}::uuid[]) as t
      on conflict (tenant_id, version) do nothing
      returning tenant_id, version, key
    )
    select distinct on (tenant_id) tenant_id::text as tenant_id, version, key
      from (
        select tenant_id, version, key from ins
        union all
        select tenant_id, version, key from tenant_keys where tenant_id = any(${tenantIds}::uuid[])
      ) k
     order by tenant_id, version desc`;
  for (const r of rows) out.set(r.tenant_id, { version: Number(r.version), key: r.key });
  return out;
}

/** a new key version for the tenant (hashes made from now on use it); returns it */
export async function rotateTenantKey(sql: Sql, tenantId: string): Promise<TenantKey> {
  const [row] = await sql<Array<{ version: number; key: Buffer }>>`
    insert into tenant_keys (tenant_id, version, key)
    select ${tenantId}::uuid, coalesce(max(version), 0) + 1, uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
      from tenant_keys
     where tenant_id = ${tenantId}::uuid
    returning version, key`;
  if (!row) throw new Error("rotateTenantKey: no row returned");
  return { version: Number(row.version), key: row.key };
}

/**
 * Salts of the given UTC days ('YYYY-MM-DD'), creating the missing ones only for yesterday, today and
 * tomorrow (by the database's clock: the rotation job pre-makes tomorrow's too). Days older than
 * yesterday get no salt even while the hourly job has not destroyed it yet: their visitor id is null.
 * Like the keys, a salt created concurrently after this statement's snapshot may be missing.
 */
export async function getOrCreateVisitorSalts(sql: Sql, days: string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (days.length === 0) return out;
  const rows = await sql<Array<{ day: string; salt: Buffer }>>`
    with bounds as (
      select (now() at time zone 'UTC')::date - 1 as first_day, (now() at time zone 'UTC')::date + 1 as last_day
    ),
    wanted as (
      select d from unnest(${days}::date[]) as d, bounds where d between bounds.first_day and bounds.last_day
    ),
    ins as (
      insert into visitor_salts (day, salt)
      select d, uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) from wanted
      on conflict (day) do nothing
      returning day, salt
    )
    select day::text as day, salt from ins
    union all
    select s.day::text as day, s.salt from visitor_salts s where s.day in (select d from wanted)`;
  for (const r of rows) out.set(r.day, r.salt);
  return out;
}
