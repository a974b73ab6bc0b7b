/**
 * bun run bench:exports [--rows N] [--synthetic-rows M] [--formats csv,xlsx] [--data-dir DIR]
 *
 *   1. seeds N (default 1,000,000) scored customers of one tenant straight into customer_scores
 *      (generate_series on the owner connection: what the scoring job writes) in a fresh embedded
 *      TimescaleDB (--data-dir DIR: seeded once, reused by later runs);
 *   2. starts a private redis-server on a free port (the production set-up: answers cached in Redis,
 *      not in the worker's memory);
 *   3. per format: queues a listCustomers export (every row: pages of the format's PAGE_SIZES through
 *      the API's own answer function, src/exports/pages.ts) and runs the export worker in a child process
 *      (exports-worker.ts: `ExportWorker.drain()` with the service's deps) that reports rows, time,
 *      bytes and its peak RSS (getrusage maxrss);
 *   4. prints a table: rows/s, MB, seconds, worker peak RSS, and the time in the pages' database
 *      transactions (it overlaps the writing: the next page is read while one is written);
 *   5. the worker's own steps alone for M (default 1,000,000) rows of the same shape, without the
 *      database (pages made in memory as the objects a bulk reader gets → rows → format →
 *      local storage), in a child process: what the export machinery costs apart from the read path.
 * A listCustomers listing computes the currency populations (CLV inputs) once, with its first page;
 * every page then walks the primary key from its cursor (customers.queries.ts), so a full list costs
 * O(N) in the read path.
 * Goals (issue 17, 2 cores): CSV ≥ 50,000 rows/s, XLSX ≥ 20,000 rows/s, peak RSS < 300 MB.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSql } from "../../src/db/client.ts";
import { EmbeddedEngine } from "../../src/db/embedded/manager.ts";
import { migrate } from "../../src/db/migrate.ts";
import { createLogger } from "../../src/logger.ts";
import { freePort } from "../helpers/service.ts";
import { stringFlag } from "./cli.ts";

const ROWS = Number(stringFlag("rows") ?? 1_000_000);
if (!Number.isInteger(ROWS) || ROWS <= 0) throw new Error("--rows needs a positive integer");
const FORMATS = (stringFlag("formats") ?? "csv,xlsx").split(",").filter(Boolean);
const SYNTHETIC = Number(stringFlag("synthetic-rows") ?? 1_000_000);
const DATA_DIR = stringFlag("data-dir");
const logger = createLogger({ level: "warn", format: "json" });

const root = mkdtempSync(join(tmpdir(), "pulse-bench-exports-"));
const dataDir = DATA_DIR ?? join(root, "db");
mkdirSync(dataDir, { recursive: true });
const stateFile = join(dataDir, "..", `${dataDir.split("/").pop()}.bench-exports.json`);
const engine = new EmbeddedEngine({ dataDir, port: 0, logger, workMem: "64MB" });
await engine.start();
let sql = createSql(engine.url, { max: 1, statementTimeoutMs: 3_600_000, logger, embedded: true });
await migrate(sql, { logger });

let tenant: string;
const state = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as { tenant: string; rows: number }) : undefined;
if (state && state.rows === ROWS) {
  tenant = state.tenant;
  console.log(`reusing ${ROWS.toLocaleString("en")} customers of tenant ${tenant} in ${dataDir}`);
} else {
  tenant = crypto.randomUUID();
  const t0 = performance.now();
  const CHUNK = 100_000;
  for (let lo = 1; lo <= ROWS; lo += CHUNK) {
    const hi = Math.min(ROWS, lo + CHUNK - 1);
    await sql`
      insert into customer_scores (tenant_id, customer_id, currency, first_order_at, last_order_at,
                                   archived_orders, archived_net_minor, r_score, f_score, m_score, segment)
      select ${tenant}::uuid, 'cust-' || lpad(g::text, 8, '0'), case when g % 10 = 0 then 'USD' else 'EUR' end,
             now() - make_interval(days => 30 + g % 300), now() - make_interval(days => g % 200),
             1 + g % 9, (g % 977) * 131 - 20000, 1 + g % 5, 1 + (g / 5) % 5, 1 + (g / 25) % 5, customer_segment(1 + g % 5, 1 + (g / 5) % 5)
        from generate_series(${lo}::int, ${hi}::int) g`;
    process.stdout.write(`\rseeded ${hi.toLocaleString("en")} customers`);
  }
  await sql`analyze customer_scores`;
  console.log(`\nseed: ${ROWS.toLocaleString("en")} customers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (DATA_DIR) writeFileSync(stateFile, JSON.stringify({ tenant, rows: ROWS }));
}

const redisPort = await freePort();
const redis = spawn(
  "redis-server",
  ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory", "2gb"],
  { stdio: "ignore" },
);
await Bun.sleep(300);

interface Result {
  format: string;
  rows: number;
  seconds: number;
  bytes: number;
  peakRssMb: number;
  readSeconds: number;
  status: string;
  error: string | null;
}
function runWorker(env: Record<string, string>, format: string): Result {
  const child = spawnSync("bun", [new URL("./exports-worker.ts", import.meta.url).pathname], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = child.stdout.split("\n").find((l) => l.startsWith('{"bench"'));
  if (!line) throw new Error(`the worker printed no result (exit ${child.status}): ${child.stderr.slice(-3000)}`);
  const r = JSON.parse(line) as {
    rows: number;
    ms: number;
    bytes: number;
    maxRssKb: number;
    readMs: number;
    status: string;
    error: string | null;
  };
  return {
    format,
    rows: r.rows,
    seconds: r.ms / 1000,
    bytes: r.bytes,
    peakRssMb: r.maxRssKb / 1024,
    readSeconds: r.readMs / 1000,
    status: r.status,
    error: r.error,
  };
}

const results: Result[] = [];
const synthetic: Result[] = [];
try {
  for (const format of FORMATS) {
    const id = crypto.randomUUID();
    await sql`
      insert into export_jobs (id, tenant_id, created_by, operation, params, format, file_name)
      values (${id}, ${tenant}, 'bench', 'listCustomers', '{}'::jsonb, ${format}, ${`bench.${format}`})`;
    await sql.end({ timeout: 5 }); // the embedded engine serves one connection: the worker's
    spawnSync("redis-cli", ["-p", String(redisPort), "flushall"]); // each format reads every page afresh
    const exportsDir = join(root, `exports-${format}`);
    results.push(
      runWorker(
        {
          NODE_ENV: "production",
          DATABASE_URL: engine.url,
          DB_POOL_MAX: "1",
          MIGRATE_ON_START: "false",
          TIMESCALE_JOBS: "service",
          JWT_SECRET: "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
          REDIS_URL: `redis://127.0.0.1:${redisPort}`,
          EXPORTS_DIR: exportsDir,
          EXPORT_MAX_STORED_MB_PER_TENANT: "100000",
          DB_STATEMENT_TIMEOUT_MS: "600000",
          LOG_LEVEL: "warn",
          LOG_FORMAT: "json",
        },
        format,
      ),
    );
    sql = createSql(engine.url, { max: 1, statementTimeoutMs: 3_600_000, logger, embedded: true });
  }
  await sql.end({ timeout: 5 }).catch(() => undefined);
  await engine.stop();
  for (const format of FORMATS) {
    if (SYNTHETIC > 0)
      synthetic.push(
        runWorker(
          { BENCH_SYNTHETIC_ROWS: String(SYNTHETIC), BENCH_FORMAT: format, EXPORTS_DIR: join(root, `synthetic-${format}`) },
          format,
        ),
      );
  }
} finally {
  await sql.end({ timeout: 5 }).catch(() => undefined);
  redis.kill("SIGTERM");
  await engine.stop();
  if (!DATA_DIR) rmSync(root, { recursive: true, force: true });
  else for (const f of FORMATS) rmSync(join(root, `synthetic-${f}`), { recursive: true, force: true });
}

const GOALS: Record<string, number> = { csv: 50_000, xlsx: 20_000 };
function table(title: string, rows: Result[], readLabel: string): void {
  console.log("");
  console.log(title);
  console.log(`| format | status | rows | seconds | rows/s (goal) | MB | worker peak RSS (goal < 300 MB) | ${readLabel} s |`);
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    const rate = r.rows / r.seconds;
    const goal = GOALS[r.format] ?? 0;
    const cells = [
      r.format,
      `${r.status}${r.error ? ` (${r.error})` : ""}`,
      r.rows.toLocaleString("en"),
      r.seconds.toFixed(1),
      `${Math.round(rate).toLocaleString("en")} (${goal.toLocaleString("en")}) ${rate >= goal ? "✓" : "✗"}`,
      (r.bytes / 1048576).toFixed(1),
      `${r.peakRssMb.toFixed(0)} MB ${r.peakRssMb < 300 ? "✓" : "✗"}`,
      r.readSeconds.toFixed(1),
    ];
    console.log(`| ${cells.join(" | ")} |`);
  }
}
table(
  `end to end: listCustomers, ${ROWS.toLocaleString("en")} rows, embedded engine, Redis cache (2 cores)`,
  results,
  "page queries (overlapping the writing)",
);
if (synthetic.length > 0)
  table(
    `the worker's steps without the database: ${SYNTHETIC.toLocaleString("en")} listCustomers rows (pages as a bulk reader gets them → rows → ` +
      `format → local storage)`,
    synthetic,
    "making pages",
  );
