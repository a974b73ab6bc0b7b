/**
 * GET /v1/refunds/metrics (getRefundMetrics). Roles: viewer and above, by the role matrix (src/http/roles.ts). The definitions
 * are in its description and in refunds.queries.ts.
 */
import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { int } from "../../lib/numbers.ts";
import { analyticsOperation } from "../shared/operation.ts";
import { normaliseParams, rangeOf } from "../shared/params.ts";
import { envelopeAnswer, type ReadContext, readContext, sendAnswer } from "../shared/read.ts";
import { analyticsProblemResponses, COMMON, envelopeJson } from "../shared/schemas.ts";
import { refundFigures } from "./refunds.queries.ts";
import { RefundData, RefundsQuery } from "./refunds.schemas.ts";

const refundRoute = createRoute({
  method: "get",
  path: "/v1/refunds/metrics",
  operationId: "getRefundMetrics",
  tags: ["analytics"],
  summary: "Refund rate, refunded amount per currency, and refunds by reason",
  description:
    `orders = distinct order_id of \`order.completed\` in [from, to); refunded_orders = those with an \`order.refunded\` ` +
    `of the same order_id at or after \`from\` (also after \`to\`, up to now); refund_rate = refunded_orders ` +
    `/ orders (null without orders). amounts: per currency, the count and Σ amount_minor of \`order.refunded\` ` +
    `with event time in [from, to) (the revenue API's refunds); by_reason: the same per (reason, currency), ` +
    `a missing or empty reason counted as 'unspecified'. Money in integer minor units, one row per currency. ` +
    `Filter: currency. ${COMMON}`,
  request: { query: RefundsQuery },
  responses: { 200: envelopeJson(RefundData, "refund figures"), ...analyticsProblemResponses },
});

const ratio = (num: bigint, den: bigint): number | null => (den === 0n ? null : Number(num) / Number(den));
async function refunds(ctx: ReadContext, q: z.output<typeof RefundsQuery>) {
  const range = rangeOf(ctx, q);
  const params = normaliseParams({ from: range.from, to: range.to, currency: q.currency });
  return envelopeAnswer(
    ctx,
    "getRefundMetrics",
    params,
    async (tx) => {
      const r = await refundFigures(tx, range, { currency: q.currency });
      return {
        orders: int(r.orders),
        refunded_orders: int(r.refunded_orders),
        refund_rate: ratio(r.refunded_orders, r.orders),
        amounts: r.by_currency.map((x) => ({ currency: x.currency, refunds: int(x.refunds), amount_minor: int(x.amount) })),
        by_reason: r.by_reason.map((x) => ({
          reason: x.reason,
          currency: x.currency,
          refunds: int(x.refunds),
          amount_minor: int(x.amount),
        })),
      };
    },
    { watermarkTypes: ["order.completed", "order.refunded"] },
  );
}

export const refundsOperations = [analyticsOperation(refundRoute, refunds)];

export const refundsRoutes = new OpenAPIHono<AppEnv>().openapi(refundRoute, async (c) =>
  sendAnswer(c, await refunds(readContext(c), c.req.valid("query"))),
);
