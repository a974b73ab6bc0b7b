/**
 * The dashboards API (src/dashboards/): the default dashboard, CRUD with cursor pages, ETag / If-Match,
 * validation by each widget's own operation schema, roles, and row-level security.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { ApiRole } from "../../../src/http/auth.ts";
import { withTenant } from "../../../src/db/tenant.ts";
import type { Deps } from "../../../src/deps.ts";
import { testApp, token } from "../../helpers/deps.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;

beforeAll(async () => {
  ({ app, deps } = await testApp());
});

async function call(
  tenantId: string,
  method: string,
  path: string,
  opts: { body?: unknown; roles?: ApiRole[]; headers?: Record<string, string> } = {},
) {
  const bearer = await token({ tenantId, roles: opts.roles ?? ["analyst"], sub: "editor-1" });
  const res = await app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
      ...opts.headers,
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  return { res, status: res.status, body: text ? JSON.parse(text) : undefined };
}

const widget = (over: Record<string, unknown> = {}) => ({
  id: "w1",
  title: "Revenue",
  operation: "getRevenueSummary",
  params: {},
  viz: "kpi",
  position: 0,
  ...over,
});
const dashboard = (over: Record<string, unknown> = {}) => ({
  name: "Box office",
  description: "daily figures",
  filters: { range: "28d", timezone: "Europe/Berlin" },
  widgets: [widget()],
  ...over,
});

describe("the default dashboard", () => {
  test("is created on the first list, once, even for concurrent first reads, with revenue, growth, funnel, items, channels, realtime and customers", async () => {
    const T = crypto.randomUUID();
    const lists = await Promise.all([
      call(T, "GET", "/v1/dashboards", { roles: ["viewer"] }),
      call(T, "GET", "/v1/dashboards", { roles: ["viewer"] }),
    ]);
    for (const l of lists) expect(l.status).toBe(200);
    const again = await call(T, "GET", "/v1/dashboards", { roles: ["viewer"] });
    expect(again.body.data).toHaveLength(1);
    const d = again.body.data[0];
    expect(d.is_default).toBe(true);
    expect(d.version).toBe(1);
    expect(d.widgets.map((w: { operation: string }) => w.operation)).toEqual([
      "getSalesMetrics",
      "getRealtimeMetrics",
      "getRevenueTimeseries",
      "getRevenueByChannel",
      "getConversionFunnel",
      "getItemPerformance",
      "getCustomerMetrics",
    ]);
    const rows = await withTenant(deps.sql, T, (tx) => tx<{ n: number }[]>`select count(*)::int as n from dashboards where is_default`);
    expect(rows[0]!.n).toBe(1);
  });

  test("is editable but cannot be deleted (409)", async () => {
    const T = crypto.randomUUID();
    const d = (await call(T, "GET", "/v1/dashboards")).body.data[0];
    const put = await call(T, "PUT", `/v1/dashboards/${d.id}`, { body: dashboard({ name: "Mine now" }), headers: { "if-match": '"1"' } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: "Mine now", is_default: true, version: 2 });
    const del = await call(T, "DELETE", `/v1/dashboards/${d.id}`, { headers: { "if-match": "*" } });
    expect(del.status).toBe(409);
    expect(del.res.headers.get("content-type")).toBe("application/problem+json");
  });
});

describe("CRUD and ETag / If-Match", () => {
  test('POST answers 201 with Location and ETag "1"; GET gives the same dashboard and ETag', async () => {
    const T = crypto.randomUUID();
    const created = await call(T, "POST", "/v1/dashboards", { body: dashboard() });
    expect(created.status).toBe(201);
    expect(created.res.headers.get("etag")).toBe('"1"');
    expect(created.res.headers.get("location")).toBe(`/v1/dashboards/${created.body.id}`);
    expect(created.body).toMatchObject({
      name: "Box office",
      description: "daily figures",
      is_default: false,
      filters: { range: "28d", timezone: "Europe/Berlin" },
      widgets: [widget()],
      version: 1,
      created_by: "editor-1",
    });
    const got = await call(T, "GET", `/v1/dashboards/${created.body.id}`, { roles: ["viewer"] });
    expect(got.status).toBe(200);
    expect(got.res.headers.get("etag")).toBe('"1"');
    expect(got.body).toEqual(created.body);
  });

  test("PUT without If-Match is 428, with a stale one 412 (current ETag in the answer), with the current one 200 and version + 1", async () => {
    const T = crypto.randomUUID();
    const { body: d } = await call(T, "POST", "/v1/dashboards", { body: dashboard() });
    const none = await call(T, "PUT", `/v1/dashboards/${d.id}`, { body: dashboard({ name: "A" }) });
    expect(none.status).toBe(428);
    const first = await call(T, "PUT", `/v1/dashboards/${d.id}`, { body: dashboard({ name: "B" }), headers: { "if-match": '"1"' } });
    expect(first.status).toBe(200);
    expect(first.res.headers.get("etag")).toBe('"2"');
    expect(first.body.name).toBe("B");
    // a second editor still holding version 1
    const stale = await call(T, "PUT", `/v1/dashboards/${d.id}`, { body: dashboard({ name: "C" }), headers: { "if-match": '"1"' } });
    expect(stale.status).toBe(412);
    expect(stale.res.headers.get("etag")).toBe('"2"');
    expect(stale.body.detail).toContain("changed since you read it");
    expect((await call(T, "GET", `/v1/dashboards/${d.id}`)).body.name).toBe("B");
    const weak = await call(T, "PUT", `/v1/dashboards/${d.id}`, { body: dashboard({ name: "D" }), headers: { "if-match": 'W/"2"' } });
    expect(weak.status).toBe(200);
    const any = await call(T, "PUT", `/v1/dashboards/${d.id}`, { body: dashboard({ name: "E" }), headers: { "if-match": "*" } });
    expect(any.body.version).toBe(4);
    const garbage = await call(T, "PUT", `/v1/dashboards/${d.id}`, { body: dashboard(), headers: { "if-match": "nonsense" } });
    expect(garbage.status).toBe(412);
  });

  test("DELETE needs the current ETag; then the dashboard is gone (404)", async () => {
    const T = crypto.randomUUID();
    const { body: d } = await call(T, "POST", "/v1/dashboards", { body: dashboard() });
    expect((await call(T, "DELETE", `/v1/dashboards/${d.id}`)).status).toBe(428);
    expect((await call(T, "DELETE", `/v1/dashboards/${d.id}`, { headers: { "if-match": '"7"' } })).status).toBe(412);
    const del = await call(T, "DELETE", `/v1/dashboards/${d.id}`, { headers: { "if-match": '"1"' } });
    expect(del.status).toBe(204);
    expect((await call(T, "GET", `/v1/dashboards/${d.id}`)).status).toBe(404);
    expect((await call(T, "PUT", `/v1/dashboards/${d.id}`, { body: dashboard(), headers: { "if-match": "*" } })).status).toBe(404);
  });

  test("lists are cursor pages: the default first, then oldest first; a foreign cursor is 400 naming cursor", async () => {
    const T = crypto.randomUUID();
    const names = ["one", "two", "three"];
    for (const name of names) expect((await call(T, "POST", "/v1/dashboards", { body: dashboard({ name }) })).status).toBe(201);
    const p1 = await call(T, "GET", "/v1/dashboards?limit=2");
    expect(p1.body.data.map((d: { name: string }) => d.name)).toEqual(["Overview", "one"]);
    expect(typeof p1.body.next_cursor).toBe("string");
    const p2 = await call(T, "GET", `/v1/dashboards?limit=2&cursor=${p1.body.next_cursor}`);
    expect(p2.body.data.map((d: { name: string }) => d.name)).toEqual(["two", "three"]);
    expect(p2.body.next_cursor).toBeNull();
    const bad = await call(T, "GET", "/v1/dashboards?cursor=abc");
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ path: "cursor", message: "not a cursor from this API" }]);
  });

  test("names and titles are plain text: markup is stored and returned exactly as sent", async () => {
    const T = crypto.randomUUID();
    const name = "<img src=x onerror=alert(1)>";
    const { status, body } = await call(T, "POST", "/v1/dashboards", {
      body: dashboard({ name, widgets: [widget({ title: '"><script>alert(2)</script>' })] }),
    });
    expect(status).toBe(201);
    expect(body.name).toBe(name);
    expect(body.widgets[0].title).toBe('"><script>alert(2)</script>');
  });
});

describe("validation: 400 problem+json naming the field", () => {
  async function errorsOf(body: unknown) {
    const r = await call(crypto.randomUUID(), "POST", "/v1/dashboards", { body });
    expect(r.status).toBe(400);
    expect(r.res.headers.get("content-type")).toBe("application/problem+json");
    return r.body.errors as Array<{ path: string; message: string }>;
  }

  test("a widget param is checked by its operation's own schema: widgets[2].params.bucket", async () => {
    const widgets = [
      widget({ id: "a" }),
      widget({ id: "b", position: 1 }),
      widget({ id: "c", operation: "getRevenueTimeseries", params: { bucket: "fortnight" }, viz: "line", position: 2 }),
    ];
    const errors = await errorsOf(dashboard({ widgets }));
    expect(errors.map((e) => e.path)).toEqual(["widgets[2].params.bucket"]);
    expect(errors[0]!.message).toContain("5m");
  });

  test("params the operation does not take, and from/to/timezone (the dashboard's), are refused", async () => {
    const errors = await errorsOf(dashboard({ widgets: [widget({ params: { bucket: "day", from: "2026-01-01T00:00:00Z" } })] }));
    expect(errors.map((e) => e.path).sort()).toEqual(["widgets[0].params.bucket", "widgets[0].params.from"]);
    expect(errors.find((e) => e.path.endsWith("bucket"))!.message).toContain("not a parameter of getRevenueSummary");
  });

  test("unknown operations, duplicate widget ids, bad viz, empty names, control characters and custom ranges without from", async () => {
    expect((await errorsOf(dashboard({ widgets: [widget({ operation: "ingestEvents" })] }))).map((e) => e.path)).toEqual([
      "widgets[0].operation",
    ]);
    expect((await errorsOf(dashboard({ widgets: [widget(), widget({ position: 1 })] }))).map((e) => e.path)).toEqual(["widgets[1].id"]);
    expect((await errorsOf(dashboard({ widgets: [widget({ viz: "pie" })] }))).map((e) => e.path)).toEqual(["widgets[0].viz"]);
    expect((await errorsOf(dashboard({ name: "  " }))).map((e) => e.path)).toEqual(["name"]);
    expect((await errorsOf(dashboard({ name: "a\u0007b" }))).map((e) => e.path)).toEqual(["name"]);
    expect((await errorsOf(dashboard({ filters: { range: "custom", to: "2026-01-01T00:00:00Z" } }))).map((e) => e.path)).toEqual([
      "filters.from",
    ]);
    expect((await errorsOf(dashboard({ filters: { range: "7d", timezone: "Mars/Olympus" } }))).map((e) => e.path)).toEqual([
      "filters.timezone",
    ]);
    expect((await errorsOf(dashboard({ surprise: 1 }))).map((e) => e.path)).toEqual(["(root)"]);
  });

  test("an id that is not a uuid is 400 naming id", async () => {
    const r = await call(crypto.randomUUID(), "GET", "/v1/dashboards/not-a-uuid");
    expect(r.status).toBe(400);
    expect(r.body.errors[0].path).toBe("id");
  });
});

describe("roles", () => {
  test("viewer, pricing_manager and ops read; only analyst and admin write; ingest does neither", async () => {
    const T = crypto.randomUUID();
    const { body: d } = await call(T, "POST", "/v1/dashboards", { body: dashboard(), roles: ["admin"] });
    for (const roles of [["viewer"], ["pricing_manager"], ["ops"]] as ApiRole[][]) {
      expect((await call(T, "GET", "/v1/dashboards", { roles })).status).toBe(200);
      expect((await call(T, "GET", `/v1/dashboards/${d.id}`, { roles })).status).toBe(200);
      expect((await call(T, "POST", "/v1/dashboards", { body: dashboard(), roles })).status).toBe(403);
      expect((await call(T, "PUT", `/v1/dashboards/${d.id}`, { body: dashboard(), roles, headers: { "if-match": "*" } })).status).toBe(403);
      expect((await call(T, "DELETE", `/v1/dashboards/${d.id}`, { roles, headers: { "if-match": "*" } })).status).toBe(403);
    }
    expect((await call(T, "GET", "/v1/dashboards", { roles: ["ingest"] })).status).toBe(403);
    expect(
      (
        await call(T, "PUT", `/v1/dashboards/${d.id}`, {
          body: dashboard({ name: "by analyst" }),
          roles: ["analyst"],
          headers: { "if-match": '"1"' },
        })
      ).status,
    ).toBe(200);
  });
});

describe("tenancy (row-level security)", () => {
  test("another tenant's dashboard is 404 to read, write and delete, and never in its list", async () => {
    const A = crypto.randomUUID();
    const B = crypto.randomUUID();
    const { body: d } = await call(A, "POST", "/v1/dashboards", { body: dashboard({ name: "A's secret board" }) });
    expect((await call(B, "GET", `/v1/dashboards/${d.id}`)).status).toBe(404);
    expect((await call(B, "GET", `/v1/dashboards/${d.id}/data`)).status).toBe(404);
    expect(
      (await call(B, "PUT", `/v1/dashboards/${d.id}`, { body: dashboard({ name: "hijacked" }), headers: { "if-match": "*" } })).status,
    ).toBe(404);
    expect((await call(B, "DELETE", `/v1/dashboards/${d.id}`, { headers: { "if-match": "*" } })).status).toBe(404);
    const list = await call(B, "GET", "/v1/dashboards?limit=100");
    expect(JSON.stringify(list.body)).not.toContain("A's secret board");
    expect((await call(A, "GET", `/v1/dashboards/${d.id}`)).body.name).toBe("A's secret board");
  });

  test("in the database: a tenant transaction sees no other tenant's rows and cannot write one", async () => {
    const A = crypto.randomUUID();
    const B = crypto.randomUUID();
    await call(A, "POST", "/v1/dashboards", { body: dashboard() });
    const seen = await withTenant(
      deps.sql,
      B,
      (tx) => tx<{ n: number }[]>`select count(*)::int as n from dashboards where tenant_id = ${A}`,
    );
    expect(seen[0]!.n).toBe(0);
    const write = withTenant(
      deps.sql,
      B,
      (tx) =>
        tx`insert into dashboards (tenant_id, id, name, filters, widgets, created_by, updated_by) values (${A}, ${crypto.randomUUID()}, 'x', '{}', '[]', 'x', 'x')`,
    );
    await expect(write).rejects.toThrow(/row-level security/);
    const rls = await deps.sql<{ relforcerowsecurity: boolean }[]>`select relforcerowsecurity from pg_class where relname = 'dashboards'`;
    expect(rls[0]!.relforcerowsecurity).toBe(true);
  });
});
