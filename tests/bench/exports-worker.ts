/**
 * The export worker of bench:exports, in its own process (so its peak RSS is its own), printing one
 * JSON line {"bench": true, rows, ms, bytes, maxRssKb, readMs, status, error}:
 * - default: the service's deps from the environment and ExportWorker.drain() over the queued jobs
 *   (readMs = database time of the pages read, from pulse_analytics_query_seconds);
 * - BENCH_SYNTHETIC_ROWS=N BENCH_FORMAT=csv|xlsx: the worker's own steps for N listCustomers rows
 *   without the database: pages of the format's PAGE_SIZES rows as objects (what a bulk reader's answer holds) →
 *   rows.ts → the format writer → the local storage driver (readMs = time making the pages).
 */
import { loadConfig } from "../../src/config.ts";
import { buildDeps, closeDeps } from "../../src/deps.ts";
import { loadWriter } from "../../src/exports/formats/writer.ts";
import { layoutOf } from "../../src/exports/layout.ts";
import { PAGE_SIZES } from "../../src/exports/pages.ts";
import { rowsOf } from "../../src/exports/rows.ts";
import { createLocalStorage } from "../../src/exports/storage/local.ts";
import { ExportWorker } from "../../src/exports/worker.ts";

function report(r: { rows: number; ms: number; bytes: number; readMs: number; status: string; error: string | null }): never {
  process.stdout.write(`${JSON.stringify({ bench: true, ...r, maxRssKb: process.resourceUsage().maxRSS })}\n`);
  process.exit(0);
}

const synthetic = Number(process.env.BENCH_SYNTHETIC_ROWS ?? 0);
if (synthetic > 0) {
  const format = process.env.BENCH_FORMAT === "xlsx" ? "xlsx" : "csv";
  const PAGE_SIZE = PAGE_SIZES[format];
  const dir = process.env.EXPORTS_DIR ?? "/tmp/pulse-bench-exports";
  const pageOf = (k: number) => ({
    as_of: "2026-12-04T00:00:00.000Z",
    watermark: "2026-12-03T23:59:00.000Z",
    scored_at: "2026-12-03T23:00:00.000Z",
    data: Array.from({ length: PAGE_SIZE }, (_, i) => {
      const g = k * PAGE_SIZE + i + 1;
      return {
        customer_id: `cust-${String(g).padStart(8, "0")}`,
        currency: g % 10 === 0 ? "USD" : "EUR",
        first_order_at: new Date(Date.UTC(2026, 0, 1) + (g % 300) * 86_400_000).toISOString(),
        last_order_at: new Date(Date.UTC(2026, 5, 1) + (g % 180) * 86_400_000).toISOString(),
        days_since_last_order: g % 200,
        orders: 1 + (g % 9),
        net_minor: (g % 977) * 131 - 20_000,
        r_score: 1 + (g % 5),
        f_score: 1 + (((g / 5) | 0) % 5),
        m_score: 1 + (((g / 25) | 0) % 5),
        segment: "potential_loyalist",
        churn_tier: g % 3 === 0 ? "high" : "low",
        clv_minor: (g % 977) * 262,
      };
    }),
    next_cursor: "x",
  });
  const storage = createLocalStorage(dir);
  const upload = await storage.create(`bench/synthetic/1.${format}`);
  const meta = {
    operation: "listCustomers",
    title: "bench",
    tenantId: "bench",
    params: {},
    timezone: "UTC",
    asOf: null,
    watermark: null,
    scoredAt: null,
    generatedAt: new Date().toISOString(),
  };
  const writer = (await loadWriter(format))({ out: upload.stream, meta });
  const started = performance.now();
  let readMs = 0;
  let rows = 0;
  let layout: ReturnType<typeof layoutOf> | undefined;
  let lastGc = 0;
  for (let k = 0; rows < synthetic; k++) {
    const t = performance.now();
    const body = pageOf(k);
    readMs += performance.now() - t;
    if (!layout) {
      layout = layoutOf("listCustomers", body, body.data);
      await writer.begin(layout.tables[layout.main]!, true);
    }
    const page = rowsOf(layout.tables[layout.main]!, body, "Europe/Berlin").slice(0, synthetic - rows);
    await writer.rows(page);
    rows += page.length;
    // what the worker does between pages (worker.ts collectIfLarge)
    if (process.memoryUsage.rss() > 160 * 1024 * 1024 && Date.now() - lastGc > 1_000) {
      lastGc = Date.now();
      Bun.gc(true);
    }
  }
  await writer.end();
  const bytes = await upload.commit();
  report({ rows, ms: performance.now() - started, bytes, readMs, status: "succeeded", error: null });
}

const config = loadConfig();
const deps = await buildDeps(config, { nats: false, runJobs: false });
const worker = new ExportWorker(deps);
const started = performance.now();
await worker.drain();
const ms = performance.now() - started;
const [job] = await deps.sql`select status, rows_written, size_bytes, error from export_jobs order by created_at desc limit 1`;
const metrics = await deps.metrics.registry.getMetricsAsJSON();
const read = (metrics.find((m) => m.name === "pulse_analytics_query_seconds")?.values ?? []).filter(
  (v) => (v as { metricName?: string }).metricName === "pulse_analytics_query_seconds_sum",
);
const readMs = read.reduce((s, v) => s + v.value * 1000, 0);
await closeDeps(deps);
report({
  rows: Number(job?.rows_written ?? 0),
  ms,
  bytes: Number(job?.size_bytes ?? 0),
  readMs,
  status: String(job?.status),
  error: (job?.error as string | null) ?? null,
});
