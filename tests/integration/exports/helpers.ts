/**
 * Shared by the export tests: an app whose exports are stored in a temp dir, a worker driven by hand
 * (drain: claim and write every queued job), requests as an analyst, and the parsers of each format.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import ExcelJS from "exceljs";
import type { Deps } from "../../../src/deps.ts";
import { createLocalStorage } from "../../../src/exports/storage/local.ts";
import { ExportWorker } from "../../../src/exports/worker.ts";
import { testApp, testConfig, token } from "../../helpers/deps.ts";
import { tempDir } from "../../helpers/tmp.ts";

export type App = Awaited<ReturnType<typeof testApp>>["app"];

export async function exportsApp(env: Record<string, string> = {}, storage = createLocalStorage(tempDir("exports"))) {
  const { app, deps } = await testApp({ exportStorage: storage, config: testConfig(env) });
  const worker = new ExportWorker(deps, { workerId: `test-${crypto.randomUUID().slice(0, 8)}` });
  return { app, deps: deps as Deps, worker };
}

export async function call(
  app: App,
  tenantId: string,
  path: string,
  init: { method?: string; body?: unknown; roles?: Array<"analyst" | "admin" | "viewer"> } = {},
) {
  const bearer = await token({ tenantId, roles: init.roles ?? ["analyst"] });
  const headers: Record<string, string> = { authorization: `Bearer ${bearer}` };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  return app.request(path, {
    method: init.method ?? "GET",
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
}

/** POST /v1/exports, run the worker, and download the file: its bytes and the job */
export async function exportFile(
  ctx: { app: App; worker: ExportWorker },
  tenantId: string,
  operation: string,
  params: Record<string, string>,
  format: "csv" | "xlsx" | "pdf",
) {
  const res = await call(ctx.app, tenantId, "/v1/exports", { method: "POST", body: { operation, params, format } });
  const created = (await res.json()) as { id: string; status: string };
  if (res.status !== 202) throw new Error(`createExport answered ${res.status}: ${JSON.stringify(created)}`);
  await ctx.worker.drain();
  const job = (await (await call(ctx.app, tenantId, `/v1/exports/${created.id}`)).json()) as Record<string, any>;
  const dl = await call(ctx.app, tenantId, `/v1/exports/${created.id}/download`);
  if (dl.status !== 200) throw new Error(`download answered ${dl.status}: ${await dl.text()} (job ${JSON.stringify(job)})`);
  return { job, res: dl, bytes: new Uint8Array(await dl.arrayBuffer()) };
}

/** the API's own answer (JSON) for the same parameters */
export async function apiJson(app: App, tenantId: string, path: string, params: Record<string, string>) {
  const res = await call(app, tenantId, `${path}?${new URLSearchParams(params)}`, { roles: ["viewer"] });
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
  return (await res.json()) as any;
}

export function parseCsv(bytes: Uint8Array): string[][] {
  return parse(Buffer.from(bytes), { bom: true, relax_column_count: false }) as string[][];
}

export async function readXlsx(bytes: Uint8Array): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(Buffer.from(bytes) as unknown as ArrayBuffer);
  return wb;
}

/** the values of a sheet's rows (1-based columns made 0-based) */
export function sheetRows(ws: ExcelJS.Worksheet): unknown[][] {
  const out: unknown[][] = [];
  ws.eachRow({ includeEmpty: false }, (row) => {
    const values = (row.values as unknown[]).slice(1);
    out.push(values.map((v) => (v === undefined ? null : v)));
  });
  return out;
}

/** the PDF's text (poppler's pdftotext, layout kept: one table row per line) */
export function pdfText(bytes: Uint8Array): string {
  const dir = tempDir("pdf");
  const file = join(dir, "x.pdf");
  writeFileSync(file, bytes);
  const r = spawnSync("pdftotext", ["-layout", "-enc", "UTF-8", file, "-"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`pdftotext failed: ${r.stderr}`);
  return r.stdout;
}

/** page 1 of a PDF rendered to PNG by poppler's pdftoppm: the PNG's bytes */
export function pdfPagePng(bytes: Uint8Array, dpi = 50): Uint8Array {
  const dir = tempDir("pdfpng");
  const file = join(dir, "x.pdf");
  writeFileSync(file, bytes);
  const r = spawnSync("pdftoppm", ["-png", "-r", String(dpi), "-f", "1", "-l", "1", "-singlefile", file, join(dir, "page")], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`pdftoppm failed: ${r.stderr}`);
  return new Uint8Array(readFileSync(join(dir, "page.png")));
}
