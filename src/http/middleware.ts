import { routePath } from "hono/route";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./env.ts";
import type { ApiRole } from "./auth.ts";
import { AuthError } from "./auth.ts";
import { logContext } from "../logger.ts";
import { problem } from "./problem.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** accept a sane X-Request-Id or make one; return it; every line logged while handling it carries it */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const incoming = c.req.header("x-request-id");
  const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", requestId);
  c.set("logger", c.get("deps").logger);
  c.header("X-Request-Id", requestId);
  await logContext.run({ requestId }, next);
});

/** one wide access-log line per request, and the HTTP metrics */
export const accessLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  await next();
  const durationS = (performance.now() - started) / 1000;
  const route = c.res.status === 404 ? "(unmatched)" : routePath(c, -1) || "(unmatched)";
  const status = String(c.res.status);
  const { metrics } = c.get("deps");
  metrics.httpRequests.inc({ method: c.req.method, route, status });
  metrics.httpDuration.observe({ method: c.req.method, route, status }, durationS);
  const principal = c.get("principal") as AppEnv["Variables"]["principal"] | undefined;
  const line = {
    method: c.req.method,
    path: c.req.path,
    route,
    status: c.res.status,
    duration_ms: Math.round(durationS * 1000 * 10) / 10,
    ...(principal ? { tenant_id: principal.tenantId, sub: principal.sub } : {}),
  };
  if (c.res.status >= 500) c.get("logger").error(line, "request");
  else c.get("logger").info(line, "request");
});

/** bearer JWT on every /v1 route: 401 problem+json when missing, invalid or expired */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("authorization");
  const match = header ? /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(header) : null;
  const unauthorized = (detail: string) => problem(c, 401, detail, { headers: { "WWW-Authenticate": 'Bearer realm="pulse"' } });
  if (!match?.[1]) return unauthorized(header ? "the Authorization header must be 'Bearer <token>'" : "a bearer token is required");
  try {
    c.set("principal", await c.get("deps").jwt.verify(match[1]));
  } catch (err) {
    if (err instanceof AuthError) return unauthorized(err.message);
    throw err;
  }
  await next();
});

/** 403 unless the principal has one of the roles (admin may do everything except ingest-only work) */
export function requireRole(...roles: ApiRole[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const have = c.get("principal").roles;
    if (!roles.some((r) => have.includes(r))) {
      return problem(c, 403, `this operation needs one of the roles: ${roles.join(", ")}`);
    }
    await next();
  });
}
