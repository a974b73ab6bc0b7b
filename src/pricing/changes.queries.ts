/**
 * Price changes and their history, tenant side (every function takes a tenant transaction first).
 * A transition is one conditional UPDATE (status and version as read) plus one history row keyed by
 * (change, new version): two decisions on the same version can never both be recorded.
 */
import type { TxSql } from "../db/client.ts";
import type { ChangeStatus } from "./pricing.queries.ts";

export interface ChangeRow {
  id: string;
  item_id: string;
  currency: string;
  status: ChangeStatus;
  version: number;
  source: "recommendation" | "manual";
  old_price_minor: string;
  new_price_minor: string;
  reason: string | null;
  recommendation: Record<string, unknown> | null;
  proposed_by: string;
  proposed_at: Date;
  expires_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
  decision_reason: string | null;
  applied_at: Date | null;
  superseded_by: string | null;
  updated_at: Date;
  /** when the approval was published on NATS (approved or applied changes), else null */
  published_at: Date | null;
}

export interface HistoryRow {
  change_id: string;
  version: number;
  item_id: string;
  currency: string;
  from_status: ChangeStatus | null;
  to_status: ChangeStatus;
  actor: string;
  at: Date;
  reason: string | null;
  old_price_minor: string;
  new_price_minor: string;
  recommendation: Record<string, unknown> | null;
}

function changeSelect(tx: TxSql) {
  return tx`
    select c.id, c.item_id, c.currency::text as currency, c.status, c.version, c.source,
           c.old_price_minor::text as old_price_minor, c.new_price_minor::text as new_price_minor, c.reason, c.recommendation,
           c.proposed_by, c.proposed_at, c.expires_at, c.decided_by, c.decided_at, c.decision_reason, c.applied_at,
           c.superseded_by, c.updated_at, o.published_at
      from price_changes c left join pricing_outbox o on o.change_id = c.id`;
}

export interface NewChange {
  id: string;
  item_id: string;
  currency: string;
  source: "recommendation" | "manual";
  old_price_minor: number;
  new_price_minor: number;
  reason: string | null;
  recommendation: Record<string, unknown> | null;
  proposed_by: string;
  ttl_hours: number;
}

/** a new pending change (version 1) and its first history row; its expiry is now + the TTL */
export async function insertChange(tx: TxSql, c: NewChange): Promise<void> {
  const rec = c.recommendation === null ? null : JSON.stringify(c.recommendation);
  await tx`
    insert into price_changes (id, tenant_id, item_id, currency, status, version, source, old_price_minor, new_price_minor,
                               reason, recommendation, proposed_by, proposed_at, expires_at, updated_at)
    values (${c.id}, app_tenant_id(), ${c.item_id}, ${c.currency}, 'pending', 1, ${c.source}, ${c.old_price_minor},
            ${c.new_price_minor}, ${c.reason}, ${rec}::text::jsonb, ${c.proposed_by}, pricing_clock(),
            pricing_clock() + make_interval(hours => ${c.ttl_hours}), pricing_clock())`;
  await tx`
    insert into price_change_history (tenant_id, change_id, version, item_id, currency, from_status, to_status, actor, at,
                                      reason, old_price_minor, new_price_minor, recommendation)
    values (app_tenant_id(), ${c.id}, 1, ${c.item_id}, ${c.currency}, null, 'pending', ${c.proposed_by}, pricing_clock(), ${c.reason},
            ${c.old_price_minor}, ${c.new_price_minor}, ${rec}::text::jsonb)`;
}

export async function changeById(tx: TxSql, id: string, opts: { forUpdate?: boolean } = {}): Promise<ChangeRow | undefined> {
  const [row] = await tx<ChangeRow[]>`${changeSelect(tx)} where c.id = ${id} ${opts.forUpdate ? tx`for update of c` : tx``}`;
  return row;
}

export interface Transition {
  to: ChangeStatus;
  actor: string;
  reason: string | null;
  /** set decided_by / decided_at / decision_reason (approve, reject) */
  decision?: boolean;
  supersededBy?: string;
}

/**
 * Move the changes in `from` state matching `where` (one change by id and version, or every change of an
 * item) to `t.to`, bumping their versions, and record one history row each. Returns the moved rows.
 */
