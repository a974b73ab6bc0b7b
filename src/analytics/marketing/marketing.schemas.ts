/** Query and answer schemas of getMarketingAttribution; the definitions are in its description (marketing.routes.ts). */
import { z } from "@hono/zod-openapi";
import { analyticsQuery, durationParam, filterShape, listShape } from "../shared/params.ts";
import { count, share, currencyCode as currency } from "../shared/schemas.ts";

const _seconds = (description: string) => z.number().nullable().openapi({ description, example: 14400 });

export const Revenue = z.array(
  z.object({ currency, gross_minor: z.number().int().openapi({ description: "Σ total_minor of the credited orders", example: 12000 }) }),
);

export const CampaignRow = z
  .object({
    utm_source: z.string().openapi({ example: "newsletter" }),
    utm_medium: z.string().nullable().openapi({ example: "email" }),
    utm_campaign: z.string().nullable().openapi({ example: "black-friday" }),
    visits: count("distinct sessions with a touch of this source/medium/campaign in [from, to)"),
    orders: count("order.completed in [from, to) credited to this campaign by last touch"),
    revenue: Revenue.openapi({ description: "Σ total_minor of the credited orders, one entry per currency" }),
    conversion: share("orders / visits; null without visits"),
  })
  .openapi("CampaignAttribution");

/** the attribution window: an ISO-8601 duration (the funnel's format), PT1H … P90D, default P7D */
const windowParam = durationParam({
  minSeconds: 3_600,
  maxSeconds: 90 * 86_400,
  default: "P7D",
  message: "an ISO-8601 duration in days/hours/minutes/seconds between PT1H and P90D, e.g. P7D, PT48H",
  description: "attribution window: ISO-8601 duration (D, H, M, S parts), PT1H to P90D",
});

export const AttributionQuery = analyticsQuery({
  window: windowParam,
  channel: filterShape.channel,
  currency: filterShape.currency,
  ...listShape,
});
