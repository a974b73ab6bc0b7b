/**
 * Response vocabulary shared by the analytics operations: the { as_of, watermark, data } envelope, the
 * problem responses (with the 504 of a slow query) and the zod field helpers every answer schema uses.
 */
import { z } from "@hono/zod-openapi";
import { problemResponses } from "../../http/problem.ts";

/** the response envelope of every analytics operation: { as_of, watermark, data } */
export function analyticsEnvelope<T extends z.ZodType>(data: T) {
  return z.object({
    as_of: z.string().openapi({
      description: "when this answer was computed (ISO-8601); a cached answer keeps its as_of",
      example: "2026-11-21T12:00:00.000Z",
    }),
    watermark: z.string().nullable().openapi({
      description: "the newest event time included for your tenant in [from, to) (ISO-8601), null when none",
      example: "2026-11-21T11:59:30.000Z",
    }),
    data,
  });
}

export const problemJson = problemResponses[400].content;

/** problemResponses plus the 504 of a query over the statement timeout */
export const analyticsProblemResponses = {
  ...problemResponses,
  504: { description: "The query exceeded DB_STATEMENT_TIMEOUT_MS: narrow the range or use a wider bucket", content: problemJson },
} as const;

/** an integer amount in minor units of the row's currency */
export const money = (description: string) => z.number().int().openapi({ description, example: 125000 });
/** a count */
export const count = (description: string) => z.number().int().openapi({ description, example: 42 });
/** a share or rate, null when its denominator is 0 */
export const share = (description: string) => z.number().nullable().openapi({ description, example: 0.25 });
/** an ISO-4217 code */
export const currencyCode = z.string().openapi({ description: "ISO-4217", example: "EUR" });
/** an instant (ISO-8601, UTC) */
export const instant = (description: string) => z.string().openapi({ description, example: "2026-11-21T12:00:00.000Z" });
/** the next page's cursor */
export const nextCursor = z
  .string()
  .nullable()
  .openapi({ description: "pass as `cursor` (with the same other parameters) for the next page; null on the last page" });

/** a 200 response whose body is the envelope around `schema` */
export const envelopeJson = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema: analyticsEnvelope(schema) } },
});
/** a 200 response whose body is `schema` as is */
export const plainJson = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** what the raw-event operations (fulfilment, shipping, marketing, refunds) have in common, for their descriptions */
export const COMMON =
  "[from, to) is half-open ISO-8601 with an offset; the figures pair events of the same order / shipment " +
  "/ session, so they come from the raw events (percentiles are percentile_cont: continuous, linearly interpolated). " +
  "Empty data ⇒ zero counts, null percentiles and rates, empty lists. Roles: viewer, analyst, pricing_manager, " +
  "admin, ops. Cached (ANALYTICS_CACHE_TTL_SECONDS) and invalidated when your data changes; `as_of` says " +
  "when it was computed and `watermark` the newest event time of the operation's event types in [from, " +
  "to).";
