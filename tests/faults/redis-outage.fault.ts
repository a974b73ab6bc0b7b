/**
 * Redis stopped for 20 s while 20 clients read analytics, then started again (empty: no persistence).
 * An api process with its own embedded engine and its own redis-server (cache and rate limiter).
 *
 * Readers: 20 clients read one tenant's revenue summary in a loop (a dashboard: the same answer, a
 * cache hit while Redis is up). A probe reads it once every 250 ms with a new `to` each time (a new
 * key: always computed by the database), so "before" and "during" compare like with like: what a read
 * that has to reach the database costs with the cache up (the cache's GET and SET included) and with
 * the cache down (the circuit open: no wait on it). Goals (issue 20): 100 % of reads answered,
 * readiness `degraded` (never 503), a cache outage costing < 5 ms a read.
 */
import { afterAll, expect, test } from "bun:test";
import { token } from "../helpers/deps.ts";
import { orderCompleted } from "../helpers/events.ts";
import { type PrivateServer, startRedisServer } from "../helpers/servers.ts";
import { ready, record, secondsUntil, startFaultService, stopServices, watchReadiness } from "./harness.ts";

const OUTAGE_MS = 20_000;
const CLIENTS = 20;

let redis: PrivateServer | undefined;
afterAll(async () => {
  await stopServices();
  await redis?.close();
});

interface Read {
  at: number;
  ms: number;
  status: number;
}

