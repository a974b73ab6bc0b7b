/**
 * Shared test dependencies: one postgres.js client (max 1: the embedded socket serves one connection
 * at a time) on the preload's engine, migrated once; every test file builds its own app from these
 * with createApp(deps). Logs are captured in memory (tests can scan them) instead of printed.
 */
import { Writable } from "node:stream";
import { createApp } from "../../src/app.ts";
import { type Config, loadConfig, processEnv } from "../../src/config.ts";
import { buildDeps, closeDeps, type Deps } from "../../src/deps.ts";
import { migrate } from "../../src/db/migrate.ts";
import { type ApiRole, signToken } from "../../src/http/auth.ts";
import { createLogger } from "../../src/logger.ts";

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

export function token(opts: { tenantId?: string; roles?: ApiRole[]; sub?: string; expiresIn?: string | number; secret?: string } = {}) {
  return signToken(opts.secret ?? TEST_JWT_SECRET, {
    sub: opts.sub ?? "test-user",
    tenantId: opts.tenantId ?? crypto.randomUUID(),
    roles: opts.roles ?? ["viewer"],
    expiresIn: opts.expiresIn ?? "5m",
  });
}

/** environment for a child process (the service, Deno) */
export function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(processEnv())) if (v !== undefined) env[k] = v;
  return { ...env, ...extra };
}
