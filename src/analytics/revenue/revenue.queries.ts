/**
 * Revenue figures (getRevenueSummary, getRevenueTimeseries, getRevenueByChannel, getRevenueByCategory).
 *
 * How the definitions in each operation's description (the one home of a definition) are computed:
 *   gross   = Σ total_minor (events.amount_minor) of order.completed with event time in [from, to)
 *   refunds = Σ amount_minor of order.refunded with event time in [from, to)
 *   net     = gross − refunds
 *   orders  = count of order.completed
 *   units   = Σ line quantities of those orders (events.quantity of order.completed)
 *   average_order = gross / orders, rounded half-up to an integer (null when orders = 0)
 * Money is per currency: every row has one currency, never a mixed sum.
 *
 * Refund events carry no channel: a refund is attributed to the channel of its order (the
 * order.completed with the same order_id), else the refund's own channel, else "unknown". With a
 * channel filter or grouping, refunds therefore come from the raw events (the aggregates cannot join);
 * everything else comes from the level chosen by buckets.ts.
 *
 * Categories come from order lines: gross of a category = Σ net_line_minor of its lines (line totals
 * less their share of the order discount, so the categories of an order add up to its total_minor);
 * units = Σ line quantities; orders = orders with at least one line in the category (distinct: from
 * the raw order lines); refunds are order-level and are split over an order's categories in
 * proportion to its net_line_minor (largest remainder, so the shares add up to the refund exactly).
 * Lines of items missing from the catalog fall under "uncategorised".
 */
import type { TxSql } from "../../db/client.ts";
import type { Bucket, Source } from "../shared/buckets.ts";
import type { AnalyticsRange } from "../shared/params.ts";
import { chooseSource } from "../shared/buckets.ts";
import { bucketLabel, eventsSource, linesSource } from "../shared/source.queries.ts";
import { localDate } from "../shared/days.ts";
import type { ProjectionWindow } from "./projection.ts";

export interface RevenueQuery {
  range: AnalyticsRange;
  source: Source;
  /** bucketed by this width in range.timezone; undefined ⇒ one total over the range */
  bucket?: Bucket;
  /** group by channel (getRevenueByChannel) */
  byChannel?: boolean;
  channel?: string;
  currency?: string;
}

export interface RevenueFigures {
  gross: bigint;
  refunds: bigint;
  orders: bigint;
  units: bigint;
}

export interface RevenueRow extends RevenueFigures {
  bucket_start: Date | null;
  channel: string | null;
  currency: string;
}

const big = (v: unknown): bigint => (v === null || v === undefined ? 0n : BigInt(String(v)));

/** revenue rows per (bucket?, channel?, currency), sorted by bucket, channel, currency */
export async function revenueRows(tx: TxSql, q: RevenueQuery): Promise<RevenueRow[]> {
  const { from, to, timezone } = q.range;
  // refunds need the order's channel when a channel is filtered or grouped: raw events then
  const refundsFromRaw = q.byChannel || q.channel !== undefined;
  const label = q.bucket ? bucketLabel(tx, q.bucket, timezone, tx`e.bucket`) : tx`null::timestamptz`;
  const types = refundsFromRaw ? tx`e.type = 'order.completed'` : tx`e.type in ('order.completed', 'order.refunded')`;
  const sales = await tx`
    select ${label} as b,
           ${q.byChannel ? tx`coalesce(e.channel, 'unknown')` : tx`null::text`} as channel,
           e.currency::text as currency,
           coalesce(sum(e.amount_minor) filter (where e.type = 'order.completed'), 0) as gross,
           coalesce(sum(e.amount_minor) filter (where e.type = 'order.refunded'), 0) as refunds,
           coalesce(sum(e.events) filter (where e.type = 'order.completed'), 0) as orders,
           coalesce(sum(e.quantity) filter (where e.type = 'order.completed'), 0) as units
      from ${eventsSource(tx, q.source)} e
     where ${types}
       and e.bucket >= ${from} and e.bucket < ${to}
       and e.currency is not null
       ${q.channel !== undefined ? tx`and e.channel = ${q.channel}` : tx``}
       ${q.currency !== undefined ? tx`and e.currency = ${q.currency}` : tx``}
     group by 1, 2, 3`;

  const rows = new Map<string, RevenueRow>();
  const keyOf = (b: Date | null, channel: string | null, currency: string) => `${b?.toISOString() ?? ""}|${channel ?? ""}|${currency}`;
  for (const r of sales) {
    const b = (r.b as Date | null) ?? null;
    rows.set(keyOf(b, r.channel, r.currency), {
      bucket_start: b,
      channel: r.channel as string | null,
      currency: r.currency as string,
      gross: big(r.gross),
      refunds: big(r.refunds),
      orders: big(r.orders),
      units: big(r.units),
    });
  }

  if (refundsFromRaw) {
    for (const r of await attributedRefunds(tx, q)) {
      if (q.channel !== undefined && r.channel !== q.channel) continue;
      const channel = q.byChannel ? r.channel : null;
      const k = keyOf(r.b, channel, r.currency);
      const row = rows.get(k) ?? { bucket_start: r.b, channel, currency: r.currency, gross: 0n, refunds: 0n, orders: 0n, units: 0n };
      row.refunds += r.refunds;
      rows.set(k, row);
    }
  }

  return [...rows.values()].sort(
    (a, b) =>
      (a.bucket_start?.getTime() ?? 0) - (b.bucket_start?.getTime() ?? 0) ||
      (a.channel ?? "").localeCompare(b.channel ?? "") ||
      a.currency.localeCompare(b.currency),
  );
}

