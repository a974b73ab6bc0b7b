/**
 * GET /v1/realtime (getRealtimeMetrics) and GET /v1/realtime/stream (streamRealtimeMetrics, server-sent
 * events). Roles: viewer and above (src/http/roles.ts). Definitions: realtime.queries.ts.
 *
 * Freshness without a short TTL: analyticsRead offers no per-operation TTL, and none is needed. The
 * answer depends only on the tenant's data and on the window; the cache key holds the window (its
 * start moves every 5 minutes) and the tenant's data generation (bumped by every ingest commit), so a
 * cached answer is as fresh as every analytics answer (docs/analytics.md "Cache and freshness": the exceptions
 * there, bounded by ANALYTICS_CACHE_TTL_SECONDS, apply). A late event older than the 5-minute
 * aggregate's materialised watermark shows after that aggregate's next refresh (≤ 5 minutes). Every
 * stream tick reads through the same key, so many open dashboards of a tenant cost one query per data
 * change.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import type { TxSql } from "../../db/client.ts";
import type { AppEnv } from "../../http/env.ts";
import { analyticsOperation } from "../shared/operation.ts";
import { normaliseParams } from "../shared/params.ts";
import { analyticsText, envelopeAnswer, type ReadContext, readContext, sendAnswer } from "../shared/read.ts";
import { analyticsEnvelope, analyticsProblemResponses } from "../shared/schemas.ts";
import { RealtimeSchema } from "./realtime.schemas.ts";
import { realtimeMetrics, realtimeWindow } from "./realtime.queries.ts";

const WATERMARK_TYPES = ["order.completed", "page.viewed", "item.viewed"] as const;

export const DEFINITION = [
  "The last 60 minutes as 12 five-minute buckets on the UTC 5-minute grid: the last bucket is the current, " +
    "partial one (now floored to 5 minutes), so the window is [current − 55 min, current + 5 min); every " +
    "bucket is listed, zeros when empty. No from/to: the window is fixed.",
  "Per bucket and for the whole window (`totals`): revenue = Σ total_minor of order.completed per currency " +
    "(gross, refunds not subtracted); orders = count of order.completed; units = Σ their line quantities;",
  "visitors = distinct coalesce(visitor_id, customer_id, session_id) over page.viewed and item.viewed (anonymous " +
    "daily visitor hash, else the customer, else the session; the window's total is distinct over the hour, " +
    "not the sum of the buckets);",
  "conversion_rate = orders / visitors rounded half-up to 4 decimals, 0 without visitors (orders from channels " +
    "without page views can push it above 1).",
  "Orders, units and revenue come from the 5-minute aggregate with real-time aggregation (events not yet " +
    "materialised included); visitors from the raw events. Cached under the window and your data generation " +
    "(no short TTL needed: a new event bumps the generation; a late event older than the aggregate's refresh " +
    "shows within 5 minutes); `watermark` = newest order.completed, page.viewed or item.viewed in the window.",
].join(" ");

const realtimeRoute = createRoute({
  method: "get",
  path: "/v1/realtime",
  operationId: "getRealtimeMetrics",
  tags: ["analytics"],
  summary: "Revenue, orders, units, visitors and conversion of the last 60 minutes in 5-minute buckets",
  description: DEFINITION,
  responses: {
    200: {
      description: "12 buckets, oldest first, and the window's totals",
      content: { "application/json": { schema: analyticsEnvelope(RealtimeSchema) } },
    },
    ...analyticsProblemResponses,
  },
});

const streamRoute = createRoute({
  method: "get",
  path: "/v1/realtime/stream",
  operationId: "streamRealtimeMetrics",
  tags: ["analytics"],
  summary: "Server-sent events: the getRealtimeMetrics answer every few seconds",
  description:
    `Server-sent events (text/event-stream) for live dashboards. Every REALTIME_STREAM_INTERVAL_MS (default ` +
    `5000) the stream sends \`event: metrics\` whose \`data\` is the JSON body of getRealtimeMetrics ({as_of, ` +
    `watermark, data}) and an increasing \`id\`; the first message carries \`retry: <interval>\`, the reconnection ` +
    `delay a client (EventSource) should use. If a tick cannot be computed the stream sends \`event: error\` ` +
    `with a problem JSON {status, detail} and tries again at the next tick. The stream runs until the client ` +
    `disconnects. ${DEFINITION}`,
  responses: {
    200: {
      description: "an endless text/event-stream of `metrics` messages",
      content: {
        "text/event-stream": {
          schema: z
            .string()
            .openapi({ example: 'event: metrics\ndata: {"as_of":"…","watermark":null,"data":{…}}\nid: 1\nretry: 5000\n\n' }),
        },
      },
    },
    ...analyticsProblemResponses,
  },
});

/** the operation's parameters and query at `now` */
function realtimeRead(now: Date) {
  const window = realtimeWindow(now);
  return { params: normaliseParams({ from: window.start, to: window.end }), query: (tx: TxSql) => realtimeMetrics(tx, window) };
}

/** the answer's JSON text at `now` (a stream message's data: the cached text as is) */
function realtimeText(ctx: ReadContext, now: Date): Promise<string> {
  const { params, query } = realtimeRead(now);
  return analyticsText(ctx, "getRealtimeMetrics", params, query, { watermarkTypes: WATERMARK_TYPES });
}

/** the answer now */
function realtime(ctx: ReadContext) {
  const { params, query } = realtimeRead(new Date());
  return envelopeAnswer(ctx, "getRealtimeMetrics", params, query, { watermarkTypes: WATERMARK_TYPES });
}

export const realtimeOperations = [analyticsOperation(realtimeRoute, realtime)];

export const realtimeRoutes = new OpenAPIHono<AppEnv>()
  .openapi(realtimeRoute, async (c) => sendAnswer(c, await realtime(readContext(c))))
  .openapi(streamRoute, (c) => {
    const ctx = readContext(c);
    const interval = ctx.deps.config.realtime.streamIntervalMs;
    const signal = c.req.raw.signal;
    return streamSSE(
      c,
      async (stream) => {
        let wake: (() => void) | undefined;
        stream.onAbort(() => wake?.());
        signal.addEventListener("abort", () => stream.abort(), { once: true });
        ctx.logger.debug({ interval_ms: interval }, "realtime stream opened");
        let id = 0;
        while (!stream.aborted && !signal.aborted) {
          id += 1;
          try {
            await stream.writeSSE({
              event: "metrics",
              id: String(id),
              data: await realtimeText(ctx, new Date()),
              ...(id === 1 ? { retry: interval } : {}),
            });
          } catch (err) {
            const status = (err as { status?: number }).status ?? 500;
            ctx.logger.warn({ err }, "realtime stream tick failed");
            const detail = status === 500 ? "the metrics could not be computed; the next tick tries again" : (err as Error).message;
            await stream.writeSSE({
              event: "error",
              id: String(id),
              data: JSON.stringify({ status, detail }),
              ...(id === 1 ? { retry: interval } : {}),
            });
          }
          if (stream.aborted) break;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, interval);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        ctx.logger.debug({ messages: id }, "realtime stream closed");
      },
      async (err) => {
        ctx.logger.error({ err }, "realtime stream failed");
      },
    );
  });