function pct(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

test("Redis stopped 20 s under 20 readers: every read answered from the database, readiness degraded not 503, no read slower for the dead cache", async () => {
  redis = await startRedisServer();
  const svc = await startFaultService({ role: "api", redis });
  await ready(svc);

  // a day of orders for a fresh tenant, through HTTP ingest: 200 × 6,500 minor units
  const tenant = crypto.randomUUID();
  const day = 86_400_000;
  const events = Array.from({ length: 200 }, (_, i) =>
    orderCompleted(tenant, { time: new Date(Date.now() - ((i + 1) * day) / 400).toISOString() }),
  );
  const ingest = await fetch(`${svc.url}/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${await token({ tenantId: tenant, roles: ["ingest"] })}`, "content-type": "application/json" },
    body: JSON.stringify(events),
  });
  expect(ingest.status).toBe(202);

  const auth = { authorization: `Bearer ${await token({ tenantId: tenant, roles: ["viewer"], expiresIn: "10m" })}` };
  const from = new Date(Date.now() - 2 * day).toISOString();
  const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
  const summary = `${svc.url}/v1/revenue/summary?from=${from}&to=${to.toISOString()}`;
  // hand-computed: 200 orders × 6,500 = 1,300,000 gross
  const first = (await (await fetch(summary, { headers: auth })).json()) as { data: Array<{ gross_minor: number; orders: number }> };
  expect(first.data[0]).toMatchObject({ gross_minor: 1_300_000, orders: 200 });

  const watch = watchReadiness(svc);
  const reads: Read[] = [];
  const probes: Read[] = [];
  let running = true;
  const timed = async (url: string, into: Read[]) => {
    const at = performance.now();
    let status = 0;
    try {
      const res = await fetch(url, { headers: auth, signal: AbortSignal.timeout(10_000) });
      status = res.status;
      const body = (await res.json()) as { data?: Array<{ gross_minor: number }> };
      if (status === 200 && body.data?.[0]?.gross_minor !== 1_300_000) status = -1; // a wrong answer is not an answer
    } catch {
      status = 0;
    }
    into.push({ at, ms: performance.now() - at, status });
  };
  const readers = Array.from({ length: CLIENTS }, async () => {
    while (running) await timed(summary, reads);
  });
  let n = 0;
  const prober = (async () => {
    while (running) {
      n += 1;
      await timed(`${svc.url}/v1/revenue/summary?from=${from}&to=${new Date(to.getTime() + n).toISOString()}`, probes);
      await Bun.sleep(250);
    }
  })();

  await Bun.sleep(10_000);
  const stoppedAt = performance.now();
  await redis.stop();
  await Bun.sleep(OUTAGE_MS);
  const startedAt = performance.now();
  await redis.start();
  await Bun.sleep(10_000);
  running = false;
  await Promise.all([...readers, prober]);
  const endAt = performance.now();
  await watch.stop();

  const phase = (rs: Read[], a: number, b: number) => rs.filter((r) => r.at >= a && r.at < b);
  const warm = stoppedAt - 8_000; // the first 2 s warm the cache and the connections
  const before = phase(reads, warm, stoppedAt);
  const during = phase(reads, stoppedAt, startedAt);
  const after = phase(reads, startedAt, endAt);
  const pBefore = phase(probes, warm, stoppedAt);
  const pDuring = phase(probes, stoppedAt + 1_000, startedAt); // after the failure that opens the circuit
  const pAfter = phase(probes, startedAt + 2_000, endAt);
  const ok = (rs: Read[]) => rs.filter((r) => r.status === 200).length;
  const ms = (rs: Read[]) => rs.map((r) => r.ms);
  const row = (name: string, rs: Read[]) =>
    [
      name.padEnd(28),
      String(rs.length).padStart(6),
      String(ok(rs)).padStart(6),
      ...[pct(ms(rs), 50), pct(ms(rs), 95), Math.max(...ms(rs))].map((v) => v.toFixed(1).padStart(8)),
    ].join(" ");
  const p50s = (...phases: Read[][]) => phases.map((rs) => pct(ms(rs), 50).toFixed(1)).join("/");
  console.log(
    [
      "",
      `Redis outage: read latency (ms), ${CLIENTS} clients on one answer + 1 probe on a new key every 250 ms`,
      `${"phase".padEnd(28)} ${"reads".padStart(6)} ${"200".padStart(6)} ${"p50".padStart(8)} ${"p95".padStart(8)} ${"max".padStart(8)}`,
      row("clients, before (hits)", before),
      row("clients, Redis down", during),
      row("clients, after", after),
      row("probe, before (misses)", pBefore),
      row("probe, Redis down", pDuring),
      row("probe, after", pAfter),
      "",
    ].join("\n"),
  );

  // every read answered, and right, while Redis was down
  expect(during.length).toBeGreaterThan(CLIENTS);
  expect(ok(during)).toBe(during.length);
  expect(ok(before) + ok(after)).toBe(before.length + after.length);
  // readiness: degraded during the outage, never 503; ok again once Redis answers
  const duringReady = watch.between(stoppedAt, startedAt);
  expect(duringReady.every((s) => s.code === 200)).toBe(true);
  const toDegraded = secondsUntil(watch, stoppedAt, (s) => s.status === "degraded");
  const cacheClear = (s: { code: number; reasons?: string[] }) => s.code === 200 && !(s.reasons ?? []).some((r) => r.includes("cache"));
  const toCacheUp = secondsUntil(watch, startedAt, cacheClear);
  expect(toDegraded).not.toBeNull();
  expect(toCacheUp).not.toBeNull();
  // the dead cache costs a read nothing it did not cost with the cache up: a miss during the outage
  // (database only) against a miss before it (database + cache GET and SET). Before the circuit it
  // was ~355 ms more (measured); the goal is < 5 ms, printed above; the bound here catches a regression
  const extra =
    pct(
      pDuring.map((r) => r.ms),
      50,
    ) -
    pct(
      pBefore.map((r) => r.ms),
      50,
    );
  expect(extra).toBeLessThan(50);

  record({
    scenario: "Redis down 20 s, 20 readers",
    to503: watch.between(stoppedAt, endAt).some((s) => s.code === 503) ? secondsUntil(watch, stoppedAt, (s) => s.code === 503) : null,
    to200: toCacheUp,
    reads: `${ok(during)}/${during.length} (100 %)`.replace("(100 %)", `(${((100 * ok(during)) / during.length).toFixed(0)} %)`),
    notes:
      `readiness degraded ${toDegraded?.toFixed(1)} s after the stop, cache check up ${toCacheUp?.toFixed(1)} s after the start; ` +
      `client p50 before/during/after ${p50s(before, during, after)} ms; ` +
      `probe (new key, database) p50 before/during/after ${p50s(pBefore, pDuring, pAfter)} ms: ` +
      `the outage adds ${extra.toFixed(1)} ms to a read (goal < 5)`,
  });
}, 120_000);
