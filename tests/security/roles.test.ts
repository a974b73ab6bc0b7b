/**
 * The route × role matrix (src/http/roles.ts): complete for the spec, equal to docs/security.md's table,
 * enforced for every operation × role through the real app, failing closed, and the one
 * cross-tenant operator read.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createRoute, z } from "@hono/zod-openapi";
import { ROLES, type ApiRole } from "../../src/http/auth.ts";
import { OPERATIONS, allowed, operationAccess, roleMatrixMarkdown } from "../../src/http/roles.ts";
import { capturedLogs, testApp, token } from "../helpers/deps.ts";
import { envelope, pageViewed } from "../helpers/events.ts";

type App = Awaited<ReturnType<typeof testApp>>["app"];
let app: App;
let spec: {
  paths: Record<
    string,
    Record<string, { operationId: string; parameters?: Array<{ name: string; in: string; required?: boolean; schema?: any }> }>
  >;
};

beforeAll(async () => {
  ({ app } = await testApp());
  spec = (await (await app.request("/openapi.json")).json()) as typeof spec;
});

function operations() {
  const out: Array<{
    method: string;
    path: string;
    id: string;
    params: Array<{ name: string; in: string; required?: boolean; schema?: any }>;
  }> = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item))
      out.push({ method: method.toUpperCase(), path, id: op.operationId, params: op.parameters ?? [] });
  }
  return out;
}

describe("the role matrix", () => {
  test("every operation in /openapi.json has an entry in the matrix", () => {
    const missing = operations()
      .filter((o) => !operationAccess(o.id))
      .map((o) => `${o.method} ${o.path} (${o.id})`);
    expect(missing).toEqual([]);
    expect(operations().length).toBeGreaterThanOrEqual(8);
  });

  test("docs/security.md's role table is exactly the matrix", () => {
    const readme = readFileSync(new URL("../../docs/security.md", import.meta.url), "utf8");
    const m = /<!-- role-matrix:start[^>]*-->\n([\s\S]*?)\n<!-- role-matrix:end -->/.exec(readme);
    expect(m, "docs/security.md has the role-matrix markers").not.toBeNull();
    expect(m![1]).toBe(roleMatrixMarkdown());
  });

  test("viewer reads, ingest only posts events, ops alone reads across tenants", () => {
    expect(allowed("getRevenueSummary", ["viewer"])).toBe(true);
    expect(allowed("getRevenueSummary", ["ingest"])).toBe(false);
    expect(allowed("ingestEvents", ["ingest"])).toBe(true);
    for (const r of ["viewer", "analyst", "pricing_manager", "admin", "ops"] as const) expect(allowed("ingestEvents", [r])).toBe(false);
    expect(allowed("listAllDeadLetters", ["ops"])).toBe(true);
    for (const r of ["viewer", "analyst", "pricing_manager", "admin", "ingest"] as const)
      expect(allowed("listAllDeadLetters", [r])).toBe(false);
    expect(allowed("noSuchOperation", [...ROLES])).toBe(false);
  });

  test("the analytics operations are open to viewer, analyst, pricing_manager, admin and ops, not ingest", () => {
    const ids = [
      "getRevenueSummary",
      "getRevenueTimeseries",
      "getRevenueByChannel",
      "getRevenueByCategory",
      "getRevenueProjection",
      "getSalesMetrics",
      "getCustomerMetrics",
      "listCustomers",
      "getRfmSegments",
      "getChurnRisk",
      "getCustomerLtv",
      "getConversionFunnel",
      "getItemPerformance",
      "getRealtimeMetrics",
      "streamRealtimeMetrics",
      "getFulfillmentMetrics",
      "getShippingMetrics",
      "getMarketingAttribution",
      "getRefundMetrics",
    ];
    for (const id of ids)
      expect(operationAccess(id), id).toEqual({ roles: ["viewer", "analyst", "pricing_manager", "admin", "ops"], budget: "read" });
  });

  test("every operation × every role through the app: 403 problem+json exactly where the matrix says no", async () => {
    const tenantId = crypto.randomUUID();
    const tokens = Object.fromEntries(
      await Promise.all(ROLES.map(async (r) => [r, await token({ tenantId, roles: [r], sub: `matrix-${r}` })])),
    ) as Record<ApiRole, string>;
    const wrong: string[] = [];
    let checked = 0;
    for (const op of operations()) {
      const access = operationAccess(op.id)!;
      if (access.roles === "public") continue;
      // a path the router matches; values need not be valid (400/404 are fine: only 403 matters)
      const path = op.path.replaceAll(/{([^}]+)}/g, (_, name: string) =>
        name === "version" ? "2" : name === "type" ? "order.completed" : "x",
      );
      for (const role of ROLES) {
        const init: RequestInit = { method: op.method, headers: { authorization: `Bearer ${tokens[role]}` } };
        if (op.method === "POST") {
          init.headers = { ...init.headers, "content-type": "application/cloudevents-batch+json" };
          init.body = JSON.stringify([pageViewed(tenantId)]);
        }
        if (op.id === "streamRealtimeMetrics") init.signal = AbortSignal.timeout(2_000);
        const res = await app.request(path, init);
        checked += 1;
        const expectForbidden = !allowed(op.id, [role]);
        if (expectForbidden !== (res.status === 403) || res.status === 401) wrong.push(`${op.method} ${op.path} as ${role}: ${res.status}`);
        if (res.status === 403) expect(res.headers.get("content-type")).toBe("application/problem+json");
        await res.body?.cancel();
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(6 * 6);
  }, 60_000);

  test("a token with several roles gets the union of their rights", async () => {
    const t = await token({ roles: ["ingest", "viewer"] });
    const me = await app.request("/v1/dead-letters", { headers: { authorization: `Bearer ${t}` } });
    expect(me.status).toBe(200);
  });
});

describe("fail closed", () => {
  test("a documented /v1 operation that is missing from the matrix answers 403 for every role, and is logged", async () => {
    const { app: extra } = await testApp();
    const logged = capturedLogs.length;
    let reached = false;
    extra.openapi(
      createRoute({
        method: "get",
        path: "/v1/zz-unlisted",
        operationId: "zzUnlistedOperation",
        responses: { 200: { description: "ok", content: { "application/json": { schema: z.object({ ok: z.boolean() }) } } } },
      }),
      (c) => {
        reached = true;
        return c.json({ ok: true }, 200);
      },
    );
    for (const role of ROLES) {
      const res = await extra.request("/v1/zz-unlisted", { headers: { authorization: `Bearer ${await token({ roles: [role] })}` } });
      expect(res.status).toBe(403);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    expect(reached).toBe(false);
    const lines = capturedLogs.slice(logged).filter((l) => l.includes("route has no entry in the role matrix"));
    expect(lines.length).toBe(ROLES.length);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 50, operationId: "zzUnlistedOperation" });
  });

  test("an undocumented /v1 route (no operationId) answers 403, never its handler's data", async () => {
    const { app: extra } = await testApp();
    extra.get("/v1/zz-undocumented", (c) => c.json({ secret: "should never leave" }));
    const res = await extra.request("/v1/zz-undocumented", { headers: { authorization: `Bearer ${await token({ roles: [...ROLES] })}` } });
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain("should never leave");
  });

  test("an unknown /v1 path is still 404 and a wrong method still 405 (not 403)", async () => {
    const auth = { authorization: `Bearer ${await token({ roles: ["viewer"] })}` };
    expect((await app.request("/v1/no-such-thing", { headers: auth })).status).toBe(404);
    expect((await app.request("/v1/me", { method: "DELETE", headers: auth })).status).toBe(405);
  });

  test("the matrix has no entry a route can reach through the prototype (toString, __proto__)", () => {
    expect(operationAccess("toString")).toBeUndefined();
    expect(operationAccess("__proto__")).toBeUndefined();
    expect(operationAccess("constructor")).toBeUndefined();
    expect(Object.keys(OPERATIONS)).not.toContain("toString");
  });
});

describe("GET /v1/admin/dead-letters (listAllDeadLetters, ops only)", () => {
  const A = crypto.randomUUID();
  const B = crypto.randomUUID();

  beforeAll(async () => {
    // rejected events of two tenants, through the real ingest path
    for (const t of [A, B]) {
      const res = await app.request("/v1/events", {
        method: "POST",
        headers: {
          authorization: `Bearer ${await token({ tenantId: t, roles: ["ingest"] })}`,
          "content-type": "application/cloudevents-batch+json",
        },
        body: JSON.stringify([envelope(t, "nope.unknown", {}), envelope(t, "nope.unknown", {})]),
      });
      expect(res.status).toBe(202);
    }
  });

  async function list(roles: ApiRole[], query = "") {
    const res = await app.request(`/v1/admin/dead-letters?limit=500${query}`, {
      headers: { authorization: `Bearer ${await token({ roles, sub: "operator" })}` },
    });
    return { res, body: (await res.json()) as any };
  }

  test("viewer, analyst, pricing_manager, ingest and admin without ops get 403 problem+json", async () => {
    for (const roles of [["viewer"], ["analyst"], ["pricing_manager"], ["ingest"], ["admin"], ["admin", "viewer"]] as ApiRole[][]) {
      const { res, body } = await list(roles);
      expect(res.status).toBe(403);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(body.data).toBeUndefined();
    }
  });

  test("ops sees the dead letters of several tenants, with their tenant ids", async () => {
    const { res, body } = await list(["ops"]);
    expect(res.status).toBe(200);
    const tenants = new Set(body.data.map((r: { tenant_id: string | null }) => r.tenant_id));
    expect(tenants.has(A)).toBe(true);
    expect(tenants.has(B)).toBe(true);
  });

  test("ops can filter by tenant_id: only that tenant's rows", async () => {
    const { res, body } = await list(["ops"], `&tenant_id=${A}`);
    expect(res.status).toBe(200);
    expect(body.data.length).toBe(2);
    expect(body.data.every((r: { tenant_id: string }) => r.tenant_id === A)).toBe(true);
  });

  test("a tenant_id that is not a uuid answers 400 naming tenant_id", async () => {
    const { res, body } = await list(["ops"], `&tenant_id=${encodeURIComponent("' OR 1=1 --")}`);
    expect(res.status).toBe(400);
    expect(body.errors.map((e: { path: string }) => e.path)).toContain("tenant_id");
  });

  test("the tenant's own GET /v1/dead-letters ignores a forged tenant_id in the query", async () => {
    const res = await app.request(`/v1/dead-letters?tenant_id=${A}`, {
      headers: { authorization: `Bearer ${await token({ tenantId: B, roles: ["admin"] })}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Array<{ subject: string | null; payload: any }> };
    expect(body.data.length).toBe(2);
    expect(JSON.stringify(body)).not.toContain(A);
  });
});
