/**
 * bun run bench:api [--events N] [--duration S] [--connections C] [--noise-tenants K] [--data-dir DIR] [--only hits|misses]
 *
 *   (--data-dir DIR: the first run seeds into DIR and keeps it, later runs reuse it and skip steps 1–2;
 *    --only hits: only the cache-hit run, without the one-at-a-time timings; --only misses: only the miss run)
 *
 *   1. seeds N (default 1,000,000) realistic events for ONE tenant over the last 60 days, plus 10 % as
 *      much for K (default 4) noise tenants, through the real ingest pipeline (validation, privacy,
 *      the one-statement batch write) into a fresh embedded TimescaleDB; prints the seed time;
 *   2. refreshes every continuous aggregate (5m → 1h → 1d), runs the due TimescaleDB jobs once
 *      (compression of the seeded days, customer scores, policies; as the service would at start) and
 *      prints the times and the size of events, order_lines and each aggregate;
 *   3. starts the service (`bun src/main.ts`, ROLE=api) as a child process on that data dir with the
 *      Redis cache (REDIS_URL, default redis://127.0.0.1:6379) and rate limiting off;
 *   4. drives C (default 100) concurrent connections for S (default 30) seconds with wrk (Debian's
 *      package, when installed: `apt-get install wrk`; a C client leaves more of the 2 cores to the
 *      service) or else autocannon, over a mix of the analytics read operations in /openapi.json:
 *        - cache hits: a fixed set of URLs, each computed afresh just before the clock starts (the
 *          tenant's generation is bumped first, so no answer can reach its TTL during the run);
 *        - cache misses: every request gets its own cache key: the 28-day range is shifted by whole
 *          hours (0–671) and the time zone (4 whole-hour zones) and bucket (day, week) vary, so the
 *          reads still come from the hourly aggregates, as a dashboard's would;
 *      and prints requests/s and p50/p95/p99 latency (from every response's own time), non-2xx count,
 *      and the service's cache hit/miss counters for the run; then the miss rate that the one engine
 *      connection allows at the operations' one-at-a-time costs (missCeiling).
 * Goals (issue 4, 2 cores): cached p95 < 20 ms and ≥ 5,000 req/s; uncached p95 < 250 ms.
 */
import autocannon from "autocannon";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bumpGeneration } from "../../src/analytics/shared/generation.ts";
import { createCache } from "../../src/cache/index.ts";
import { loadConfig } from "../../src/config.ts";
import { buildDeps, closeDeps } from "../../src/deps.ts";
import { signToken } from "../../src/http/auth.ts";
import { createLogger } from "../../src/logger.ts";
import { mulberry32 } from "../helpers/random.ts";
import { engineChildPid, procCpuSeconds } from "./proc.ts";
import { flag } from "./cli.ts";
import { PipelineSeeder } from "./seeder.ts";
import { freePort } from "../helpers/service.ts";

const N = flag("events", 1_000_000);
const DURATION = flag("duration", 30);
const CONNECTIONS = flag("connections", 100);
const NOISE_TENANTS = flag("noise-tenants", 4);
const REDIS_URL = "redis://127.0.0.1:6379";
/** how long the service reuses a tenant generation it read (passed to it explicitly) */
const ANALYTICS_GENERATION_REUSE_MS = 1_000;
const SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
/** --only hits|misses: one of the two load runs (and none of the one-at-a-time timings) */
const ONLY = (() => {
  const i = process.argv.indexOf("--only");
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (v !== "hits" && v !== "misses") throw new Error("--only needs hits or misses");
  return v;
})();
/** --data-dir DIR: seed into DIR once and reuse it on later runs (kept at the end); default a temp dir */
const DATA_DIR_FLAG = (() => {
  const i = process.argv.indexOf("--data-dir");
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (!v || v.startsWith("--")) throw new Error("--data-dir needs a directory");
  return v;
})();
/** the measured tenant; a reused data dir keeps its own (DIR/bench.json) */
let TENANT: string = crypto.randomUUID();
/** the tenant prepareData seeds (bench:dashboard seeds through this file too) */
export const benchTenant = (): string => TENANT;
const DAY = 86_400_000;

// ─── seed data ──────────────────────────────────────────────────────────────────────────────────────

