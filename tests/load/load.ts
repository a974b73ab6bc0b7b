/**
 * bun run test:load — the load the seed asks for (issue 20), not part of CI:
 *   LOAD_USERS (100) concurrent users for LOAD_DURATION_S (300) seconds over a realistic mix of reads
 *   (the MIX table below: dashboard reads served from the cache, list pages, a funnel with fresh
 *   parameters on every request, an export when the service offers one), while a publisher child
 *   process puts LOAD_INGEST_PER_S (1,000) events a second on NATS JetStream.
 * Prints per operation: requests, requests/s, p50/p95/p99 (from every response's own time), errors
 * (non-2xx and socket errors and timeouts); the totals; the database pool's mean use and its peak
 * waiting count (from the service's /metrics, sampled every 5 s); the ingest achieved and its lag; and
 * the seed's targets (p50 < 500 ms, p95 < 2 s, p99 < 5 s at 1,000 requests/s) met or not.
 *
 * The service: `bun src/main.ts` (ROLE=all) as a child process on a fresh embedded TimescaleDB (or
 * DATABASE_URL when set), the local Redis cache (REDIS_URL, default redis://127.0.0.1:6379) and NATS
 * (NATS_URL, default nats://127.0.0.1:4222; a stream of its own), rate limiting off. Before the clock
 * starts: LOAD_SEED_EVENTS (30,000) events over the last 30 days for LOAD_TENANTS (2) tenants, posted
 * through POST /v1/events. A short trial: LOAD_USERS=20 LOAD_DURATION_S=30 bun run test:load.
 * Exits 1 when the run could not be made (the service did not start, no request answered).
 */
import autocannon from "autocannon";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signToken } from "../../src/http/auth.ts";
import {
  cartItemAdded,
  checkoutStarted,
  type CloudEvent,
  itemUpserted,
  itemViewed,
  orderCompleted,
  pageViewed,
} from "../helpers/events.ts";
import { mulberry32 } from "../helpers/random.ts";
import { freePort, percentile, scrape, startService, type Sample } from "./load-support.ts";

const env = (name: string, dflt: number) => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const USERS = env("LOAD_USERS", 100);
const DURATION_S = env("LOAD_DURATION_S", 300);
const INGEST_PER_S = env("LOAD_INGEST_PER_S", 1_000);
const SEED_EVENTS = env("LOAD_SEED_EVENTS", 30_000);
const TENANTS = env("LOAD_TENANTS", 2);
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const SECRET = "load-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const DAY = 86_400_000;
const TARGETS = { p50: 500, p95: 2_000, p99: 5_000, rps: 1_000 };

// ─── the mix: one row per operation; its share of the users; how it builds each request ────────────

interface Ctx {
  now: number;
  r: () => number;
}
interface Operation {
  name: string;
  /** share of the users (connections) */
  weight: number;
  method?: "GET" | "POST";
  /** the next request's path and query (called per request: vary what a user would vary) */
  path: (ctx: Ctx) => string;
  /** a JSON body for POST */
  body?: (ctx: Ctx) => unknown;
  /** run only when the service's /openapi.json has this path (operations other branches add) */
  requires?: string;
}

/** a dashboard's fixed range: the last 28 whole days (the same URL every time: cache hits after the first) */
const dashboardRange = (c: Ctx) => {
  const to = Math.floor(c.now / DAY) * DAY;
  return `from=${new Date(to - 28 * DAY).toISOString()}&to=${new Date(to).toISOString()}`;
};
const FUNNEL_STEPS = ["page.viewed", "item.viewed", "cart.item_added", "checkout.started", "order.completed"];

