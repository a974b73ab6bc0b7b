/**
 * An analytics operation as data: its route (method, path, operationId, query schema) and its answer
 * function. The route sends the answer; exports and dashboards (through registry.ts) call the same
 * function with parameters validated by the same query schema, so they hold exactly what the API
 * answers. A list operation also says where its rows are and how to ask for the next page.
 */
import { z } from "@hono/zod-openapi";
import type { Answer, ReadContext } from "./read.ts";

export interface ListShape {
  /** the rows of one page's body */
  rows(body: unknown): unknown[];
  /** the next page's cursor in a page's body (null on the last page) */
  next(body: unknown): string | null;
}

export interface AnalyticsOperation {
  operationId: string;
  method: "get";
  /** the OpenAPI path, e.g. /v1/revenue/summary */
  path: string;
  summary: string;
  /** the route's own query schema */
  query: z.ZodType;
  /** the 200 body as JSON text for a validated query (the cached read path) */
  answer(ctx: ReadContext, q: unknown): Promise<Answer<unknown>>;
  /** set for list operations (cursor pages) */
  list?: ListShape;
}

interface RouteLike<Q extends z.ZodType> {
  method: string;
  path: string;
  operationId?: string;
  summary?: string;
  request?: { query?: Q };
}

/** the registry entry of a route and its answer function */
export function analyticsOperation<Q extends z.ZodType>(
  route: RouteLike<Q>,
  answer: (ctx: ReadContext, q: z.output<Q>) => Promise<Answer<unknown>>,
  list?: ListShape,
): AnalyticsOperation {
  // an operation without query parameters (getRealtimeMetrics) takes none
  const query = route.request?.query ?? z.object({});
  if (!route.operationId || route.method !== "get") throw new Error(`not an analytics read route: ${route.path}`);
  return {
    operationId: route.operationId,
    method: "get",
    path: route.path,
    summary: route.summary ?? "",
    query,
    answer: (ctx, q) => answer(ctx, q as z.output<Q>),
    ...(list ? { list } : {}),
  };
}
