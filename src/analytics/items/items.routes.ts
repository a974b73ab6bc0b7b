/**
 * GET /v1/items/performance (getItemPerformance). Roles: viewer and above (src/http/roles.ts).
 * The cached answer is the whole item list of (range, filters) (items.queries.ts); the figures that
 * depend on the clock are derived from the answer's `as_of`, then the list is sorted and paged here,
 * so every page and sort order of one answer agrees, and a cached answer stays self-consistent.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { HttpProblem } from "../../http/problem.ts";
import { decodeCursor, encodeCursor } from "../../http/query.ts";
import { chooseSource } from "../shared/buckets.ts";
import { ratio } from "../../lib/numbers.ts";
import { type ItemRow, itemRows } from "./items.queries.ts";
import { analyticsOperation } from "../shared/operation.ts";
import { filtersOf, normaliseParams, rangeOf } from "../shared/params.ts";
import { derivedAnswer, type ReadContext, readContext, sendAnswer } from "../shared/read.ts";
import { analyticsEnvelope, analyticsProblemResponses } from "../shared/schemas.ts";
import { ITEM_SORTS, ItemPerformance, ItemsQuery, type ItemSort } from "./items.schemas.ts";

const DAY_MS = 86_400_000;

export const DEFINITION = [
  "Definitions, per item: units = Σ line quantities of its order lines (order.completed) with event time in [from, to);",
  "revenue = Σ net_line_minor per currency (line totals less their share of the order discount; one entry per currency, never mixed);",
  "capacity_utilisation = units / capacity for items with a catalog capacity > 0, else null; sold_out = " +
    "capacity is set and units ≥ capacity;",
  "days_on_sale = the days (fractional) of [from, end) with end = the earliest of `to`, `as_of` and, for " +
    "a ticketed item with starts_at, starts_at (0 when end ≤ from);",
  "sell_through_per_day = units / days_on_sale (null when days_on_sale is 0); time_to_start_seconds = starts_at " +
    "− as_of in whole seconds (rounded; negative once started) for ticketed items with starts_at, else null.",
  "Ratios are rounded half-up to 4 decimal places. Listed items: every catalog item (matching the filters; " +
    "unsold ones with units 0 and an empty revenue list) plus every item with sales in range (not in the " +
    "catalog: category 'uncategorised', name/kind/capacity null).",
  "Utilisation and sold_out count the units sold IN RANGE: use a range that covers the whole sale to see an item's total.",
  "Sorting (`sort`, `order`): units, revenue (the revenue in the `currency` filter when given, else in " +
    "the item's catalog currency, else in its alphabetically first sales currency; 0 without), utilisation " +
    "(items without capacity last in both orders) or item_id; ties by item_id ascending. Default: revenue " +
    "desc.",
  "Filters: category, item_id, channel (sales in that channel), currency (sales in that currency; unsold " +
    "catalog items priced in it). `timezone` does not change the answer; `watermark` = newest order.completed " +
    "in range.",
].join(" ");

const itemsRoute = createRoute({
  method: "get",
  path: "/v1/items/performance",
  operationId: "getItemPerformance",
  tags: ["analytics"],
  summary: "Units, revenue, capacity utilisation, sell-through and time to start per item",
  description: DEFINITION,
  request: { query: ItemsQuery },
  responses: {
    200: {
      description: "one page of items, sorted as asked; next_cursor is null on the last page",
      content: {
        "application/json": {
          schema: analyticsEnvelope(z.array(ItemPerformance)).extend({
            next_cursor: z
              .string()
              .nullable()
              .openapi({ description: "pass as `cursor` (with the same sort and order) for the next page" }),
          }),
        },
      },
    },
    ...analyticsProblemResponses,
  },
});

type Performance = z.infer<typeof ItemPerformance>;

/** the clock-dependent figures of an item as of `asOf` */
export function performanceOf(r: ItemRow, range: { from: Date; to: Date }, asOf: Date): Performance {
  const ticketed = r.kind === "ticketed_event" && r.starts_at !== null;
  const startsAt = r.starts_at === null ? null : new Date(r.starts_at);
  let end = Math.min(range.to.getTime(), asOf.getTime());
  if (ticketed && startsAt) end = Math.min(end, startsAt.getTime());
  const onSaleMs = Math.max(0, end - range.from.getTime());
  return {
    item_id: r.item_id,
    name: r.name,
    category: r.category,
    kind: r.kind as Performance["kind"],
    capacity: r.capacity,
    starts_at: r.starts_at,
    units: r.units,
    revenue: r.revenue,
    capacity_utilisation: r.capacity !== null && r.capacity > 0 ? ratio(r.units, r.capacity) : null,
    sold_out: r.capacity !== null && r.units >= r.capacity,
    days_on_sale: ratio(onSaleMs, DAY_MS),
    // units / (onSaleMs / DAY_MS), computed as one division
    sell_through_per_day: onSaleMs > 0 ? ratio(r.units * DAY_MS, onSaleMs) : null,
    time_to_start_seconds: ticketed && startsAt ? Math.round((startsAt.getTime() - asOf.getTime()) / 1000) : null,
  };
}

