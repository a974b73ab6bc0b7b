/**
 * createApp(deps): the OpenAPIHono app. Web-standard APIs only in the request path, so the same app
 * runs under Bun and Deno. Every error leaves as problem+json with the requestId; never a stack.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import { secureHeaders } from "hono/secure-headers";
import type { Deps } from "./deps.ts";
import { healthRoutes } from "./health/health.routes.ts";
import { adminRoutes } from "./admin/admin.routes.ts";
import { authorize, operationResolver, publicRateLimit } from "./http/authorize.ts";
import type { AppEnv } from "./http/env.ts";
import { bodyLimits, corsAllowList, docsAssets, docsPage, inputBounds, responseHeaders } from "./http/hardening.ts";
import { createRateLimiter, type RateLimiter } from "./http/ratelimit.ts";
import { accessLog, authenticate, requestContext } from "./http/middleware.ts";
import { fieldErrors, HttpProblem, problem } from "./http/problem.ts";
import { whoamiRoutes } from "./http/whoami.routes.ts";
import { ingestRoutes } from "./ingest/ingest.routes.ts";
import { schemasRoutes } from "./ingest/schemas/schemas.routes.ts";
import { analyticsRoutes } from "./analytics/registry.ts";
import { dashboardsRoutes } from "./dashboards/dashboards.routes.ts";
import { webRoutes } from "./web/web.routes.ts";
import { exportsRoutes } from "./exports/exports.routes.ts";
import { reconciliationRoutes } from "./recovery/reconciliation/reconciliation.routes.ts";
import { replayRoutes } from "./recovery/replay/replay.routes.ts";
import { pricingRoutes } from "./pricing/pricing.routes.ts";

export const API_VERSION = "0.1.0";

export interface AppOptions {
  /** the rate limiter (default: built from deps.config: Upstash, Redis or memory) */
  rateLimiter?: RateLimiter;
}

export function createApp(deps: Deps, opts: AppOptions = {}) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const errors = fieldErrors(result.error.issues);
        return problem(c, 400, errors.map((e) => `${e.path}: ${e.message}`).join("; "), { errors });
      }
    },
  });

  app.use("*", async (c, next) => {
    c.set("deps", deps);
    await next();
  });
  app.use("*", requestContext);
  app.use("*", accessLog);
  app.use("*", secureHeaders({ crossOriginResourcePolicy: "same-origin", xFrameOptions: "DENY" }));
  app.use("*", responseHeaders);
  const corsMiddleware = corsAllowList(deps.config.security.corsOrigins);
  if (corsMiddleware) app.use("*", corsMiddleware);
  app.use(
    "*",
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        problem(c, 405, `${c.req.method} is not allowed here; allowed: ${methods.join(", ")}`, { headers: { Allow: methods.join(", ") } }),
    }),
  );
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: deps.config.bodyLimitBytes,
      onError: (c) => problem(c, 413, `the request body exceeds ${deps.config.bodyLimitBytes} bytes`),
    }),
  );
  const limiter = opts.rateLimiter ?? createRateLimiter(deps.config, { logger: deps.logger, metrics: deps.metrics });
  const operationOf = operationResolver(app);
  app.use("*", publicRateLimit(limiter, deps.config.security.trustedProxies));
  app.use("/v1/*", bodyLimits(deps.config, operationOf));
  app.use("/v1/*", authenticate);
  // the request's shape before the role check: a malformed body is a 400 whatever the caller's roles (hardening.ts)
  app.use("/v1/*", inputBounds(deps.config, operationOf));
  app.use("/v1/*", authorize(operationOf, limiter));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "HS256 (JWT_SECRET) or RS256/ES256 (JWT_JWKS_URL). Claims: sub, tenant_id (uuid), roles, exp.",
  });

  const routes = app
    .route("/", healthRoutes)
    .route("/", whoamiRoutes)
    .route("/", ingestRoutes)
    .route("/", schemasRoutes)
    .route("/", adminRoutes)
    .route("/", analyticsRoutes)
    .route("/", dashboardsRoutes)
    .route("/", reconciliationRoutes)
    .route("/", replayRoutes)
    .route("/", pricingRoutes)
    .route("/", exportsRoutes);

  app.get("/metrics", async (c) => {
    const body = await deps.metrics.registry.metrics();
    return c.body(body, 200, { "content-type": deps.metrics.registry.contentType });
  });

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Pulse analytics API",
      version: API_VERSION,
      description:
        "Multi-tenant event analytics for ticketing venues and online shops. Every /v1 operation needs a bearer JWT; " +
        "the tenant always comes from the token. Errors are RFC 9457 problem+json.",
    },
    security: [{ bearerAuth: [] }],
    tags: [
      { name: "health", description: "Liveness and readiness for operators and orchestrators" },
      { name: "auth", description: "The identity behind a token" },
      { name: "ingest", description: "CloudEvents in (HTTP; NATS JetStream is the other door), dead letters and ingest statistics" },
      { name: "schemas", description: "The event catalog: JSON Schema of every event type and version" },
      {
        name: "dashboards",
        description:
          "Saved dashboards over the analytics operations: CRUD with ETag / If-Match, every widget's answer in one call, and a live stream",
      },
      { name: "admin", description: "Operator routes (role ops): the only cross-tenant reads" },
      { name: "exports", description: "CSV, XLSX and PDF files of analytics answers, written by background jobs, kept EXPORT_TTL_HOURS" },
      {
        name: "recovery",
        description:
          "Proving and repairing completeness: daily reconciliation against upstream, and replays of a range from the stream (ops)",
      },
      {
        name: "analytics",
        description:
          "Revenue, sales, customers, funnels, items, real-time and operations figures of your tenant. Common rules: " +
          "[from, to) half-open ISO-8601 with offset, local DST-correct buckets in `timezone`, money in integer " +
          "minor units with one row per currency, `as_of` and `watermark` on every answer, 504 past the statement " +
          "timeout.",
      },
    ],
  });
  app.get("/docs", docsPage({ url: "/openapi.json", title: "Pulse API" }));
  app.get("/docs/swagger-ui-dist/:file", docsAssets);
  app.route("/", webRoutes);

  app.notFound((c) => problem(c, 404, `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));
  app.onError((err, c) => {
    if (err instanceof HttpProblem) return problem(c, err.status, err.detail, err.extra);
    if (err instanceof HTTPException) {
      const status = err.status;
      if (status === 400 && /json/i.test(err.message)) return problem(c, 400, "the request body is not valid JSON");
      return problem(c, status as 400, err.message || undefined);
    }
    c.get("logger")?.error({ err }, "unhandled error");
    return problem(c, 500, "an unexpected error occurred; quote the requestId when reporting it");
  });

  return routes;
}

export type AppType = ReturnType<typeof createApp>;
