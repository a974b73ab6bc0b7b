/**
 * Readiness checks: each dependency reports status, latency_ms and error, each under its own timeout,
 * so a hung or dead dependency turns readiness to 503 well within 5 s.
 */
import type { Deps } from "../deps.ts";
import { listJobs, type JobStatus } from "../jobs/timescale-jobs.ts";
import { analyticsCacheStatus } from "../analytics/shared/cache.ts";
import { timescaleVersion } from "./health.queries.ts";

export type CheckStatus = "up" | "down";

export interface Check {
  status: CheckStatus;
  required: boolean;
  latency_ms: number;
  error?: string;
  details?: Record<string, unknown>;
}

export interface Readiness {
  status: "ok" | "degraded" | "down";
  timestamp: string;
  checks: Record<string, Check>;
  jobs: { mode: string; items: JobStatus[]; failing: number; error?: string };
}

export class TimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = "TimeoutError";
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(ms)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function probe(required: boolean, timeoutMs: number, fn: () => Promise<Record<string, unknown> | undefined>): Promise<Check> {
  const started = performance.now();
  try {
    const details = await withTimeout(fn(), timeoutMs);
    return { status: "up", required, latency_ms: Math.round(performance.now() - started), ...(details ? { details } : {}) };
  } catch (err) {
    return { status: "down", required, latency_ms: Math.round(performance.now() - started), error: (err as Error).message };
  }
}

export async function readiness(deps: Deps): Promise<Readiness> {
  const t = deps.config.health.probeTimeoutMs;
  const probes: Array<Promise<[string, Check]>> = [];

  probes.push(
    probe(true, t, async () => {
      const engine = deps.engine?.status();
      if (engine) deps.metrics.embeddedRestarts.set(engine.restarts);
      if (engine && engine.state !== "up") throw new Error(`embedded TimescaleDB is ${engine.state}`);
      const v = await timescaleVersion(deps.sql);
      if (!v.timescaledb) throw new Error("the timescaledb extension is not installed");
      return {
        timescaledb_version: v.timescaledb,
        postgres_version: v.postgres,
        embedded: Boolean(deps.engine),
        ...(engine ? { engine } : {}),
      };
    }).then((c) => ["database", c]),
  );

  // the service answers without its cache (analytics from the database, rate limits in memory):
  // a cache that is down makes readiness degraded, never 503
  if (deps.cache.driver !== "memory") {
    probes.push(
      probe(false, t, async () => {
        await deps.cache.ping();
        return { driver: deps.cache.driver };
      }).then((c) => ["cache", c]),
    );
  }

  // analytics reads bypass a failing cache (answering from the database): degraded, not down
  {
    const ac = analyticsCacheStatus(deps.cache);
    deps.metrics.cacheDegraded.set(ac.degraded ? 1 : 0);
    const check: Check = ac.degraded
      ? {
          status: "down",
          required: false,
          latency_ms: 0,
          error: `analytics reads bypass the cache since ${ac.since}: ${ac.last_error}`,
          details: { driver: deps.cache.driver, degraded: true, since: ac.since },
        }
      : { status: "up", required: false, latency_ms: 0, details: { driver: deps.cache.driver, degraded: false } };
    probes.push(Promise.resolve(["analytics_cache", check]));
  }

  if (deps.nats) {
    const nats = deps.nats;
    probes.push(
      probe(true, t, async () => {
        if (nats.nc.isClosed()) throw new Error("connection closed");
        const info = await nats.jsm.getAccountInfo();
        return { server: nats.nc.getServer(), streams: info.streams, consumers: info.consumers };
      }).then((c) => ["nats", c]),
    );
  }

  // the database-write circuit breaker: open ⇒ ingest is paused, and readiness says why
  probes.push(
    probe(true, t, async () => {
      const b = deps.breaker.status();
      if (b.state === "open") throw new Error(`ingest paused: database circuit breaker open since ${b.opened_at} (${b.last_error})`);
      return { breaker: b.state };
    }).then((c) => ["ingest", c]),
  );

  const jobsPromise = withTimeout(listJobs(deps.sql, deps.config.jobs.mode, deps.config.jobs.overdueGraceMs), t).then(
    (items): { items: JobStatus[]; error?: string } => ({ items }),
    (err: Error): { items: JobStatus[]; error?: string } => ({ items: [], error: err.message }),
  );

  const [entries, jobs] = await Promise.all([Promise.all(probes), jobsPromise]);
  const checks = Object.fromEntries(entries);
  const failing = jobs.items.filter((j) => j.failed || j.overdue);
  for (const j of jobs.items) {
    deps.metrics.timescaleJobFailed.set({ job_id: String(j.job_id), proc_name: j.proc }, j.failed || j.overdue ? 1 : 0);
  }
  const requiredDown = entries.some(([, c]) => c.required && c.status === "down");
  const optionalDown = entries.some(([, c]) => !c.required && c.status === "down");
  const status = requiredDown ? "down" : failing.length > 0 || jobs.error || optionalDown ? "degraded" : "ok";
  return {
    status,
    timestamp: new Date().toISOString(),
    checks,
    jobs: { mode: deps.config.jobs.mode, items: jobs.items, failing: failing.length, ...(jobs.error ? { error: jobs.error } : {}) },
  };
}