export const MIX: Operation[] = [
  { name: "dashboard: revenue summary", weight: 15, path: (c) => `/v1/revenue/summary?${dashboardRange(c)}` },
  {
    name: "dashboard: revenue by day",
    weight: 10,
    path: (c) => `/v1/revenue/timeseries?${dashboardRange(c)}&bucket=day&timezone=Europe/Berlin`,
  },
  { name: "dashboard: sales metrics", weight: 10, path: (c) => `/v1/sales/metrics?${dashboardRange(c)}` },
  { name: "dashboard: realtime", weight: 10, path: () => "/v1/realtime" },
  { name: "list: customers page", weight: 10, path: () => "/v1/customers?limit=50" },
  { name: "list: dead letters page", weight: 5, path: () => "/v1/dead-letters?limit=50" },
  {
    name: "funnel, fresh parameters",
    weight: 15,
    // a range ending at a random minute of the last 30 days, 1-14 days long, 2-5 steps: a new cache key every time
    path: (c) => {
      const to = c.now - Math.floor(c.r() * 30 * 1_440) * 60_000;
      const from = to - (1 + Math.floor(c.r() * 14)) * DAY;
      const steps = FUNNEL_STEPS.slice(0, 2 + Math.floor(c.r() * 4)).join(",");
      return `/v1/funnel?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&steps=${steps}&window=PT${1 + Math.floor(c.r() * 48)}H`;
    },
  },
  { name: "items performance", weight: 10, path: (c) => `/v1/items/performance?${dashboardRange(c)}` },
  { name: "ingest stats", weight: 5, path: (c) => `/v1/ingest/stats?${dashboardRange(c)}` },
  // the exports branch's operation: its body is the example of its request body in /openapi.json
  // one user of the mix queues exports back to back (a month of daily revenue each; the worker writes them meanwhile)
  { name: "export", weight: 1, method: "POST", requires: "/v1/exports", path: () => "/v1/exports" },
];

// ─── seed ───────────────────────────────────────────────────────────────────────────────────────────

/** SEED_EVENTS events over the last 30 days: visits that view, add to cart, check out and order */
function seedEvents(tenants: string[]): CloudEvent[][] {
  const r = mulberry32(20);
  const now = Date.now() - 120_000;
  const perTenant = Math.floor(SEED_EVENTS / tenants.length);
  return tenants.map((t) => {
    const out: CloudEvent[] = Array.from({ length: 40 }, (_, i) =>
      itemUpserted(t, `item-${i}`, { time: new Date(now - 31 * DAY).toISOString() }, { base_price_minor: 1_000 + (i % 8) * 500 }),
    );
    let visit = 0;
    while (out.length < perTenant) {
      visit += 1;
      let time = now - Math.floor(r() * 30 * DAY);
      const at = () => ({ time: new Date((time += 30_000 + Math.floor(r() * 300_000))).toISOString() });
      const session = `seed-s-${visit}`;
      const item = `item-${Math.floor(r() * 40)}`;
      out.push(pageViewed(t, at(), { session_id: session }), itemViewed(t, session, item, at()));
      if (r() < 0.4) out.push(cartItemAdded(t, session, item, at()));
      if (r() < 0.25) out.push(checkoutStarted(t, session, at()));
      if (r() < 0.15) out.push(orderCompleted(t, at(), { session_id: session, customer_id: `c-${Math.floor(r() * 2_000)}` }));
    }
    return out.filter((e) => Date.parse(e.time) < now).slice(0, perTenant);
  });
}

/** USERS split by weight, every operation at least 1, summing to the total (largest remainders) */
function shares(weights: number[], total: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const spare = Math.max(0, total - weights.length);
  const exact = weights.map((w) => (spare * w) / sum);
  const out = exact.map((x) => 1 + Math.floor(x));
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  const missing = total - out.reduce((a, b) => a + b, 0);
  for (let k = 0; k < missing; k++) out[order[k % order.length]![1]]! += 1;
  return out;
}

// ─── run ────────────────────────────────────────────────────────────────────────────────────────────

