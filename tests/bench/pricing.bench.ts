/**
 * bun run bench:pricing [--items N] [--events N] [--runs R] [--data-dir DIR]
 *
 *   (--data-dir DIR: the first run seeds into DIR and keeps it; later runs reuse it and skip step 1)
 *
 *   1. seeds a catalog of N items (default 5,000: 40 % ticketed shows with a capacity and a start in
 *      the next 1–60 days, 60 % products) and E (default 1,000,000) events for ONE tenant over the last
 *      45 days through the real ingest pipeline into a fresh embedded TimescaleDB: sessions of an item
 *      view, 35 % a cart, 60 % of carts an order of 1–2 lines (10 % in USD), items drawn with a skewed
 *      popularity and each with its own trend (rising, flat, falling); then runs the due TimescaleDB
 *      jobs once as the service would at start (compression of days older than 7, statistics, scores);
 *   2. times R (default 3) runs of the demand-score job (CALL run_job of refresh_demand_scores: every
 *      tenant, the whole scoring procedure) and prints seconds per run and per item, rows per reason,
 *      and the goal (a full run under 30 s). Exits 1 when a run scores fewer rows than catalog items.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { buildDeps, closeDeps } from "../../src/deps.ts";
import { createLogger } from "../../src/logger.ts";
import { mulberry32 } from "../helpers/random.ts";
import { engineChildPid, procCpuSeconds } from "./proc.ts";
import { flag } from "./cli.ts";
import { PipelineSeeder } from "./seeder.ts";

const ITEMS = flag("items", 5_000);
const EVENTS = flag("events", 1_000_000);
const RUNS = flag("runs", 3);
const DATA_DIR_FLAG = (() => {
  const i = process.argv.indexOf("--data-dir");
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (!v || v.startsWith("--")) throw new Error("--data-dir needs a directory");
  return v;
})();
const DAY = 86_400_000;
const fmt = (n: number) => n.toLocaleString("en-US");
const SPAN_DAYS = 45;
let TENANT: string = crypto.randomUUID();

interface Item {
  id: string;
  ticketed: boolean;
  price: number;
  capacity?: number;
  startsInDays?: number;
  /** time skew: u^trend of the span back from now (> 1: sales bunch up recently, rising; < 1: falling) */
  trend: number;
}

function catalog(r: () => number): Item[] {
  return Array.from({ length: ITEMS }, (_, i) => {
    const ticketed = i % 5 < 2;
    return {
      id: `item-${i}`,
      ticketed,
      price: 1000 + Math.floor(r() * 40) * 250,
      capacity: ticketed ? 200 + Math.floor(r() * 19) * 100 : undefined,
      startsInDays: ticketed ? 1 + Math.floor(r() * 60) : undefined,
      trend: [0.5, 1, 1, 2][Math.floor(r() * 4)]!,
    };
  });
}

async function seed(deps: Awaited<ReturnType<typeof buildDeps>>): Promise<{ seconds: number; events: number; rejected: number }> {
  const r = mulberry32(7);
  const items = catalog(r);
  const end = Date.now() - 60_000;
  const start = end - SPAN_DAYS * DAY;
  // popularity: item k drawn with weight 1/(k+10) (a long tail), through a cumulative table
  const weights = items.map((_, k) => 1 / (k + 10));
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  weights.reduce((acc, w, k) => (cumulative[k] = acc + w / total), 0);
  const pick = () => {
    const u = r();
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return items[lo]!;
  };
  let batch: Array<Record<string, unknown>> = items.map((it) => ({
    specversion: "1.0",
    id: `upsert-${it.id}`,
    source: "/bench-catalog",
    type: "item.upserted",
    time: new Date(start - DAY).toISOString(),
    tenantid: TENANT,
    data: {
      item_id: it.id,
      name: `Item ${it.id}`,
      category: ["concert", "theatre", "merch", "food"][Number(it.id.slice(5)) % 4],
      kind: it.ticketed ? "ticketed_event" : "product",
      currency: "EUR",
      base_price_minor: it.price,
      min_price_minor: Math.floor(it.price * 0.7),
      max_price_minor: Math.floor(it.price * 1.5),
      ...(it.ticketed ? { capacity: it.capacity, starts_at: new Date(end + it.startsInDays! * DAY).toISOString() } : {}),
    },
  }));
  const seeder = new PipelineSeeder(deps);
  let made = batch.length;
  let session = 0;
  const flush = async () => {
    await seeder.ingest(TENANT, batch);
    batch = [];
  };
  while (made < EVENTS) {
    const it = pick();
    const sid = `s-${session++}`;
    let t = end - Math.floor(r() ** it.trend * (end - start - 3_600_000)) - 3_600_000;
    const ev = (type: string, data: Record<string, unknown>) => {
      t += 5_000 + Math.floor(r() * 60_000);
      batch.push({
        specversion: "1.0",
        id: `${sid}-${type}`,
        source: "/bench",
        type,
        time: new Date(t).toISOString(),
        tenantid: TENANT,
        data,
      });
      made += 1;
    };
    ev("item.viewed", { session_id: sid, item_id: it.id });
    if (r() < 0.35 && made < EVENTS) {
      const currency = r() < 0.9 ? "EUR" : "USD";
      const qty = 1 + Math.floor(r() * 3);
      ev("cart.item_added", { session_id: sid, cart_id: `k-${sid}`, item_id: it.id, quantity: qty, unit_price_minor: it.price, currency });
      if (r() < 0.6 && made < EVENTS) {
        const lines = [{ item_id: it.id, quantity: qty, unit_price_minor: it.price }];
        const other = pick();
        if (r() < 0.3 && other.id !== it.id) lines.push({ item_id: other.id, quantity: 1, unit_price_minor: other.price });
        const totalMinor = lines.reduce((a, l) => a + l.quantity * l.unit_price_minor, 0);
        ev("order.completed", {
          order_id: `o-${sid}`,
          customer_id: `c-${Math.floor(r() * 50_000)}`,
          channel: "web",
          currency,
          lines,
          total_minor: totalMinor,
        });
      }
    }
    if (batch.length >= 1_000) await flush();
  }
  if (batch.length > 0) await flush();
  return seeder.result();
}