const ITEMS = Array.from({ length: 60 }, (_, i) => ({
  id: `item-${i}`,
  category: ["concert", "theatre", "merch", "food"][i % 4]!,
  price: 1500 + (i % 12) * 500,
  capacity: i % 4 < 2 ? 500 + (i % 5) * 250 : undefined,
}));
const CHANNELS = ["web", "web", "web", "mobile", "mobile", "box_office", "partner"];
const CARRIERS = ["dhl", "ups", "postnl"];

/** the events of one session, in time order; ids unique per tenant */
function sessionEvents(tenant: string, n: number, r: () => number, start: number, end: number): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  let t = start + Math.floor(r() * (end - start - 3_600_000));
  const sid = `s-${n}`;
  const ev = (type: string, data: Record<string, unknown>) => {
    t += 5_000 + Math.floor(r() * 120_000);
    out.push({
      specversion: "1.0",
      id: `${sid}-${out.length}`,
      source: "/bench",
      type,
      time: new Date(t).toISOString(),
      tenantid: tenant,
      data,
    });
  };
  const utm = r() < 0.25 ? { utm_source: ["google", "newsletter", "instagram"][n % 3], utm_medium: "cpc", utm_campaign: `c-${n % 7}` } : {};
  ev("page.viewed", {
    session_id: sid,
    url: "https://shop.example/",
    ip: `198.51.100.${n % 250}`,
    user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
    ...utm,
  });
  if (r() < 0.15) ev("campaign.touched", { session_id: sid, utm_source: "newsletter", utm_medium: "email", utm_campaign: `c-${n % 7}` });
  const item = ITEMS[Math.floor(r() * ITEMS.length)]!;
  ev("item.viewed", { session_id: sid, item_id: item.id });
  if (r() < 0.5) {
    const currency = r() < 0.9 ? "EUR" : "USD";
    const qty = 1 + Math.floor(r() * 3);
    ev("cart.item_added", { session_id: sid, cart_id: `k-${n}`, item_id: item.id, quantity: qty, unit_price_minor: item.price, currency });
    if (r() < 0.6) {
      ev("checkout.started", { session_id: sid, cart_id: `k-${n}` });
      if (r() < 0.7) {
        const lines = [{ item_id: item.id, quantity: qty, unit_price_minor: item.price }];
        if (r() < 0.3) {
          const other = ITEMS[Math.floor(r() * ITEMS.length)]!;
          if (other.id !== item.id) lines.push({ item_id: other.id, quantity: 1, unit_price_minor: other.price });
        }
        const gross = lines.reduce((a, l) => a + l.quantity * l.unit_price_minor, 0);
        const discount = r() < 0.2 ? Math.floor(gross / 10) : 0;
        const orderId = `o-${n}`;
        ev("order.completed", {
          order_id: orderId,
          customer_id: `cust-${Math.floor(r() * 20_000)}`,
          channel: CHANNELS[Math.floor(r() * CHANNELS.length)],
          currency,
          lines,
          discount_minor: discount,
          total_minor: gross - discount,
          session_id: sid,
          cart_id: `k-${n}`,
        });
        if (r() < 0.6) ev("order.fulfilled", { order_id: orderId });
        if (r() < 0.4) {
          const carrier = CARRIERS[n % CARRIERS.length];
          ev("shipment.dispatched", {
            order_id: orderId,
            shipment_id: `sh-${n}`,
            carrier,
            promised_by: new Date(t + 3 * DAY).toISOString(),
          });
          if (r() < 0.9) {
            t += Math.floor(r() * 4 * DAY);
            ev("shipment.delivered", { order_id: orderId, shipment_id: `sh-${n}`, carrier });
          }
        }
        if (r() < 0.05)
          ev("order.refunded", {
            order_id: orderId,
            refund_id: `r-${n}`,
            amount_minor: Math.floor((gross - discount) / 2),
            currency,
            reason: r() < 0.5 ? "cancelled" : undefined,
          });
      }
    }
  }
  // nothing may be in the future (the pipeline rejects > 5 minutes ahead)
  return out.filter((e) => Date.parse(e.time as string) < end);
}

