/**
 * GET /v1/operations/fulfillment (getFulfillmentMetrics). Roles: viewer and above, by the role matrix (src/http/roles.ts). The definitions
 * are in its description and in fulfilment.queries.ts.
 */
import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { int } from "../../lib/numbers.ts";
import { analyticsOperation } from "../shared/operation.ts";
import { normaliseParams, rangeOf } from "../shared/params.ts";
import { envelopeAnswer, type ReadContext, readContext, sendAnswer } from "../shared/read.ts";
import { analyticsProblemResponses, COMMON, envelopeJson } from "../shared/schemas.ts";
import { fulfillmentFigures } from "./fulfilment.queries.ts";
import { FulfillmentData, FulfilmentQuery } from "./fulfilment.schemas.ts";

const fulfillmentRoute = createRoute({
  method: "get",
  path: "/v1/operations/fulfillment",
  operationId: "getFulfillmentMetrics",
  tags: ["analytics"],
  summary: "Order → fulfilled: p50/p95 time to fulfil, fulfilled and unfulfilled orders placed in [from, to)",
  description:
    `Orders = distinct order_id of \`order.completed\` with event time in [from, to), placed at their earliest ` +
    `order.completed. An order is fulfilled when an \`order.fulfilled\` of the same order_id exists at or ` +
    `after its placement (also after \`to\`, up to now); time to fulfil = the first such order.fulfilled ` +
    `− placement, in seconds; p50/p95 = percentile_cont(0.5)/percentile_cont(0.95) over the fulfilled orders; ` +
    `unfulfilled = orders − fulfilled. Filters: channel, currency (of the order). ${COMMON}`,
  request: { query: FulfilmentQuery },
  responses: {
    200: envelopeJson(FulfillmentData, "fulfilment figures (zero counts and null percentiles without orders)"),
    ...analyticsProblemResponses,
  },
});

async function fulfilment(ctx: ReadContext, q: z.output<typeof FulfilmentQuery>) {
  const range = rangeOf(ctx, q);
  const params = normaliseParams({ from: range.from, to: range.to, channel: q.channel, currency: q.currency });
  return envelopeAnswer(
    ctx,
    "getFulfillmentMetrics",
    params,
    async (tx) => {
      const f = await fulfillmentFigures(tx, range, { channel: q.channel, currency: q.currency });
      return {
        orders: int(f.orders),
        fulfilled: int(f.fulfilled),
        unfulfilled: int(f.orders - f.fulfilled),
        p50_seconds: f.p50_seconds,
        p95_seconds: f.p95_seconds,
      };
    },
    { watermarkTypes: ["order.completed", "order.fulfilled"] },
  );
}

export const fulfilmentOperations = [analyticsOperation(fulfillmentRoute, fulfilment)];

export const fulfilmentRoutes = new OpenAPIHono<AppEnv>().openapi(fulfillmentRoute, async (c) =>
  sendAnswer(c, await fulfilment(readContext(c), c.req.valid("query"))),
);
