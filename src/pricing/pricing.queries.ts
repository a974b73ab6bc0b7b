/**
 * Pricing SQL, tenant side: every function takes a tenant transaction first (withTenant: row-level
 * security scopes each statement to the token's tenant). Demand rows come from demand_scores (computed by
 * the refresh_demand_scores procedure, sql/0013_pricing.sql) joined with the catalog (`items`); price
 * changes and their history from price_changes / price_change_history. The pricing worker's
 * cross-tenant statements are in outbox.queries.ts.
 */
import type { Sql, TxSql } from "../db/client.ts";

export const DEMAND_SORTS = ["score", "confidence", "item_id"] as const;
export type DemandSort = (typeof DEMAND_SORTS)[number];
export const CHANGE_STATUSES = ["pending", "approved", "applied", "rejected", "superseded", "expired"] as const;
export type ChangeStatus = (typeof CHANGE_STATUSES)[number];
export const SCORE_REASONS = ["scored", "sold_out", "started", "no_data", "brand_new", "insufficient_data"] as const;

/** an integer column (bigint arrives as text) as an exact JSON number */
export const num = (v: unknown): number => {
  const n = Number(v ?? 0);
  if (!Number.isSafeInteger(n)) throw new RangeError(`value ${String(v)} is beyond exact JSON numbers`);
  return n;
};
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
/** a numeric column (arrives as text) as a JSON number, or null */
export const dec = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

// ─── demand ──────────────────────────────────────────────────────────────────────────────────────────

export interface DemandRow {
  item_id: string;
  currency: string;
  score: string | null;
  reason: string;
  confidence: string | null;
  on_sale_since: Date | null;
  days_on_sale: string | null;
  selling_window_days: string | null;
  sold: string;
  capacity: number | null;
  units_7d: string;
  units_28d: string;
  views_14d: string;
  carts_14d: string;
  orders_14d: string;
  tenant_conversion_14d: string | null;
  components: Record<string, Record<string, unknown>>;
  evidence: string;
  stability: string | null;
  recent_scores: string[];
  scored_at: Date;
  name: string;
  category: string;
  kind: string;
  catalog_currency: string;
  base_price_minor: string;
  min_price_minor: string | null;
  max_price_minor: string | null;
  starts_at: Date | null;
}

export interface DemandFilter {
  currency?: string;
  category?: string;
  kind?: string;
  reason?: string;
  item_id?: string;
  min_score?: number;
  max_score?: number;
}

/** the sort key of a row (null scores and confidences sort as −1) */
export function demandKey(r: DemandRow, sort: DemandSort): number | string {
  if (sort === "item_id") return r.item_id;
  const v = sort === "score" ? r.score : r.confidence;
  return v === null ? -1 : Number(v);
}

function keyExpr(tx: TxSql, sort: DemandSort) {
  if (sort === "score") return tx`coalesce(d.score, -1)`;
  if (sort === "confidence") return tx`coalesce(d.confidence, -1)`;
  return tx`d.item_id`;
}

/** one page (limit + 1 rows), ordered by the sort key, then item_id and currency ascending */
export async function demandRows(
  tx: TxSql,
  q: DemandFilter & { sort: DemandSort; order: "asc" | "desc"; limit: number; after?: { k: number | string; i: string; c: string } },
): Promise<DemandRow[]> {
  const key = keyExpr(tx, q.sort);
  const desc = q.order === "desc";
  let after = tx``;
  if (q.after) {
    const a = q.after;
    if (q.sort === "item_id") {
      after = desc ? tx`and (d.item_id, d.currency) < (${a.i}, ${a.c})` : tx`and (d.item_id, d.currency) > (${a.i}, ${a.c})`;
    } else {
      const k = Number(a.k);
      after = desc
        ? tx`and (${key} < ${k} or (${key} = ${k} and (d.item_id, d.currency) > (${a.i}, ${a.c})))`
        : tx`and (${key} > ${k} or (${key} = ${k} and (d.item_id, d.currency) > (${a.i}, ${a.c})))`;
    }
  }
  const order =
    q.sort === "item_id"
      ? desc
        ? tx`d.item_id desc, d.currency desc`
        : tx`d.item_id, d.currency`
      : desc
        ? tx`${key} desc, d.item_id, d.currency`
        : tx`${key}, d.item_id, d.currency`;
  return tx<DemandRow[]>`
    ${demandSelect(tx)}
     where true
       ${q.currency !== undefined ? tx`and d.currency = ${q.currency}` : tx``}
       ${q.category !== undefined ? tx`and i.category = ${q.category}` : tx``}
       ${q.kind !== undefined ? tx`and i.kind = ${q.kind}` : tx``}
       ${q.reason !== undefined ? tx`and d.reason = ${q.reason}` : tx``}
       ${q.item_id !== undefined ? tx`and d.item_id = ${q.item_id}` : tx``}
       ${q.min_score !== undefined ? tx`and d.score >= ${q.min_score}` : tx``}
       ${q.max_score !== undefined ? tx`and d.score <= ${q.max_score}` : tx``}
       ${after}
     order by ${order}
     limit ${q.limit + 1}`;
}