/** refunds in [from, to) per (bucket?, attributed channel, currency), from the raw events */
async function attributedRefunds(
  tx: TxSql,
  q: RevenueQuery,
): Promise<Array<{ b: Date | null; channel: string; currency: string; refunds: bigint }>> {
  const { from, to, timezone } = q.range;
  const label = q.bucket ? bucketLabel(tx, q.bucket, timezone, tx`r.time`) : tx`null::timestamptz`;
  const rows = await tx`
    with r as (
      select time, currency, order_id, channel, amount_minor
        from tenant_events
       where type = 'order.refunded' and time >= ${from} and time < ${to} and currency is not null
         ${q.currency !== undefined ? tx`and currency = ${q.currency}` : tx``}
    ), o as (
      select distinct on (order_id) order_id, channel
        from tenant_events
       where type = 'order.completed' and order_id in (select order_id from r where order_id is not null)
       order by order_id, time
    )
    select ${label} as b, coalesce(o.channel, r.channel, 'unknown') as channel, r.currency::text as currency,
           sum(r.amount_minor) as refunds
      from r left join o on o.order_id = r.order_id
     group by 1, 2, 3`;
  return rows.map((r) => ({
    b: (r.b as Date | null) ?? null,
    channel: r.channel as string,
    currency: r.currency as string,
    refunds: big(r.refunds),
  }));
}

export interface CategoryQuery {
  range: AnalyticsRange;
  source: Source;
  channel?: string;
  currency?: string;
  category?: string;
}

export interface CategoryRow extends RevenueFigures {
  category: string;
  currency: string;
  lines: bigint;
}

const lineFilters = (tx: TxSql, q: CategoryQuery) =>
  tx`${q.channel !== undefined ? tx`and l.channel = ${q.channel}` : tx``}
     ${q.currency !== undefined ? tx`and l.currency = ${q.currency}` : tx``}`;

