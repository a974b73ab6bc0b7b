/**
 * FULFILMENT — orders = distinct order_id of `order.completed` with event time in [from, to) (placed
 *   at the earliest such event); an order is fulfilled when an `order.fulfilled` of the same order_id
 *   exists at or after its placement (at any time up to now, also after `to`); time to fulfil = first
 *   such fulfilment − placement, in seconds; p50/p95 = percentile_cont(0.5 / 0.95) (continuous,
 *   linear interpolation) over the fulfilled orders; unfulfilled = orders − fulfilled.
 *
 * The figures pair events of the same order / shipment / session, which the aggregates cannot do, so
 * they read the raw events through the tenant-scoped view `tenant_events`.
 */
import type { TxSql } from "../../db/client.ts";
import type { AnalyticsRange } from "../shared/params.ts";
import { big, numOrNull } from "../shared/source.queries.ts";

export interface FulfillmentFigures {
  orders: bigint;
  fulfilled: bigint;
  p50_seconds: number | null;
  p95_seconds: number | null;
}

export async function fulfillmentFigures(
  tx: TxSql,
  range: AnalyticsRange,
  f: { channel?: string; currency?: string },
): Promise<FulfillmentFigures> {
  const { from, to } = range;
  const [row] = await tx`
    with o as (
      select order_id, min(time) as placed
        from tenant_events
       where type = 'order.completed' and time >= ${from} and time < ${to} and order_id is not null
         ${f.channel !== undefined ? tx`and channel = ${f.channel}` : tx``}
         ${f.currency !== undefined ? tx`and currency = ${f.currency}` : tx``}
       group by order_id
    ), fo as (
      select o.order_id, o.placed, min(e.time) as fulfilled
        from o
        left join tenant_events e
          on e.type = 'order.fulfilled' and e.order_id = o.order_id and e.time >= o.placed and e.time >= ${from}
       group by o.order_id, o.placed
    )
    select count(*) as orders,
           count(fulfilled) as fulfilled,
           percentile_cont(0.5) within group (order by extract(epoch from (fulfilled - placed))::float8) as p50,
           percentile_cont(0.95) within group (order by extract(epoch from (fulfilled - placed))::float8) as p95
      from fo`;
  return { orders: big(row?.orders), fulfilled: big(row?.fulfilled), p50_seconds: numOrNull(row?.p50), p95_seconds: numOrNull(row?.p95) };
}
