/**
 * Outcomes of applied price changes (definitions.ts OUTCOME): per change, the item's units, distinct
 * orders (tenant_order_lines, the change's currency) and item views (tenant_events) in the 7 days before
 * applied_at and in [applied_at, min(applied_at + 7 days, as_of)). Read at request time: a page of changes,
 * each window read through the (tenant, item, time) index of order lines.
 */
import type { TxSql } from "../db/client.ts";

export interface OutcomeRow {
  id: string;
  item_id: string;
  currency: string;
  old_price_minor: string;
  new_price_minor: string;
  applied_at: Date;
  after_end: Date;
  units_before: string;
  units_after: string;
  orders_before: string;
  orders_after: string;
  views_before: string;
  views_after: string;
}

/** one page (limit + 1 rows) of applied changes, newest applied first, with their windows' figures */
export async function outcomeRows(
  tx: TxSql,
  q: { asOf: Date; itemId?: string; limit: number; after?: { at: string; id: string } },
): Promise<OutcomeRow[]> {
  return tx<OutcomeRow[]>`
    with c as (
      select id, item_id, currency, old_price_minor, new_price_minor, applied_at,
             least(${q.asOf}::timestamptz, applied_at + interval '7 days') as after_end
        from price_changes
       where status = 'applied'
         ${q.itemId !== undefined ? tx`and item_id = ${q.itemId}` : tx``}
         ${q.after ? tx`and (applied_at, id) < (${q.after.at}::timestamptz, ${q.after.id}::uuid)` : tx``}
       order by applied_at desc, id desc
       limit ${q.limit + 1}
    )
    select c.id, c.item_id, c.currency::text as currency, c.old_price_minor::text as old_price_minor,
           c.new_price_minor::text as new_price_minor, c.applied_at, c.after_end,
           l.units_before::text as units_before, l.units_after::text as units_after,
           l.orders_before::text as orders_before, l.orders_after::text as orders_after,
           v.views_before::text as views_before, v.views_after::text as views_after
      from c
      cross join lateral (
        select coalesce(sum(quantity) filter (where time < c.applied_at), 0) as units_before,
               coalesce(sum(quantity) filter (where time >= c.applied_at), 0) as units_after,
               count(distinct event_id) filter (where time < c.applied_at) as orders_before,
               count(distinct event_id) filter (where time >= c.applied_at) as orders_after
          from tenant_order_lines
         where item_id = c.item_id and currency = c.currency
           and time >= c.applied_at - interval '7 days' and time < c.after_end
      ) l
      cross join lateral (
        select count(*) filter (where time < c.applied_at) as views_before,
               count(*) filter (where time >= c.applied_at) as views_after
          from tenant_events
         where type = 'item.viewed' and item_id = c.item_id
           and time >= c.applied_at - interval '7 days' and time < c.after_end
      ) v
     order by c.applied_at desc, c.id desc`;
}