export async function transition(
  tx: TxSql,
  where: { id: string; version: number } | { item_id: string; currency: string },
  from: ChangeStatus,
  t: Transition,
): Promise<Array<{ id: string; version: number }>> {
  const match =
    "id" in where ? tx`id = ${where.id} and version = ${where.version}` : tx`item_id = ${where.item_id} and currency = ${where.currency}`;
  const rows = await tx<
    Array<{ id: string; version: number; item_id: string; currency: string; old_price_minor: string; new_price_minor: string }>
  >`
    update price_changes set
      status = ${t.to}, version = version + 1, updated_at = pricing_clock(),
      decided_by = ${t.decision ? tx`${t.actor}` : tx`decided_by`},
      decided_at = ${t.decision ? tx`pricing_clock()` : tx`decided_at`},
      decision_reason = ${t.decision ? tx`${t.reason}` : tx`decision_reason`},
      superseded_by = ${t.supersededBy !== undefined ? tx`${t.supersededBy}::uuid` : tx`superseded_by`}
     where ${match} and status = ${from}
    returning id, version, item_id, currency::text as currency, old_price_minor::text as old_price_minor,
              new_price_minor::text as new_price_minor`;
  for (const r of rows) {
    await tx`
      insert into price_change_history (tenant_id, change_id, version, item_id, currency, from_status, to_status, actor, at,
                                        reason, old_price_minor, new_price_minor, recommendation)
      select app_tenant_id(), ${r.id}, ${r.version}, ${r.item_id}, ${r.currency}, ${from}, ${t.to}, ${t.actor}, pricing_clock(),
             ${t.reason}, ${r.old_price_minor}::bigint, ${r.new_price_minor}::bigint, recommendation
        from price_changes where id = ${r.id}`;
  }
  return rows.map((r) => ({ id: r.id, version: r.version }));
}

/** the approval's CloudEvent, to publish (written in the approval's transaction) */
export async function insertOutbox(tx: TxSql, changeId: string, event: Record<string, unknown>): Promise<void> {
  await tx`
    insert into pricing_outbox (change_id, tenant_id, event)
    values (${changeId}, app_tenant_id(), ${JSON.stringify(event)}::text::jsonb)`;
}

export interface ChangeFilter {
  status?: ChangeStatus;
  item_id?: string;
  limit: number;
  after?: { at: string; id: string };
}

/** one page (limit + 1 rows), newest proposal first */
export async function listChanges(tx: TxSql, f: ChangeFilter): Promise<ChangeRow[]> {
  return tx<ChangeRow[]>`
    ${changeSelect(tx)}
     where true
       ${f.status !== undefined ? tx`and c.status = ${f.status}` : tx``}
       ${f.item_id !== undefined ? tx`and c.item_id = ${f.item_id}` : tx``}
       ${f.after ? tx`and (c.proposed_at, c.id) < (${f.after.at}::timestamptz, ${f.after.id}::uuid)` : tx``}
     order by c.proposed_at desc, c.id desc
     limit ${f.limit + 1}`;
}

function historySelect(tx: TxSql) {
  return tx`
    select change_id, version, item_id, currency::text as currency, from_status, to_status, actor, at, reason,
           old_price_minor::text as old_price_minor, new_price_minor::text as new_price_minor, recommendation
      from price_change_history`;
}

export async function historyOfChange(tx: TxSql, changeId: string): Promise<HistoryRow[]> {
  return tx<HistoryRow[]>`${historySelect(tx)} where change_id = ${changeId} order by version`;
}

/** every transition of the item's changes, newest first (limit + 1 rows) */
export async function historyOfItem(
  tx: TxSql,
  itemId: string,
  limit: number,
  after?: { at: string; id: string; v: number },
): Promise<HistoryRow[]> {
  return tx<HistoryRow[]>`
    ${historySelect(tx)}
     where item_id = ${itemId}
       ${after ? tx`and (at, change_id, version) < (${after.at}::timestamptz, ${after.id}::uuid, ${after.v})` : tx``}
     order by at desc, change_id desc, version desc
     limit ${limit + 1}`;
}

// ─── idempotency keys (proposals) ────────────────────────────────────────────────────────────────────

export interface StoredAnswer {
  request_hash: string;
  status: number;
  response: Record<string, unknown>;
}

/**
 * The answer stored under (principal, key), after taking the key's row lock: a concurrent proposal with
 * the same key waits here until the first one commits, then reads its answer.
 */
export async function storedAnswer(tx: TxSql, principal: string, key: string): Promise<StoredAnswer | undefined> {
  await tx`select pg_advisory_xact_lock(hashtextextended(${`pricing-idem:${principal}:${key}`} || app_tenant_id()::text, 0))`;
  const [row] = await tx<StoredAnswer[]>`
    select request_hash, status, response from pricing_idempotency
     where principal = ${principal} and key = ${key} and created_at > now() - interval '24 hours'`;
  return row;
}

export async function storeAnswer(tx: TxSql, a: { principal: string; key: string; operation: string } & StoredAnswer): Promise<void> {
  await tx`
    insert into pricing_idempotency (tenant_id, principal, key, operation, request_hash, status, response)
    values (app_tenant_id(), ${a.principal}, ${a.key}, ${a.operation}, ${a.request_hash}, ${a.status},
            ${JSON.stringify(a.response)}::text::jsonb)
    on conflict (tenant_id, principal, key) do update
      set operation = excluded.operation, request_hash = excluded.request_hash, status = excluded.status,
          response = excluded.response, created_at = now()`;
}
