/**
 * Export jobs: validation (400 naming params.<field>, 422 for a PDF over EXPORT_PDF_MAX_ROWS), limits
 * per tenant (429 active jobs, 413 stored bytes, and a file that would pass the byte limit fails),
 * another tenant's id (404), the list, download states (409 / 410), DELETE, the queue's leases
 * (one claim per job; a lost lease never completes; abandoned after the last attempt ⇒ failed), the
 * expiry sweep (file deleted, row expired, gauges), and the XLSX sheet roll-over.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { Deps } from "../../../src/deps.ts";
import { claimJob, completeJob, failAbandoned, renewLease } from "../../../src/exports/exports.queries.ts";
import { xlsxWriter } from "../../../src/exports/formats/xlsx.ts";
import { layoutOf } from "../../../src/exports/layout.ts";
import { rowsOf } from "../../../src/exports/rows.ts";
import { createLocalStorage } from "../../../src/exports/storage/local.ts";
import { ExportSweep } from "../../../src/exports/sweep.ts";
import type { ExportWorker } from "../../../src/exports/worker.ts";
import { ingestAccepted, refreshAggregates } from "../../helpers/deps.ts";
import { orderCompleted } from "../../helpers/events.ts";
import { tempDir } from "../../helpers/tmp.ts";
import { type App, call, exportsApp, readXlsx, sheetRows } from "./helpers.ts";

let app: App;
let deps: Deps;
let worker: ExportWorker;
let dir: string;
const A = crypto.randomUUID();
const B = crypto.randomUUID();
const RANGE = { from: "2026-10-23T00:00:00+02:00", to: "2026-10-27T00:00:00+01:00", bucket: "day", timezone: "Europe/Berlin" };
const order = (t: string, time: string, total: number) =>
  orderCompleted(
    t,
    { time },
    { lines: [{ item_id: "show-1", quantity: 1, unit_price_minor: total }], discount_minor: 0, total_minor: total },
  );

const create = (a: App, tenant: string, body: unknown) => call(a, tenant, "/v1/exports", { method: "POST", body });
const timeseries = (format = "csv") => ({ operation: "getRevenueTimeseries", params: RANGE, format });

beforeAll(async () => {
  dir = tempDir("exports-jobs");
  ({ app, deps, worker } = await exportsApp({}, createLocalStorage(dir)));
  // 4 daily buckets with orders (the PDF limit test needs more rows than 2)
  await ingestAccepted(
    deps,
    ["2026-10-23T10:00:00Z", "2026-10-24T10:00:00Z", "2026-10-25T11:00:00Z", "2026-10-26T11:00:00Z"].map((t, i) =>
      order(A, t, 1000 * (i + 1)),
    ),
  );
  await refreshAggregates(deps.sql, new Date("2026-10-20T00:00:00Z"), new Date("2026-10-30T00:00:00Z"));
}, 60_000);

describe("POST /v1/exports", () => {
  test("returns 202 with the job and its Location; 400 naming params.<field> for what the operation refuses", async () => {
    const ok = await create(app, A, timeseries());
    expect(ok.status).toBe(202);
    const job = (await ok.json()) as any;
    expect(ok.headers.get("location")).toBe(`/v1/exports/${job.id}`);
    expect(job).toMatchObject({
      operation: "getRevenueTimeseries",
      format: "csv",
      status: "queued",
      params: RANGE,
      progress: { rows_written: 0 },
      download_url: null,
    });
    await worker.drain();

    const missing = await create(app, A, { operation: "getRevenueTimeseries", params: { to: RANGE.to }, format: "csv" });
    expect(missing.status).toBe(400);
    expect(missing.headers.get("content-type")).toBe("application/problem+json");
    expect(((await missing.json()) as any).errors.map((e: any) => e.path)).toEqual(["params.from"]);

    // a range wider than ANALYTICS_MAX_SPAN_DAYS (400) is refused by the operation itself, at creation
    const wide = await create(app, A, {
      operation: "getRevenueSummary",
      params: { from: "2024-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z" },
      format: "xlsx",
    });
    expect(wide.status).toBe(400);
    expect(((await wide.json()) as any).errors).toEqual([
      { path: "params.to", message: "the range may span at most 400 days (ANALYTICS_MAX_SPAN_DAYS)" },
    ]);

    const unknown = await create(app, A, { operation: "ingestEvents", params: {}, format: "csv" });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as any).errors[0].path).toBe("operation");
    expect((await create(app, A, { ...timeseries(), format: "docx" })).status).toBe(400);
  });

  test("a PDF with more rows than EXPORT_PDF_MAX_ROWS is a 422 that suggests CSV", async () => {
    const { app: small } = await exportsApp({ EXPORT_PDF_MAX_ROWS: "3" }, createLocalStorage(dir));
    const res = await create(small, A, timeseries("pdf"));
    expect(res.status).toBe(422);
    const p = (await res.json()) as any;
    expect(p.detail).toContain("more than 3 rows (EXPORT_PDF_MAX_ROWS); export it as csv");
    // 4 rows as CSV is fine
    expect((await create(small, A, timeseries("csv"))).status).toBe(202);
    await worker.drain();
  });

  test("limits: 429 past EXPORT_MAX_ACTIVE_JOBS_PER_TENANT (other tenants unaffected), 413 past the stored bytes", async () => {
    const T = crypto.randomUUID();
    const { app: limited } = await exportsApp(
      { EXPORT_MAX_ACTIVE_JOBS_PER_TENANT: "2", EXPORT_MAX_STORED_MB_PER_TENANT: "1" },
      createLocalStorage(dir),
    );
    const body = { operation: "getChurnRisk", params: {}, format: "csv" };
    expect((await create(limited, T, body)).status).toBe(202);
    expect((await create(limited, T, body)).status).toBe(202);
    const third = await create(limited, T, body);
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toBe("30");
    expect(((await third.json()) as any).detail).toContain("EXPORT_MAX_ACTIVE_JOBS_PER_TENANT is 2");
    expect((await create(limited, crypto.randomUUID(), body)).status).toBe(202);
    await worker.drain();
    // both written: the slots are free again
    expect((await create(limited, T, body)).status).toBe(202);
    await worker.drain();
    // stored bytes at the limit (1 MB = 1,048,576): as if the tenant's files had grown that large
    await deps.sql`
      update export_jobs set size_bytes = 1048576
       where tenant_id = ${T} and id = (select id from export_jobs where tenant_id = ${T} limit 1)`;
    const full = await create(limited, T, body);
    expect(full.status).toBe(413);
    expect(((await full.json()) as any).detail).toContain("EXPORT_MAX_STORED_MB_PER_TENANT");
  });

  test.each([
    ["getChurnRisk", "written in process"],
    ["listCustomers", "a list: written on the writer thread"],
  ])("a file that would take the tenant past its stored bytes fails with that reason (%s, %s)", async (operation) => {
    const T = crypto.randomUUID();
    const { app: limited, worker: w } = await exportsApp({ EXPORT_MAX_STORED_MB_PER_TENANT: "1" }, createLocalStorage(dir));
    const first = (await (await create(limited, T, { operation: "getChurnRisk", params: {}, format: "csv" })).json()) as any;
    await w.drain();
    // 1,048,576 − 10 bytes stored: a CSV with its header line (> 10 bytes) does not fit
    await deps.sql`update export_jobs set size_bytes = 1048566 where id = ${first.id}`;
    const second = (await (await create(limited, T, { operation, params: {}, format: "csv" })).json()) as any;
    await w.drain();
    const job = (await (await call(limited, T, `/v1/exports/${second.id}`)).json()) as any;
    expect(job.status).toBe("failed");
    expect(job.error).toContain("EXPORT_MAX_STORED_MB_PER_TENANT");
    expect(existsSync(join(dir, T, second.id))).toBe(false);
  });
});

describe("GET, list, download and DELETE", () => {
  test("another tenant's export id is a 404 problem+json for GET, download and DELETE, and never listed", async () => {
    const job = (await (await create(app, A, timeseries())).json()) as any;
    await worker.drain();
    for (const [method, path] of [
      ["GET", `/v1/exports/${job.id}`],
      ["GET", `/v1/exports/${job.id}/download`],
      ["DELETE", `/v1/exports/${job.id}`],
    ] as const) {
      const res = await call(app, B, path, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    const list = (await (await call(app, B, "/v1/exports")).json()) as any;
    expect(list).toEqual({ data: [], next_cursor: null });
    expect((await call(app, A, `/v1/exports/${job.id}/download`)).status).toBe(200);
    expect((await call(app, A, "/v1/exports/not-a-uuid/download")).status).toBe(400);
  });

  test("the list pages newest first with next_cursor and filters by status", async () => {
    const T = crypto.randomUUID();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(((await (await create(app, T, { operation: "getChurnRisk", params: {}, format: "csv" })).json()) as any).id);
    const p1 = (await (await call(app, T, "/v1/exports?limit=2")).json()) as any;
    expect(p1.data.map((j: any) => j.id)).toEqual([ids[2], ids[1]]);
    const p2 = (await (await call(app, T, `/v1/exports?limit=2&cursor=${p1.next_cursor}`)).json()) as any;
    expect(p2).toMatchObject({ data: [{ id: ids[0] }], next_cursor: null });
    expect(((await (await call(app, T, "/v1/exports?status=succeeded")).json()) as any).data).toEqual([]);
    expect((await call(app, T, "/v1/exports?cursor=bogus")).status).toBe(400);
    await worker.drain();
    expect(((await (await call(app, T, "/v1/exports?status=succeeded")).json()) as any).data.length).toBe(3);
  });

  test("download: 409 while queued, 200 once written, DELETE removes the row and the file (then 404)", async () => {
    const job = (await (await create(app, A, timeseries("xlsx"))).json()) as any;
    const early = await call(app, A, `/v1/exports/${job.id}/download`);
    expect(early.status).toBe(409);
    expect(((await early.json()) as any).detail).toContain("not written yet (status queued)");
    await worker.drain();
    expect((await call(app, A, `/v1/exports/${job.id}/download`)).status).toBe(200);
    expect(readdirSync(join(dir, A, job.id))).toEqual(["1.xlsx"]);
    expect((await call(app, A, `/v1/exports/${job.id}`, { method: "DELETE" })).status).toBe(204);
    expect(existsSync(join(dir, A, job.id))).toBe(false);
    expect((await call(app, A, `/v1/exports/${job.id}`)).status).toBe(404);
  });
});

describe("the queue", () => {
  test("a job is claimed once; a worker that lost its lease (deleted job, or lease taken after it ran out) changes nothing", async () => {
    const T = crypto.randomUUID();
    const job = (await (await create(app, T, { operation: "getChurnRisk", params: {}, format: "csv" })).json()) as any;
    const lease = { leaseSeconds: 30, maxAttempts: 3 };
    const first = await claimJob(deps.sql, { worker: "w1", ...lease });
    expect(first?.id).toBe(job.id);
    expect(first?.attempts).toBe(1);
    expect(await claimJob(deps.sql, { worker: "w2", ...lease })).toBeUndefined();
    // w1 dies: its lease runs out, w2 claims the job again
    await deps.sql`update export_jobs set lease_until = now() - interval '1 second' where id = ${job.id}`;
    const again = await claimJob(deps.sql, { worker: "w2", ...lease });
    expect(again).toMatchObject({ id: job.id, attempts: 2, lease_owner: "w2" });
    expect(await renewLease(deps.sql, job.id, "w1", 30, { rowsWritten: 1, rowsTotal: null })).toBe(false);
    expect(await completeJob(deps.sql, job.id, "w1", { storageKey: "x", size: 1, rows: 1, ttlHours: 1 })).toBe(false);
    expect(await renewLease(deps.sql, job.id, "w2", 30, { rowsWritten: 5, rowsTotal: null })).toBe(true);
    // deleted while w2 writes: its renewal fails (it stops and drops its upload)
    expect((await call(app, T, `/v1/exports/${job.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await renewLease(deps.sql, job.id, "w2", 30, { rowsWritten: 6, rowsTotal: null })).toBe(false);
  });

  test("a job whose lease ran out after its last attempt fails with the reason", async () => {
    const T = crypto.randomUUID();
    const job = (await (await create(app, T, { operation: "getChurnRisk", params: {}, format: "csv" })).json()) as any;
    await deps.sql`
      update export_jobs set status = 'running', attempts = 3, lease_owner = 'gone', lease_until = now() - interval '1 second'
       where id = ${job.id}`;
    expect(await failAbandoned(deps.sql, 3, 24)).toBeGreaterThanOrEqual(1);
    const got = (await (await call(app, T, `/v1/exports/${job.id}`)).json()) as any;
    expect(got).toMatchObject({ status: "failed", error: "the export was interrupted 3 times (its worker stopped while writing it)" });
    expect((await call(app, T, `/v1/exports/${job.id}/download`)).status).toBe(409);
  });
});

describe("expiry", () => {
  test("the sweep deletes expired files, marks the jobs expired (download 410) and sets the gauges", async () => {
    const T = crypto.randomUUID();
    const job = (await (await create(app, T, { operation: "getChurnRisk", params: {}, format: "csv" })).json()) as any;
    await worker.drain();
    const done = (await (await call(app, T, `/v1/exports/${job.id}`)).json()) as any;
    // expires_at = finished_at + EXPORT_TTL_HOURS (24)
    expect(Date.parse(done.expires_at) - Date.parse(done.finished_at)).toBe(24 * 3_600_000);
    expect(existsSync(join(dir, T, job.id, "1.csv"))).toBe(true);
    // as if 24 hours had passed
    await deps.sql`update export_jobs set expires_at = now() - interval '1 second' where id = ${job.id}`;
    await new ExportSweep(deps).tick();
    expect(existsSync(join(dir, T, job.id))).toBe(false);
    const after = (await (await call(app, T, `/v1/exports/${job.id}`)).json()) as any;
    expect(after).toMatchObject({ status: "expired", download_url: null });
    const gone = await call(app, T, `/v1/exports/${job.id}/download`);
    expect(gone.status).toBe(410);
    expect(gone.headers.get("content-type")).toBe("application/problem+json");
    const metrics = await deps.metrics.registry.getMetricsAsJSON();
    const jobs = metrics.find((m) => m.name === "pulse_export_jobs")!.values as Array<{ labels: { status: string }; value: number }>;
    const [row] = await deps.sql`select count(*)::int as n from export_jobs where status = 'expired'`;
    expect(jobs.find((v) => v.labels.status === "expired")!.value).toBe(row!.n);
    const [bytes] = await deps.sql`select coalesce(sum(size_bytes), 0)::bigint as b from export_jobs where status = 'succeeded'`;
    expect(metrics.find((m) => m.name === "pulse_export_storage_bytes")!.values[0]!.value).toBe(Number(bytes!.b));
  });
});

describe("XLSX sheet limit", () => {
  test("rows past the sheet limit continue on the next sheet, each with the header", async () => {
    const body = {
      as_of: "2026-01-01T00:00:00.000Z",
      watermark: null,
      data: [1, 2, 3, 4, 5, 6, 7].map((n) => ({ segment: "new", currency: "EUR", customers: n, net_minor: n * 100 })),
    };
    const layout = layoutOf("getRfmSegments", body);
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on("data", (c: Buffer) => chunks.push(c));
    const meta = {
      operation: "getRfmSegments",
      title: "t",
      tenantId: A,
      params: {},
      timezone: "UTC",
      asOf: body.as_of,
      watermark: null,
      scoredAt: null,
      generatedAt: body.as_of,
    };
    const w = xlsxWriter({ out, meta, maxRowsPerSheet: 3 });
    await w.begin(layout.tables[0]!, true);
    await w.rows(rowsOf(layout.tables[0]!, body, "UTC"));
    await w.end();
    const wb = await readXlsx(new Uint8Array(Buffer.concat(chunks)));
    // 3 rows per sheet, the header included: 2 data rows each ⇒ 7 rows on 4 sheets (2 + 2 + 2 + 1)
    expect(wb.worksheets.map((s) => s.name)).toEqual(["data", "data (2)", "data (3)", "data (4)", "parameters"]);
    const all = wb.worksheets.slice(0, 4).map(sheetRows);
    for (const rows of all) expect(rows[0]).toEqual(["segment", "currency", "customers", "net_minor", "net_major"]);
    expect(all.flatMap((rows) => rows.slice(1).map((r) => r[2]))).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});
