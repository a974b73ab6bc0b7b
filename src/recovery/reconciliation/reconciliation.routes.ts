/**
 * GET /v1/reconciliation (listReconciliationReports): the caller's tenant's daily reports against
 * upstream, newest day first. The reports are written by the TimescaleDB job reconcile_orders (hourly,
 * sql/repeatable/070_reconciliation_job.sql) and after a replay or a redrive; this route only reads them.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { withTenant } from "../../db/tenant.ts";
import type { AppEnv } from "../../http/env.ts";
import { HttpProblem, problemResponses } from "../../http/problem.ts";
import { decodeCursor, encodeCursor } from "../../http/query.ts";
import { listReports, type ReportRow } from "./reconciliation.queries.ts";
import { ReconciliationCursor, ReconciliationQuery, ReconciliationReportSchema } from "./reconciliation.schemas.ts";

const route = createRoute({
  method: "get",
  path: "/v1/reconciliation",
  operationId: "listReconciliationReports",
  tags: ["recovery"],
  summary: "Daily reconciliation of your stored orders against upstream's reconciliation.expected, newest day first",
  description:
    "One report per local day and currency. Upstream publishes `reconciliation.expected` (date, timezone, orders, gross_minor, " +
    "currency); the report compares it with the stored `order.completed` of that currency whose time falls in the local day " +
    "[date 00:00, date + 1 00:00) of the expectation's time zone (the latest expectation of a day wins: by event time, then " +
    "receipt). missing_orders = max(expected − stored, 0), surplus_orders = max(stored − expected, 0), gross_diff_minor = " +
    "stored − expected. status: `pending` while the local day is not over or no expectation has arrived (expected_* null); " +
    "`ok` when orders and gross are equal; `missing` when fewer orders are stored, or as many with a lower gross; `surplus` " +
    "otherwise. Reports are recomputed hourly for the last RECONCILIATION_LOOKBACK_DAYS days (a late event or a new " +
    "expectation changes its day's report on the next run) and at once for the days a replay or a redrive touched.",
  request: { query: ReconciliationQuery },
  responses: {
    200: {
      description: "a page of reports",
      content: {
        "application/json": { schema: z.object({ data: z.array(ReconciliationReportSchema), next_cursor: z.string().nullable() }) },
      },
    },
    ...problemResponses,
  },
});

/** bigint columns arrive as text: exact JSON numbers or a 500 (never a rounded amount) */
function int(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`value ${v} is beyond exact JSON numbers`);
  return n;
}
const intOrNull = (v: string | null) => (v === null ? null : int(v));

function reportJson(r: ReportRow) {
  return {
    date: r.day,
    currency: r.currency,
    timezone: r.timezone,
    status: r.status,
    expected_orders: r.expected_orders,
    expected_gross_minor: intOrNull(r.expected_gross_minor),
    stored_orders: r.stored_orders,
    stored_gross_minor: int(r.stored_gross_minor),
    missing_orders: r.missing_orders,
    surplus_orders: r.surplus_orders,
    gross_diff_minor: intOrNull(r.gross_diff_minor),
    expectation_event_id: r.expectation_event_id,
    computed_at: r.computed_at.toISOString(),
  };
}

export const reconciliationRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const q = c.req.valid("query");
  let after: { day: string; currency: string } | undefined;
  if (q.cursor) {
    const cur = decodeCursor(q.cursor, ReconciliationCursor);
    if (!cur) throw new HttpProblem(400, "cursor is not valid", { errors: [{ path: "cursor", message: "not a cursor from this API" }] });
    after = { day: cur.d, currency: cur.c };
  }
  const rows = await withTenant(c.get("deps").sql, c.get("principal").tenantId, (tx) =>
    listReports(tx, { status: q.status, currency: q.currency, fromDate: q.from_date, toDate: q.to_date, limit: q.limit, after }),
  );
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  const next_cursor = rows.length > q.limit && last ? encodeCursor({ d: last.day, c: last.currency }) : null;
  return c.json({ data: page.map(reportJson), next_cursor }, 200);
});
