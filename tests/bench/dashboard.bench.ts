/**
 * bun run bench:dashboard [--events N] [--viewers V] [--duration S] [--loads L] [--data-dir DIR]
 *
 *   1. seeds N (default 1,000,000) events for one tenant (+ noise tenants) exactly as bench:api does
 *      (its prepareData: the real ingest pipeline, aggregates refreshed, jobs run) into a fresh embedded
 *      TimescaleDB; --data-dir DIR reuses a dir seeded earlier by either benchmark (DIR/bench.json);
 *   2. starts the service (`bun src/main.ts`, ROLE=api, Redis cache, rate limits off) and finds the
 *      tenant's default dashboard (created by that first list);
 *   3. first load in Chromium (Debian's /usr/bin/chromium via playwright-core, headless), from
 *      navigation start to every widget drawn (no widget loading, every chart drawn), L times each (default 3, median):
 *        cold: the tenant's data generation bumped first (every widget's answer is computed afresh)
 *              and a new browser profile (nothing cached in the browser);
 *        warm: the same page loaded again (answers in the service's cache, the bundle in the browser's);
 *   4. GET /v1/dashboards/{id}/data under V (default 20) concurrent viewers, each in a loop for S
 *      (default 20) seconds: requests/s and p50/p95/p99 latency (mostly cache hits, as viewers of one
 *      dashboard share its answers); and one call right after a generation bump (all misses).
 * Goals (issue 18, embedded engine, 2 cores): warm first load < 1 s, cold < 3 s.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { bumpGeneration } from "../../src/analytics/shared/generation.ts";
import { createCache } from "../../src/cache/index.ts";
import { loadConfig } from "../../src/config.ts";
import { buildDeps, closeDeps } from "../../src/deps.ts";
import { signToken } from "../../src/http/auth.ts";
import { createLogger } from "../../src/logger.ts";
import { benchTenant, prepareData } from "./api.bench.ts";
import { flag, stringFlag } from "./cli.ts";
import { freePort } from "../helpers/service.ts";

const VIEWERS = flag("viewers", 20);
const DURATION = flag("duration", 20);
const LOADS = flag("loads", 3);
const DATA_DIR_FLAG = stringFlag("data-dir");
const REDIS_URL = "redis://127.0.0.1:6379";
/** the service reuses a generation it read for ANALYTICS_GENERATION_REUSE_MS (1 s): wait that out after a bump */
const REUSE_MS = 1_000;
async function bump(cache: Awaited<ReturnType<typeof createCache>>, tenant: string): Promise<void> {
  await bumpGeneration(cache, [tenant]);
  await Bun.sleep(REUSE_MS + 200);
}
const SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** ms from navigation start to every widget drawn, and the widgets' statuses */
async function firstLoad(page: import("playwright-core").Page, url: string): Promise<{ ms: number; statuses: string[] }> {
  await page.goto(url);
  await page.waitForFunction(
    () => {
      const ws = [...document.querySelectorAll(".widget")];
      return (
        ws.length > 0 &&
        ws.every((w) => w.getAttribute("data-status") !== "loading") &&
        [...document.querySelectorAll(".chart")].every((c) => c.getAttribute("data-drawn") === "yes")
      );
    },
    undefined,
    { timeout: 120_000, polling: "raf" },
  );
  const ms = await page.evaluate(() => performance.now());
  const statuses = await page.$$eval(".widget", (ws) =>
    ws.map((w) => `${w.getAttribute("data-widget-id")}:${w.getAttribute("data-status")}`),
  );
  return { ms, statuses };
}

