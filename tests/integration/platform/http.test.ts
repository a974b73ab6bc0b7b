import { beforeAll, describe, expect, test } from "bun:test";
import { capturedLogs, testApp, token } from "../../helpers/deps.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
beforeAll(async () => {
  ({ app } = await testApp());
});

describe("unknown routes and methods", () => {
  test("an unknown route answers 404 problem+json with a requestId", async () => {
    const res = await app.request("/no/such/route");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = await res.json();
    expect(body).toMatchObject({
      status: 404,
      title: "Not found",
      instance: "/no/such/route",
      type: "https://pulse.dev/problems/not-found",
    });
    expect(body.requestId).toBe(res.headers.get("x-request-id"));
  });

  test("a known path with the wrong method answers 405 problem+json with Allow", async () => {
    const res = await app.request("/health/live", { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("allow")).toContain("GET");
    expect((await res.json()).status).toBe(405);
  });
});

describe("request ids", () => {
  test("an incoming X-Request-Id is returned unchanged and used in problems", async () => {
    const res = await app.request("/nope", { headers: { "x-request-id": "abc-123.DEF" } });
    expect(res.headers.get("x-request-id")).toBe("abc-123.DEF");
    expect((await res.json()).requestId).toBe("abc-123.DEF");
  });

  test("the request's access-log line, and a line its handler logs, carry its request id", async () => {
    const id = `log-${crypto.randomUUID()}`;
    await app.request("/v1/me", {
      headers: { "x-request-id": id, authorization: `Bearer ${await token({ tenantId: crypto.randomUUID(), roles: ["viewer"] })}` },
    });
    const lines = capturedLogs
      .filter((l) => l.includes(id))
      .map((l) => JSON.parse(l) as { requestId?: string; msg?: string; path?: string });
    expect(lines.some((l) => l.msg === "request" && l.path === "/v1/me" && l.requestId === id)).toBe(true);
    // a line written by the handler (an analytics read logs its query at debug)
    const tenant = crypto.randomUUID();
    const q = new URLSearchParams({ from: "2026-10-01T00:00:00Z", to: "2026-10-02T00:00:00Z" });
    const read = await app.request(`/v1/revenue/summary?${q}`, {
      headers: { "x-request-id": `${id}-read`, authorization: `Bearer ${await token({ tenantId: tenant, roles: ["viewer"] })}` },
    });
    expect(read.status).toBe(200);
    const handlerLines = capturedLogs
      .map((l) => JSON.parse(l) as { requestId?: string; msg?: string })
      .filter((l) => l.requestId === `${id}-read`);
    expect(handlerLines.map((l) => l.msg)).toContain("analytics query");
    expect(handlerLines.map((l) => l.msg)).toContain("request");
    // concurrent requests each log under their own id
    await Promise.all(["b", "c", "d"].map((x) => app.request("/health/live", { headers: { "x-request-id": `${id}-${x}` } })));
    const ids = capturedLogs
      .map((l) => JSON.parse(l) as { requestId?: string; msg?: string; path?: string })
      .filter((l) => l.msg === "request" && l.path === "/health/live" && l.requestId?.startsWith(`${id}-`))
      .map((l) => l.requestId)
      .sort();
    expect(ids).toEqual([`${id}-b`, `${id}-c`, `${id}-d`]);
  });

  test("a malformed X-Request-Id is replaced by a generated uuid", async () => {
    const res = await app.request("/health/live", { headers: { "x-request-id": "bad id with spaces <script>" } });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("request bodies", () => {
  test("a body over the limit answers 413 problem+json", async () => {
    const { app: small } = await testApp({ config: { ...(await testApp()).deps.config, bodyLimitBytes: 1024 } });
    const res = await small.request("/v1/me", {
      method: "POST",
      headers: { authorization: `Bearer ${await token()}`, "content-type": "application/json" },
      body: JSON.stringify({ pad: "x".repeat(4096) }),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });
});

describe("GET /openapi.json", () => {
  test("is OpenAPI 3.1 with a bearer security scheme", async () => {
    const res = await app.request("/openapi.json");
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  });

  test("every operation has an operationId, tags and the shared problem responses", async () => {
    const doc = await (await app.request("/openapi.json")).json();
    const ops: Array<{ path: string; method: string; op: Record<string, any> }> = [];
    for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, op] of Object.entries<Record<string, any>>(item)) ops.push({ path, method, op });
    }
    expect(ops.length).toBeGreaterThanOrEqual(3);
    const ids = new Set<string>();
    for (const { path, method, op } of ops) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(typeof op.operationId, where).toBe("string");
      expect(ids.has(op.operationId), `${where} duplicate operationId`).toBe(false);
      ids.add(op.operationId);
      expect(op.tags?.length ?? 0, where).toBeGreaterThan(0);
      expect(op.responses["500"]?.content?.["application/problem+json"], where).toBeDefined();
      if (path.startsWith("/v1/")) {
        for (const s of ["400", "401", "403"]) expect(op.responses[s], `${where} ${s}`).toBeDefined();
        expect(op.security ?? doc.security, where).toEqual([{ bearerAuth: [] }]);
      }
    }
  });
});

describe("GET /docs", () => {
  test("serves an interactive docs page pointing at /openapi.json", async () => {
    const res = await app.request("/docs");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("swagger");
    expect(html).toContain("/openapi.json");
  });
});

describe("GET /metrics", () => {
  test("exposes Prometheus text with the HTTP request counter", async () => {
    await app.request("/health/live");
    const res = await app.request("/metrics");
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/http_requests_total\{method="GET",route="\/health\/live",status="200"\} \d+/);
  });
});