function demandSelect(tx: TxSql) {
  return tx`
    select d.item_id, d.currency::text as currency, d.score::text as score, d.reason, d.confidence::text as confidence,
           d.on_sale_since, d.days_on_sale::text as days_on_sale, d.selling_window_days::text as selling_window_days,
           d.sold::text as sold, d.capacity, d.units_7d::text as units_7d, d.units_28d::text as units_28d,
           d.views_14d::text as views_14d, d.carts_14d::text as carts_14d, d.orders_14d::text as orders_14d,
           d.tenant_conversion_14d::text as tenant_conversion_14d, d.components, d.evidence::text as evidence,
           d.stability::text as stability, d.recent_scores::text[] as recent_scores, d.scored_at,
           i.name, i.category, i.kind, i.currency::text as catalog_currency, i.base_price_minor::text as base_price_minor,
           i.min_price_minor::text as min_price_minor, i.max_price_minor::text as max_price_minor, i.starts_at
      from demand_scores d
      join items i on i.tenant_id = d.tenant_id and i.item_id = d.item_id`;
}

/** the demand rows of one item (every currency it is scored in), catalog currency first */
export async function demandOfItem(tx: TxSql, itemId: string): Promise<DemandRow[]> {
  return tx<DemandRow[]>`
    ${demandSelect(tx)}
     where d.item_id = ${itemId}
     order by (d.currency = i.currency) desc, d.currency`;
}

/** when the tenant's scores were last computed, or null */
export async function demandScoredAt(tx: TxSql): Promise<Date | null> {
  const [row] = await tx<{ scored_at: Date }[]>`select scored_at from demand_scores_runs`;
  return row?.scored_at ?? null;
}

/**
 * Recompute one tenant's demand scores now (the job's procedure, for that tenant), as the service's
 * connection: the procedure sets app.tenant_id itself. `asOf`: the scoring instant (default now()).
 */
export async function refreshTenantDemand(sql: Sql, tenantId: string, asOf?: Date): Promise<void> {
  const config = JSON.stringify(asOf ? { tenant_id: tenantId, as_of: asOf.toISOString() } : { tenant_id: tenantId });
  await sql`call refresh_demand_scores(null, ${config}::text::jsonb)`;
}

export async function countDemandRows(tx: TxSql): Promise<number> {
  const [row] = await tx<{ n: number }[]>`select count(*)::int as n from demand_scores`;
  return row?.n ?? 0;
}

// ─── catalog ─────────────────────────────────────────────────────────────────────────────────────────

export interface CatalogItem {
  item_id: string;
  name: string;
  category: string;
  kind: string;
  currency: string;
  base_price_minor: string;
  min_price_minor: string | null;
  max_price_minor: string | null;
  capacity: number | null;
  starts_at: Date | null;
}

export async function catalogItem(tx: TxSql, itemId: string): Promise<CatalogItem | undefined> {
  const [row] = await tx<CatalogItem[]>`
    select item_id, name, category, kind, currency::text as currency, base_price_minor::text as base_price_minor,
           min_price_minor::text as min_price_minor, max_price_minor::text as max_price_minor, capacity, starts_at
      from items where item_id = ${itemId}`;
  return row;
}
