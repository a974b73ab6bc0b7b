/** GET /v1/reconciliation: the filters and one report as the API shows it. */
import { z } from "@hono/zod-openapi";
import { PageQuery } from "../../http/query.ts";
import { RECONCILIATION_STATUSES } from "./reconciliation.queries.ts";

const dateOnly = z.iso.date({ message: "must be a date YYYY-MM-DD" });

export const ReconciliationQuery = PageQuery.extend({
  status: z.enum(RECONCILIATION_STATUSES).optional().openapi({ description: "only reports with this status" }),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, "an ISO 4217 code such as EUR")
    .optional()
    .openapi({ description: "only this currency (ISO 4217)", example: "EUR" }),
  from_date: dateOnly.optional().openapi({ description: "first local day (inclusive, YYYY-MM-DD)", example: "2026-11-01" }),
  to_date: dateOnly.optional().openapi({ description: "end local day (exclusive, YYYY-MM-DD)", example: "2026-12-01" }),
}).refine((q) => !q.from_date || !q.to_date || q.from_date < q.to_date, {
  message: "from_date must be before to_date",
  path: ["from_date"],
});

/** what a reconciliation page's next_cursor holds: the last row's day and currency */
export const ReconciliationCursor = z.object({ d: z.iso.date(), c: z.string().regex(/^[A-Z0-9 ]{3}$/) });

const minor = (description: string) =>
  z
    .number()
    .int()
    .openapi({ description: `${description} (integer minor units of currency)` });

export const ReconciliationReportSchema = z
  .object({
    date: z.string().openapi({ description: "the local day (YYYY-MM-DD) in timezone", example: "2026-11-01" }),
    currency: z.string().openapi({ example: "EUR" }),
    timezone: z.string().openapi({ description: "IANA zone of the day: the expectation's, else your latest expectation's, else UTC" }),
    status: z.enum(RECONCILIATION_STATUSES),
    expected_orders: z.number().int().nullable().openapi({ description: "upstream's order count (null: no expectation yet)" }),
    expected_gross_minor: minor("upstream's gross").nullable(),
    stored_orders: z.number().int().openapi({ description: "order.completed stored for the day and currency" }),
    stored_gross_minor: minor("Σ total_minor of those orders"),
    missing_orders: z.number().int().openapi({ description: "max(expected − stored, 0)" }),
    surplus_orders: z.number().int().openapi({ description: "max(stored − expected, 0)" }),
    gross_diff_minor: minor("stored − expected gross").nullable(),
    expectation_event_id: z.string().nullable().openapi({ description: "the reconciliation.expected event the report is against" }),
    computed_at: z.string().openapi({ description: "when the report was last computed" }),
  })
  .openapi("ReconciliationReport");
