/** Request and answer schemas of the export operations (exports.routes.ts); the job's JSON view. */
import { z } from "@hono/zod-openapi";
import { analyticsOperations } from "../analytics/registry.ts";
import type { ExportJobRow } from "./exports.queries.ts";
import { FORMATS } from "./formats/writer.ts";

const OPERATION_IDS = [...analyticsOperations.keys()] as [string, ...string[]];
export const STATUSES = ["queued", "running", "succeeded", "failed", "expired"] as const;

const paramValue = z.union([z.string().max(512), z.number(), z.boolean()]);

export const CreateExportBody = z
  .object({
    operation: z
      .enum(OPERATION_IDS)
      .openapi({ description: "the operationId of an analytics read (GET /v1/…)", example: "getRevenueTimeseries" }),
    params: z
      .record(z.string().max(64), paramValue)
      .default({})
      .refine((p) => Object.keys(p).length <= 32, { message: "at most 32 parameters" })
      .openapi({
        description:
          "that operation's query parameters, as in its query string (validated by its own schema: a 400 names `params.<field>`). " +
          "`cursor` and `limit` of list operations are ignored: every row is exported.",
        example: { from: "2026-03-01T00:00:00+01:00", to: "2026-04-01T00:00:00+02:00", bucket: "day", timezone: "Europe/Berlin" },
      }),
    format: z
      .enum(FORMATS)
      .openapi({ description: "csv (RFC 4180), xlsx (Excel) or pdf (at most EXPORT_PDF_MAX_ROWS rows)", example: "csv" }),
  })
  .strict()
  .openapi("CreateExport", {
    example: {
      operation: "getRevenueTimeseries",
      params: { from: "2026-03-01T00:00:00+01:00", to: "2026-04-01T00:00:00+02:00", bucket: "day", timezone: "Europe/Berlin" },
      format: "csv",
    },
  });

export const ExportIdParam = z.object({
  id: z
    .uuid()
    .openapi({ param: { name: "id", in: "path" }, description: "the export's id", example: "6f1c2f0e-4a7b-4a59-9a53-0c6de3f2b9a1" }),
});

export const ListExportsQuery = z.object({
  status: z.enum(STATUSES).optional().openapi({ description: "only exports in this status" }),
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ description: "page size (1–100)", example: 20 }),
  cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
});

const ts = (description: string) => z.string().nullable().openapi({ description, example: "2026-11-21T12:00:00.000Z" });

export const ExportJob = z
  .object({
    id: z.uuid(),
    operation: z.string().openapi({ example: "getRevenueTimeseries" }),
    params: z.record(z.string(), z.string()).openapi({ description: "the parameters as given (strings, as in a query string)" }),
    format: z.enum(FORMATS),
    status: z.enum(STATUSES).openapi({
      description: "queued → running → succeeded | failed; a finished export becomes expired at expires_at (its file is deleted)",
    }),
    progress: z.object({
      rows_written: z.number().int().openapi({ description: "rows of the main table written so far", example: 1500 }),
      rows_total: z
        .number()
        .int()
        .nullable()
        .openapi({ description: "rows in all, when known (list operations: once the last page is read)", example: 3000 }),
      percent: z.number().int().nullable().openapi({ description: "0–100 when the total is known", example: 50 }),
    }),
    size_bytes: z.number().int().nullable().openapi({ description: "the file's size once written", example: 48213 }),
    file_name: z.string().openapi({ example: "getRevenueTimeseries-20261121-1200.csv" }),
    attempts: z
      .number()
      .int()
      .openapi({ description: "how many times a worker started it (a worker that died mid-file is followed by another)" }),
    error: z.string().nullable().openapi({ description: "why it failed, else null" }),
    created_at: z.string().openapi({ example: "2026-11-21T12:00:00.000Z" }),
    started_at: ts("when a worker first started it"),
    finished_at: ts("when it succeeded or failed"),
    expires_at: ts("when its file is deleted (EXPORT_TTL_HOURS after it finished)"),
    download_url: z.string().nullable().openapi({
      description: "GET this for the file once succeeded, else null",
      example: "/v1/exports/6f1c2f0e-4a7b-4a59-9a53-0c6de3f2b9a1/download",
    }),
  })
  .openapi("ExportJob");

export const ExportPage = z.object({ data: z.array(ExportJob), next_cursor: z.string().nullable() }).openapi("ExportPage");

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function jobView(j: ExportJobRow): z.infer<typeof ExportJob> {
  const total = j.rows_total;
  const percent =
    j.status === "succeeded"
      ? 100
      : total !== null && total > 0
        ? Math.min(99, Math.floor((j.rows_written * 100) / total))
        : total === 0
          ? 0
          : null;
  return {
    id: j.id,
    operation: j.operation,
    params: j.params,
    format: j.format,
    status: j.status,
    progress: { rows_written: j.rows_written, rows_total: total, percent },
    size_bytes: j.size_bytes,
    file_name: j.file_name,
    attempts: j.attempts,
    error: j.error,
    created_at: j.created_at.toISOString(),
    started_at: iso(j.started_at),
    finished_at: iso(j.finished_at),
    expires_at: iso(j.expires_at),
    download_url: j.status === "succeeded" ? `/v1/exports/${j.id}/download` : null,
  };
}
