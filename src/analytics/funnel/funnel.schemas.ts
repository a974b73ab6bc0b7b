/** Query and answer schemas of getConversionFunnel; the definition is in its description (funnel.routes.ts). */
import { z } from "@hono/zod-openapi";
import { EVENT_TYPES } from "../../ingest/types.ts";
import { analyticsQuery, durationParam } from "../shared/params.ts";
import { DEFAULT_FUNNEL_STEPS, FUNNEL_UNITS } from "./funnel.queries.ts";

const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

const stepsParam = z
  .string()
  .max(400)
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return [...DEFAULT_FUNNEL_STEPS];
    const steps = v.split(",").map((s) => s.trim());
    if (steps.length < 2 || steps.length > 10) {
      ctx.addIssue({ code: "custom", message: `2 to 10 comma-separated event types, got ${steps.length}` });
      return z.NEVER;
    }
    const unknown = steps.filter((s) => !KNOWN_TYPES.has(s));
    if (unknown.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `not an event type of the catalog: ${unknown.map((u) => `'${u.slice(0, 64)}'`).join(", ")}`,
      });
      return z.NEVER;
    }
    if (new Set(steps).size !== steps.length) {
      ctx.addIssue({ code: "custom", message: "each event type may appear once" });
      return z.NEVER;
    }
    return steps;
  })
  .openapi({
    type: "string",
    description: `comma-separated event types, 2–10, distinct, from the catalog (default ${DEFAULT_FUNNEL_STEPS.join(",")})`,
    example: "page.viewed,cart.item_added,order.completed",
  });

const windowParam = durationParam({
  minSeconds: 60,
  maxSeconds: 90 * 86_400,
  default: "PT24H",
  message: "an ISO-8601 duration in days/hours/minutes/seconds between PT1M and P90D, e.g. PT24H, P2D, PT30M",
  description: "conversion window: ISO-8601 duration (D, H, M, S parts), PT1M to P90D",
});

export const FunnelQuerySchema = analyticsQuery({
  unit: z.enum(FUNNEL_UNITS).default("session").openapi({ description: "what is counted: sessions or customers", example: "session" }),
  steps: stepsParam,
  window: windowParam,
});

const Step = z
  .object({
    type: z.string().openapi({ example: "item.viewed" }),
    count: z.number().int().openapi({ description: "units reaching this step", example: 120 }),
    conversion_from_previous: z
      .number()
      .openapi({ description: "count / previous step's count (4 decimals, half-up; 0 when that is 0)", example: 0.4 }),
    conversion_from_start: z
      .number()
      .openapi({ description: "count / step 1's count (4 decimals, half-up; 0 when that is 0)", example: 0.12 }),
  })
  .openapi("FunnelStep");

export const FunnelData = z
  .object({
    unit: z.enum(FUNNEL_UNITS),
    window_seconds: z.number().int().openapi({ description: "the conversion window used", example: 86400 }),
    steps: z.array(Step),
  })
  .openapi("ConversionFunnel");
