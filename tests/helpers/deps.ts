/**
 * Shared test dependencies: one postgres.js client (max 1: the embedded socket serves one connection
 * at a time) on the preload's engine, migrated once; every test file builds its own app from these
 * with createApp(deps). Logs are captured in memory (tests can scan them) instead of printed.
 */
import { Writable } from "node:stream";
import { expect } from "bun:test";
import { createApp } from "../../src/app.ts";
import { type Config, loadConfig, processEnv } from "../../src/config.ts";
import { buildDeps, closeDeps, type Deps } from "../../src/deps.ts";
import { migrate } from "../../src/db/migrate.ts";
import type { IncomingMessage } from "../../src/ingest/pipeline.ts";
import { type ApiRole, signToken } from "../../src/http/auth.ts";
import { createLogger } from "../../src/logger.ts";
import type { CloudEvent } from "./events.ts";

export const TEST_JWT_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

/** every log line written by test deps, as text */
export const capturedLogs: string[] = [];
const capture = new Writable({
  write(chunk, _enc, cb) {
    capturedLogs.push(String(chunk));
    cb();
  },
});
export const testLogger = createLogger({ level: "debug", format: "json", destination: capture });

export function testEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: "test",
    DATABASE_URL: globalThis.__pulseTest.engine.url,
    DB_POOL_MAX: "1",
    MIGRATE_ON_START: "false",
    TIMESCALE_JOBS: "service",
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: "debug",
    // many requests per token in one file: budgets no test reaches unless it sets its own
    RATE_LIMIT_READ_PER_MIN: "1000000",
    RATE_LIMIT_EXPORT_PER_MIN: "1000000",
    RATE_LIMIT_INGEST_PER_MIN: "1000000",
    RATE_LIMIT_PUBLIC_PER_MIN: "1000000",
    ...extra,
  };
}

export function testConfig(extra: Record<string, string> = {}): Config {
  return loadConfig(testEnv(extra));
}

let shared: Promise<Deps> | undefined;

/** the shared deps: migrated database, memory cache, no NATS, no background jobs */
export function getTestDeps(): Promise<Deps> {
  shared ??= (async () => {
    const deps = await buildDeps(testConfig(), { logger: testLogger, nats: false, runJobs: false });
    await migrate(deps.sql, { logger: testLogger });
    return { ...deps, engine: globalThis.__pulseTest.engine };
  })();
  return shared;
}

export async function closeTestDeps(): Promise<void> {
  if (!shared) return;
  const deps = await shared;
  shared = undefined;
  await closeDeps({ ...deps, engine: undefined });
}

export async function testApp(overrides: Partial<Deps> = {}) {
  const deps = { ...(await getTestDeps()), ...overrides };
  return { app: createApp(deps), deps };
}

/** every bearer token minted by token() in this process (the log scan looks for them) */
export const mintedTokens: string[] = [];

export async function token(
  opts: { tenantId?: string; roles?: ApiRole[]; sub?: string; expiresIn?: string | number; secret?: string } = {},
) {
  const t = await signToken(opts.secret ?? TEST_JWT_SECRET, {
    sub: opts.sub ?? "test-user",
    tenantId: opts.tenantId ?? crypto.randomUUID(),
    roles: opts.roles ?? ["viewer"],
    expiresIn: opts.expiresIn ?? "5m",
  });
  mintedTokens.push(t);
  return t;
}

/** environment for a child process (the service, Deno) */
export function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(processEnv())) if (v !== undefined) env[k] = v;
  return { ...env, ...extra };
}

const AGGREGATE_LEVELS = [
  ["5m", 5 * 60_000],
  ["1h", 3_600_000],
  ["1d", 86_400_000],
] as const;

/**
 * What the refresh policies do in production, on demand: refresh every continuous aggregate, lower
 * levels first, over [from, to) widened to each level's whole buckets, the end never past the policy's
 * (sql/repeatable/030_analytics_policies.sql: end_offset = one bucket of the level, so the current and
 * the previous bucket stay real-time; a level with no whole bucket is skipped).
 * Analytics tests call this after seeding: real-time aggregation only covers data newer than an
 * aggregate's watermark, and an earlier test file may already have moved a watermark past the times
 * this one seeds (in production the next policy run picks such late data up; the bound is in
 * src/analytics/shared/generation.ts). The end offset matters: an event dated a few seconds back and
 * ingested by a later test must not land in a bucket a refresh already materialised (a late event,
 * hidden until the next refresh), as in production it never does.
 */
export async function refreshAggregates(sql: Deps["sql"], from: Date, to: Date): Promise<void> {
  for (const [level, ms] of AGGREGATE_LEVELS) {
    const start = Math.floor(from.getTime() / ms) * ms;
    const end = Math.min(Math.ceil(to.getTime() / ms) * ms, Math.floor((Date.now() - ms) / ms) * ms);
    if (end <= start) continue;
    for (const family of ["agg_events", "agg_lines"]) {
      await sql`call refresh_continuous_aggregate(${`${family}_${level}`}::regclass, ${new Date(start)}::timestamptz, ${new Date(end)}::timestamptz)`;
    }
  }
}

/** Seeds events through the real ingest pipeline (as the HTTP transport does) and expects every one accepted. */
export async function ingestAccepted(deps: Deps, events: CloudEvent[]): Promise<void> {
  const msgs: IncomingMessage[] = events.map((e) => ({
    input: JSON.stringify(e),
    expectedTenant: e.tenantid!,
    transport: "http",
    subject: null,
    stream: null,
    streamSequence: null,
  }));
  const outcomes = await deps.ingest.process(msgs);
  expect(outcomes.map((o) => o.status)).toEqual(events.map(() => "accepted"));
}
