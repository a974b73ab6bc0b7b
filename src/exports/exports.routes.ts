/**
 * Exports: POST /v1/exports (createExport), GET /v1/exports (listExports), GET /v1/exports/{id}
 * (getExport), DELETE /v1/exports/{id} (deleteExport), GET /v1/exports/{id}/download (downloadExport).
 * Roles analyst and admin, the `export` rate-limit budget (src/http/roles.ts). A job is a row of your
 * tenant (forced RLS): another tenant's id is a 404. The file is written by a worker (worker.ts).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { findAnalyticsOperation } from "../analytics/registry.ts";
import { readContext } from "../analytics/shared/read.ts";
import { withTenant } from "../db/tenant.ts";
import type { AppEnv } from "../http/env.ts";
import { HttpProblem, problem, problemResponses, ProblemSchema } from "../http/problem.ts";
import { decodeCursor, encodeCursor } from "../http/query.ts";
import { deleteJob, getJob, insertJob, listJobs, lockTenantExports, tenantUsage } from "./exports.queries.ts";
import { CreateExportBody, ExportIdParam, ExportJob, ExportPage, jobView, ListExportsQuery } from "./exports.schemas.ts";
import { CONTENT_TYPES, type ExportFormat } from "./formats/writer.ts";
import { checkAnswers, countRows, paramStrings, validateParams } from "./pages.ts";

const problemJson = { "application/problem+json": { schema: ProblemSchema } };
const LIMITS =
  "Limits per tenant: EXPORT_MAX_ACTIVE_JOBS_PER_TENANT queued or running exports (429 beyond) and EXPORT_MAX_STORED_MB_PER_TENANT of " +
  "stored files (413 beyond: delete exports or wait for them to expire).";

const createRouteDef = createRoute({
  method: "post",
  path: "/v1/exports",
  operationId: "createExport",
  tags: ["exports"],
  summary: "Export an analytics answer as CSV, XLSX or PDF (a background job)",
  description:
    "Queues a file of what `operation` answers for `params` (validated by that operation's own query schema: a 400 names " +
    "`params.<field>`; " +
    "the first page is read at once, so a query the API would refuse is refused here). List operations are exported to their last row. " +
    `Answers 202 with the job and its Location; poll GET /v1/exports/{id}, then GET its download_url. A PDF of more than ` +
    `EXPORT_PDF_MAX_ROWS rows is a 422 (export CSV instead). ${LIMITS} ` +
    "Files are deleted EXPORT_TTL_HOURS after they are written. Columns, formats and limits: docs/exports.md. Roles: analyst, admin.",
  request: { body: { required: true, content: { "application/json": { schema: CreateExportBody } } } },
  responses: {
    202: { description: "queued", headers: z.object({ Location: z.string() }), content: { "application/json": { schema: ExportJob } } },
    422: { description: "a PDF with more rows than EXPORT_PDF_MAX_ROWS", content: problemJson },
    504: { description: "the operation's first page exceeded DB_STATEMENT_TIMEOUT_MS", content: problemJson },
    ...problemResponses,
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/exports",
  operationId: "listExports",
  tags: ["exports"],
  summary: "Your tenant's exports, newest first",
  description: "Pages of `limit` with `next_cursor`; optionally of one status. Roles: analyst, admin.",
  request: { query: ListExportsQuery },
  responses: { 200: { description: "a page of exports", content: { "application/json": { schema: ExportPage } } }, ...problemResponses },
});

const getRouteDef = createRoute({
  method: "get",
  path: "/v1/exports/{id}",
  operationId: "getExport",
  tags: ["exports"],
  summary: "An export's status and progress",
  description:
    "Status (queued, running, succeeded, failed, expired), rows written (and the total when known), size, expiry and error. Roles: " +
    "analyst, admin.",
  request: { params: ExportIdParam },
  responses: {
    200: { description: "the export", content: { "application/json": { schema: ExportJob } } },
    404: { description: "no export of your tenant has this id", content: problemJson },
    ...problemResponses,
  },
});

const deleteRouteDef = createRoute({
  method: "delete",
  path: "/v1/exports/{id}",
  operationId: "deleteExport",
  tags: ["exports"],
  summary: "Cancel an export, or delete it and its file",
  description:
    "Removes the export and its file. A running export stops at its worker's next lease renewal (what it wrote is dropped). Roles: " +
    "analyst, admin.",
  request: { params: ExportIdParam },
  responses: {
    204: { description: "deleted" },
    404: { description: "no export of your tenant has this id", content: problemJson },
    ...problemResponses,
  },
});

const binary = z.string().openapi({ format: "binary" });
const downloadRoute = createRoute({
  method: "get",
  path: "/v1/exports/{id}/download",
  operationId: "downloadExport",
  tags: ["exports"],
  summary: "The export's file",
  description:
    "Streams the file with its Content-Type and an attachment Content-Disposition. 409 while it is not written yet (or failed), 410 " +
    "once expired. Roles: analyst, admin.",
  request: { params: ExportIdParam },
  responses: {
    200: {
      description: "the file",
      content: {
        [CONTENT_TYPES.csv]: { schema: binary },
        [CONTENT_TYPES.xlsx]: { schema: binary },
        [CONTENT_TYPES.pdf]: { schema: binary },
      },
    },
    404: { description: "no export of your tenant has this id", content: problemJson },
    409: { description: "not written yet, or failed", content: problemJson },
    410: { description: "expired: the file was deleted", content: problemJson },
    ...problemResponses,
  },
});

const CursorShape = z.object({ t: z.string(), i: z.uuid() });

function fileName(operation: string, format: ExportFormat, at: Date): string {
  const stamp = at.toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");
  return `${operation}-${stamp}.${format}`;
}

const notFound = () => new HttpProblem(404, "no export of your tenant has this id");

export const exportsRoutes = new OpenAPIHono<AppEnv>()
  .openapi(createRouteDef, async (c) => {
    const deps = c.get("deps");
    const cfg = deps.config.exports;
    const principal = c.get("principal");
    const body = c.req.valid("json");
    const op = findAnalyticsOperation(body.operation)!;
    const params = paramStrings(body.params);
    validateParams(op, params);
    const checkLimits = (usage: { active: number; storedBytes: number }) => {
      if (usage.active >= cfg.maxActiveJobsPerTenant) {
        throw new HttpProblem(
          429,
          `your tenant has ${usage.active} exports queued or running (EXPORT_MAX_ACTIVE_JOBS_PER_TENANT is ` +
            `${cfg.maxActiveJobsPerTenant}); wait for one to finish`,
          {
            headers: { "Retry-After": "30" },
          },
        );
      }
      if (usage.storedBytes >= cfg.maxStoredBytesPerTenant) {
        throw new HttpProblem(
          413,
          `your tenant's stored exports hold ${usage.storedBytes} bytes (EXPORT_MAX_STORED_MB_PER_TENANT allows ` +
            `${cfg.maxStoredBytesPerTenant}); delete exports or wait for them to expire`,
        );
      }
    };
    checkLimits(await withTenant(deps.sql, principal.tenantId, tenantUsage));
    // run the operation now: its refusals are this request's, and a PDF's rows are counted
    const ctx = readContext(c);
    let rowsTotal: number | null = null;
    if (body.format === "pdf") {
      // a list's pages are read as a bulk reader (stored nowhere); a single answer is stored for the worker to find
      const n = await countRows(op, op.list ? { ...ctx, bulk: true } : ctx, params, cfg.pdfMaxRows);
      if (!n.complete) {
        throw new HttpProblem(422, `the PDF would hold more than ${cfg.pdfMaxRows} rows (EXPORT_PDF_MAX_ROWS); export it as csv or xlsx`, {
          title: "Too many rows for a PDF",
        });
      }
      if (!op.list) rowsTotal = n.rows;
    } else {
      await checkAnswers(op, ctx, params);
    }
    const id = crypto.randomUUID();
    const job = await withTenant(deps.sql, principal.tenantId, async (tx) => {
      await lockTenantExports(tx, principal.tenantId);
      checkLimits(await tenantUsage(tx));
      return insertJob(tx, {
        id,
        tenantId: principal.tenantId,
        createdBy: principal.sub,
        operation: op.operationId,
        params,
        format: body.format,
        fileName: fileName(op.operationId, body.format, new Date()),
        rowsTotal,
      });
    });
    c.get("logger").info({ export_id: id, operation: op.operationId, format: body.format }, "export queued");
    return c.json(jobView(job), 202, { Location: `/v1/exports/${id}` });
  })
  .openapi(listRoute, async (c) => {
    const q = c.req.valid("query");
    let after: { createdAt: Date; id: string } | undefined;
    if (q.cursor !== undefined) {
      const v = decodeCursor(q.cursor, CursorShape);
      if (!v || !Number.isFinite(Date.parse(v.t))) {
        throw new HttpProblem(400, "cursor: not a next_cursor of this list", {
          errors: [{ path: "cursor", message: "not a next_cursor of listExports" }],
        });
      }
      after = { createdAt: new Date(v.t), id: v.i };
    }
    const rows = await withTenant(c.get("deps").sql, c.get("principal").tenantId, (tx) =>
      listJobs(tx, { limit: q.limit, status: q.status, after }),
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next = rows.length > q.limit && last ? encodeCursor({ t: last.created_at.toISOString(), i: last.id }) : null;
    return c.json({ data: page.map(jobView), next_cursor: next }, 200);
  })
  .openapi(getRouteDef, async (c) => {
    const { id } = c.req.valid("param");
    const job = await withTenant(c.get("deps").sql, c.get("principal").tenantId, (tx) => getJob(tx, id));
    if (!job) throw notFound();
    return c.json(jobView(job), 200);
  })
  .openapi(deleteRouteDef, async (c) => {
    const deps = c.get("deps");
    const { id } = c.req.valid("param");
    const tenantId = c.get("principal").tenantId;
    const gone = await withTenant(deps.sql, tenantId, (tx) => deleteJob(tx, id));
    if (!gone) throw notFound();
    await deps.exportStorage.removeJob(tenantId, id);
    c.get("logger").info({ export_id: id }, "export deleted");
    return c.body(null, 204);
  })
  .openapi(downloadRoute, async (c) => {
    const deps = c.get("deps");
    const { id } = c.req.valid("param");
    const job = await withTenant(deps.sql, c.get("principal").tenantId, (tx) => getJob(tx, id));
    if (!job) throw notFound();
    if (job.status === "expired")
      return problem(c, 410, `the export expired at ${job.expires_at?.toISOString()} and its file was deleted; create it again`);
    if (job.status === "failed") return problem(c, 409, `the export failed: ${job.error ?? "unknown error"}`);
    if (job.status !== "succeeded" || !job.storage_key)
      return problem(c, 409, `the export is not written yet (status ${job.status}); poll GET /v1/exports/${id}`);
    const file = await deps.exportStorage.open(job.storage_key);
    if (!file) return problem(c, 410, "the export's file is gone (expired); create it again");
    const ascii = job.file_name.replace(/[^A-Za-z0-9._-]/g, "_");
    // a binary stream: the route's typed responses describe JSON bodies only, hence the cast
    return c.body(file.body, 200, {
      "content-type": CONTENT_TYPES[job.format],
      "content-length": String(file.size),
      "content-disposition": `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(job.file_name)}`,
    }) as never;
  });
