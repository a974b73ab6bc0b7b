/**
 * ATTRIBUTION (last touch) — a touch is a `campaign.touched`, or a `page.viewed` carrying a non-empty
 *   utm_source; its key is (utm_source, utm_medium, utm_campaign) (empty values ⇒ null). visits =
 *   distinct sessions with a touch of that key in [from, to). An `order.completed` in [from, to) is
 *   credited to the LAST touch (latest time, ties: greatest event id) of the same session (order's
 *   session_id) or of the same customer (order's customer_id) with order time − window ≤ touch time ≤
 *   order time (the touch may lie before `from`); orders without such a touch are unattributed.
 *   orders = credited orders; revenue = Σ total_minor per currency; conversion = orders / visits
 *   (null without visits).
 *
 * The figures pair events of the same order / shipment / session, which the aggregates cannot do, so
 * they read the raw events through the tenant-scoped view `tenant_events`.
 */
import type { TxSql } from "../../db/client.ts";
import type { AnalyticsRange } from "../shared/params.ts";
import { big } from "../shared/source.queries.ts";

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
  const rows = await tx<
    Array<{
      kind: "v" | "o";
      source: string | null;
      medium: string | null;
      campaign: string | null;
      currency: string | null;
      n: string;
      revenue: string | null;
    }>
  >`
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
