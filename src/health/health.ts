/**
 * Readiness checks: each dependency reports status, latency_ms and error, each under its own timeout,
 * so a hung or dead dependency turns readiness to 503 well within 5 s.
 */
import type { Deps } from "../deps.ts";
import { listJobs, type JobStatus } from "../jobs/timescale-jobs.ts";
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

async function probe(required: boolean, timeoutMs: number, fn: () => Promise<Record<string, unknown> | void>): Promise<Check> {
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
      return { timescaledb_version: v.timescaledb, postgres_version: v.postgres, embedded: Boolean(deps.engine), ...(engine ? { engine } : {}) };
    }).then((c) => ["database", c]),
  );

  if (deps.cache.driver !== "memory") {
    probes.push(probe(true, t, async () => {
      await deps.cache.ping();
      return { driver: deps.cache.driver };
    }).then((c) => ["cache", c]));
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
  const status = requiredDown ? "down" : failing.length > 0 || jobs.error ? "degraded" : "ok";
  return {
    status,
    timestamp: new Date().toISOString(),
    checks,
    jobs: { mode: deps.config.jobs.mode, items: jobs.items, failing: failing.length, ...(jobs.error ? { error: jobs.error } : {}) },
  };
}
