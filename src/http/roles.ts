/**
 * The route × role matrix: the ONE place that says who may call which operation (by operationId) and
 * which rate-limit budget the call spends. `authorize` (src/http/authorize.ts) enforces it on every
 * /v1 request; an operation that is not listed here answers 403 (fail closed). The role table in docs/security.md is
 * `roleMatrixMarkdown()` verbatim (a unit test keeps the two equal).
 */
import { ROLES, type ApiRole } from "./auth.ts";

/** which rate-limit budget a call spends (see src/http/ratelimit.ts) */
export type Budget = "read" | "export" | "ingest" | "public";

export interface OperationAccess {
  /** the roles that may call it (any one is enough), or "public" for unauthenticated operations */
  roles: readonly ApiRole[] | "public";
  budget: Budget;
}

/** viewer reads; everyone above a viewer reads too (ingest tokens do not) */
export const READERS = ["viewer", "analyst", "pricing_manager", "admin", "ops"] as const satisfies readonly ApiRole[];
/** exports (CSV / Excel / PDF): analyst and admin */
export const EXPORTERS = ["analyst", "admin"] as const satisfies readonly ApiRole[];
/** proposing a price change, and recomputing the demand scores it starts from */
export const PRICE_PROPOSERS = ["analyst", "pricing_manager", "admin"] as const satisfies readonly ApiRole[];
/** saving, changing and deleting dashboards (src/dashboards/) */
export const DASHBOARD_EDITORS = ["analyst", "admin"] as const satisfies readonly ApiRole[];
/** approving or rejecting a price change */
export const PRICE_APPROVERS = ["pricing_manager", "admin"] as const satisfies readonly ApiRole[];
/** tenant administration (settings, erasure, dashboards of others) */
export const TENANT_ADMINS = ["admin", "ops"] as const satisfies readonly ApiRole[];
/** cross-tenant operator reads: only ops */
export const OPERATORS = ["ops"] as const satisfies readonly ApiRole[];
/** publishers' ingest tokens */
export const PUBLISHERS = ["ingest"] as const satisfies readonly ApiRole[];

const read = (roles: readonly ApiRole[]): OperationAccess => ({ roles, budget: "read" });
const analytics = read(READERS);

export const OPERATIONS = {
  // health: no token, a generous per-IP budget
  getLiveness: { roles: "public", budget: "public" },
  getReadiness: { roles: "public", budget: "public" },

  // identity and the event catalog (publishers need the catalog too)
  getCurrentPrincipal: read(ROLES),
  listSchemas: read([...READERS, ...PUBLISHERS]),
  getSchema: read([...READERS, ...PUBLISHERS]),

  // ingest: publishers only post events; readers see what ingest did
  ingestEvents: { roles: PUBLISHERS, budget: "ingest" },
  listDeadLetters: read(READERS),
  getIngestStats: read(READERS),

  // analytics (src/analytics/**): every reader
  getRevenueSummary: analytics,
  getRevenueTimeseries: analytics,
  getRevenueByChannel: analytics,
  getRevenueByCategory: analytics,
  getRevenueProjection: analytics,
  getSalesMetrics: analytics,
  getCustomerMetrics: analytics,
  listCustomers: analytics,
  getRfmSegments: analytics,
  getChurnRisk: analytics,
  getCustomerLtv: analytics,
  refreshCustomerScores: read(["analyst", "admin"]),
  getConversionFunnel: analytics,
  getItemPerformance: analytics,
  getRealtimeMetrics: analytics,
  streamRealtimeMetrics: analytics,
  getFulfillmentMetrics: analytics,
  getShippingMetrics: analytics,
  getMarketingAttribution: analytics,
  getRefundMetrics: analytics,

  // pricing (src/pricing/**): readers read, proposers propose, approvers decide (never their own proposals)
  listPriceRecommendations: analytics,
  getItemDemand: analytics,
  refreshDemandScores: read(PRICE_PROPOSERS),
  listPriceChangeOutcomes: analytics,
  proposePriceChange: read(PRICE_PROPOSERS),
  listPriceChanges: analytics,
  getPriceChange: analytics,
  approvePriceChange: read(PRICE_APPROVERS),
  rejectPriceChange: read(PRICE_APPROVERS),
  getItemPriceHistory: analytics,
  // saved dashboards (src/dashboards/): readers read and watch, analyst and admin write
  listDashboards: read(READERS),
  getDashboard: read(READERS),
  getDashboardData: read(READERS),
  streamDashboardData: read(READERS),
  createDashboard: read(DASHBOARD_EDITORS),
  updateDashboard: read(DASHBOARD_EDITORS),
  deleteDashboard: read(DASHBOARD_EDITORS),

  // exports (src/exports/): analysts and admins, the export budget
  // creating, deleting and downloading files spend the export budget; polling a job's status reads
  createExport: { roles: EXPORTERS, budget: "export" },
  listExports: read(EXPORTERS),
  getExport: read(EXPORTERS),
  deleteExport: { roles: EXPORTERS, budget: "export" },
  downloadExport: { roles: EXPORTERS, budget: "export" },

  // operators: the one cross-tenant read (runs as the owner, explicit tenant_id filter)
  listAllDeadLetters: read(OPERATORS),

  // recovery (src/recovery/, src/ingest/dead-letters/redrive.ts): readers see reconciliation; a tenant admin
  // redrives their own dead letters (ops any tenant's: the handler checks tenant_id); replays are operators'
  listReconciliationReports: analytics,
  redriveDeadLetters: { roles: TENANT_ADMINS, budget: "ingest" },
  createReplay: { roles: OPERATORS, budget: "export" },
  listReplays: read(OPERATORS),
  getReplay: read(OPERATORS),
  cancelReplay: read(OPERATORS),
} as const satisfies Record<string, OperationAccess>;

export type OperationId = keyof typeof OPERATIONS;

/** the matrix entry of an operation, or undefined (⇒ the caller must refuse: fail closed) */
export function operationAccess(operationId: string): OperationAccess | undefined {
  return Object.hasOwn(OPERATIONS, operationId) ? (OPERATIONS as Record<string, OperationAccess>)[operationId] : undefined;
}

/** may a principal with these roles call the operation? (unknown operations: never) */
export function allowed(operationId: string, roles: readonly ApiRole[]): boolean {
  const access = operationAccess(operationId);
  if (!access) return false;
  if (access.roles === "public") return true;
  const permitted = access.roles;
  return roles.some((r) => permitted.includes(r));
}

/** the docs/security.md table: one row per operation, one column per role, and the budget */
export function roleMatrixMarkdown(): string {
  const head = `| operation | ${ROLES.join(" | ")} | budget |`;
  const rule = `| --- | ${ROLES.map(() => ":-:").join(" | ")} | --- |`;
  const rows = Object.entries(OPERATIONS as Record<string, OperationAccess>).map(([id, a]) => {
    const cells = ROLES.map((r) => (a.roles === "public" ? "any" : a.roles.includes(r) ? "✓" : ""));
    return `| \`${id}\` | ${cells.join(" | ")} | ${a.budget} |`;
  });
  return [head, rule, ...rows].join("\n");
}