async function main(): Promise<void> {
  const dir = DATA_DIR_FLAG ?? mkdtempSync(join(tmpdir(), "pulse-bench-dashboard-"));
  if (DATA_DIR_FLAG) mkdirSync(DATA_DIR_FLAG, { recursive: true });
  const marker = join(dir, "bench.json");
  const reuse = existsSync(marker);
  const env = {
    NODE_ENV: "production",
    EMBEDDED_DATA_DIR: join(dir, "db"),
    JWT_SECRET: SECRET,
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    TIMESCALE_JOBS: "service",
  };
  let tenant: string;
  let events: number;
  let service: ReturnType<typeof Bun.spawn> | undefined;
  const cache = await createCache({ redisUrl: REDIS_URL });
  try {
    if (reuse) {
      ({ tenant, events } = JSON.parse(readFileSync(marker, "utf8")) as { tenant: string; events: number });
      console.log(`reusing ${dir}: tenant ${tenant}, ${events.toLocaleString("en-US")} events seeded earlier`);
    } else {
      const deps = await buildDeps(loadConfig(env), {
        logger: createLogger({ level: "warn", format: "json" }),
        nats: false,
        runJobs: false,
      });
      try {
        events = (await prepareData(deps)).events;
      } finally {
        await closeDeps(deps);
      }
      tenant = benchTenant();
      writeFileSync(marker, JSON.stringify({ tenant, events, seeded_at: new Date().toISOString() }));
    }
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
      },
      stdout: "ignore",
      stderr: "inherit",
    });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    while (
      !(await fetch(`${base}/health/ready`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline || service.exitCode !== null) throw new Error("the service did not become ready");
      await Bun.sleep(200);
    }
    const bearer = await signToken(SECRET, { sub: "bench", tenantId: tenant, roles: ["analyst"], expiresIn: "2h" });
    const auth = { authorization: `Bearer ${bearer}` };
    const list = (await (await fetch(`${base}/v1/dashboards`, { headers: auth })).json()) as {
      data: Array<{ id: string; is_default: boolean; widgets: unknown[] }>;
    };
    const dashboard = list.data.find((d) => d.is_default)!;
    const pageUrl = (k: number) => `${base}/app?load=${k}#/d/${dashboard.id}`;
    await fetch(`${base}/app`); // the bundle is built at start-up; this waits for it
    console.log(
      `bench:dashboard — ${events.toLocaleString("en-US")} events, default dashboard ${dashboard.id} (${dashboard.widgets.length} widgets)`,
    );

    // 3. first loads in Chromium
    const cold: number[] = [];
    const warm: number[] = [];
    let coldStatuses: string[] = [];
    for (let i = 0; i < LOADS; i++) {
      await bump(cache, tenant);
      const profile = mkdtempSync(join(tmpdir(), "pulse-bench-chromium-"));
      const ctx = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ARGS,
        viewport: { width: 1280, height: 900 },
      });
      try {
        const page = ctx.pages()[0] ?? (await ctx.newPage());
        await page.addInitScript((t) => sessionStorage.setItem("pulse.token", t), bearer);
        const c = await firstLoad(page, pageUrl(0));
        cold.push(c.ms);
        coldStatuses = c.statuses;
        for (let k = 1; k <= LOADS; k++) warm.push((await firstLoad(page, pageUrl(k))).ms);
      } finally {
        await ctx.close();
        rmSync(profile, { recursive: true, force: true });
      }
    }
    console.log(`cold widget statuses (last load): ${coldStatuses.join(", ")}`);

    // 4. the data endpoint under concurrent viewers
    await bump(cache, tenant);
    const m0 = performance.now();
    const missRes = await fetch(`${base}/v1/dashboards/${dashboard.id}/data`, { headers: auth });
    const missBody = (await missRes.json()) as { widgets: Array<{ id: string; status: string; duration_ms: number }> };
    const missMs = performance.now() - m0;
    console.log(
      `one call after a generation bump: ${missMs.toFixed(0)} ms (${missBody.widgets.map((w) => `${w.id} ${w.status} ${w.duration_ms} ms`).join(", ")})`,
    );
    const latencies: number[] = [];
    let non200 = 0;
    const end = performance.now() + DURATION * 1000;
    await Promise.all(
      Array.from({ length: VIEWERS }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          const res = await fetch(`${base}/v1/dashboards/${dashboard.id}/data`, { headers: auth });
          await res.arrayBuffer();
          latencies.push(performance.now() - t0);
          if (res.status !== 200) non200 += 1;
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    const rows = [
      [
        "first load, cold (new profile, answers computed afresh)",
        `${median(cold).toFixed(0)} ms`,
        `runs ${cold.map((x) => x.toFixed(0)).join(", ")}`,
        "< 3000 ms",
      ],
      [
        "first load, warm (answers cached, bundle cached)",
        `${median(warm).toFixed(0)} ms`,
        `runs ${warm.map((x) => x.toFixed(0)).join(", ")}`,
        "< 1000 ms",
      ],
      [
        `GET …/data, ${VIEWERS} viewers × ${DURATION} s`,
        `p50 ${pct(latencies, 50).toFixed(1)} ms, p95 ${pct(latencies, 95).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms`,
        `${(latencies.length / DURATION).toFixed(0)} req/s, ${non200} non-200`,
        "",
      ],
      ["GET …/data after a generation bump (all widgets miss)", `${missMs.toFixed(0)} ms`, "", ""],
    ];
    console.log("\n| measure | figure | detail | goal |\n| --- | --- | --- | --- |");
    for (const r of rows) console.log(`| ${r.join(" | ")} |`);
    if (non200 > 0) process.exitCode = 1;
  } finally {
    await cache.close().catch(() => undefined);
    if (service) {
      service.kill("SIGTERM");
      await service.exited;
    }
    if (!DATA_DIR_FLAG) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