async function seed(deps: Awaited<ReturnType<typeof buildDeps>>): Promise<{ seconds: number; events: number; rejected: number }> {
  const end = Date.now() - 60_000;
  const start = end - 60 * DAY;
  const tenants = [
    { id: TENANT, n: N },
    ...Array.from({ length: NOISE_TENANTS }, () => ({ id: crypto.randomUUID(), n: Math.floor(N / 10 / NOISE_TENANTS) })),
  ];
  const seeder = new PipelineSeeder(deps);
  for (const [ti, tenant] of tenants.entries()) {
    const r = mulberry32(42 + ti); // deterministic, so runs are comparable
    const catalog = ITEMS.map((it, i) => ({
      specversion: "1.0",
      id: `item-upsert-${i}`,
      source: "/bench-catalog",
      type: "item.upserted",
      time: new Date(start).toISOString(),
      tenantid: tenant.id,
      data: {
        item_id: it.id,
        name: `Item ${i}`,
        category: it.category,
        kind: it.capacity ? "ticketed_event" : "product",
        currency: "EUR",
        base_price_minor: it.price,
        ...(it.capacity ? { capacity: it.capacity, starts_at: new Date(end + 30 * DAY).toISOString() } : {}),
      },
    }));
    let batch: Array<Record<string, unknown>> = [...catalog];
    let made = catalog.length;
    let session = 0;
    const flush = async () => {
      await seeder.ingest(tenant.id, batch);
      batch = [];
    };
    while (made < tenant.n) {
      const evs = sessionEvents(tenant.id, session++, r, start, end).slice(0, tenant.n - made);
      batch.push(...evs);
      made += evs.length;
      if (batch.length >= 1_000) await flush();
    }
    if (batch.length > 0) await flush();
  }
  return seeder.result();
}

// ─── the service and the load ───────────────────────────────────────────────────────────────────────

interface Op {
  operationId: string;
  path: string;
  /** query parameters the operation declares */
  params: Set<string>;
}

async function analyticsOps(base: string, auth: string): Promise<Op[]> {
  const spec = (await (await fetch(`${base}/openapi.json`, { headers: { authorization: auth } })).json()) as {
    paths: Record<string, Record<string, { operationId?: string; tags?: string[]; parameters?: Array<{ name: string; in: string }> }>>;
  };
  const ops: Op[] = [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    const get = methods.get;
    if (!get?.operationId || !get.tags?.includes("analytics") || path.includes("{") || path.includes("stream")) continue;
    ops.push({
      operationId: get.operationId,
      path,
      params: new Set((get.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name)),
    });
  }
  return ops.sort((a, b) => a.operationId.localeCompare(b.operationId));
}

const ZONES = ["Europe/Berlin", "UTC", "America/New_York", "Asia/Tokyo"];
const HOUR = 3_600_000;

/** the URL of one request; variant 0 is the cached set, every other variant its own cache key */
function urlOf(op: Op, now: number, variant: number): string {
  const q = new URLSearchParams();
  const shiftHours = variant % 672;
  const zone = ZONES[Math.floor(variant / 672) % ZONES.length]!;
  const bucket = Math.floor(variant / (672 * ZONES.length)) % 2 === 0 ? "day" : "week";
  const to = Math.floor(now / HOUR) * HOUR - shiftHours * HOUR;
  if (op.params.has("from")) q.set("from", new Date(to - 28 * DAY).toISOString());
  if (op.params.has("to")) q.set("to", new Date(to).toISOString());
  if (op.params.has("bucket")) q.set("bucket", bucket);
  if (op.params.has("timezone")) q.set("timezone", zone);
  const qs = q.toString();
  return qs ? `${op.path}?${qs}` : op.path;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function cacheCounters(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^pulse_cache_requests_total\{([^}]*)\} ([0-9.e+]+)$/.exec(line);
    if (!m) continue;
    const result = /result="([^"]+)"/.exec(m[1]!)?.[1] ?? "?";
    out[result] = (out[result] ?? 0) + Number(m[2]);
  }
  return out;
}

interface RunResult {
  name: string;
  /** CPU seconds during the run: the service, its engine child */
  cpu?: { service: number | null; engine: number | null };
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  cache: Record<string, number>;
}

/** wrk (Debian package), when installed: a C load generator leaves more of the 2 cores to the service */
const WRK = Bun.which("wrk");

