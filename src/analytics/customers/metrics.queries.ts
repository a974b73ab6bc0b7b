/**
 * getCustomerMetrics: new vs returning customers per range or local bucket, and the repeat rate (the
 * definitions are in the operation's description). A customer's first order is their earliest known
 * order.completed: stored events, or customer_scores for orders older than retention.
 */
import type { TxSql } from "../../db/client.ts";
import type { Bucket } from "../shared/buckets.ts";
import type { AnalyticsRange } from "../shared/params.ts";
import { big, bucketLabel } from "../shared/source.queries.ts";

export interface MetricsRow {
  bucket_start: Date | null;
  customers: bigint;
  new_customers: bigint;
  returning_customers: bigint;
  orders: bigint;
}

export interface RepeatFigures {
  customers_with_orders: bigint;
  repeat_customers: bigint;
}

/** the customers' earliest known order and their orders known before `to` (CTE `cust`) */
function knownCustomers(tx: TxSql, to: Date) {
  return tx`
    stored as (
      select customer_id, min(time) as first_o, count(*) as n
        from tenant_events
       where type = 'order.completed' and customer_id is not null and time < ${to}
       group by 1
    ), known as (
      select customer_id, min(first_order_at) as first_s, sum(orders) as orders_s, max(last_order_at) as last_s
        from customer_scores
       where orders >= 1
       group by 1
    ), cust as (
      select coalesce(st.customer_id, k.customer_id) as customer_id,
             least(st.first_o, k.first_s) as first_at,
             greatest(
               coalesce(st.n, 0) + case when k.first_s < ${to} and k.first_s < coalesce(st.first_o, 'infinity') then 1 else 0 end,
               case when k.last_s < ${to} then k.orders_s else 0 end
             ) as orders_before_to
        from stored st full join known k on k.customer_id = st.customer_id
    )`;
}

export interface CustomerMetricsFigures {
  /** the whole range */
  total: MetricsRow;
  /** per local bucket (empty without a bucket) */
  buckets: MetricsRow[];
  repeat: RepeatFigures;
}

/**
 * New / returning customers in the range (and per local bucket when asked) and the repeat figures
 * as of `to`, in one statement: the customers' history (`cust`, every order before `to`: the costly
 * part) is computed once for all three.
 *   total   customers with an order.completed in [from, to); new = first known order ≥ from;
 *   bucket  the same per local bucket, new = first known order ≥ the bucket's start (or from);
 *   repeat  customers with ≥ 1 and ≥ 2 orders known before `to`.
 */
export async function customerMetricsFigures(tx: TxSql, range: AnalyticsRange, bucket?: Bucket): Promise<CustomerMetricsFigures> {
  const { from, to, timezone } = range;
  const label = bucket ? bucketLabel(tx, bucket, timezone, tx`time`) : tx`${from}::timestamptz`;
  const rows = await tx<
    Array<{
      kind: "t" | "b" | "r";
      b: Date | null;
      customers: string | null;
      new_customers: string | null;
      returning_customers: string | null;
      orders: string | null;
      with_orders: string | null;
      repeat: string | null;
    }>
  >`
    with ${knownCustomers(tx, to)}, act as (
      select customer_id, ${label} as b, count(*) as orders
        from tenant_events
       where type = 'order.completed' and customer_id is not null and time >= ${from} and time < ${to}
       group by 1, 2
    ), act_c as (
      select a.customer_id, a.b, a.orders, c.first_at from act a join cust c on c.customer_id = a.customer_id
    )
    select 't' as kind, null::timestamptz as b, count(distinct customer_id) as customers,
           count(distinct customer_id) filter (where first_at >= ${from}::timestamptz) as new_customers,
           count(distinct customer_id) filter (where first_at < ${from}::timestamptz) as returning_customers,
           sum(orders) as orders, null::bigint as with_orders, null::bigint as repeat
      from act_c
    ${
      bucket
        ? tx`union all
    select 'b', b, count(*),
           count(*) filter (where first_at >= greatest(b, ${from}::timestamptz)),
           count(*) filter (where first_at < greatest(b, ${from}::timestamptz)),
           sum(orders), null, null
      from act_c
     group by b`
        : tx``
    }
    union all
    select 'r', null, null, null, null, null,
           count(*) filter (where orders_before_to >= 1), count(*) filter (where orders_before_to >= 2)
      from cust`;
  const metrics = (r: (typeof rows)[number]): MetricsRow => ({
    bucket_start: r.kind === "b" ? r.b : null,
    customers: big(r.customers),
    new_customers: big(r.new_customers),
    returning_customers: big(r.returning_customers),
    orders: big(r.orders),
  });
  const total = rows.find((r) => r.kind === "t");
  const rep = rows.find((r) => r.kind === "r");
  return {
    total: total ? metrics(total) : { bucket_start: null, customers: 0n, new_customers: 0n, returning_customers: 0n, orders: 0n },
    buckets: rows
      .filter((r) => r.kind === "b")
      .map(metrics)
      .sort((a, b) => a.bucket_start!.getTime() - b.bucket_start!.getTime()),
    repeat: { customers_with_orders: big(rep?.with_orders), repeat_customers: big(rep?.repeat) },
  };
}
