/**
 * SQL of reconciliation (table reconciliation_reports, procedure reconcile_orders in
 * sql/0016_recovery.sql): the tenant's page of reports, the on-demand run (after a replay or a redrive,
 * and in tests), and the cross-tenant count behind pulse_reconciliation_mismatch_days.
 */
import type { Sql, TxSql } from "../../db/client.ts";

export const RECONCILIATION_STATUSES = ["ok", "missing", "surplus", "pending"] as const;
export type ReconciliationStatus = (typeof RECONCILIATION_STATUSES)[number];

export interface ReportRow {
  day: string;
  currency: string;
  timezone: string;
  status: ReconciliationStatus;
  expected_orders: number | null;
  expected_gross_minor: string | null;
  stored_orders: number;
  stored_gross_minor: string;
  missing_orders: number;
  surplus_orders: number;
  gross_diff_minor: string | null;
  expectation_event_id: string | null;
  computed_at: Date;
}

export interface ReportFilter {
  status?: ReconciliationStatus;
  currency?: string;
  /** inclusive, YYYY-MM-DD */
  fromDate?: string;
  /** exclusive, YYYY-MM-DD */
  toDate?: string;
  limit: number;
  /** the last row of the previous page (newest day first, then currency) */
  after?: { day: string; currency: string };
}

/** one page (limit + 1 rows, to tell whether another follows) of the transaction's tenant, newest day first */
export async function listReports(tx: TxSql, f: ReportFilter) {
  return tx<ReportRow[]>`
    select to_char(day, 'YYYY-MM-DD') as day, currency, timezone, status, expected_orders, expected_gross_minor::text,
           stored_orders, stored_gross_minor::text, missing_orders, surplus_orders, gross_diff_minor::text,
           expectation_event_id, computed_at
      from reconciliation_reports
     where true
       ${f.status ? tx`and status = ${f.status}` : tx``}
       ${f.currency ? tx`and currency = ${f.currency}` : tx``}
       ${f.fromDate ? tx`and day >= ${f.fromDate}::date` : tx``}
       ${f.toDate ? tx`and day < ${f.toDate}::date` : tx``}
       ${f.after ? tx`and (day < ${f.after.day}::date or (day = ${f.after.day}::date and currency > ${f.after.currency}))` : tx``}
     order by day desc, currency
     limit ${f.limit + 1}`;
}

export interface ReconcileScope {
  /** one tenant; undefined ⇒ every tenant with orders or expectations in the window */
  tenantId?: string;
  /** the days [fromDate, toDate) (YYYY-MM-DD); undefined ⇒ the last lookbackDays up to today */
  fromDate?: string;
  toDate?: string;
  lookbackDays?: number;
}

/**
 * Run the reconciliation procedure now, as the job would (the service's connection role: the owner). A
 * replay or a redrive calls it for the days it touched.
 */
export async function runReconciliation(sql: Sql, scope: ReconcileScope): Promise<void> {
  const config: Record<string, unknown> = {};
  if (scope.tenantId) config.tenant_id = scope.tenantId;
  if (scope.fromDate) config.from_date = scope.fromDate;
  if (scope.toDate) config.to_date = scope.toDate;
  if (scope.lookbackDays) config.lookback_days = scope.lookbackDays;
  // ::text::jsonb: a string bound straight to jsonb would arrive as a JSON string, not the object
  await sql`call reconcile_orders(null, ${JSON.stringify(config)}::text::jsonb)`;
}

/**
 * Per tenant, the days of the last lookbackDays reported missing or surplus: the `maxTenants` tenants with
 * the most such days by name, the rest summed under "other" (a bounded label set). Every tenant, so it runs
 * as the service's connection role outside withTenant, read-only.
 */
export async function mismatchDays(sql: Sql, o: { lookbackDays: number; maxTenants: number }) {
  return sql.begin(
    "read only",
    (tx) => tx<Array<{ tenant: string; days: number }>>`
    with d as (
      select tenant_id::text as t, count(*)::int as n
        from reconciliation_reports
       where status in ('missing', 'surplus') and day >= current_date - ${o.lookbackDays}::int
       group by 1
    ), r as (
      select t, n, row_number() over (order by n desc, t) as rn from d
    )
    select case when rn <= ${o.maxTenants} then t else 'other' end as tenant, sum(n)::int as days
      from r
     group by 1`,
  );
}