/**
 * One run with wrk: its threads take `paths` in turn (thread t: t, t + T, t + 2T, …, cycling), so a
 * list of unique paths gives unique requests; latency percentiles from wrk's own histogram.
 */
async function driveWrk(name: string, base: string, auth: string, paths: string[]): Promise<RunResult> {
  const before = await cacheCounters(base);
  const threads = 2;
  const dir = mkdtempSync(join(tmpdir(), "pulse-wrk-"));
  const script = join(dir, "mix.lua");
  const lua = `
local paths = { ${paths.map((p) => JSON.stringify(p)).join(",\n")} }
local n = #paths
local created = 0
function setup(thread) thread:set("offset", created); created = created + 1 end
function init(args) idx = tonumber(offset) or 0 end
wrk.headers["Authorization"] = ${JSON.stringify(auth)}
function request()
  local p = paths[(idx % n) + 1]
  idx = idx + ${threads}
  return wrk.format("GET", p)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"p50":%f,"p95":%f,"p99":%f,"errors":%d,"timeouts":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write, e.timeout, e.status))
end
`;
  await Bun.write(script, lua);
  try {
    const proc = Bun.spawn(
      [WRK!, "-t", String(threads), "-c", String(CONNECTIONS), "-d", `${DURATION}s`, "--timeout", "30s", "-s", script, base],
      { stdout: "pipe", stderr: "inherit" },
    );
    const out = await new Response(proc.stdout).text();
    if ((await proc.exited) !== 0) throw new Error(`wrk failed: ${out}`);
    const line = out.split("\n").find((l) => l.startsWith('{"requests"'));
    if (!line) throw new Error(`wrk printed no summary: ${out}`);
    const r = JSON.parse(line) as {
      requests: number;
      duration_us: number;
      p50: number;
      p95: number;
      p99: number;
      errors: number;
      timeouts: number;
      non2xx: number;
    };
    const after = await cacheCounters(base);
    const cache: Record<string, number> = {};
    for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) cache[k] = (after[k] ?? 0) - (before[k] ?? 0);
    return {
      name,
      requests: r.requests,
      rps: r.requests / (r.duration_us / 1e6),
      p50: r.p50,
      p95: r.p95,
      p99: r.p99,
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      cache,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function drive(name: string, base: string, auth: string, nextPath: () => string): Promise<RunResult> {
  const before = await cacheCounters(base);
  const latencies: number[] = [];
  // without a callback autocannon returns its tracker: an EventEmitter that is also a promise of the result
  const instance = autocannon({
    url: base,
    connections: CONNECTIONS,
    duration: DURATION,
    timeout: 30,
    headers: { authorization: auth },
    requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: nextPath() }) }],
  }) as unknown as Promise<autocannon.Result> & {
    on(event: "response", fn: (client: unknown, status: number, bytes: number, responseTime: number) => void): void;
  };
  instance.on("response", (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
    latencies.push(responseTime);
  });
  const result = await instance;
  const after = await cacheCounters(base);
  latencies.sort((a, b) => a - b);
  const cache: Record<string, number> = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) cache[k] = (after[k] ?? 0) - (before[k] ?? 0);
  return {
    name,
    requests: result.requests.total,
    rps: result.requests.total / DURATION,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    cache,
  };
}

/** steps 1–2: seed, refresh every continuous aggregate (5m → 1h → 1d), run the due TimescaleDB jobs */
export async function prepareData(deps: Awaited<ReturnType<typeof buildDeps>>): Promise<Awaited<ReturnType<typeof seed>>> {
  const seeded = await seed(deps);
  console.log(
    `seeded ${seeded.events.toLocaleString("en-US")} events in ${seeded.seconds.toFixed(1)} s (${Math.round(seeded.events / seeded.seconds).toLocaleString("en-US")}/s), ${seeded.rejected} rejected`,
  );
  const r0 = performance.now();
  const caggs = await deps.sql<Array<{ name: string }>>`
    select view_name as name from timescaledb_information.continuous_aggregates
     order by case when view_name like '%5m' then 0 when view_name like '%1h' then 1 else 2 end, view_name`;
  for (const c of caggs) await deps.sql.unsafe(`CALL refresh_continuous_aggregate('${c.name}', NULL, NULL)`);
  console.log(`refreshed the continuous aggregates in ${((performance.now() - r0) / 1000).toFixed(1)} s`);
  // the jobs the service would otherwise start on (compression of the seeded days, score refresh,
  // policies) run now, through the same runner and ledger, so the load meets a steady state
  const j0 = performance.now();
  const tick = await deps.jobs.tick();
  console.log(
    `ran ${tick.ran.length} TimescaleDB jobs (${tick.ran.filter((r) => !r.succeeded).length} failed) in ${((performance.now() - j0) / 1000).toFixed(1)} s: ${tick.ran.map((r) => r.proc.split(".").pop()).join(", ")}`,
  );
  return seeded;
}

