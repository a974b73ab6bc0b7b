/**
 * GET /v1/dashboards/{id}/data: every widget of a dashboard answered in one call. Each widget is its
 * operation's answer function (analytics/registry.ts) with the query widgets.ts builds, so its `body`
 * is exactly what the API answers the widget's `href`, through the same cache. Widgets run
 * concurrently, at most DASHBOARD_CONCURRENCY at once; one that fails gets its own `error` entry (the
 * status and problem detail the API would answer), one without an answer after
 * DASHBOARD_WIDGET_TIMEOUT_MS a `timeout` entry (its read runs on and fills the cache for the next
 * call), and the others still answer. The JSON is put together from the cached answer texts as they are
 * (no parse, no serialisation of the bodies).
 */
import { findAnalyticsOperation } from "../analytics/registry.ts";
import type { ReadContext } from "../analytics/shared/read.ts";
import { type FieldError, fieldErrors, HttpProblem } from "../http/problem.ts";
import type { Dashboard, DataQuery, Filters, Widget } from "./dashboards.schemas.ts";
import { resolveRange, type ResolvedRange } from "./range.ts";
import { widgetHref, widgetQuery } from "./widgets.ts";

export interface DataOptions {
  concurrency: number;
  timeoutMs: number;
  now?: Date;
}

type Outcome =
  | { status: "ok"; text: string }
  | { status: "error" | "timeout"; error: { status: number; detail: string; errors?: FieldError[] } };

/** the dashboard's stored filters with this view's overrides */
export function viewFilters(stored: Filters, view: DataQuery): Filters {
  const f: Filters = { ...stored };
  if (view.range !== undefined || view.from !== undefined) {
    f.range = view.range ?? "custom";
    f.from = view.from;
    f.to = view.to;
  }
  if (view.timezone !== undefined) f.timezone = view.timezone;
  if (view.channel !== undefined) f.channel = view.channel;
  if (view.currency !== undefined) f.currency = view.currency;
  return f;
}

class WidgetTimeout extends Error {}

/** run `task` for every item, at most `limit` at once, results in item order */
async function bounded<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await task(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function answerWidget(
  ctx: ReadContext,
  w: Widget,
  range: ResolvedRange,
  filters: Filters,
  timeoutMs: number,
): Promise<{ href: string; outcome: Outcome }> {
  const op = findAnalyticsOperation(w.operation);
  if (!op)
    return {
      href: "",
      outcome: {
        status: "error",
        error: { status: 400, detail: `${w.operation} is not an analytics operation (any more): edit the widget` },
      },
    };
  const query = widgetQuery(w, op, range, filters);
  const href = widgetHref(op, query);
  const parsed = op.query.safeParse(query);
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error.issues);
    return {
      href,
      outcome: { status: "error", error: { status: 400, detail: errors.map((e) => `${e.path}: ${e.message}`).join("; "), errors } },
    };
  }
  const work = op.answer(ctx, parsed.data);
  work.catch(() => undefined); // a late failure after the timeout is dropped
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WidgetTimeout()), timeoutMs);
  });
  try {
    return { href, outcome: { status: "ok", text: (await Promise.race([work, deadline])).text } };
  } catch (err) {
    if (err instanceof WidgetTimeout) {
      ctx.logger.warn({ widget: w.id, operation: w.operation, timeout_ms: timeoutMs }, "dashboard widget timed out");
      return {
        href,
        outcome: {
          status: "timeout",
          error: {
            status: 504,
            detail: `no answer within ${timeoutMs} ms (DASHBOARD_WIDGET_TIMEOUT_MS); the next load may find it cached`,
          },
        },
      };
    }
    if (err instanceof HttpProblem) {
      return {
        href,
        outcome: {
          status: "error",
          error: { status: err.status, detail: err.detail ?? err.message, ...(err.extra.errors ? { errors: err.extra.errors } : {}) },
        },
      };
    }
    ctx.logger.error({ err, widget: w.id, operation: w.operation }, "dashboard widget failed");
    return {
      href,
      outcome: {
        status: "error",
        error: { status: 500, detail: "the widget could not be answered; quote the requestId when reporting it" },
      },
    };
  } finally {
    clearTimeout(timer);
  }
}

/** the DashboardData JSON text of a dashboard for a view (its filters overridden by the view's) */
export async function dashboardData(ctx: ReadContext, d: Dashboard, view: DataQuery, opts: DataOptions): Promise<string> {
  const filters = viewFilters(d.filters, view);
  const range = resolveRange(filters, opts.now ?? new Date());
  const widgets = [...d.widgets].sort((a, b) => a.position - b.position);
  const answers = await bounded(widgets, opts.concurrency, async (w) => {
    const started = performance.now();
    const { href, outcome } = await answerWidget(ctx, w, range, filters, opts.timeoutMs);
    const head = { id: w.id, operation: w.operation, status: outcome.status, href, duration_ms: Math.round(performance.now() - started) };
    return outcome.status === "ok"
      ? `${JSON.stringify(head).slice(0, -1)},"body":${outcome.text}}`
      : JSON.stringify({ ...head, error: outcome.error });
  });
  const head = {
    dashboard_id: d.id,
    version: d.version,
    range: { preset: range.preset, from: range.from.toISOString(), to: range.to.toISOString(), timezone: range.timezone },
    filters: { channel: filters.channel ?? null, currency: filters.currency ?? null },
  };
  return `${JSON.stringify(head).slice(0, -1)},"widgets":[${answers.join(",")}]}`;
}
