/**
 * The pricing worker's statements (outbox.ts). They span tenants, like the ingest write: they run on
 * the service's own connection (not withTenant), name every row's tenant explicitly, and touch only
 * rows in the state each step owns (unpublished outbox rows, approved changes whose price arrived,
 * pending changes past their expiry), so replicas running them at once cannot do a step twice:
 * conditional updates re-check their WHERE on the row they lock, and outbox rows are claimed with a
 * lease (FOR UPDATE SKIP LOCKED).
 */
import type { Sql } from "../db/client.ts";

export interface OutboxRow {
  change_id: string;
  tenant_id: string;
  event: Record<string, unknown>;
  attempts: number;
}

/** claim up to `limit` unpublished rows for `leaseMs` (oldest first); another claimant skips them */
export async function claimOutbox(sql: Sql, limit: number, leaseMs: number): Promise<OutboxRow[]> {
  return sql<OutboxRow[]>`
    update pricing_outbox o
       set claimed_until = now() + make_interval(secs => ${leaseMs / 1000}), attempts = o.attempts + 1
     where o.change_id in (
       select change_id from pricing_outbox
        where published_at is null and (claimed_until is null or claimed_until < now())
        order by created_at
        limit ${limit}
        for update skip locked)
    returning o.change_id, o.tenant_id, o.event, o.attempts`;
}

export async function markPublished(sql: Sql, changeId: string, streamSequence: number): Promise<void> {
  await sql`
    update pricing_outbox set published_at = now(), stream_sequence = ${streamSequence}, claimed_until = null, last_error = null
     where change_id = ${changeId} and published_at is null`;
}

/** a failed publish: retried once the row's lease has run out (after `retryMs`) */
export async function markFailed(sql: Sql, changeId: string, error: string, retryMs: number): Promise<void> {
  await sql`
    update pricing_outbox set last_error = ${error.slice(0, 1000)}, claimed_until = now() + make_interval(secs => ${retryMs / 1000})
     where change_id = ${changeId} and published_at is null`;
}

/** rows not yet published, and the age of the oldest (seconds), for the backlog metric */
export async function outboxBacklog(sql: Sql): Promise<{ rows: number; oldest_s: number }> {
  const [row] = await sql<{ rows: number; oldest_s: number | null }[]>`
    select count(*)::int as rows, extract(epoch from now() - min(created_at))::float8 as oldest_s
      from pricing_outbox where published_at is null`;
  return { rows: row?.rows ?? 0, oldest_s: row?.oldest_s ?? 0 };
}

export interface Moved {
  tenant_id: string;
  id: string;
}

/**
 * Approved changes whose new price the catalog now holds (an item.upserted with that base_price_minor
 * was stored) become applied. applied_at = the item.upserted's event time, kept within [approval, now].
 */
export async function applyArrivedPrices(sql: Sql): Promise<Moved[]> {
  return sql<Moved[]>`
    with applied as (
      update price_changes c
         set status = 'applied', version = c.version + 1, updated_at = pricing_clock(),
             applied_at = least(pricing_clock(), greatest(c.decided_at, i.updated_at))
        from items i
       where c.status = 'approved' and i.tenant_id = c.tenant_id and i.item_id = c.item_id
         and i.currency = c.currency and i.base_price_minor = c.new_price_minor
      returning c.*
    ), history as (
      insert into price_change_history (tenant_id, change_id, version, item_id, currency, from_status, to_status, actor, at,
                                        reason, old_price_minor, new_price_minor, recommendation)
      select tenant_id, id, version, item_id, currency, 'approved', 'applied', 'system', pricing_clock(),
             'an item.upserted with the new price arrived', old_price_minor, new_price_minor, recommendation
        from applied
    )
    select tenant_id, id from applied`;
}

/** pending changes past their expires_at (PRICING_PENDING_TTL_HOURS after the proposal) become expired */
export async function expirePending(sql: Sql): Promise<Moved[]> {
  return sql<Moved[]>`
    with expired as (
      update price_changes
         set status = 'expired', version = version + 1, updated_at = pricing_clock()
       where status = 'pending' and expires_at <= now()
      returning *
    ), history as (
      insert into price_change_history (tenant_id, change_id, version, item_id, currency, from_status, to_status, actor, at,
                                        reason, old_price_minor, new_price_minor, recommendation)
      select tenant_id, id, version, item_id, currency, 'pending', 'expired', 'system', pricing_clock(),
             'not decided within PRICING_PENDING_TTL_HOURS', old_price_minor, new_price_minor, recommendation
        from expired
    )
    select tenant_id, id from expired`;
}

/** idempotency keys older than their 24 hours */
export async function purgeIdempotencyKeys(sql: Sql): Promise<number> {
  const rows = await sql`delete from pricing_idempotency where created_at < now() - interval '24 hours' returning 1`;
  return rows.length;
}
