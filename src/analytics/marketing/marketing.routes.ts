/**
 * GET /v1/marketing/attribution (getMarketingAttribution). Roles: viewer and above, by the role matrix (src/http/roles.ts). The definitions
 * are in its description and in marketing.queries.ts.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { int } from "../../lib/numbers.ts";
import { analyticsOperation } from "../shared/operation.ts";
import { cursorKey, page } from "../shared/paging.ts";
import { normaliseParams, rangeOf } from "../shared/params.ts";
import { envelopeAnswer, type ReadContext, readContext, sendAnswer } from "../shared/read.ts";
import { analyticsProblemResponses, COMMON, envelopeJson, nextCursor, count } from "../shared/schemas.ts";
import { attributionFigures, type CampaignKey, compareCampaign } from "./marketing.queries.ts";
import { AttributionQuery, CampaignRow, Revenue } from "./marketing.schemas.ts";

const attributionRoute = createRoute({
  method: "get",
  path: "/v1/marketing/attribution",
  operationId: "getMarketingAttribution",
  tags: ["analytics"],
  summary: "Per utm source/medium/campaign: visits, last-touch orders, revenue per currency, conversion",
  description:
    `A touch is a \`campaign.touched\`, or a \`page.viewed\` with a non-empty utm_source; its key is (utm_source, ` +
    `utm_medium, utm_campaign), empty values being null. visits = distinct sessions with a touch of that ` +
    `key in [from, to). Last-touch attribution: each \`order.completed\` in [from, to) is credited to the ` +
    `latest touch (ties: the greatest event id) of the same session (the order's session_id) or of the same ` +
    `customer (the order's customer_id) with order time − window ≤ touch time ≤ order time (such a touch ` +
    `may lie before \`from\`); \`window\` is an ISO-8601 duration (D/H/M/S parts, PT1H to P90D, default P7D), ` +
    `as for the funnel. Orders without such a touch are \`unattributed\`. orders = credited orders; revenue ` +
    `= Σ total_minor of them, one entry per currency; conversion = orders / visits (null without visits). ` +
    `Filters: channel, currency (of the orders). Rows ordered by utm_source, utm_medium, utm_campaign (null ` +
    `first), paged with limit + cursor. ${COMMON}`,
  request: { query: AttributionQuery },
  responses: {
    200: envelopeJson(
      z.object({
        window_seconds: count("the attribution window used, seconds"),
        campaigns: z.array(CampaignRow),
        unattributed: z.object({ orders: count("orders in range without a touch in the window"), revenue: Revenue }),
        next_cursor: nextCursor,
      }),
      "attribution per campaign",
    ),
    ...analyticsProblemResponses,
  },
});

const ratio = (num: bigint, den: bigint): number | null => (den === 0n ? null : Number(num) / Number(den));
const revenueList = (m: Map<string, bigint>) =>
  [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([currency, v]) => ({ currency, gross_minor: int(v) }));

async function attribution(ctx: ReadContext, q: z.output<typeof AttributionQuery>) {
  const range = rangeOf(ctx, q);
  const after = cursorKey(q.cursor);
  const afterKey: CampaignKey | undefined =
    after === undefined
      ? undefined
      : { source: String(after[0]), medium: (after[1] as string | null) ?? null, campaign: (after[2] as string | null) ?? null };
  const params = normaliseParams({
    from: range.from,
    to: range.to,
    window: q.window,
    channel: q.channel,
    currency: q.currency,
    limit: q.limit,
    cursor: q.cursor,
  });
  return envelopeAnswer(
    ctx,
    "getMarketingAttribution",
    params,
    async (tx) => {
      const a = await attributionFigures(tx, range, q.window, { channel: q.channel, currency: q.currency });
      const p = page(a.campaigns, q.limit, afterKey, compareCampaign, (r) => [r.source, r.medium, r.campaign]);
      return {
        window_seconds: q.window,
        campaigns: p.items.map((r) => ({
          utm_source: r.source,
          utm_medium: r.medium,
          utm_campaign: r.campaign,
          visits: int(r.visits),
          orders: int(r.orders),
          revenue: revenueList(r.revenue),
          conversion: ratio(r.orders, r.visits),
        })),
        unattributed: { orders: int(a.unattributed.orders), revenue: revenueList(a.unattributed.revenue) },
        next_cursor: p.next_cursor,
      };
    },
    { watermarkTypes: ["order.completed", "campaign.touched", "page.viewed"] },
  );
}

export const marketingOperations = [
  analyticsOperation(attributionRoute, attribution, {
    rows: (body: unknown) => (body as { data: { campaigns: unknown[] } }).data.campaigns,
    next: (body: unknown) => (body as { data: { next_cursor: string | null } }).data.next_cursor,
  }),
];

export const marketingRoutes = new OpenAPIHono<AppEnv>().openapi(attributionRoute, async (c) =>
  sendAnswer(c, await attribution(readContext(c), c.req.valid("query"))),
);
