/** Query and answer schemas of getMarketingAttribution; the definitions are in its description (marketing.routes.ts). */
import { z } from "@hono/zod-openapi";
import { durationSeconds } from "../funnel/funnel.schemas.ts";
import { analyticsQuery, filterShape, listShape } from "../shared/params.ts";
import { count, share, currencyCode as currency } from "../shared/schemas.ts";

const seconds = (description: string) => z.number().nullable().openapi({ description, example: 14400 });

export const Revenue = z.array(z.object({ currency, gross_minor: z.number().int().openapi({ description: "Σ total_minor of the credited orders", example: 12000 }) }));

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

export const MIN_WINDOW_S = 3_600;
export const MAX_WINDOW_S = 90 * 86_400;
/** the attribution window: an ISO-8601 duration (the funnel's format), PT1H … P90D, default P7D */
export const windowParam = z
  .string()
  .max(32)
  .default("P7D")
  .transform((v, ctx) => {
    const secs = durationSeconds(v);
    if (secs === undefined || secs < MIN_WINDOW_S || secs > MAX_WINDOW_S) {
      ctx.addIssue({ code: "custom", message: "an ISO-8601 duration in days/hours/minutes/seconds between PT1H and P90D, e.g. P7D, PT48H" });
      return z.NEVER;
    }
    return secs;
  })
  .openapi({ type: "string", description: "attribution window: ISO-8601 duration (D, H, M, S parts), PT1H to P90D", example: "P7D", default: "P7D" });

export const AttributionQuery = analyticsQuery({
      window: windowParam,
      channel: filterShape.channel,
      currency: filterShape.currency,
      ...listShape,
    });
