/**
 * From a widget to its operation's query: the parameters the operation gets for a dashboard's filters
 * (what GET /v1/dashboards/{id}/data answers it with, and what `href` shows), and the check of a
 * widget's params against the operation's OWN query schema when a dashboard is saved.
 *
 * Rules, in order: from/to/timezone come from the dashboard's range (a widget may not set them);
 * channel and currency come from the dashboard's filters unless the widget sets its own; a line or bar
 * widget without a bucket gets one fitting the range (range.ts autoBucket); then the widget's params.
 * Only parameters the operation takes are passed. Every value is passed as the string a query string
 * carries, so the operation parses exactly what the API would.
 */
import { z } from "@hono/zod-openapi";
import { type AnalyticsOperation, findAnalyticsOperation } from "../analytics/registry.ts";
import { autoBucket, resolveRange, type ResolvedRange } from "./range.ts";

export const RESERVED_PARAMS = ["from", "to", "timezone"] as const;
const FROM_FILTERS = ["channel", "currency"] as const;

type Scalar = string | number | boolean;
interface WidgetLike {
  operation: string;
  params: Record<string, Scalar>;
  viz: string;
}
interface FiltersLike {
  range: "today" | "7d" | "28d" | "90d" | "custom";
  from?: string | undefined;
  to?: string | undefined;
  timezone: string;
  channel?: string | undefined;
  currency?: string | undefined;
}

/** the query parameters an operation takes (its query schema's keys) */
export function operationParams(op: AnalyticsOperation): string[] {
  const q = op.query as unknown as { shape?: Record<string, unknown> };
  return q instanceof z.ZodObject && q.shape ? Object.keys(q.shape) : [];
}

/** the query string (as a record) a widget's operation gets over a range with the dashboard's filters */
export function widgetQuery(
  w: WidgetLike,
  op: AnalyticsOperation,
  range: ResolvedRange,
  filters: { channel?: string | undefined; currency?: string | undefined },
) {
  const takes = new Set(operationParams(op));
  const q: Record<string, string> = {};
  if (takes.has("from")) q.from = range.from.toISOString();
  if (takes.has("to")) q.to = range.to.toISOString();
  if (takes.has("timezone")) q.timezone = range.timezone;
  for (const k of FROM_FILTERS) if (takes.has(k) && filters[k] !== undefined && w.params[k] === undefined) q[k] = filters[k]!;
  if (takes.has("bucket") && w.params.bucket === undefined && (w.viz === "line" || w.viz === "bar")) q.bucket = autoBucket(range);
  for (const [k, v] of Object.entries(w.params)) q[k] = String(v);
  return q;
}

/** the API request equivalent to a widget's read */
export function widgetHref(op: AnalyticsOperation, query: Record<string, string>): string {
  const qs = new URLSearchParams(query).toString();
  return qs ? `${op.path}?${qs}` : op.path;
}

export interface WidgetIssue {
  path: (string | number)[];
  message: string;
}

/** why a widget's params do not fit its operation (paths from the dashboard's root), or [] */
export function widgetIssues(w: WidgetLike, index: number, filters: FiltersLike, now: Date): WidgetIssue[] {
  const op = findAnalyticsOperation(w.operation);
  if (!op) return [{ path: ["widgets", index, "operation"], message: "not an analytics operation" }];
  const takes = operationParams(op);
  const own = takes.filter((t) => !(RESERVED_PARAMS as readonly string[]).includes(t));
  const out: WidgetIssue[] = [];
  for (const k of Object.keys(w.params)) {
    const at = ["widgets", index, "params", k];
    if ((RESERVED_PARAMS as readonly string[]).includes(k))
      out.push({ path: at, message: "set by the dashboard's filters (range, timezone), not by a widget" });
    else if (!takes.includes(k))
      out.push({
        path: at,
        message: `not a parameter of ${w.operation} (it takes ${own.join(", ") || "none"})`,
      });
  }
  if (out.length > 0) return out;
  if (filters.range === "custom" && (!filters.from || !filters.to)) return out; // the filters' own issue says it
  const parsed = op.query.safeParse(widgetQuery(w, op, resolveRange(filters, now), filters));
  if (parsed.success) return out;
  for (const issue of parsed.error.issues) {
    const key = String(issue.path[0] ?? "");
    const fromFilters =
      (RESERVED_PARAMS as readonly string[]).includes(key) ||
      ((FROM_FILTERS as readonly string[]).includes(key) && w.params[key] === undefined);
    const path = fromFilters
      ? ["filters", ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))]
      : ["widgets", index, "params", ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))];
    out.push({ path, message: issue.message });
  }
  return out;
}
