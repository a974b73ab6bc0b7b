/**
 * The dashboards API: saved dashboards (CRUD with ETag / If-Match), the data of all their widgets in one
 * call (data.ts) and its live stream (live.ts). Roles: readers read; analyst and admin write
 * (src/http/roles.ts). The default dashboard (defaults.ts) is created on a tenant's first list.
 * About 330 lines: seven operations, each a createRoute with its description and a short handler.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { TxSql } from "../db/client.ts";
import { withTenant } from "../db/tenant.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpProblem, problem, problemResponses } from "../http/problem.ts";
import { decodeCursor, encodeCursor } from "../http/query.ts";
import { readContext } from "../analytics/shared/read.ts";
import {
  DashboardData,
  DashboardInput,
  DashboardPage,
  DashboardSchema,
  DataQuery,
  IdParams,
  IfMatchHeaders,
  ListCursor,
  ListQuery,
} from "./dashboards.schemas.ts";
import { deleteDashboard, ensureDefault, getDashboard, insertDashboard, listDashboards, updateDashboard } from "./dashboards.queries.ts";
import { dashboardData } from "./data.ts";
import { DEFAULT_DASHBOARD } from "./defaults.ts";
import { liveStream } from "./live.ts";
import { cachedDashboard, forgetDashboard } from "./store.ts";

const problemContent = problemResponses[400].content;
const notFound = { 404: { description: "No dashboard with this id in your tenant", content: problemContent } };
const preconditions = {
  412: {
    description: "If-Match names another version: someone changed the dashboard since you read it (the ETag header has the current one)",
    content: problemContent,
  },
  428: { description: "If-Match is missing: send the ETag you read (or * to overwrite whatever is there)", content: problemContent },
};
const etag = { ETag: { description: 'the dashboard\'s version, quoted ("3")', schema: { type: "string" as const } } };
const tags = ["dashboards"];
const WIDGETS_RULES =
  "A widget is {id, title, operation (an analytics operationId), params, viz: kpi | line | bar | table | funnel, position}. Its " +
  "params are checked by the operation's own query schema (400 naming e.g. `widgets[2].params.bucket`); from, to and timezone come " +
  "from the dashboard's filters (range today | 7d | 28d | 90d: whole local days in `timezone` ending today; custom: from/to), and so " +
  "do channel and currency unless the widget sets them; a line or bar widget without a bucket gets hour (≤ 2 days), day (≤ 60 days) " +
  "or week. Names, descriptions and titles are plain text. At most 24 widgets.";

const listRoute = createRoute({
  method: "get",
  path: "/v1/dashboards",
  operationId: "listDashboards",
  tags,
  summary: "Your tenant's dashboards: the default first, then oldest first",
  description:
    "Cursor pages ({data, next_cursor}). The first read of a tenant creates its default dashboard (revenue, sales growth, funnel, " +
    "items, channels, the last hour, customers): editable, not deletable. Roles: every reader.",
  request: { query: ListQuery },
  responses: {
    200: { description: "a page of dashboards", content: { "application/json": { schema: DashboardPage } } },
    ...problemResponses,
  },
});

const createRouteDef = createRoute({
  method: "post",
  path: "/v1/dashboards",
  operationId: "createDashboard",
  tags,
  summary: "Save a new dashboard",
  description: `${WIDGETS_RULES} Answers 201 with the dashboard, its Location and ETag. Roles: analyst, admin.`,
  request: { body: { required: true, content: { "application/json": { schema: DashboardInput } } } },
  responses: {
    201: { description: "created", headers: etag, content: { "application/json": { schema: DashboardSchema } } },
    ...problemResponses,
  },
});

const getRouteDef = createRoute({
  method: "get",
  path: "/v1/dashboards/{id}",
  operationId: "getDashboard",
  tags,
  summary: "One dashboard, with its ETag",
  description: "Roles: every reader. Send the ETag back as If-Match when you update or delete it.",
  request: { params: IdParams },
  responses: {
    200: { description: "the dashboard", headers: etag, content: { "application/json": { schema: DashboardSchema } } },
    ...notFound,
    ...problemResponses,
  },
});

const updateRouteDef = createRoute({
  method: "put",
  path: "/v1/dashboards/{id}",
  operationId: "updateDashboard",
  tags,
  summary: "Replace a dashboard's name, description, filters and widgets (If-Match required)",
  description:
    'Optimistic concurrency: If-Match must name the version you read ("3"; * for any): 428 without it, 412 when the dashboard ' +
    `changed since (reload, then apply your change again). The version goes up by one. ${WIDGETS_RULES} Roles: analyst, admin.`,
  request: {
    params: IdParams,
    headers: IfMatchHeaders,
    body: { required: true, content: { "application/json": { schema: DashboardInput } } },
  },
  responses: {
    200: { description: "the updated dashboard", headers: etag, content: { "application/json": { schema: DashboardSchema } } },
    ...notFound,
    ...preconditions,
    ...problemResponses,
  },
});

const deleteRouteDef = createRoute({
  method: "delete",
  path: "/v1/dashboards/{id}",
  operationId: "deleteDashboard",
  tags,
  summary: "Delete a dashboard (If-Match required; never the default)",
  description:
    "If-Match as for updates (428 without it, 412 when stale). The default dashboard cannot be deleted (409): edit it instead. Roles: " +
    "analyst, admin.",
  request: { params: IdParams, headers: IfMatchHeaders },
  responses: {
    204: { description: "deleted" },
    ...notFound,
    409: { description: "The default dashboard cannot be deleted", content: problemContent },
    ...preconditions,
    ...problemResponses,
  },
});

const dataRouteDef = createRoute({
  method: "get",
  path: "/v1/dashboards/{id}/data",
  operationId: "getDashboardData",
  tags,
  summary: "Every widget's answer in one call",
  description:
    "Each widget is read exactly as its `href` would be through the API (the same cached read path), concurrently (at most " +
    "DASHBOARD_CONCURRENCY at once). A widget that fails gets status `error` with the problem the API would answer (e.g. 400 for too " +
    "many buckets over the range); one without an answer after DASHBOARD_WIDGET_TIMEOUT_MS gets status `timeout`; the others still " +
    "answer. The query overrides the stored filters for this view only (from/to imply range=custom). Roles: every reader.",
  request: { params: IdParams, query: DataQuery },
  responses: {
    200: { description: "the widgets' answers in position order", content: { "application/json": { schema: DashboardData } } },
    ...notFound,
    ...problemResponses,
  },
});

const liveRouteDef = createRoute({
  method: "get",
  path: "/v1/dashboards/{id}/live",
  operationId: "streamDashboardData",
  tags,
  summary: "Server-sent events: the dashboard's data again whenever your data changes",
  description:
    "text/event-stream. `event: data` carries the getDashboardData JSON (same query) at once and again after each change of your " +
    "tenant's data (every ingest commit), at most every DASHBOARD_LIVE_MIN_INTERVAL_MS, with the data generation as `id`; a `: " +
    "heartbeat` comment after DASHBOARD_LIVE_HEARTBEAT_MS without one; `event: error` {status, detail} when an update fails (the next " +
    "change tries again); `event: gone` when the dashboard is deleted. Browsers: read it with fetch (streaming body) and the " +
    "Authorization header; EventSource cannot send it, and a token never belongs in a URL. Roles: every reader.",
  request: { params: IdParams, query: DataQuery },
  responses: {
    200: {
      description: "an endless text/event-stream",
      content: {
        "text/event-stream": {
          schema: z.string().openapi({ example: 'event: data\nid: 42\nretry: 3000\ndata: {"dashboard_id":"…","widgets":[…]}\n\n' }),
        },
      },
    },
    ...notFound,
    ...problemResponses,
  },
});

/** zod issue path → "widgets[2].params.bucket" */
export function bracketPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)), "") || "(root)";
}