type Key = number | string | null;

function sortKey(r: ItemRow, p: Performance, sort: ItemSort, currency: string | undefined): Key {
  switch (sort) {
    case "units":
      return r.units;
    case "utilisation":
      return r.capacity !== null && r.capacity > 0 ? r.units / r.capacity : null;
    case "item_id":
      return r.item_id;
    case "revenue": {
      const cur = currency ?? r.catalog_currency ?? p.revenue[0]?.currency;
      return p.revenue.find((x) => x.currency === cur)?.net_minor ?? 0;
    }
  }
}

/** nulls last in both orders; ties by item_id ascending */
function compare(a: { k: Key; id: string }, b: { k: Key; id: string }, desc: boolean): number {
  if (a.k !== b.k) {
    if (a.k === null) return 1;
    if (b.k === null) return -1;
    const c = a.k < b.k ? -1 : 1;
    return desc ? -c : c;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const CursorSchema = z.object({
  s: z.enum(ITEM_SORTS),
  o: z.enum(["asc", "desc"]),
  k: z.union([z.number(), z.string(), z.null()]),
  id: z.string(),
});

async function items(ctx: ReadContext, q: z.output<typeof ItemsQuery>) {
  const range = rangeOf(ctx, q);
  const filters = filtersOf(q);
  let after: z.infer<typeof CursorSchema> | undefined;
  if (q.cursor !== undefined) {
    after = decodeCursor(q.cursor, CursorSchema);
    if (!after || after.s !== q.sort || after.o !== q.order) {
      const message = "not a next_cursor of this operation with the same sort and order";
      throw new HttpProblem(400, `cursor: ${message}`, { errors: [{ path: "cursor", message }] });
    }
  }
  const source = chooseSource(range);
  const params = normaliseParams({ from: range.from, to: range.to, ...filters });
  const desc = q.order === "desc";
  // the page is derived from the cached rows (and their as_of) alone: kept per sort, order, limit, cursor
  return derivedAnswer(
    ctx,
    "getItemPerformance",
    params,
    (tx) => itemRows(tx, { range, source, ...filters }),
    {
      variant: JSON.stringify([q.sort, q.order, q.limit, q.cursor ?? null, q.currency ?? null]),
      reshape: (body) => {
        const asOf = new Date(body.as_of);
        const keyed = body.data.map((r) => {
          const p = performanceOf(r, range, asOf);
          return { p, k: sortKey(r, p, q.sort, q.currency), id: r.item_id };
        });
        keyed.sort((a, b) => compare(a, b, desc));
        const rest = after ? keyed.filter((x) => compare(x, after, desc) > 0) : keyed;
        const page = rest.slice(0, q.limit);
        const last = page.at(-1);
        const next_cursor =
          rest.length > q.limit && last
            ? encodeCursor({ s: q.sort, o: q.order, k: last.k, id: last.id } as Record<string, string | number>)
            : null;
        return { as_of: body.as_of, watermark: body.watermark, data: page.map((x) => x.p), next_cursor };
      },
    },
    { watermarkTypes: ["order.completed"] },
  );
}

/** a page's items and its next cursor */
const itemsList = {
  rows: (body: unknown) => (body as { data: unknown[] }).data,
  next: (body: unknown) => (body as { next_cursor: string | null }).next_cursor,
};

export const itemsOperations = [analyticsOperation(itemsRoute, items, itemsList)];

export const itemsRoutes = new OpenAPIHono<AppEnv>().openapi(itemsRoute, async (c) =>
  sendAnswer(c, await items(readContext(c), c.req.valid("query"))),
);
