/**
 * Every analytics read operation by operationId: its route's method, path and query schema, and the
 * answer function its route sends. Exports (a file of an operation's answer) and dashboards (widgets)
 * find operations here and call `answer` with parameters validated by `query`, so they hold exactly
 * what the API answers for the same parameters, through the same cache.
 *
 * Adding an analytics operation: build it in its feature folder (see docs/architecture.md), export its
 * `<feature>Operations` list and add it below; its routes are mounted by analyticsRoutes.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/env.ts";
import { customersOperations, customersRoutes } from "./customers/customers.routes.ts";
import { fulfilmentOperations, fulfilmentRoutes } from "./fulfilment/fulfilment.routes.ts";
import { funnelOperations, funnelRoutes } from "./funnel/funnel.routes.ts";
import { itemsOperations, itemsRoutes } from "./items/items.routes.ts";
import { marketingOperations, marketingRoutes } from "./marketing/marketing.routes.ts";
import { realtimeOperations, realtimeRoutes } from "./realtime/realtime.routes.ts";
import { refundsOperations, refundsRoutes } from "./refunds/refunds.routes.ts";
import { revenueOperations, revenueRoutes } from "./revenue/revenue.routes.ts";
import { salesOperations, salesRoutes } from "./sales/sales.routes.ts";
import { shippingOperations, shippingRoutes } from "./shipping/shipping.routes.ts";
import type { AnalyticsOperation } from "./shared/operation.ts";

export type { AnalyticsOperation, ListShape } from "./shared/operation.ts";

const ALL: readonly AnalyticsOperation[] = [
  ...revenueOperations,
  ...salesOperations,
  ...customersOperations,
  ...funnelOperations,
  ...itemsOperations,
  ...realtimeOperations,
  ...fulfilmentOperations,
  ...shippingOperations,
  ...marketingOperations,
  ...refundsOperations,
];

/** operationId → operation */
export const analyticsOperations: ReadonlyMap<string, AnalyticsOperation> = new Map(ALL.map((op) => [op.operationId, op]));

/** the operation of an operationId, or undefined when it is not an analytics read */
export function findAnalyticsOperation(operationId: string): AnalyticsOperation | undefined {
  return analyticsOperations.get(operationId);
}

/** every analytics route (mounted by app.ts) */
export const analyticsRoutes = new OpenAPIHono<AppEnv>()
  .route("/", revenueRoutes)
  .route("/", fulfilmentRoutes)
  .route("/", shippingRoutes)
  .route("/", marketingRoutes)
  .route("/", refundsRoutes)
  .route("/", salesRoutes)
  .route("/", funnelRoutes)
  .route("/", itemsRoutes)
  .route("/", realtimeRoutes)
  .route("/", customersRoutes);