async function main(): Promise<void> {
  const dir = DATA_DIR_FLAG ?? mkdtempSync(join(tmpdir(), "pulse-bench-pricing-"));
  const marker = join(dir, "bench.json");
  const reuse = DATA_DIR_FLAG !== undefined && existsSync(marker);
  if (DATA_DIR_FLAG) mkdirSync(DATA_DIR_FLAG, { recursive: true });
  if (reuse) TENANT = (JSON.parse(readFileSync(marker, "utf8")) as { tenant: string }).tenant;
  const config = loadConfig({
    NODE_ENV: "production",
    EMBEDDED_DATA_DIR: join(dir, "db"),
    JWT_SECRET: "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
  });
  console.log(`bench:pricing — ${fmt(ITEMS)} items, ${fmt(EVENTS)} events, one tenant, embedded engine; ${RUNS} timed runs`);
  const deps = await buildDeps(config, { logger: createLogger({ level: "warn", format: "json" }), nats: false, runJobs: false });
  let failed = false;
  try {
    if (reuse) console.log(`reusing the data seeded earlier in ${dir} (tenant ${TENANT})`);
    else {
      const s = await seed(deps);
      console.log(
        `seeded ${fmt(s.events)} events in ${s.seconds.toFixed(1)} s (${fmt(Math.round(s.events / s.seconds))}/s), ${s.rejected} rejected`,
      );
      const j0 = performance.now();
      const tick = await deps.jobs.tick();
      const ran = tick.ran.map((x) => `${x.proc.split(".").pop()} ${(x.duration_ms / 1000).toFixed(1)} s${x.succeeded ? "" : " FAILED"}`);
      console.log(`ran the due TimescaleDB jobs once in ${((performance.now() - j0) / 1000).toFixed(1)} s: ${ran.join(", ")}`);
      if (DATA_DIR_FLAG) writeFileSync(marker, JSON.stringify({ tenant: TENANT, seeded_at: new Date().toISOString() }));
    }
    const [job] = await deps.sql<
      { job_id: number }[]
    >`select job_id from timescaledb_information.jobs where proc_name = 'refresh_demand_scores'`;
    if (!job) throw new Error("no refresh_demand_scores job");
    const [size] = await deps.sql<{ events: number; lines: number; compressed: number }[]>`
      select (select count(*) from events where tenant_id = ${TENANT})::int as events,
             (select count(*) from order_lines where tenant_id = ${TENANT})::int as lines,
             (select count(*) from timescaledb_information.chunks where hypertable_name = 'events' and is_compressed)::int as compressed`;
    console.log(`stored: ${fmt(size!.events)} events, ${fmt(size!.lines)} order lines (${size!.compressed} compressed event chunks)`);

    const enginePid = engineChildPid();
    const rows: string[][] = [];
    const seconds: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const cpu0 = enginePid ? procCpuSeconds(enginePid) : null;
      const t0 = performance.now();
      await deps.sql`call run_job(${job.job_id})`;
      const s = (performance.now() - t0) / 1000;
      const cpu1 = enginePid ? procCpuSeconds(enginePid) : null;
      seconds.push(s);
      const reasons = await deps.sql<{ reason: string; n: number }[]>`
        select reason, count(*)::int as n from demand_scores where tenant_id = ${TENANT} group by 1 order by 1`;
      const scored = reasons.reduce((a, x) => a + x.n, 0);
      if (scored < ITEMS) failed = true;
      rows.push([
        String(run),
        s.toFixed(2),
        ((s * 1000) / ITEMS).toFixed(3),
        cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0).toFixed(1) : "n/a",
        fmt(scored),
        reasons.map((x) => `${x.reason} ${x.n}`).join(", "),
      ]);
    }
    const head = ["run", "seconds", "ms per item", "engine CPU s", "rows", "rows by reason"];
    const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    console.log("");
    console.log(head.map((h, c) => h.padEnd(widths[c]!)).join("  │  "));
    console.log(widths.map((w) => "─".repeat(w)).join("──┼──"));
    for (const r of rows) console.log(r.map((x, c) => (c === 0 || c === 5 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join("  │  "));
    const best = Math.min(...seconds);
    const mean = seconds.reduce((a, b) => a + b, 0) / seconds.length;
    console.log("");
    console.log(
      `mean ${mean.toFixed(2)} s a run (${((mean * 1000) / ITEMS).toFixed(3)} ms an item), best ${best.toFixed(2)} s; ` +
        `goal: a full run under 30 s: ${mean < 30 ? "met" : "NOT met"}`,
    );
    const [sample] = await deps.sql`
        select item_id, currency, score::text, reason, confidence::text from demand_scores
         where tenant_id = ${TENANT} and reason = 'scored' order by demand_scores.score desc limit 1`;
    if (sample) console.log(`highest score: ${sample.item_id} ${sample.currency} ${sample.score} (confidence ${sample.confidence})`);
    if (failed) console.log("FAILED: a run scored fewer rows than catalog items");
  } finally {
    await closeDeps(deps);
    if (!DATA_DIR_FLAG) rmSync(dir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

await main();
