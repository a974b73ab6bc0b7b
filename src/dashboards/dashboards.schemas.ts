/**
 * Zod schemas of the dashboards API: a dashboard (name, description, filters, widgets), its page, the
 * data of its widgets, and the query of the data and live operations. A widget's params are checked
 * against its operation's own query schema (widgets.ts) inside DashboardInput's refinement, so a bad
 * one answers 400 naming `widgets[2].params.bucket`.
 */
import { z } from "@hono/zod-openapi";
import { analyticsOperations } from "../analytics/registry.ts";
import { canonicalTimeZone, filterShape, timezoneParam } from "../analytics/shared/params.ts";
import { isoDateTime, PageQuery } from "../http/query.ts";
import { RANGE_PRESETS } from "./range.ts";
import { widgetIssues } from "./widgets.ts";

export const VIZ = ["kpi", "line", "bar", "table", "funnel"] as const;
export const MAX_WIDGETS = 24;
const OPERATION_IDS = [...analyticsOperations.keys()] as [string, ...string[]];

const plainText = (max: number, what: string) =>
  z
    .string()
    .trim()
    .max(max)
    .refine((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s), "control characters are not allowed")
    .openapi({ description: `${what}: plain text (never interpreted as HTML), at most ${max} characters` });

const rangeFields = {
  range: z.enum(RANGE_PRESETS).openapi({
    description: "today, 7d, 28d, 90d: that many whole local days in `timezone` ending with today; custom: [from, to)",
    example: "7d",
  }),
  from: isoDateTime
    .optional()
    .openapi({ description: "start of a custom range (ISO-8601 with offset); only with range=custom", example: "2026-11-01T00:00:00Z" }),
  to: isoDateTime
    .optional()
    .openapi({ description: "end (exclusive) of a custom range; only with range=custom", example: "2026-11-08T00:00:00Z" }),
};

type RangeFields = { range?: string | undefined; from?: string | undefined; to?: string | undefined };
function rangeCheck(f: RangeFields, ctx: z.RefinementCtx): void {
  if (f.range === "custom") {
    if (!f.from) ctx.addIssue({ code: "custom", path: ["from"], message: "a custom range needs from" });
    if (!f.to) ctx.addIssue({ code: "custom", path: ["to"], message: "a custom range needs to" });
    if (f.from && f.to && Date.parse(f.from) >= Date.parse(f.to))
      ctx.addIssue({ code: "custom", path: ["from"], message: "from must be before to" });
  } else {
    for (const k of ["from", "to"] as const)
      if (f[k] !== undefined) ctx.addIssue({ code: "custom", path: [k], message: "only with range=custom" });
  }
}

export const FiltersSchema = z
  .object({
    ...rangeFields,
    range: rangeFields.range.default("7d"),
    timezone: timezoneParam,
    channel: filterShape.channel.openapi({
      description: "only sales in this channel (widgets whose operation takes a channel)",
      example: "web",
    }),
    currency: filterShape.currency.openapi({
      description: "only this currency (widgets whose operation takes a currency)",
      example: "EUR",
    }),
  })
  .strict()
  .superRefine(rangeCheck)
  .openapi("DashboardFilters");
export type Filters = z.output<typeof FiltersSchema>;

const ParamValue = z.union([z.string().max(400), z.number(), z.boolean()]);

export const WidgetSchema = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/, "1-40 letters, digits, _ or -")
      .openapi({ description: "unique in the dashboard", example: "revenue" }),
    title: plainText(120, "the widget's title").pipe(z.string().min(1, "must not be empty")),
    operation: z
      .enum(OPERATION_IDS)
      .openapi({ description: "the analytics operation (operationId) the widget shows", example: "getRevenueTimeseries" }),
    params: z
      .record(z.string().regex(/^[a-z_]{1,40}$/, "a parameter name"), ParamValue)
      .default({})
      .openapi({
        description:
          "the operation's query parameters, checked by the operation's own schema; from, to and timezone come from the dashboard's " +
          "filters (so do channel and currency unless set here); a chart without a bucket gets one that fits the range",
        example: { bucket: "day" },
      }),
    viz: z.enum(VIZ).openapi({ description: "how the app draws it", example: "line" }),
    position: z.number().int().min(0).max(1_000).openapi({ description: "order on the dashboard (smallest first)", example: 0 }),
  })
  .strict()
  .openapi("DashboardWidget");
export type Widget = z.output<typeof WidgetSchema>;