/** each operation alone, one request at a time: uncached (its service time on the one connection), then cached (the service's own cost of a hit) */
async function oneAtATime(
  base: string,
  auth: string,
  ops: Op[],
  fixed: string[],
  now: number,
  warm: () => Promise<void>,
): Promise<Map<string, number>> {
  const single: Array<{ op: string; ms: number }> = [];
  let v = 100_000;
  for (const o of ops) {
    const times: number[] = [];
    for (let k = 0; k < 5; k++) {
      const t0 = performance.now();
      const res = await fetch(base + urlOf(o, now, v++), { headers: { authorization: auth } });
      await res.arrayBuffer();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    single.push({ op: o.operationId, ms: times[2]! });
  }
  console.log(`uncached, one request at a time (median of 5): ${single.map((x) => `${x.op} ${x.ms.toFixed(0)} ms`).join(", ")}`);

  await warm(); // the one-at-a-time misses above did not touch these keys, but their TTL runs on
  const hitCost: string[] = [];
  for (const [k, u] of fixed.entries()) {
    let bytes = 0;
    const t0 = performance.now();
    for (let n = 0; n < 200; n++) bytes = (await (await fetch(base + u, { headers: { authorization: auth } })).arrayBuffer()).byteLength;
    hitCost.push(`${ops[k]!.operationId} ${(((performance.now() - t0) * 1000) / 200).toFixed(0)} µs/${(bytes / 1024).toFixed(1)} KB`);
  }
  console.log(`cached, one request at a time: ${hitCost.join(", ")}`);
  return new Map(single.map((x) => [x.op, x.ms]));
}

/**
 * What one engine connection allows the miss run, from the one-at-a-time service times: the misses
 * cycle through the ranged operations, so one round takes their sum; with C connections always
 * waiting (a closed loop), a request spends about C × the mean service time in the queue (Little's law).
 */
function missCeiling(single: Map<string, number>, ranged: Op[]): string {
  const ms = ranged.map((o) => single.get(o.operationId) ?? Number.NaN);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  const slowest = ranged
    .map((o, k) => ({ op: o.operationId, ms: ms[k]! }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 3);
  return (
    `miss ceiling on the one engine connection: the ${ranged.length} ranged operations take ${mean.toFixed(0)} ms each on average one at a time ` +
    `(slowest: ${slowest.map((s) => `${s.op} ${s.ms.toFixed(0)} ms`).join(", ")}) → at most ${(1000 / mean).toFixed(1)} misses/s, ` +
    `so ${CONNECTIONS} connections in a closed loop queue about ${((CONNECTIONS * mean) / 1000).toFixed(1)} s a miss once steady (a ${DURATION} s run counts only the misses served within it); ` +
    `p95 < 250 ms at ${CONNECTIONS} connections would need a mean under ${(250 / CONNECTIONS).toFixed(1)} ms`
  );
}

async function main(): Promise<void> {
  const dir = DATA_DIR_FLAG ?? mkdtempSync(join(tmpdir(), "pulse-bench-api-"));
  const dataDir = join(dir, "db");
  const marker = join(dir, "bench.json");
  const reuse = DATA_DIR_FLAG !== undefined && existsSync(marker);
  if (DATA_DIR_FLAG) mkdirSync(DATA_DIR_FLAG, { recursive: true });
  if (reuse) TENANT = (JSON.parse(readFileSync(marker, "utf8")) as { tenant: string }).tenant;
  const env = {
    NODE_ENV: "production",
    EMBEDDED_DATA_DIR: dataDir,
    JWT_SECRET: SECRET,
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    TIMESCALE_JOBS: "service",
  };
  console.log(
    `bench:api — ${N.toLocaleString("en-US")} events for one tenant + ${NOISE_TENANTS} noise tenants; ${CONNECTIONS} connections × ${DURATION} s per run`,
  );
  let service: ReturnType<typeof Bun.spawn> | undefined;
  try {
    // 1–2: seed and refresh on our own engine, then stop it (it serves one client at a time)
    const config = loadConfig(env);
    const deps = await buildDeps(config, { logger: createLogger({ level: "warn", format: "json" }), nats: false, runJobs: false });
    let sizes: Array<{ name: string; bytes: number }> = [];
    try {
      if (reuse) console.log(`reusing the data seeded earlier in ${dir} (tenant ${TENANT}): no seed, refresh or jobs`);
      else {
        const seeded = await prepareData(deps);
        if (DATA_DIR_FLAG)
          writeFileSync(marker, JSON.stringify({ tenant: TENANT, events: seeded.events, seeded_at: new Date().toISOString() }));
      }
      sizes = await deps.sql<Array<{ name: string; bytes: number }>>`
        select hypertable_name as name, hypertable_size(format('%I.%I', hypertable_schema, hypertable_name)::regclass)::bigint::float8 as bytes
          from timescaledb_information.hypertables
         where hypertable_name in ('events', 'order_lines')
        union all
        select view_name, hypertable_size(format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)::regclass)::bigint::float8
          from timescaledb_information.continuous_aggregates
         order by 1`;
    } finally {
      await closeDeps(deps);
    }
    console.log(`sizes: ${sizes.map((s) => `${s.name} ${(s.bytes / 1024 / 1024).toFixed(1)} MB`).join(", ")}`);

    // 3: the service on that data dir
    const port = await freePort();
    service = Bun.spawn(["bun", "src/main.ts"], {
      env: {
        ...process.env,
        ...env,
        PORT: String(port),
        HOST: "127.0.0.1",
        ROLE: "api",
        REDIS_URL,
        RATE_LIMIT_ENABLED: "false",
        NATS_URL: "",
        ANALYTICS_GENERATION_REUSE_MS: String(ANALYTICS_GENERATION_REUSE_MS),
      },
      stdout: "ignore",
      stderr: "inherit",
    });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`${base}/health/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline || service.exitCode !== null) throw new Error("the service did not become ready");
      await Bun.sleep(200);
    }
    const auth = `Bearer ${await signToken(SECRET, { sub: "bench", tenantId: TENANT, roles: ["viewer"], expiresIn: "2h" })}`;
    const ops = await analyticsOps(base, auth);
    if (ops.length === 0) throw new Error("no analytics operations in /openapi.json");
    console.log(`operations in the mix (${ops.length}): ${ops.map((o) => o.operationId).join(", ")}`);

    // 4a: cache hits — warm every URL once, check each answers 200
    const now = Date.now();
    const fixed = ops.map((o) => urlOf(o, now, 0));
    // Answers live ANALYTICS_CACHE_TTL_SECONDS (60 s by default, ± 10 %) from when they were computed,
    // and a hit does not extend that. So before each hit measurement the tenant's generation is bumped
    // (as an ingest commit would) and every URL computed afresh: no answer can expire during the run
    // (30 s), which would turn a hit into a miss that every connection then queues behind.
    const cache = await createCache({ redisUrl: REDIS_URL });
    const warm = async () => {
      if (!(await bumpGeneration(cache, [TENANT]))) throw new Error(`could not bump the tenant's generation in ${REDIS_URL}`);
      await Bun.sleep(ANALYTICS_GENERATION_REUSE_MS + 100); // the service reuses a generation it read that long
      const bumpedAt = Date.now();
      for (const u of fixed) {
        const res = await fetch(base + u, { headers: { authorization: auth } });
        const text = await res.text();
        if (!res.ok) throw new Error(`${u} answered ${res.status}: ${text}`);
        const asOf = (JSON.parse(text) as { as_of?: string }).as_of;
        if (asOf !== undefined && Date.parse(asOf) < bumpedAt)
          throw new Error(`${u} was still the answer cached before the generation bump (as_of ${asOf})`);
      }
    };
    await warm();
    const single = ONLY === undefined ? await oneAtATime(base, auth, ops, fixed, now, warm) : undefined;
    const ranged = ops.filter((o) => o.params.has("from"));
    console.log(`load generator: ${WRK ? `wrk (${WRK})` : "autocannon (install wrk for a lighter client: apt-get install wrk)"}`);
    let i = 0;
    const measured = async (run: () => Promise<RunResult>): Promise<RunResult> => {
      const enginePid = engineChildPid(service!.pid);
      const s0 = procCpuSeconds(service!.pid);
      const e0 = enginePid ? procCpuSeconds(enginePid) : null;
      const r = await run();
      const s1 = procCpuSeconds(service!.pid);
      const e1 = enginePid ? procCpuSeconds(enginePid) : null;
      return { ...r, cpu: { service: s0 !== null && s1 !== null ? s1 - s0 : null, engine: e0 !== null && e1 !== null ? e1 - e0 : null } };
    };
    const rows: RunResult[] = [];
    if (ONLY !== "misses") {
      await warm();
      rows.push(
        await measured(() =>
          WRK ? driveWrk("cache hits", base, auth, fixed) : drive("cache hits", base, auth, () => fixed[i++ % fixed.length]!),
        ),
      );
    }
    // 4b: cache misses — every request its own cache key (variants 1…; 5,376 per operation); only the
    // operations that take a range (a snapshot operation has one key per tenant: it cannot miss)
    if (ONLY !== "hits") {
      let variant = 1;
      let j = 0;
      rows.push(
        await measured(() =>
          WRK
            ? driveWrk(
                "cache misses",
                base,
                auth,
                Array.from({ length: 20_000 }, (_, k) => urlOf(ranged[k % ranged.length]!, now, k + 1)),
              )
            : drive("cache misses", base, auth, () => urlOf(ranged[j++ % ranged.length]!, now, variant++)),
        ),
      );
    }
    await cache.close();
    const hits = rows.find((r) => r.name === "cache hits");
    const misses = rows.find((r) => r.name === "cache misses");

    console.log("");
    const head = [
      "run",
      "requests",
      "req/s",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "non-2xx",
      "errors",
      "cache (hit/miss/other)",
      "CPU s: service / engine",
    ];
    const body = rows.map((r) => [
      r.name,
      r.requests.toLocaleString("en-US"),
      Math.round(r.rps).toLocaleString("en-US"),
      r.p50.toFixed(1),
      r.p95.toFixed(1),
      r.p99.toFixed(1),
      String(r.non2xx),
      String(r.errors + r.timeouts),
      `${r.cache.hit ?? 0}/${r.cache.miss ?? 0}/${
        Object.entries(r.cache)
          .filter(([k]) => k !== "hit" && k !== "miss")
          .map(([k, v]) => `${k} ${v}`)
          .join(" ") || "0"
      }`,
      `${r.cpu?.service?.toFixed(1) ?? "n/a"} / ${r.cpu?.engine?.toFixed(1) ?? "n/a"}`,
    ]);
    const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c]!.length)));
    console.log(head.map((h, c) => h.padEnd(widths[c]!)).join("  │  "));
    console.log(widths.map((w) => "─".repeat(w)).join("──┼──"));
    for (const b of body) console.log(b.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join("  │  "));
    console.log("");
    const goals: string[] = [];
    if (hits) goals.push(`cached p95 < 20 ms and ≥ 5,000 req/s → ${hits.p95 < 20 && hits.rps >= 5_000 ? "met" : "NOT met"}`);
    if (misses) goals.push(`uncached p95 < 250 ms → ${misses.p95 < 250 ? "met" : "NOT met"}`);
    console.log(`goals: ${goals.join("; ")}`);
    if (misses && single) console.log(missCeiling(single, ranged));
    if (rows.some((r) => r.non2xx > 0)) {
      console.log("some responses were not 2xx (see the table): the figures above include them");
      process.exitCode = 1;
    }
  } finally {
    if (service) {
      service.kill("SIGTERM");
      await service.exited;
    }
    if (!DATA_DIR_FLAG) rmSync(dir, { recursive: true, force: true });
  }
}

// bench:dashboard imports prepareData from here without running this benchmark
if (import.meta.main) await main();
