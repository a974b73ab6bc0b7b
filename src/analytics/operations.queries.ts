/**
 * Operations figures (getFulfillmentMetrics, getShippingMetrics, getMarketingAttribution,
 * getRefundMetrics). They pair events of the same order / shipment / session, which the aggregates
 * cannot do, so they read the raw events through the tenant-scoped view `tenant_events`.
 *
 * Definitions (also in each operation's description and the README):
 *
 * FULFILMENT — orders = distinct order_id of `order.completed` with event time in [from, to) (placed
 *   at the earliest such event); an order is fulfilled when an `order.fulfilled` of the same order_id
 *   exists at or after its placement (at any time up to now, also after `to`); time to fulfil = first
 *   such fulfilment − placement, in seconds; p50/p95 = percentile_cont(0.5 / 0.95) (continuous,
 *   linear interpolation) over the fulfilled orders; unfulfilled = orders − fulfilled.
 *
 * SHIPPING — shipments = distinct shipment_id of `shipment.dispatched` with event time in [from, to)
 *   (the earliest dispatch in range), grouped by that dispatch's carrier; delivered = a
 *   `shipment.delivered` of the same shipment_id exists at or after the dispatch (first one counts);
 *   dispatch → delivery p50/p95 = percentile_cont over the delivered ones, in seconds. On time =
 *   delivered at or before the dispatch's `promised_by`; late = delivered after it, or not delivered
 *   while promised_by has passed (as of the query); pending = not delivered and promised_by still in
 *   the future; on_time_share = on_time / (on_time + late), null when that is 0 (shipments without
 *   promised_by and pending ones are not in it).
 *
 * ATTRIBUTION (last touch) — a touch is a `campaign.touched`, or a `page.viewed` carrying a non-empty
 *   utm_source; its key is (utm_source, utm_medium, utm_campaign) (empty values ⇒ null). visits =
 *   distinct sessions with a touch of that key in [from, to). An `order.completed` in [from, to) is
 *   credited to the LAST touch (latest time, ties: greatest event id) of the same session (order's
 *   session_id) or of the same customer (order's customer_id) with order time − window ≤ touch time ≤
 *   order time (the touch may lie before `from`); orders without such a touch are unattributed.
 *   orders = credited orders; revenue = Σ total_minor per currency; conversion = orders / visits
 *   (null without visits).
 *
 * REFUNDS — orders = distinct order_id of `order.completed` in [from, to); refunded orders = those of
 *   them with an `order.refunded` of the same order_id at or after `from` (up to now); refund_rate =
 *   refunded orders / orders (null without orders). Amounts: Σ amount_minor and count of
 *   `order.refunded` with event time in [from, to), per currency, and per (reason, currency) with a
 *   missing or empty reason counted as "unspecified".
 */
import type { TxSql } from "../db/client.ts";
import type { AnalyticsRange } from "./params.ts";

const big = (v: unknown): bigint => (v === null || v === undefined ? 0n : BigInt(String(v)));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

// ─── fulfilment ─────────────────────────────────────────────────────────────────────────────────────

export interface FulfillmentFigures {
  orders: bigint;
  fulfilled: bigint;
  p50_seconds: number | null;
  p95_seconds: number | null;
}

