/**
 * GET /v1/sales/metrics (getSalesMetrics). Roles: viewer and above, by the role matrix
 * (src/http/roles.ts). The definitions are in its description; it reads the revenue aggregates through
 * revenue.queries.ts.
 */
import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { int } from "../../lib/numbers.ts";
import type { RevenueRow } from "../revenue/revenue.queries.ts";
import { REVENUE_TYPES } from "../revenue/revenue.routes.ts";
import { analyticsOperation } from "../shared/operation.ts";
import { bucketedRange } from "../shared/params.ts";
import { envelopeAnswer, type ReadContext, readContext, sendAnswer } from "../shared/read.ts";
import { analyticsProblemResponses, envelopeJson } from "../shared/schemas.ts";
import { growth, previousRange, salesData } from "./sales.queries.ts";
import { SalesMetrics, SalesQuery } from "./sales.schemas.ts";

const ROLES = "Roles: viewer, analyst, pricing_manager, admin, ops.";
const CACHED =
  "Cached (ANALYTICS_CACHE_TTL_SECONDS) and invalidated when your data changes; `as_of` says when it was " +
  "computed and `watermark` the newest order/refund time included.";
const FIGURES =
  "orders = count of `order.completed`; units = Σ their line quantities; gross = Σ total_minor; refunds " +
  "= Σ amount_minor of `order.refunded`; net = gross − refunds (the revenue API's definitions); money in " +
  "integer minor units, one row per currency.";

const salesRoute = createRoute({
  method: "get",
  path: "/v1/sales/metrics",
  operationId: "getSalesMetrics",
  tags: ["analytics"],
  summary: "Orders, units and revenue per local bucket and currency, with growth vs the previous equal period",
  description:
    `Per bucket and currency: ${FIGURES} Buckets are local to \`timezone\` and DST-correct (weeks start Monday, ` +
    `months are calendar months); buckets without sales or refunds are left out. totals: per currency, the ` +
    `figures of [from, to) (\`current\`), of the previous equal period [from − (to − from), from) (\`previous\`), ` +
    `and growth = (current − previous) / |previous| for orders, units, gross and net (= (current − previous) ` +
    `/ previous whenever previous > 0; null when previous is 0). A currency appears in totals when it has ` +
    `sales or refunds in either period. Filters: channel, currency. ${ROLES} ${CACHED}`,
  request: { query: SalesQuery },
  responses: {
    200: envelopeJson(SalesMetrics, "buckets ordered by bucket_start then currency; totals by currency"),
    ...analyticsProblemResponses,
  },
});

const figuresOut = (r: RevenueRow | undefined) => ({
  orders: r ? int(r.orders) : 0,
  units: r ? int(r.units) : 0,
  gross_minor: r ? int(r.gross) : 0,
  refunds_minor: r ? int(r.refunds) : 0,
  net_minor: r ? int(r.gross - r.refunds) : 0,
});

async function salesMetrics(ctx: ReadContext, q: z.output<typeof SalesQuery>) {
  const { range, params } = bucketedRange(ctx, q);
  const prev = previousRange(range);
  return envelopeAnswer(
    ctx,
    "getSalesMetrics",
    params,
    async (tx) => {
      const d = await salesData(tx, range, q.bucket, { channel: q.channel, currency: q.currency });
      const currencies = [...new Set([...d.current, ...d.previous].map((r) => r.currency))].sort();
      return {
        previous_from: prev.from.toISOString(),
        previous_to: prev.to.toISOString(),
        buckets: d.buckets.map((r) => ({ bucket_start: r.bucket_start!.toISOString(), currency: r.currency, ...figuresOut(r) })),
        totals: currencies.map((cur) => {
          const now = d.current.find((r) => r.currency === cur);
          const before = d.previous.find((r) => r.currency === cur);
          const z0 = 0n;
          return {
            currency: cur,
            current: figuresOut(now),
            previous: figuresOut(before),
            growth: {
              orders: growth(now?.orders ?? z0, before?.orders ?? z0),
              units: growth(now?.units ?? z0, before?.units ?? z0),
              gross: growth(now?.gross ?? z0, before?.gross ?? z0),
              net: growth(now ? now.gross - now.refunds : z0, before ? before.gross - before.refunds : z0),
            },
          };
        }),
      };
    },
    { watermarkTypes: REVENUE_TYPES },
  );
}

export const salesOperations = [analyticsOperation(salesRoute, salesMetrics)];

export const salesRoutes = new OpenAPIHono<AppEnv>().openapi(salesRoute, async (c) =>
  sendAnswer(c, await salesMetrics(readContext(c), c.req.valid("query"))),
);