/** validation failures of this feature's requests: 400 naming each field with bracketed indexes */
const hook = (
  result: { success: boolean; error?: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } },
  c: Context<AppEnv>,
) => {
  if (result.success || !result.error) return;
  const errors = result.error.issues.map((i) => ({ path: bracketPath(i.path), message: i.message }));
  return problem(c, 400, errors.map((e) => `${e.path}: ${e.message}`).join("; "), { errors }) as never;
};

/** the version an If-Match names (undefined for *); 428 without the header */
function ifMatch(header: string | undefined): number | undefined | "none" {
  if (header === undefined || header.trim() === "")
    throw new HttpProblem(428, "send If-Match with the ETag you read (or * to overwrite whatever is there)");
  const tags = header.split(",").map((t) => t.trim());
  if (tags.includes("*")) return undefined;
  const versions = tags.map((t) => /^(?:W\/)?"(\d{1,9})"$/.exec(t)?.[1]).filter((v): v is string => v !== undefined);
  return versions.length > 0 ? Number(versions[0]) : "none";
}

const etagOf = (version: number) => `"${version}"`;
const json = (c: Context<AppEnv>, text: string, status: 200 | 201, headers: Record<string, string> = {}) =>
  c.body(text, status, { "content-type": "application/json", ...headers }) as never;

/** tenants known to have their default dashboard (it is never deleted), so a list skips the insert */
const withDefault = new Set<string>();