export async function fulfillmentFigures(tx: TxSql, range: AnalyticsRange, f: { channel?: string; currency?: string }): Promise<FulfillmentFigures> {
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

// ─── shipping ───────────────────────────────────────────────────────────────────────────────────────

export interface CarrierFigures {
  carrier: string;
  shipments: bigint;
  delivered: bigint;
  p50_seconds: number | null;
  p95_seconds: number | null;
  with_promise: bigint;
  on_time: bigint;
  late: bigint;
  pending: bigint;
}

export async function shippingFigures(tx: TxSql, range: AnalyticsRange, f: { carrier?: string }): Promise<CarrierFigures[]> {
  const { from, to } = range;
  const rows = await tx`
    with d as (
      select distinct on (props ->> 'shipment_id')
             props ->> 'shipment_id' as shipment_id, time as dispatched,
             coalesce(nullif(props ->> 'carrier', ''), 'unknown') as carrier,
             (props ->> 'promised_by')::timestamptz as promised_by
        from tenant_events
       where type = 'shipment.dispatched' and time >= ${from} and time < ${to}
         and props ->> 'shipment_id' is not null
       order by props ->> 'shipment_id', time
    ), s as (
      select d.shipment_id, d.carrier, d.dispatched, d.promised_by, min(e.time) as delivered
        from d
        left join tenant_events e
          on e.type = 'shipment.delivered' and e.props ->> 'shipment_id' = d.shipment_id
         and e.time >= d.dispatched and e.time >= ${from}
       group by d.shipment_id, d.carrier, d.dispatched, d.promised_by
    )
    select carrier,
           count(*) as shipments,
           count(delivered) as delivered,
           percentile_cont(0.5) within group (order by extract(epoch from (delivered - dispatched))::float8) as p50,
           percentile_cont(0.95) within group (order by extract(epoch from (delivered - dispatched))::float8) as p95,
           count(*) filter (where promised_by is not null) as with_promise,
           count(*) filter (where delivered is not null and delivered <= promised_by) as on_time,
           count(*) filter (where delivered > promised_by or (delivered is null and promised_by < now())) as late,
           count(*) filter (where delivered is null and promised_by >= now()) as pending
      from s
     ${f.carrier !== undefined ? tx`where carrier = ${f.carrier}` : tx``}
     group by carrier
     order by carrier`;
  return rows.map((r) => ({
    carrier: r.carrier as string,
    shipments: big(r.shipments),
    delivered: big(r.delivered),
    p50_seconds: numOrNull(r.p50),
    p95_seconds: numOrNull(r.p95),
    with_promise: big(r.with_promise),
    on_time: big(r.on_time),
    late: big(r.late),
    pending: big(r.pending),
  }));
}

// ─── marketing attribution ──────────────────────────────────────────────────────────────────────────

export interface CampaignKey {
  source: string;
  medium: string | null;
  campaign: string | null;
}

export interface CampaignFigures extends CampaignKey {
  visits: bigint;
  orders: bigint;
  revenue: Map<string, bigint>;
}

export interface AttributionFigures {
  campaigns: CampaignFigures[];
  unattributed: { orders: bigint; revenue: Map<string, bigint> };
}

const keyOf = (k: CampaignKey) => JSON.stringify([k.source, k.medium, k.campaign]);

/** code-point order of (source, medium, campaign), null before any value */
export function compareCampaign(a: CampaignKey, b: CampaignKey): number {
  const cmp = (x: string | null, y: string | null) => (x === y ? 0 : x === null ? -1 : y === null ? 1 : x < y ? -1 : 1);
  return cmp(a.source, b.source) || cmp(a.medium, b.medium) || cmp(a.campaign, b.campaign);
}

export async function attributionFigures(
  tx: TxSql,
  range: AnalyticsRange,
  windowSeconds: number,
  f: { channel?: string; currency?: string },
): Promise<AttributionFigures> {
  const { from, to } = range;
  const window = `${windowSeconds} seconds`;
  const touches = tx`
    select time, event_id, session_id, customer_id,
           props ->> 'utm_source' as source,
           nullif(props ->> 'utm_medium', '') as medium,
           nullif(props ->> 'utm_campaign', '') as campaign
      from tenant_events
     where type in ('campaign.touched', 'page.viewed')
       and time >= ${from}::timestamptz - ${window}::interval and time < ${to}
       and coalesce(props ->> 'utm_source', '') <> ''`;

  // One statement, one scan of the touches (materialised): the visits per campaign (distinct sessions
  // touched in [from, to)) and the orders credited to each campaign (kind 'v' and 'o' rows).
  // The last touch of an order: for each of its session and its customer, the newest touch at or
  // before the order (a running max over touches and orders in time order, touches first at equal
  // times), its ties broken by the greatest event id; then the newer of the two, if within the window.
  // Window functions and hash joins, not a per-order scan of the touches (quadratic in a busy range).
  const rows = await tx<Array<{ kind: "v" | "o"; source: string | null; medium: string | null; campaign: string | null; currency: string | null; n: string; revenue: string | null }>>`
    with t as materialized (${touches}),
    o as materialized (
      select event_id, time, session_id, customer_id, currency::text as currency, amount_minor
        from tenant_events
       where type = 'order.completed' and time >= ${from} and time < ${to} and currency is not null
         ${f.channel !== undefined ? tx`and channel = ${f.channel}` : tx``}
         ${f.currency !== undefined ? tx`and currency = ${f.currency}` : tx``}
    ),
    -- touches and orders keyed both ways: by session and by customer
    tk as (
      select 'session' as via, session_id as key, time, event_id, source, medium, campaign from t where session_id is not null
      union all
      select 'customer', customer_id, time, event_id, source, medium, campaign from t where customer_id is not null
    ),
    ok as (
      select 'session' as via, session_id as key, time, event_id from o where session_id is not null
      union all
      select 'customer', customer_id, time, event_id from o where customer_id is not null
    ),
    latest as (
      select x.event_id as order_event_id, x.time as order_time, x.via, x.key, x.last_time
        from (
          select kind, via, key, event_id, time,
                 max(case when kind = 0 then time end) over (partition by via, key order by time, kind rows unbounded preceding) as last_time
            from (select 0 as kind, via, key, time, event_id from tk
                  union all
                  select 1, via, key, time, event_id from ok) u
        ) x
       where x.kind = 1 and x.last_time is not null
    ),
    candidates as (
      select l.order_event_id, l.order_time, tk.time, tk.event_id, tk.source, tk.medium, tk.campaign
        from latest l join tk on tk.via = l.via and tk.key = l.key and tk.time = l.last_time
    ),
    last_touch as (
      select distinct on (order_event_id, order_time) order_event_id, order_time, time, source, medium, campaign
        from candidates
       order by order_event_id, order_time, time desc, event_id desc
    )
    select 'v' as kind, source, medium, campaign, null::text as currency, count(distinct session_id) as n, null::numeric as revenue
      from t
     where time >= ${from} and session_id is not null
     group by 2, 3, 4
    union all
    select 'o', lt.source, lt.medium, lt.campaign, o.currency, count(*), sum(o.amount_minor)
      from o
      left join last_touch lt on lt.order_event_id = o.event_id and lt.order_time = o.time
                             and lt.time >= o.time - ${window}::interval
     group by 2, 3, 4, 5`;

  const campaigns = new Map<string, CampaignFigures>();
  const campaign = (k: CampaignKey) => {
    const id = keyOf(k);
    let c = campaigns.get(id);
    if (!c) {
      c = { source: k.source, medium: k.medium, campaign: k.campaign, visits: 0n, orders: 0n, revenue: new Map() };
      campaigns.set(id, c);
    }
    return c;
  };
  const unattributed = { orders: 0n, revenue: new Map<string, bigint>() };
  for (const r of rows) {
    if (r.kind === "v") {
      campaign({ source: r.source!, medium: r.medium, campaign: r.campaign }).visits += big(r.n);
      continue;
    }
    const target = r.source === null ? unattributed : campaign({ source: r.source, medium: r.medium, campaign: r.campaign });
    target.orders += big(r.n);
    target.revenue.set(r.currency!, (target.revenue.get(r.currency!) ?? 0n) + big(r.revenue));
  }
  return { campaigns: [...campaigns.values()].sort(compareCampaign), unattributed };
}

// ─── refunds ────────────────────────────────────────────────────────────────────────────────────────

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
