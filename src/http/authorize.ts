/**
 * Enforcement of the role matrix (src/http/roles.ts) and of the rate limits, for every request.
 *
 * `authorize` runs on /v1/* after `authenticate`. It finds the operation the request is routed to
 * from the app's own OpenAPI registry (method + route pattern → operationId), so every documented
 * route is covered without the route module doing anything, and:
 * - a /v1 route that is not a documented operation, or an operation missing from the matrix ⇒ 403
 *   (fail closed; logged as an error so the gap is noticed);
 * - spends one unit of the operation's budget, keyed by tenant + token subject ⇒ 429 when spent;
 * - a principal without one of the operation's roles ⇒ 403.
 * `publicRateLimit` gives everything outside /v1 (health, metrics, docs, spec) a generous per-IP budget.
 */
import { isIP, BlockList } from "node:net";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import type { App, AppEnv } from "./env.ts";
import { problem } from "./problem.ts";
import type { RateDecision, RateLimiter } from "./ratelimit.ts";
import { hashKey } from "./ratelimit.ts";
import { operationAccess } from "./roles.ts";

/** "GET /v1/schemas/:type/:version" → operationId, built from the registry on first use */
export function operationResolver(app: App): (c: Context) => { operationId: string | undefined; routed: boolean } {
  let byRoute: Map<string, string> | undefined;
  const build = () => {
    const m = new Map<string, string>();
    for (const def of app.openAPIRegistry.definitions) {
      if (def.type !== "route" || !def.route.operationId) continue;
      const path = def.route.path.replaceAll(/\/{(.+?)}/g, "/:$1");
      m.set(`${def.route.method.toUpperCase()} ${path}`, def.route.operationId);
    }
    return m;
  };
  // several middlewares ask for the same request: resolved once per request
  const resolved = new WeakMap<Context, { operationId: string | undefined; routed: boolean }>();
  return (c) => {
    let r = resolved.get(c);
    if (r === undefined) {
      // the handler is the last matched route bound to a method (middlewares are "ALL")
      const handler = matchedRoutes(c).findLast((m) => m.method !== "ALL");
      byRoute ??= build();
      r = handler
        ? { operationId: byRoute.get(`${handler.method} ${handler.path}`), routed: true }
        : { operationId: undefined, routed: false };
      resolved.set(c, r);
    }
    return r;
  };
}

/** the rate-limit key of a principal (hashed once per verified token: principals are cached and frozen) */
const principalKeys = new WeakMap<object, string>();
function principalKey(p: { tenantId: string; sub: string }): string {
  let k = principalKeys.get(p);
  if (k === undefined) {
    k = hashKey([p.tenantId, p.sub]);
    principalKeys.set(p, k);
  }
  return k;
}

export function setRateHeaders(c: Context, d: RateDecision): void {
  const resetS = Math.max(0, Math.ceil((d.reset - Date.now()) / 1000));
  c.header("RateLimit-Limit", String(d.limit));
  c.header("RateLimit-Remaining", String(d.remaining));
  c.header("RateLimit-Reset", String(resetS));
}

export function tooManyRequests(c: Context, d: RateDecision, what: string): Response {
  const retryAfter = Math.max(1, Math.ceil((d.reset - Date.now()) / 1000));
  return problem(c, 429, `${what}: at most ${d.limit} requests per minute; retry after ${retryAfter} s`, {
    headers: {
      "Retry-After": String(retryAfter),
      "RateLimit-Limit": String(d.limit),
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": String(retryAfter),
    },
  });
}

export function authorize(resolve: ReturnType<typeof operationResolver>, limiter: RateLimiter) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const { operationId, routed } = resolve(c);
    // nothing routed: let the app answer 404 / 405
    if (!routed) return next();
    const access = operationId ? operationAccess(operationId) : undefined;
    if (!operationId || !access) {
      c.get("logger").error(
        { operationId: operationId ?? null, path: new URL(c.req.url).pathname },
        "route has no entry in the role matrix: refused",
      );
      return problem(c, 403, "this operation is not open to any role");
    }
    const p = c.get("principal");
    const budget = access.budget === "public" ? "read" : access.budget;
    const decision = await limiter.limit(budget, principalKey(p));
    if (decision && !decision.success) return tooManyRequests(c, decision, `the ${budget} budget of this token is spent`);
    if (access.roles !== "public" && !p.roles.some((r) => (access.roles as readonly string[]).includes(r))) {
      return problem(c, 403, `this operation needs one of the roles: ${access.roles.join(", ")}`);
    }
    await next();
    if (decision) setRateHeaders(c, decision);
  });
}

/** the socket peer: Bun passes the server as env (requestIP), Deno the connection info (remoteAddr) */
export function socketAddress(c: Context): string | undefined {
  const env = c.env as { requestIP?: (r: Request) => { address: string } | null; remoteAddr?: { hostname?: string } } | undefined;
  const raw = env?.requestIP?.(c.req.raw)?.address ?? env?.remoteAddr?.hostname;
  if (!raw) return undefined;
  return raw.startsWith("::ffff:") && isIP(raw.slice(7)) === 4 ? raw.slice(7) : raw;
}

export function trustedProxies(entries: readonly string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split("/");
    const family = isIP(addr!) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(addr!, family);
    else list.addSubnet(addr!, Number(bits), family);
  }
  return list;
}

function isTrusted(list: BlockList, ip: string): boolean {
  const v = isIP(ip);
  return v !== 0 && list.check(ip, v === 6 ? "ipv6" : "ipv4");
}

/**
 * The client's IP: the socket peer, unless the peer is a trusted proxy; then the right-most
 * X-Forwarded-For hop that is not itself a trusted proxy (or X-Real-IP). Headers from anyone
 * else are ignored, so a client cannot pick its own key.
 */
export function clientIp(c: Context, trusted: BlockList | undefined): string {
  const peer = socketAddress(c);
  if (!peer) return "unknown";
  if (!trusted || !isTrusted(trusted, peer)) return peer;
  const hops = (c.req.header("x-forwarded-for") ?? "")
    .split(",")
    .map((h) => h.trim())
    .filter((h) => isIP(h) !== 0);
  for (let i = hops.length - 1; i >= 0; i--) if (!isTrusted(trusted, hops[i]!)) return hops[i]!;
  const real = c.req.header("x-real-ip")?.trim();
  if (real && isIP(real) !== 0) return real;
  return hops[0] ?? peer;
}

/** outside /v1: one generous budget per client IP (health probes, scrapers, docs readers) */
export function publicRateLimit(limiter: RateLimiter, proxies: readonly string[]) {
  const trusted = trustedProxies(proxies);
  return createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.path.startsWith("/v1/") || c.req.path === "/v1") return next();
    const decision = await limiter.limit("public", hashKey(["ip", clientIp(c, trusted)]));
    if (decision && !decision.success) return tooManyRequests(c, decision, "the request budget of this address is spent");
    await next();
    if (decision) setRateHeaders(c, decision);
  });
}
