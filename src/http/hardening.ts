/**
 * Input and transport hardening: per-route body limits, bounds on JSON bodies (depth, string length,
 * NUL characters) and on query/path parameters, response headers (no-store on /v1, a deny-all CSP on
 * API responses and a strict one for /docs), and the CORS allow-list.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { swaggerUI } from "@hono/swagger-ui";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { Config } from "../config.ts";
import type { AppEnv } from "./env.ts";
import { jsonProblem } from "../lib/json-bounds.ts";
import { type FieldError, problem } from "./problem.ts";

/** operations whose body may be as large as BODY_LIMIT_BYTES; every other /v1 body is BODY_LIMIT_SMALL_BYTES */
export const LARGE_BODY_OPERATIONS = new Set(["ingestEvents"]);
/** operations whose JSON strings are bounded elsewhere (each ingested event by INGEST_MAX_EVENT_BYTES) */
const UNBOUNDED_STRING_OPERATIONS = new Set(["ingestEvents"]);
/** operations whose route reads an unparseable body itself (a single CloudEvent that is not JSON: a dead letter) */
const UNPARSED_BODY_OPERATIONS = new Set(["ingestEvents"]);

type Resolve = (c: Context) => { operationId: string | undefined; routed: boolean };

/** 413 past the route's limit: the ingest limit for POST /v1/events, the small one elsewhere */
export function bodyLimits(config: Config, resolve: Resolve): MiddlewareHandler<AppEnv> {
  const make = (maxSize: number) => bodyLimit({ maxSize, onError: (c) => problem(c, 413, `the request body exceeds ${maxSize} bytes`) });
  const large = make(config.bodyLimitBytes);
  const small = make(config.security.bodyLimitSmallBytes);
  return async (c, next) => {
    const { operationId } = resolve(c);
    return (operationId && LARGE_BODY_OPERATIONS.has(operationId) ? large : small)(c, next);
  };
}

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json$/;

/**
 * JSON bodies (application/json and any +json type): depth ≤ JSON_MAX_DEPTH, strings ≤
 * JSON_MAX_STRING_LENGTH, no NUL characters ⇒ else 400 naming the field; a body that is not JSON ⇒ 400,
 * except for the operations in UNPARSED_BODY_OPERATIONS (a single malformed CloudEvent is a dead letter,
 * answered by the route). Query and path parameters must not contain NUL characters or exceed the
 * string bound either. Runs after authentication and before the role check (app.ts): like the body-size
 * limit, the shape of a request is judged whatever the caller's roles, so an operator-only operation
 * answers a malformed body with the same 400 as any other.
 */
export function inputBounds(config: Config, resolve: Resolve): MiddlewareHandler<AppEnv> {
  const maxDepth = config.security.jsonMaxDepth;
  const maxString = config.security.jsonMaxStringLength;
  return createMiddleware<AppEnv>(async (c, next) => {
    const { operationId, routed } = resolve(c);
    if (!routed) return next(); // 404 / 405 first
    const errors: FieldError[] = [];
    for (const [name, values] of Object.entries(c.req.queries())) {
      for (const v of values) {
        if (v.includes("\u0000")) errors.push({ path: name, message: "NUL characters are not allowed" });
        else if (v.length > maxString) errors.push({ path: name, message: `longer than ${maxString} characters` });
      }
    }
    // path parameters are not parsed yet in a middleware: look at the path Hono routed (decoded, with
    // %25 kept, so an encoded NUL shows as U+0000 and "%2500" stays itself)
    const path = c.req.path;
    if (/%00/.test(path) || path.includes("\u0000")) errors.push({ path: "(path)", message: "NUL characters are not allowed" });
    if (errors.length > 0) return problem(c, 400, errors.map((e) => `${e.path}: ${e.message}`).join("; "), { errors });

    const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && JSON_TYPE.test(type)) {
      const text = await c.req.text(); // cached: the route reads the same text
      // a raw NUL byte (invalid JSON, or it would end in a dead letter's excerpt): PostgreSQL cannot store it
      if (text.includes("\u0000")) {
        const nul = { path: "(body)", message: "NUL characters are not allowed" };
        return problem(c, 400, "(body): NUL characters are not allowed", { errors: [nul] });
      }
      let parsed: unknown;
      let ok = false;
      try {
        parsed = JSON.parse(text);
        ok = text.length > 0;
      } catch {
        ok = false;
      }
      if (!ok && text.length > 0 && !(operationId && UNPARSED_BODY_OPERATIONS.has(operationId))) {
        return problem(c, 400, "the request body is not valid JSON", { errors: [{ path: "(body)", message: "not valid JSON" }] });
      }
      if (ok) {
        const p = jsonProblem(parsed, {
          maxDepth,
          maxStringLength: operationId && UNBOUNDED_STRING_OPERATIONS.has(operationId) ? undefined : maxString,
        });
        if (p) return problem(c, 400, `${p.path}: ${p.message}`, { errors: [p] });
      }
    }
    await next();
  });
}

