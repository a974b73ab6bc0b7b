/**
 * REFUNDS — orders = distinct order_id of `order.completed` in [from, to); refunded orders = those of
 *   them with an `order.refunded` of the same order_id at or after `from` (up to now); refund_rate =
 *   refunded orders / orders (null without orders). Amounts: Σ amount_minor and count of
 *   `order.refunded` with event time in [from, to), per currency, and per (reason, currency) with a
 *   missing or empty reason counted as "unspecified".
 *
 * The figures pair events of the same order / shipment / session, which the aggregates cannot do, so
 * they read the raw events through the tenant-scoped view `tenant_events`.
 */
import type { TxSql } from "../../db/client.ts";
import type { AnalyticsRange } from "../shared/params.ts";
import { big } from "../shared/source.queries.ts";

export interface RefundFigures {
  orders: bigint;
  refunded_orders: bigint;
  by_currency: Array<{ currency: string; refunds: bigint; amount: bigint }>;
  by_reason: Array<{ reason: string; currency: string; refunds: bigint; amount: bigint }>;
}

export async function refundFigures(tx: TxSql, range: AnalyticsRange, f: { currency?: string }): Promise<RefundFigures> {
  const { from, to } = range;
  const currency = f.currency !== undefined ? tx`and currency = ${f.currency}` : tx``;
  // a hash join, not a per-order EXISTS (which ran once per order: quadratic in a busy range)
  const [rate] = await tx`
    with o as (
      select distinct order_id
        from tenant_events
       where type = 'order.completed' and time >= ${from} and time < ${to} and order_id is not null ${currency}
    ), r as (
      select distinct order_id
        from tenant_events
       where type = 'order.refunded' and time >= ${from} and order_id is not null
    )
    select count(*) as orders, count(r.order_id) as refunded_orders
      from o left join r on r.order_id = o.order_id`;
  const reasons = await tx`
    select coalesce(nullif(props ->> 'reason', ''), 'unspecified') as reason, currency::text as currency,
           count(*) as refunds, coalesce(sum(amount_minor), 0) as amount
      from tenant_events
     where type = 'order.refunded' and time >= ${from} and time < ${to} and currency is not null ${currency}
     group by 1, 2`;
  const byReason = reasons
    .map((r) => ({ reason: r.reason as string, currency: r.currency as string, refunds: big(r.refunds), amount: big(r.amount) }))
    .sort((a, b) => (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0));
  const totals = new Map<string, { currency: string; refunds: bigint; amount: bigint }>();
  for (const r of byReason) {
    const t = totals.get(r.currency) ?? { currency: r.currency, refunds: 0n, amount: 0n };
    t.refunds += r.refunds;
    t.amount += r.amount;
    totals.set(r.currency, t);
  }
  return {
    orders: big(rate?.orders),
    refunded_orders: big(rate?.refunded_orders),
    by_currency: [...totals.values()].sort((a, b) => (a.currency < b.currency ? -1 : 1)),
    by_reason: byReason,
  };
}
