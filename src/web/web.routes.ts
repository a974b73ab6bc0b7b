/**
 * The built-in web app at /app: one HTML page, its bundled script and stylesheet (build.ts), served by
 * the service itself (same origin, works with no internet). Strict CSP: scripts, styles, images and
 * fetches from this origin only, no inline script or style, no frames, no forms posting elsewhere.
 * No cookies: the app keeps the bearer token in sessionStorage and sends it as Authorization, so there
 * is nothing for CSRF to ride on. Pages are hash routes (#/d/<id>), so /app is the only HTML URL.
 */
import { type Context, Hono } from "hono";
import type { AppEnv } from "../http/env.ts";
import { problem } from "../http/problem.ts";
import { type WebBundle, webBundle } from "./build.ts";

export const APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
].join("; ");

function page(b: WebBundle, tokenHint: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Pulse</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app/assets/${b.style.name}">
<script type="module" src="/app/assets/${b.script.name}"></script>
</head>
<body data-token-hint="${tokenHint ? "yes" : "no"}">
<noscript>The Pulse web app needs JavaScript. The API and its reference (/docs) work without it.</noscript>
<main id="app" tabindex="-1"></main>
</body>
</html>
`;
}

async function bundleOr503(c: Context<AppEnv>): Promise<WebBundle | Response> {
  try {
    return await webBundle();
  } catch (err) {
    c.get("logger").error({ err }, "the web app could not be built");
    return problem(c, 503, "the web app is not available on this server; the API is");
  }
}

export const webRoutes = new Hono<AppEnv>()
  .get("/app", async (c) => {
    const b = await bundleOr503(c);
    if (b instanceof Response) return b;
    return c.html(page(b, c.get("deps").config.web.tokenHint), 200, { "Content-Security-Policy": APP_CSP, "Cache-Control": "no-cache" });
  })
  .get("/app/", (c) => c.redirect("/app", 301))
  .get("/app/assets/:name", async (c) => {
    const b = await bundleOr503(c);
    if (b instanceof Response) return b;
    const asset = [b.script, b.style].find((a) => a.name === c.req.param("name"));
    if (!asset) return problem(c, 404, "no such asset (the app was rebuilt: reload /app)");
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304, { ETag: asset.etag });
    return c.body(asset.body as unknown as ArrayBuffer, 200, {
      "content-type": asset.type,
      "Cache-Control": "public, max-age=31536000, immutable",
      ETag: asset.etag,
      "Content-Security-Policy": APP_CSP,
    });
  });