function tenantTx<T>(c: Context<AppEnv>, fn: (tx: TxSql, tenantId: string) => Promise<T>): Promise<T> {
  const tenantId = c.get("principal").tenantId;
  return withTenant(c.get("deps").sql, tenantId, (tx) => fn(tx, tenantId));
}

/** from the database (`cached`: through store.ts, for the data and live reads) or 404 */
async function loadOr404(c: Context<AppEnv>, id: string, cached = false) {
  const d = cached
    ? await cachedDashboard(c.get("deps"), c.get("principal").tenantId, id)
    : await tenantTx(c, (tx, t) => getDashboard(tx, t, id));
  if (!d) throw new HttpProblem(404, "no dashboard with this id in your tenant");
  return d;
}

function stale(current: number): never {
  throw new HttpProblem(
    412,
    `the dashboard changed since you read it (it is at version ${current} now): reload it, then apply your change again`,
    {
      headers: { ETag: etagOf(current) },
    },
  );
}

export const dashboardsRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    listRoute,
    async (c) => {
      const q = c.req.valid("query");
      const cursor = q.cursor ? decodeCursor(q.cursor, ListCursor) : undefined;
      const after = cursor ? { d: cursor.d === 1, c: cursor.c, i: cursor.i } : undefined;
      if (q.cursor && !after)
        throw new HttpProblem(400, "cursor is not valid", { errors: [{ path: "cursor", message: "not a cursor from this API" }] });
      const page = await tenantTx(c, async (tx, t) => {
        if (!after && !withDefault.has(t)) {
          await ensureDefault(tx, t, DEFAULT_DASHBOARD, "pulse");
          if (withDefault.size >= 100_000) withDefault.clear();
          withDefault.add(t);
        }
        return listDashboards(tx, t, q.limit, after);
      });
      return c.json(
        { data: page.rows, next_cursor: page.last ? encodeCursor({ d: page.last.d ? 1 : 0, c: page.last.c, i: page.last.i }) : null },
        200,
      );
    },
    hook,
  )
  .openapi(
    createRouteDef,
    async (c) => {
      const body = c.req.valid("json");
      const d = await tenantTx(c, (tx, t) => insertDashboard(tx, t, body, c.get("principal").sub));
      return json(c, JSON.stringify(d), 201, { ETag: etagOf(d.version), Location: `/v1/dashboards/${d.id}` });
    },
    hook,
  )
  .openapi(
    getRouteDef,
    async (c) => {
      const d = await loadOr404(c, c.req.valid("param").id);
      return json(c, JSON.stringify(d), 200, { ETag: etagOf(d.version) });
    },
    hook,
  )
  .openapi(
    updateRouteDef,
    async (c) => {
      const version = ifMatch(c.req.valid("header")["if-match"]);
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const out = await tenantTx(c, (tx, t) =>
        version === "none"
          ? getDashboard(tx, t, id).then((d) => (d ? { stale: d.version } : { missing: true as const }))
          : updateDashboard(tx, t, id, version, body, c.get("principal").sub),
      );
      if ("missing" in out) throw new HttpProblem(404, "no dashboard with this id in your tenant");
      if ("stale" in out) stale(out.stale);
      await forgetDashboard(c.get("deps"), c.get("principal").tenantId, id);
      return json(c, JSON.stringify(out.ok), 200, { ETag: etagOf(out.ok.version) });
    },
    hook,
  )
  .openapi(
    deleteRouteDef,
    async (c) => {
      const version = ifMatch(c.req.valid("header")["if-match"]);
      const { id } = c.req.valid("param");
      const out = await tenantTx(c, (tx, t) => deleteDashboard(tx, t, id, version === "none" ? -1 : version));
      if ("missing" in out) throw new HttpProblem(404, "no dashboard with this id in your tenant");
      if ("isDefault" in out) throw new HttpProblem(409, "the default dashboard cannot be deleted; edit it instead");
      if ("stale" in out) stale(out.stale);
      await forgetDashboard(c.get("deps"), c.get("principal").tenantId, id);
      return c.body(null, 204);
    },
    hook,
  )
  .openapi(
    dataRouteDef,
    async (c) => {
      const d = await loadOr404(c, c.req.valid("param").id, true);
      const cfg = c.get("deps").config.dashboards;
      return json(
        c,
        await dashboardData(readContext(c), d, c.req.valid("query"), { concurrency: cfg.concurrency, timeoutMs: cfg.widgetTimeoutMs }),
        200,
      );
    },
    hook,
  )
  .openapi(
    liveRouteDef,
    async (c) => {
      const { id } = c.req.valid("param");
      const d = await loadOr404(c, id, true);
      const deps = c.get("deps");
      const tenantId = c.get("principal").tenantId;
      return liveStream(c, d, c.req.valid("query"), () => cachedDashboard(deps, tenantId, id)) as never;
    },
    hook,
  );
