/**
 * GET /v1/operations/shipping (getShippingMetrics). Roles: viewer and above, by the role matrix (src/http/roles.ts). The definitions
 * are in its description and in shipping.queries.ts.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { int } from "../../lib/numbers.ts";
import { analyticsOperation } from "../shared/operation.ts";
import { cursorKey, page } from "../shared/paging.ts";
import { normaliseParams, rangeOf } from "../shared/params.ts";
import { envelopeAnswer, type ReadContext, readContext, sendAnswer } from "../shared/read.ts";
import { analyticsProblemResponses, COMMON, envelopeJson, nextCursor } from "../shared/schemas.ts";
import { shippingFigures } from "./shipping.queries.ts";
import { CarrierRow, ShippingQuery } from "./shipping.schemas.ts";

const shippingRoute = createRoute({
  method: "get",
  path: "/v1/operations/shipping",
  operationId: "getShippingMetrics",
  tags: ["analytics"],
  summary: "Per carrier: dispatch → delivery p50/p95, on-time share, undelivered shipments",
  description:
    `Shipments = distinct shipment_id of \`shipment.dispatched\` with event time in [from, to) (the earliest ` +
    `dispatch in range), grouped by that dispatch's carrier. Delivered = a \`shipment.delivered\` of the ` +
    `same shipment_id exists at or after the dispatch (the first one counts; also after \`to\`); p50/p95 ` +
    `= percentile_cont of delivery − dispatch over the delivered shipments, in seconds. On time = delivered ` +
    `at or before the dispatch's promised_by; late = delivered after it, or not delivered while promised_by ` +
    `has passed (as of the query); pending = not delivered with promised_by still ahead; on_time_share = ` +
    `on_time / (on_time + late), null when that is 0 — shipments without promised_by and pending ones are ` +
    `not in the share. Filter: carrier. Rows ordered by carrier, paged with limit + cursor. ${COMMON}`,
  request: { query: ShippingQuery },
  responses: {
    200: envelopeJson(
      z.object({ carriers: z.array(CarrierRow), next_cursor: nextCursor }),
      "one row per carrier with shipments dispatched in range",
    ),
    ...analyticsProblemResponses,
  },
});

const ratio = (num: bigint, den: bigint): number | null => (den === 0n ? null : Number(num) / Number(den));
async function shipping(ctx: ReadContext, q: z.output<typeof ShippingQuery>) {
  const range = rangeOf(ctx, q);
  const after = cursorKey(q.cursor);
  const params = normaliseParams({ from: range.from, to: range.to, carrier: q.carrier, limit: q.limit, cursor: q.cursor });
  return envelopeAnswer(
    ctx,
    "getShippingMetrics",
    params,
    async (tx) => {
      const rows = (await shippingFigures(tx, range, { carrier: q.carrier })).map((r) => ({
        carrier: r.carrier,
        shipments: int(r.shipments),
        delivered: int(r.delivered),
        undelivered: int(r.shipments - r.delivered),
        p50_seconds: r.p50_seconds,
        p95_seconds: r.p95_seconds,
        with_promise: int(r.with_promise),
        on_time: int(r.on_time),
        late: int(r.late),
        pending: int(r.pending),
        on_time_share: ratio(r.on_time, r.on_time + r.late),
      }));
      const afterRow = after === undefined ? undefined : { carrier: String(after[0]) };
      const p = page(
        rows,
        q.limit,
        afterRow,
        (a: { carrier: string }, b: { carrier: string }) => (a.carrier < b.carrier ? -1 : a.carrier > b.carrier ? 1 : 0),
        (r) => [r.carrier],
      );
      return { carriers: p.items, next_cursor: p.next_cursor };
    },
    { watermarkTypes: ["shipment.dispatched", "shipment.delivered"] },
  );
}

export const shippingOperations = [
  analyticsOperation(shippingRoute, shipping, {
    rows: (body: unknown) => (body as { data: { carriers: unknown[] } }).data.carriers,
    next: (body: unknown) => (body as { data: { next_cursor: string | null } }).data.next_cursor,
  }),
];

export const shippingRoutes = new OpenAPIHono<AppEnv>().openapi(shippingRoute, async (c) =>
  sendAnswer(c, await shipping(readContext(c), c.req.valid("query"))),
);
