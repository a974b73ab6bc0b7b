/**
 * Item performance (getItemPerformance): per item, units and revenue in [from, to) from the order-line
 * aggregates (agg_lines_* through tenant_agg_lines_*, or the raw tenant_order_lines when from/to are
 * off the 5-minute grid: buckets.ts chooseSource), joined in code with the catalog (`items`).
 *
 * How the definitions in the operation's description (the one home of a definition) are computed:
 *   units        = Σ line quantities of the item's order lines in range
 *   revenue      = Σ net_line_minor per currency (line totals less their share of the order discount);
 *                  one entry per currency, never a mixed sum
 *   listed items = items of the catalog (matching the filters) ∪ items with sales in range; a catalog
 *                  item without sales appears with units 0 and an empty revenue list
 * The time-dependent figures (capacity utilisation does not depend on time; days on sale, sell-through
 * and time to start do) are derived in items.routes.ts from the rows here and the answer's `as_of`.
 */
import type { TxSql } from "../../db/client.ts";
import type { Source } from "../shared/buckets.ts";
import type { AnalyticsRange, Filters } from "../shared/params.ts";
import { linesSource } from "../shared/source.queries.ts";

export interface ItemRow {
  item_id: string;
  name: string | null;
  category: string;
  kind: string | null;
  catalog_currency: string | null;
  capacity: number | null;
  starts_at: string | null;
  units: number;
  revenue: Array<{ currency: string; net_minor: number }>;
}

const num = (v: unknown): number => {
  const n = Number(v ?? 0);
  if (!Number.isSafeInteger(n)) throw new RangeError(`value ${String(v)} is beyond exact JSON numbers`);
  return n;
};

/** every listed item (unsorted); see the module header */
export async function itemRows(tx: TxSql, q: { range: AnalyticsRange; source: Source } & Filters): Promise<ItemRow[]> {
  const { from, to } = q.range;
  const sales = await tx`
    select l.item_id, l.currency::text as currency, sum(l.units) as units, sum(l.net_line_minor) as net
      from ${linesSource(tx, q.source)} l
     where l.bucket >= ${from} and l.bucket < ${to}
       ${q.channel !== undefined ? tx`and l.channel = ${q.channel}` : tx``}
       ${q.currency !== undefined ? tx`and l.currency = ${q.currency}` : tx``}
       ${q.item_id !== undefined ? tx`and l.item_id = ${q.item_id}` : tx``}
     group by 1, 2`;
  const catalog = await tx`
    select item_id, name, category, kind, currency::text as currency, capacity, starts_at
      from items
     where true
       ${q.item_id !== undefined ? tx`and item_id = ${q.item_id}` : tx``}`;

  const out = new Map<string, ItemRow>();
  for (const i of catalog) {
    out.set(i.item_id, {
      item_id: i.item_id,
      name: i.name,
      category: i.category,
      kind: i.kind,
      catalog_currency: i.currency,
      capacity: i.capacity === null ? null : Number(i.capacity),
      starts_at: i.starts_at === null ? null : (i.starts_at as Date).toISOString(),
      units: 0,
      revenue: [],
    });
  }
  const sold = new Set<string>();
  for (const s of sales) {
    let row = out.get(s.item_id);
    if (!row) {
      row = {
        item_id: s.item_id,
        name: null,
        category: "uncategorised",
        kind: null,
        catalog_currency: null,
        capacity: null,
        starts_at: null,
        units: 0,
        revenue: [],
      };
      out.set(s.item_id, row);
    }
    sold.add(s.item_id);
    row.units += num(s.units);
    row.revenue.push({ currency: s.currency, net_minor: num(s.net) });
  }
  return (
    [...out.values()]
      .filter((r) => q.category === undefined || r.category === q.category)
      // a currency filter lists the items sold in it and the unsold catalog items priced in it
      .filter((r) => q.currency === undefined || sold.has(r.item_id) || r.catalog_currency === q.currency)
      .map((r) => ({ ...r, revenue: r.revenue.sort((a, b) => a.currency.localeCompare(b.currency)) }))
  );
}