/** revenue per (category, currency) from the order lines; see the module header for the rules */
export async function categoryRows(tx: TxSql, q: CategoryQuery): Promise<CategoryRow[]> {
  const { from, to } = q.range;
  const figures = await tx`
    select coalesce(i.category, 'uncategorised') as category, l.currency::text as currency,
           sum(l.net_line_minor) as gross, sum(l.units) as units, sum(l.lines) as lines
      from ${linesSource(tx, q.source)} l
      left join items i on i.item_id = l.item_id
     where l.bucket >= ${from} and l.bucket < ${to}
       ${lineFilters(tx, q)}
     group by 1, 2`;

  // orders are distinct counts: from the raw order lines (distinct rows first: hashed, not sorted)
  const orders = await tx`
    select category, currency, count(order_id) as orders
      from (select distinct coalesce(i.category, 'uncategorised') as category, l.currency::text as currency, l.order_id
              from tenant_order_lines l
              left join items i on i.item_id = l.item_id
             where l.time >= ${from} and l.time < ${to}
               ${lineFilters(tx, q)}) d
     group by 1, 2`;

  // refunds in range, each with the lines of its order (whenever the order was placed); the lines
  // are narrowed to the refunded orders first (a hashed semi-join), not all sorted for a merge join
  const refundLines = await tx`
    with r as materialized (
      select order_id, currency::text as currency, sum(amount_minor) as refunds
        from tenant_events
       where type = 'order.refunded' and time >= ${from} and time < ${to} and order_id is not null
         ${q.currency !== undefined ? tx`and currency = ${q.currency}` : tx``}
       group by 1, 2
    ), l as materialized (
      select order_id, channel, item_id, net_line_minor
        from tenant_order_lines
       where order_id in (select order_id from r)
    )
    select r.order_id, r.currency, r.refunds, l.channel, l.net_line_minor as net,
           coalesce(i.category, 'uncategorised') as category
      from r
      left join l on l.order_id = r.order_id
      left join items i on i.item_id = l.item_id`;

  const out = new Map<string, CategoryRow>();
  const row = (category: string, currency: string) => {
    const k = `${category}|${currency}`;
    let v = out.get(k);
    if (!v) {
      v = { category, currency, gross: 0n, refunds: 0n, orders: 0n, units: 0n, lines: 0n };
      out.set(k, v);
    }
    return v;
  };
  for (const f of figures) {
    const v = row(f.category, f.currency);
    v.gross += big(f.gross);
    v.units += big(f.units);
    v.lines += big(f.lines);
  }
  for (const o of orders) row(o.category, o.currency).orders += big(o.orders);

  const byOrder = new Map<
    string,
    { currency: string; refunds: bigint; channel: string | null; lines: Array<{ category: string; net: bigint }> }
  >();
  for (const r of refundLines) {
    const k = `${r.order_id}|${r.currency}`;
    let o = byOrder.get(k);
    if (!o) {
      o = { currency: r.currency, refunds: big(r.refunds), channel: null, lines: [] };
      byOrder.set(k, o);
    }
    if (r.net !== null) {
      o.channel = r.channel;
      o.lines.push({ category: r.category, net: big(r.net) });
    }
  }
  for (const o of byOrder.values()) {
    // a channel filter keeps the refunds of orders in that channel (an order's lines share its channel)
    if (q.channel !== undefined && o.channel !== q.channel) continue;
    for (const [category, share] of splitRefund(o.refunds, o.lines)) row(category, o.currency).refunds += share;
  }
  return [...out.values()]
    .filter((r) => q.category === undefined || r.category === q.category)
    .sort((a, b) => a.category.localeCompare(b.category) || a.currency.localeCompare(b.currency));
}

/**
 * A refund split over the categories of its order in proportion to their net_line_minor, largest
 * remainder first (ties: category name), so the shares add up to the refund exactly. An order without
 * stored lines (or with zero net) puts the whole refund under "uncategorised".
 */
export function splitRefund(refund: bigint, lines: ReadonlyArray<{ category: string; net: bigint }>): Map<string, bigint> {
  const byCategory = new Map<string, bigint>();
  for (const l of lines) byCategory.set(l.category, (byCategory.get(l.category) ?? 0n) + l.net);
  const total = [...byCategory.values()].reduce((a, b) => a + b, 0n);
  if (total <= 0n) return new Map([["uncategorised", refund]]);
  const shares = [...byCategory.entries()].map(([category, net]) => {
    const exact = refund * net;
    return { category, floor: exact / total, remainder: exact % total };
  });
  let left = refund - shares.reduce((a, s) => a + s.floor, 0n);
  shares.sort((a, b) => (b.remainder > a.remainder ? 1 : b.remainder < a.remainder ? -1 : a.category.localeCompare(b.category)));
  for (const s of shares) {
    if (left <= 0n) break;
    s.floor += 1n;
    left -= 1n;
  }
  return new Map(shares.map((s) => [s.category, s.floor]));
}

/** daily net revenue per currency over the history window (every day present, 0 without data) */
export async function dailyNet(tx: TxSql, w: ProjectionWindow, tz: string, currency?: string): Promise<Map<string, number[]>> {
  const range: AnalyticsRange = { from: w.historyFrom, to: w.historyTo, timezone: tz };
  const rows = await revenueRows(tx, { range, source: chooseSource(range, "day"), bucket: "day", currency });
  const index = new Map(w.historyDates.map((d, i) => [d, i]));
  const out = new Map<string, number[]>();
  for (const r of rows) {
    const i = index.get(localDate(tz, r.bucket_start!));
    if (i === undefined) continue;
    let series = out.get(r.currency);
    if (!series) {
      series = new Array<number>(w.historyDates.length).fill(0);
      out.set(r.currency, series);
    }
    series[i]! += Number(r.gross - r.refunds);
  }
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
}