/** /v1 responses are never stored by caches; API responses carry a deny-all CSP unless a route set one */
export const responseHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const h = c.res.headers;
  try {
    if (c.req.path.startsWith("/v1/") && !h.has("cache-control")) h.set("Cache-Control", "no-store");
    if (!h.has("content-security-policy")) h.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
  } catch {
    // an immutable Response (never built by this app): leave it as it is
  }
});

/** the swagger-ui assets /docs loads, served from the pinned swagger-ui-dist package (no CDN: works offline) */
const DOCS_ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};
export const DOCS_ASSET_PREFIX = "/docs/swagger-ui-dist";
const docsAssetCache = new Map<string, Uint8Array>();

/** GET /docs/swagger-ui-dist/:file: the two swagger-ui files, read once from node_modules, cached by browsers for a day */
export const docsAssets: MiddlewareHandler<AppEnv> = async (c) => {
  const file = c.req.param("file") ?? "";
  const type = Object.hasOwn(DOCS_ASSETS, file) ? DOCS_ASSETS[file] : undefined;
  if (!type) return problem(c, 404, "no such docs asset");
  let body = docsAssetCache.get(file);
  if (!body) {
    const dir = dirname(fileURLToPath(import.meta.resolve("swagger-ui-dist/package.json")));
    body = new Uint8Array(await readFile(join(dir, file)));
    docsAssetCache.set(file, body);
  }
  return c.body(body as unknown as ArrayBuffer, 200, { "content-type": type, "Cache-Control": "public, max-age=86400" });
};

/**
 * /docs: the swagger-ui page under a strict CSP. Scripts only from this origin (the swagger-ui-dist
 * files above) plus the page's own inline bootstrap script, allowed by its SHA-256 (computed from the
 * page itself, so it follows the library); fetches only to this origin; no frames, no plugins, no
 * forms, no base-uri. Nothing is loaded from another origin, so /docs works with no internet.
 */
export function docsPage(opts: { url: string; title: string }): MiddlewareHandler<AppEnv> {
  // validatorUrl none: the page never sends the spec's URL to the public swagger validator
  // baseUrl: the assets come from DOCS_ASSET_PREFIX (served below), not from the library's default CDN
  type Page = (c: Context, next: () => Promise<void>) => Promise<Response>;
  const ui = swaggerUI({ ...opts, validatorUrl: "none", baseUrl: "/docs" }) as unknown as Page;
  let csp: string | undefined;
  return async (c, next) => {
    const res = await ui(c, next);
    const html = (await res.text()).replace(' crossorigin="anonymous"', "");
    if (!csp) {
      const hashes = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
        (m) => `'sha256-${createHash("sha256").update(m[1]!, "utf8").digest("base64")}'`,
      );
      csp = [
        "default-src 'none'",
        `script-src 'self' ${hashes.join(" ")}`,
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "object-src 'none'",
      ].join("; ");
    }
    return c.html(html, 200, { "Content-Security-Policy": csp, "Cache-Control": "no-cache" });
  };
}

/** CORS for the configured origins only; no origins ⇒ no CORS headers (browsers block cross-origin reads) */
export function corsAllowList(origins: readonly string[]): MiddlewareHandler<AppEnv> | undefined {
  if (origins.length === 0) return undefined;
  const allowed = new Set(origins);
  return cors({
    origin: (origin) => (allowed.has(origin) ? origin : null),
    allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    // If-Match and Idempotency-Key: the price-change workflow (src/pricing/)
    allowHeaders: ["Authorization", "Content-Type", "X-Request-Id", "If-Match", "Idempotency-Key"],
    exposeHeaders: [
      "X-Request-Id",
      "Retry-After",
      "RateLimit-Limit",
      "RateLimit-Remaining",
      "RateLimit-Reset",
      "Content-Disposition",
      "ETag",
      "Location",
      "Idempotent-Replayed",
    ],
    credentials: false,
    maxAge: 600,
  });
}
