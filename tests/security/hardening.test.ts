/**
 * Input and transport hardening: per-route body limits, JSON depth / string / NUL bounds, response
 * headers (no-store, CSP, the /docs CSP), CORS allow-list, no cookies, and the log redaction paths.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import { createApp } from "../../src/app.ts";
import { jsonProblem } from "../../src/lib/json-bounds.ts";
import { createLogger } from "../../src/logger.ts";
import { getTestDeps, testApp, testConfig, token } from "../helpers/deps.ts";
import { pageViewed } from "../helpers/events.ts";

const BATCH = "application/cloudevents-batch+json";
let app: Awaited<ReturnType<typeof testApp>>["app"];
let ingestAuth: Record<string, string>;
let tenantId: string;

beforeAll(async () => {
  ({ app } = await testApp());
  tenantId = crypto.randomUUID();
  ingestAuth = { authorization: `Bearer ${await token({ tenantId, roles: ["ingest"] })}` };
});

function nested(depth: number): unknown {
  let v: unknown = "leaf";
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

describe("body limits per route", () => {
  test("POST /v1/events accepts a 300 KiB batch (over the small limit, under the ingest limit)", async () => {
    const events = Array.from({ length: 300 }, () => pageViewed(tenantId, {}, { url: `https://shop.example/${"p".repeat(700)}` }));
    const body = JSON.stringify(events);
    expect(body.length).toBeGreaterThan(64 * 1024);
    const res = await app.request("/v1/events", { method: "POST", headers: { ...ingestAuth, "content-type": BATCH }, body });
    expect(res.status).toBe(202);
  });

  test("POST /v1/events over BODY_LIMIT_BYTES answers 413 problem+json", async () => {
    const res = await app.request("/v1/events", {
      method: "POST",
      headers: { ...ingestAuth, "content-type": BATCH },
      body: "x".repeat(1024 * 1024 + 1),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });

  test("any other /v1 route answers 413 past BODY_LIMIT_SMALL_BYTES, before authentication", async () => {
    const res = await app.request("/v1/me", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "x".repeat(64 * 1024 + 1),
    });
    expect(res.status).toBe(413);
    expect((await res.json()).detail).toContain("65536");
  });

  test("a streamed body without Content-Length is cut off at the limit too", async () => {
    const small = createApp({ ...(await getTestDeps()), config: testConfig({ BODY_LIMIT_BYTES: "2048" }) });
    const chunk = new TextEncoder().encode(`[${"1,".repeat(2000)}1]`);
    const stream = new ReadableStream({
      start(ctl) {
        ctl.enqueue(chunk);
        ctl.close();
      },
    });
    const res = await small.request("/v1/events", {
      method: "POST",
      headers: { ...ingestAuth, "content-type": BATCH },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
  });
});

describe("JSON bounds", () => {
  test("a body nested deeper than JSON_MAX_DEPTH answers 400 naming the field", async () => {
    const ev = pageViewed(tenantId, {}, { extra: nested(40) });
    const res = await app.request("/v1/events", {
      method: "POST",
      headers: { ...ingestAuth, "content-type": BATCH },
      body: JSON.stringify([ev]),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = (await res.json()) as { errors: Array<{ path: string; message: string }> };
    expect(body.errors[0]!.path).toMatch(/^0\.data\.extra(\.a)+$/);
    expect(body.errors[0]!.message).toBe("nested deeper than 32 levels");
  });

  test("100,000 levels of nesting answer 400 quickly (no recursion)", async () => {
    const text = "[".repeat(100_000) + "]".repeat(100_000);
    const started = performance.now();
    const res = await app.request("/v1/events", { method: "POST", headers: { ...ingestAuth, "content-type": BATCH }, body: text });
    expect(res.status).toBe(400);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  test("a NUL character in a JSON string answers 400 naming the field (PostgreSQL cannot store it)", async () => {
    const ev = pageViewed(tenantId, {}, { url: "https://shop.example/a\u0000b" });
    const res = await app.request("/v1/events", {
      method: "POST",
      headers: { ...ingestAuth, "content-type": BATCH },
      body: JSON.stringify([ev]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).errors).toEqual([{ path: "0.data.url", message: "NUL characters are not allowed" }]);
  });

  test("a raw NUL byte in a single-event body answers 400, not a dead letter that cannot be stored", async () => {
    const res = await app.request("/v1/events", {
      method: "POST",
      headers: { ...ingestAuth, "content-type": "application/cloudevents+json" },
      body: '{"specversion":"1.0","id":"a\u0000b"',
    });
    expect(res.status).toBe(400);
  });

  test("a NUL character in a query parameter or in the path answers 400 naming it", async () => {
    const auth = { authorization: `Bearer ${await token({ tenantId })}` };
    const q = await app.request("/v1/dead-letters?type=a%00b", { headers: auth });
    expect(q.status).toBe(400);
    expect(((await q.json()) as any).errors[0].path).toBe("type");
    const p = await app.request("/v1/schemas/order.completed%00/2", { headers: auth });
    expect(p.status).toBe(400);
  });

  test("a query parameter longer than JSON_MAX_STRING_LENGTH answers 400", async () => {
    const res = await app.request(`/v1/dead-letters?cursor=${"a".repeat(16 * 1024 + 1)}`, {
      headers: { authorization: `Bearer ${await token({ tenantId })}` },
    });
    expect(res.status).toBe(400);
  });

  test("jsonProblem: strings longer than the bound, NUL in property names, depth at the exact bound", () => {
    expect(jsonProblem({ a: "x".repeat(11) }, { maxDepth: 32, maxStringLength: 10 })).toEqual({
      path: "a",
      message: "string longer than 10 characters",
    });
    expect(jsonProblem({ a: "x".repeat(10) }, { maxDepth: 32, maxStringLength: 10 })).toBeUndefined();
    expect(jsonProblem({ "k\u0000": 1 }, { maxDepth: 32 })).toEqual({
      path: "k\u0000",
      message: "property name: NUL characters are not allowed",
    });
    expect(jsonProblem(nested(31), { maxDepth: 32 })).toBeUndefined(); // 31 objects + the leaf string
    expect(jsonProblem(nested(33), { maxDepth: 32 })?.message).toBe("nested deeper than 32 levels");
    expect(jsonProblem([[["deep"]]], { maxDepth: 2 })).toEqual({ path: "0.0", message: "nested deeper than 2 levels" });
  });

  test("ingest strings are bounded per event (INGEST_MAX_EVENT_BYTES), not by JSON_MAX_STRING_LENGTH", async () => {
    const ev = pageViewed(tenantId, {}, { url: `https://shop.example/${"a".repeat(20_000)}` });
    const res = await app.request("/v1/events", {
      method: "POST",
      headers: { ...ingestAuth, "content-type": BATCH },
      body: JSON.stringify([ev]),
    });
    expect(res.status).toBe(202);
  });
});

describe("response headers", () => {
  test("/v1 responses: no-store, a deny-all CSP, nosniff, DENY framing, HSTS, no-referrer, and never a cookie", async () => {
    const res = await app.request("/v1/me", { headers: { authorization: `Bearer ${await token()}` } });
    expect(res.status).toBe(200);
    const h = res.headers;
    expect(h.get("cache-control")).toBe("no-store");
    expect(h.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
    expect(h.get("x-content-type-options")).toBe("nosniff");
    expect(h.get("x-frame-options")).toBe("DENY");
    expect(h.get("strict-transport-security")).toContain("max-age=");
    expect(h.get("referrer-policy")).toBe("no-referrer");
    expect(h.get("set-cookie")).toBeNull();
  });

  test("errors on /v1 are no-store too", async () => {
    const res = await app.request("/v1/me");
    expect(res.status).toBe(401);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  test("no route of the app sets a cookie", async () => {
    for (const path of ["/health/live", "/health/ready", "/openapi.json", "/docs", "/metrics", "/v1/me", "/nope"]) {
      expect((await app.request(path)).headers.get("set-cookie"), path).toBeNull();
    }
  });

  test("/docs: a strict CSP that admits exactly its inline bootstrap script by hash, scripts from itself, and fetches to itself", async () => {
    const res = await app.request("/docs");
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy")!;
    const html = await res.text();
    const inline = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(inline.length).toBe(1);
    const hash = createHash("sha256").update(inline[0]!, "utf8").digest("base64");
    const directives = Object.fromEntries(
      csp
        .split(";")
        .map((d) => d.trim().split(/\s+/))
        .map(([k, ...v]) => [k, v]),
    );
    expect(directives["default-src"]).toEqual(["'none'"]);
    expect(directives["script-src"]).toEqual(["'self'", `'sha256-${hash}'`]);
    expect(directives["connect-src"]).toEqual(["'self'"]);
    expect(directives["frame-ancestors"]).toEqual(["'none'"]);
    expect(directives["object-src"]).toEqual(["'none'"]);
    expect(csp).not.toContain("unsafe-eval");
    expect(csp).not.toContain("https:");
    expect(directives["script-src"]).not.toContain("'unsafe-inline'");
    expect(html).toContain("validatorUrl: 'none'");
    expect(html).not.toMatch(/(?:src|href)="https?:/);
  });

  test("/docs works with no internet: every script and stylesheet it loads is served here, from the pinned swagger-ui-dist", async () => {
    const html = await (await app.request("/docs")).text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.sort()).toEqual(["/docs/swagger-ui-dist/swagger-ui-bundle.js", "/docs/swagger-ui-dist/swagger-ui.css"]);
    for (const path of assets) {
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toContain(path.endsWith(".js") ? "javascript" : "css");
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    }
    expect((await app.request("/docs/swagger-ui-dist/package.json")).status).toBe(404);
    expect((await app.request("/docs/swagger-ui-dist/..%2F..%2Fpackage.json")).status).toBe(404);
  });
});

describe("CORS", () => {
  test("by default no CORS headers: a browser on another origin cannot read answers", async () => {
    const res = await app.request("/v1/me", { headers: { origin: "https://evil.example", authorization: `Bearer ${await token()}` } });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await app.request("/v1/me", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
    });
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("CORS_ORIGINS: allowed origins get their origin back (no credentials), others nothing; preflight allows Authorization", async () => {
    const cors = createApp({
      ...(await getTestDeps()),
      config: testConfig({ CORS_ORIGINS: "https://app.example.com, http://localhost:5173" }),
    });
    const ok = await cors.request("/v1/me", { headers: { origin: "https://app.example.com", authorization: `Bearer ${await token()}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(ok.headers.get("access-control-allow-credentials")).toBeNull();
    expect(ok.headers.get("access-control-expose-headers")).toContain("RateLimit-Remaining");
    const evil = await cors.request("/v1/me", {
      headers: { origin: "https://app.example.com.evil.example", authorization: `Bearer ${await token()}` },
    });
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await cors.request("/v1/me", {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:5173",
        "access-control-request-method": "GET",
        "access-control-request-headers": "authorization",
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(pre.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    const nullOrigin = await cors.request("/v1/me", { headers: { origin: "null", authorization: `Bearer ${await token()}` } });
    expect(nullOrigin.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("log redaction", () => {
  test("authorization headers, tokens, emails, IPs, user agents and event names are redacted up to four levels deep", () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: "info",
      format: "json",
      destination: new Writable({
        write(chunk, _e, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    });
    logger.info(
      {
        req: { headers: { authorization: "Bearer eyJhbGciOi.secret.sig", cookie: "sid=1" } },
        headers: { authorization: "Bearer eyJxyz" },
        token: "eyJtoken",
        data: { email: "carol@example.com", ip: "203.0.113.99", user_agent: "Mozilla/5.0 X", customer_name: "Carol", name: "Carol C" },
        authorization: "Bearer top",
        batch: { payload: { data: { email: "dave@example.com", ua: "curl/8", full_name: "Dave D" } } },
      },
      "redaction check",
    );
    const line = lines.join("");
    for (const secret of [
      "eyJhbGciOi",
      "sid=1",
      "eyJxyz",
      "eyJtoken",
      "carol@example.com",
      "203.0.113.99",
      "Mozilla/5.0 X",
      "Carol",
      "Bearer top",
      "dave@example.com",
      "curl/8",
      "Dave D",
    ]) {
      expect(line).not.toContain(secret);
    }
    expect(line).toContain("[redacted]");
  });
});
