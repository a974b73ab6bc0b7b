/**
 * GET /v1/funnel (getConversionFunnel). Roles: viewer and above (src/http/roles.ts). The definition is
 * in its description; why the query is correct: funnel.queries.ts.
 */
import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { analyticsOperation } from "../shared/operation.ts";
import { normaliseParams, rangeOf } from "../shared/params.ts";
import { envelopeAnswer, type ReadContext, readContext, sendAnswer } from "../shared/read.ts";
import { analyticsEnvelope, analyticsProblemResponses } from "../shared/schemas.ts";
import { conversionFunnel, DEFAULT_FUNNEL_STEPS } from "./funnel.queries.ts";
import { FunnelData, FunnelQuerySchema } from "./funnel.schemas.ts";

export const DEFINITION = [
  "Definitions: the unit is the session (`unit=session`, default: events with a session_id; an order.completed " +
    "without session_id counts for no session) or the customer (`unit=customer`: events with a customer_id).",
  "A unit reaches step k when it has an event of each of steps 1..k in that order (each step's event time " +
    "≥ the previous step's), the first step's event in [from, to) and every later step at most `window` after " +
    "the first (inclusive).",
  "count = units reaching the step; conversion_from_previous = count / previous step's count; conversion_from_start " +
    "= count / step 1's count; ratios are rounded half-up to 4 decimal places and 0 when the denominator " +
    "is 0 (step 1: 1, or 0 without units).",
  `Default steps: ${DEFAULT_FUNNEL_STEPS.join(" → ")}. Custom steps: \`steps\` = 2 to 10 distinct event ` +
    `types of the catalog, comma-separated.`,
  "Computed from the raw events (the earliest valid chain of events per unit); events after `to` (up to " +
    "`to + window`) complete chains started in range. `timezone` does not change the answer; `watermark` " +
    "= newest event of the step types in [from, to).",
].join(" ");

const funnelRoute = createRoute({
  method: "get",
  path: "/v1/funnel",
  operationId: "getConversionFunnel",
  tags: ["analytics"],
  summary: "Conversion funnel over ordered event steps, per session or customer",
  description: DEFINITION,
  request: { query: FunnelQuerySchema },
  responses: {
    200: { description: "one entry per step, in step order", content: { "application/json": { schema: analyticsEnvelope(FunnelData) } } },
    ...analyticsProblemResponses,
  },
});

async function funnel(ctx: ReadContext, q: z.output<typeof FunnelQuerySchema>) {
  const range = rangeOf(ctx, q);
  const steps = q.steps;
  const params = normaliseParams({ from: range.from, to: range.to, unit: q.unit, steps: steps.join(","), window: q.window });
  return envelopeAnswer(
    ctx,
    "getConversionFunnel",
    params,
    async (tx) => ({
      unit: q.unit,
      window_seconds: q.window,
      steps: await conversionFunnel(tx, { range, unit: q.unit, steps, windowSeconds: q.window }),
    }),
    { watermarkTypes: steps },
  );
}

export const funnelOperations = [analyticsOperation(funnelRoute, funnel)];

export const funnelRoutes = new OpenAPIHono<AppEnv>().openapi(funnelRoute, async (c) =>
  sendAnswer(c, await funnel(readContext(c), c.req.valid("query"))),
);