interface OpResult {
  op: Operation;
  users: number;
  times: number[];
  errors: number;
  statuses: Record<string, number>;
}

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), "pulse-load-"));
  const suffix = crypto.randomUUID().slice(0, 8);
  const prefix = `load${suffix}`;
  const port = await freePort();
  const service = await startService({
    PORT: String(port),
    ROLE: "all",
    JWT_SECRET: SECRET,
    EMBEDDED_DATA_DIR: join(dataDir, "db"),
    REDIS_URL,
    NATS_URL,
    NATS_STREAM: `PULSE_LOAD_${suffix.toUpperCase()}`,
    NATS_SUBJECT_PREFIX: prefix,
    NATS_CONSUMER: `pulse-load-${suffix}`,
    RATE_LIMIT_ENABLED: "false",
    // the export user queues faster than a tenant's 3 active jobs would admit: measure the service, not that limit
    EXPORT_MAX_ACTIVE_JOBS_PER_TENANT: "1000",
    LOG_LEVEL: "warn",
  });
  const base = service.url;
  const cleanup = async () => {
    await service.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    if (!(await service.ready(60_000))) {
      process.stderr.write(`the service did not become ready:\n${service.output().slice(-4_000)}\n`);
      return 1;
    }
    const tenants = Array.from({ length: TENANTS }, () => crypto.randomUUID());
    const tokens = await Promise.all(
      tenants.map((tenantId) =>
        signToken(SECRET, { sub: "load", tenantId, roles: ["analyst", "ingest"], expiresIn: `${Math.ceil(DURATION_S) + 900}s` }),
      ),
    );

    // seed through POST /v1/events, 1,000 a request
    const t0 = performance.now();
    let seeded = 0;
    for (const [i, events] of seedEvents(tenants).entries()) {
      for (let k = 0; k < events.length; k += 1_000) {
        const res = await fetch(`${base}/v1/events`, {
          method: "POST",
          headers: { authorization: `Bearer ${tokens[i]}`, "content-type": "application/cloudevents-batch+json" },
          body: JSON.stringify(events.slice(k, k + 1_000)),
        });
        if (res.status !== 202) throw new Error(`seeding: ${res.status} ${await res.text()}`);
        seeded += ((await res.json()) as { accepted: number }).accepted;
      }
    }
    process.stdout.write(
      `seeded ${seeded.toLocaleString("en-US")} events for ${TENANTS} tenants in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );

    const spec = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content?: Record<string, { example?: unknown; schema?: { example?: unknown; $ref?: string } }> } }>
      >;
      components?: { schemas?: Record<string, { example?: unknown }> };
    };
    /** a request body's example: on the content, on its schema, or on the component its schema refers to */
    const exampleOf = (content: { example?: unknown; schema?: { example?: unknown; $ref?: string } } | undefined) =>
      content?.example ?? content?.schema?.example ?? spec.components?.schemas?.[content?.schema?.$ref?.split("/").pop() ?? ""]?.example;
    const ops = MIX.flatMap((op) => {
      if (!op.requires) return [op];
      const content = spec.paths[op.requires]?.[(op.method ?? "GET").toLowerCase()]?.requestBody?.content?.["application/json"];
      const example = exampleOf(content);
      if (!spec.paths[op.requires]) {
        process.stdout.write(`skipped "${op.name}": the service has no ${op.requires}\n`);
        return [];
      }
      if (op.method === "POST" && example === undefined) {
        process.stdout.write(`skipped "${op.name}": ${op.requires} documents no example request body\n`);
        return [];
      }
      return [{ ...op, body: op.body ?? (() => example) }];
    });
    const users = shares(
      ops.map((op) => op.weight),
      USERS,
    );

    // the publisher child: INGEST_PER_S events a second for the whole run
    const publisher = Bun.spawn(
      [
        "bun",
        join(import.meta.dir, "publisher.ts"),
        "--nats-url",
        NATS_URL,
        "--prefix",
        prefix,
        "--tenants",
        tenants.join(","),
        "--rate",
        String(INGEST_PER_S),
        "--duration",
        String(DURATION_S + 5),
      ],
      { stdout: "pipe", stderr: "inherit" },
    );

    // the service's metrics, every 5 s
    const samples: Sample[] = [await scrape(base)];
    const sampler = setInterval(
      () =>
        void scrape(base).then(
          (s) => samples.push(s),
          () => undefined,
        ),
      5_000,
    );

    const started = performance.now();
    const results = await Promise.all(
      ops.map(async (op, j): Promise<OpResult> => {
        const result: OpResult = { op, users: users[j]!, times: [], errors: 0, statuses: {} };
        const r = mulberry32(op.name.length * 7919 + j);
        let k = 0;
        // the tracker autocannon returns is an event emitter and a promise of the result
        const instance = autocannon({
          url: base,
          connections: users[j]!,
          duration: DURATION_S,
          timeout: 30,
          requests: [
            {
              method: op.method ?? "GET",
              setupRequest: (req: autocannon.Request) => {
                const c: Ctx = { now: Date.now(), r };
                const i = k++ % tenants.length; // users take turns over the tenants
                return {
                  ...req,
                  path: op.path(c),
                  headers: {
                    ...req.headers,
                    authorization: `Bearer ${tokens[i]}`,
                    ...(op.body ? { "content-type": "application/json" } : {}),
                  },
                  ...(op.body ? { body: JSON.stringify(op.body(c)) } : {}),
                };
              },
            },
          ],
        }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
        instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
          result.times.push(ms);
          result.statuses[status] = (result.statuses[status] ?? 0) + 1;
          if (status >= 400) result.errors += 1;
        });
        const done = await instance;
        result.errors += done.errors + done.timeouts;
        return result;
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    publisher.kill("SIGTERM");
    const pub = JSON.parse((await new Response(publisher.stdout).text()).trim().split("\n").pop() || "{}") as {
      published?: number;
      failed?: number;
      seconds?: number;
    };
    // let ingest drain (up to 60 s), then the last sample
    const drainStart = performance.now();
    while (performance.now() - drainStart < 60_000 && ((await scrape(base)).pending ?? 0) > 0) await Bun.sleep(1_000);
    clearInterval(sampler);
    samples.push(await scrape(base));

    report(results, seconds, samples, pub, tenants.length);
    const answered = results.reduce((s, x) => s + x.times.length, 0);
    return answered > 0 ? 0 : 1;
  } finally {
    await cleanup();
  }
}

function report(
  results: OpResult[],
  seconds: number,
  samples: Sample[],
  pub: { published?: number; failed?: number; seconds?: number },
  tenants: number,
): void {
  const ms = (v: number) => (Number.isNaN(v) ? "–" : `${Math.round(v)} ms`);
  const all: number[] = [];
  const rows = results.map((x) => {
    const sorted = [...x.times].sort((a, b) => a - b);
    all.push(...x.times);
    return {
      operation: x.op.name,
      users: x.users,
      requests: x.times.length,
      "req/s": Math.round(x.times.length / seconds),
      p50: ms(percentile(sorted, 50)),
      p95: ms(percentile(sorted, 95)),
      p99: ms(percentile(sorted, 99)),
      errors: x.errors,
      statuses: Object.entries(x.statuses)
        .map(([s, n]) => `${s}:${n}`)
        .join(" "),
    };
  });
  all.sort((a, b) => a - b);
  const total = { p50: percentile(all, 50), p95: percentile(all, 95), p99: percentile(all, 99), rps: all.length / seconds };
  rows.push({
    operation: "all",
    users: results.reduce((s, x) => s + x.users, 0),
    requests: all.length,
    "req/s": Math.round(total.rps),
    p50: ms(total.p50),
    p95: ms(total.p95),
    p99: ms(total.p99),
    errors: results.reduce((s, x) => s + x.errors, 0),
    statuses: "",
  });
  process.stdout.write(`\nload: ${USERS} users for ${seconds.toFixed(0)} s, ingest target ${INGEST_PER_S} events/s, ${tenants} tenants\n`);
  console.table(rows);

  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const span = (last.at - first.at) / 1000;
  const meanUse = last.poolMax ? (last.poolBusySeconds - first.poolBusySeconds) / span / last.poolMax : Number.NaN;
  const ingested = last.ingested - first.ingested;
  const table = {
    "database pool: size": last.poolMax,
    "database pool: mean use": `${(meanUse * 100).toFixed(0)} %`,
    "database pool: peak waiting (5 s samples)": Math.max(...samples.map((s) => s.poolWaiting)),
    "ingest: published (events)": pub.published ?? "?",
    "ingest: publish failures": pub.failed ?? "?",
    "ingest: published per second": pub.published && pub.seconds ? Math.round(pub.published / pub.seconds) : "?",
    "ingest: processed by the worker during the run and drain": ingested,
    "ingest: peak consumer lag (s)": Math.max(...samples.map((s) => s.lagSeconds)).toFixed(1),
    "ingest: pending at the end": last.pending,
  };
  console.table(table);
  const verdict = (name: string, ok: boolean, got: string, goal: string) =>
    `${ok ? "met    " : "MISSED "} ${name}: ${got} (target ${goal})`;
  process.stdout.write(
    [
      "seed targets:",
      verdict("p50", total.p50 < TARGETS.p50, ms(total.p50), `< ${TARGETS.p50} ms`),
      verdict("p95", total.p95 < TARGETS.p95, ms(total.p95), `< ${TARGETS.p95} ms`),
      verdict("p99", total.p99 < TARGETS.p99, ms(total.p99), `< ${TARGETS.p99} ms`),
      verdict("throughput", total.rps >= TARGETS.rps, `${Math.round(total.rps)} req/s`, `≥ ${TARGETS.rps} req/s`),
      "",
    ].join("\n"),
  );
}

process.exit(await main());
