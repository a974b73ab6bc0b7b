/**
 * Readiness checks: each dependency reports status, latency_ms and error, each under its own timeout,
 * so a hung or dead dependency turns readiness to 503 well within 5 s.
 *
 * Readiness says whether THIS role can serve (ROLE, src/config/server.ts); `required` on a check says
 * whether its failure makes the process unready (503) or only `degraded` (200, with the reason):
 *
 *   check            api        worker     all
 *   database         required   required   required
 *   nats             optional   required   optional   (worker: down when NATS_URL is not set either)
 *   ingest breaker   optional   required   optional
 *   cache            optional   optional   optional
 *
 * An api pod answers reads without NATS (HTTP ingest writes to the database; only the dead-letter
 * copy on NATS is skipped) and without the ingest breaker (reads do not pass it), so a broker outage
 * must not pull it out of its Service. A worker's only work is the JetStream consumer: without NATS,
 * or with database writes paused, it is not ready. `all` serves the API too, so it stays in its
 * Service like an api. Liveness (/health/live) checks nothing.
 */
import type { Role } from "../config.ts";
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
  role: Role;
  /** one line per check that is down (503 when a required one is), e.g. "nats (optional for api): connection closed" */
  reasons: string[];
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
  const role = deps.config.role;
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
  // a cache that is down makes readiness degraded, never 503. Behind its circuit breaker
  // (src/cache/circuit.ts) the ping fails at once while the circuit is open
  if (deps.cache.driver !== "memory") {
    const cache = deps.cache;
    const details = () => ({ driver: cache.driver, ...(cache.circuit ? { circuit: cache.circuit() } : {}) });
    probes.push(
      probe(false, t, async () => {
        await cache.ping();
        return details();
      }).then((c): [string, Check] => ["cache", c.status === "down" ? { ...c, details: details() } : c]),
    );
  }

  // analytics reads bypass a failing cache (answering from the database): degraded, not down. Once
  // the circuit is closed again the next read uses the cache, whatever the last read saw
  {
    const ac = analyticsCacheStatus(deps.cache);
    const degraded = ac.degraded && deps.cache.circuit?.().state !== "closed";
    deps.metrics.cacheDegraded.set(degraded ? 1 : 0);
    const driver = deps.cache.driver;
    const check: Check = degraded
      ? {
          status: "down",
          required: false,
          latency_ms: 0,
          error: `analytics reads bypass the cache since ${ac.since}: ${ac.last_error}`,
          details: { driver, degraded: true, since: ac.since },
        }
      : { status: "up", required: false, latency_ms: 0, details: { driver, degraded: false } };
    probes.push(Promise.resolve(["analytics_cache", check]));
  }

  // what the worker needs; api and all answer without it (degraded)
  const ingestRequired = role === "worker";
  const nats = deps.nats;
  if (nats) {
    probes.push(
      probe(ingestRequired, t, async () => {
        if (nats.nc.isClosed()) throw new Error("connection closed");
        if (!nats.link.connected) throw new Error(`disconnected since ${new Date(nats.link.since).toISOString()} (reconnecting)`);
        const info = await nats.jsm.getAccountInfo();
        return { server: nats.nc.getServer(), streams: info.streams, consumers: info.consumers };
      }).then((c) => ["nats", c]),
    );
  } else if (deps.natsPending) {
    const p = deps.natsPending;
    const error = `not connected since ${new Date(p.since).toISOString()} (${p.attempts} attempts; last: ${p.lastError})`;
    probes.push(Promise.resolve(["nats", { status: "down", required: ingestRequired, latency_ms: 0, error }]));
  } else if (role === "worker") {
    const error = "NATS_URL is not set: a worker has nothing to consume";
    probes.push(Promise.resolve(["nats", { status: "down", required: true, latency_ms: 0, error }]));
  }

  // the database-write circuit breaker: open ⇒ ingest is paused, and readiness says why
  probes.push(
    probe(ingestRequired, t, async () => {
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
  const reasons = entries
    .filter(([, c]) => c.status === "down")
    .map(([name, c]) => `${name} (${c.required ? "required" : "optional"} for ${role}): ${c.error ?? "down"}`);
  if (jobs.error) reasons.push(`jobs: ${jobs.error}`);
  for (const j of failing) {
    reasons.push(`job ${j.job_id} ${j.proc}: ${j.failed ? `failed${j.last_error ? ` (${j.last_error})` : ""}` : "overdue"}`);
  }
  return {
    status,
    role,
    reasons,
    timestamp: new Date().toISOString(),
    checks,
    jobs: { mode: deps.config.jobs.mode, items: jobs.items, failing: failing.length, ...(jobs.error ? { error: jobs.error } : {}) },
  };
}