export const DashboardInput = z
  .object({
    name: plainText(120, "the dashboard's name").pipe(z.string().min(1, "must not be empty")),
    description: plainText(1_000, "what the dashboard is for").default(""),
    filters: FiltersSchema.default({ range: "7d", timezone: "UTC" }),
    widgets: z.array(WidgetSchema).max(MAX_WIDGETS).default([]),
  })
  .strict()
  .superRefine((d, ctx) => {
    const seen = new Map<string, number>();
    d.widgets.forEach((w, i) => {
      if (seen.has(w.id))
        ctx.addIssue({ code: "custom", path: ["widgets", i, "id"], message: `widgets[${seen.get(w.id)}] has the same id` });
      seen.set(w.id, i);
      for (const issue of widgetIssues(w, i, d.filters, new Date())) ctx.addIssue({ code: "custom", ...issue });
    });
  })
  .openapi("DashboardInput");
export type DashboardInput = z.output<typeof DashboardInput>;

export const DashboardSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    description: z.string(),
    is_default: z.boolean().openapi({ description: "the tenant's default dashboard (created on first read; editable, not deletable)" }),
    filters: FiltersSchema,
    widgets: z.array(WidgetSchema),
    version: z.number().int().openapi({ description: "1 on creation, +1 per update; the ETag is its quoted value", example: 3 }),
    created_by: z.string().openapi({ description: "the token subject that created it" }),
    updated_by: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Dashboard");
export type Dashboard = z.output<typeof DashboardSchema>;

export const DashboardPage = z.object({ data: z.array(DashboardSchema), next_cursor: z.string().nullable() });
export const ListQuery = PageQuery.extend({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ description: "page size (1–100)", example: 20 }),
});
export const ListCursor = z.object({ d: z.number().int().min(0).max(1), c: z.iso.datetime({ offset: true }), i: z.uuid() });

export const IdParams = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: "9b2f6a8e-4c1d-4d7e-9a51-2f0c8d3b7e10" }),
});
export const IfMatchHeaders = z.object({
  "if-match": z
    .string()
    .max(100)
    .optional()
    .openapi({ description: "the ETag you read (required: 428 without it, 412 when stale); * matches any version", example: '"3"' }),
});

/** GET …/data and …/live: filters for this view only (the stored ones otherwise) */
export const DataQuery = z
  .object({
    range: rangeFields.range.optional(),
    from: rangeFields.from,
    to: rangeFields.to,
    timezone: z
      .string()
      .max(64)
      .optional()
      .transform((tz, ctx) => {
        if (tz === undefined) return undefined;
        const canonical = canonicalTimeZone(tz);
        if (!canonical) ctx.addIssue({ code: "custom", message: "not an IANA time zone (e.g. Europe/Berlin, UTC)" });
        return canonical ?? z.NEVER;
      })
      .openapi({ type: "string", description: "IANA time zone (the stored one otherwise)", example: "Europe/Berlin" }),
    channel: filterShape.channel,
    currency: filterShape.currency,
  })
  .superRefine((q, ctx) => {
    if ((q.from || q.to) && q.range !== undefined && q.range !== "custom") rangeCheck(q, ctx);
    else if (q.from || q.to || q.range === "custom") rangeCheck({ ...q, range: "custom" }, ctx);
  });
export type DataQuery = z.output<typeof DataQuery>;

const WidgetError = z.object({
  status: z.number().int().openapi({ description: "the HTTP status the operation would answer (504 for a timeout)", example: 400 }),
  detail: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

export const WidgetData = z
  .object({
    id: z.string(),
    operation: z.string(),
    status: z
      .enum(["ok", "error", "timeout"])
      .openapi({ description: "ok: `body` holds the answer; error / timeout: `error` says why (the other widgets still answer)" }),
    href: z
      .string()
      .openapi({ description: "the same read through the API (path and query)", example: "/v1/revenue/summary?from=…&to=…&timezone=UTC" }),
    duration_ms: z.number().int(),
    body: z.unknown().optional().openapi({ description: "the operation's 200 body, exactly as the API answers `href`" }),
    error: WidgetError.optional(),
  })
  .openapi("DashboardWidgetData");

export const DashboardData = z
  .object({
    dashboard_id: z.uuid(),
    version: z.number().int(),
    range: z.object({ preset: z.enum(RANGE_PRESETS), from: z.string(), to: z.string(), timezone: z.string() }),
    filters: z.object({ channel: z.string().nullable(), currency: z.string().nullable() }),
    widgets: z.array(WidgetData).openapi({ description: "in position order" }),
  })
  .openapi("DashboardData");
