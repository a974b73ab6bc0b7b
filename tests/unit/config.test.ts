import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config.ts";

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  test("defaults: port 3010, role all, embedded database with one connection, jobs run by the service", () => {
    const c = loadConfig({});
    expect(c.port).toBe(3010);
    expect(c.role).toBe("all");
    expect(c.db.url).toBeUndefined();
    expect(c.db.poolMax).toBe(1);
    expect(c.db.statementTimeoutMs).toBe(30_000);
    expect(c.jobs.mode).toBe("service");
    expect(c.cache.redisUrl).toBeUndefined();
  });

  test("with DATABASE_URL the pool size is honoured and the server's scheduler runs jobs by default", () => {
    const c = loadConfig({ DATABASE_URL: "postgres://u:p@db:5432/pulse", DB_POOL_MAX: "20" });
    expect(c.db.poolMax).toBe(20);
    expect(c.jobs.mode).toBe("scheduler");
    expect(loadConfig({ DATABASE_URL: "postgres://db/pulse", TIMESCALE_JOBS: "watch" }).jobs.mode).toBe("watch");
  });

  test.each([
    [{ PORT: "abc" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ ROLE: "scheduler" }, "ROLE"],
    [{ DATABASE_URL: "mysql://db/pulse" }, "DATABASE_URL"],
    [{ DB_POOL_MAX: "0" }, "DB_POOL_MAX"],
    [{ DB_STATEMENT_TIMEOUT_MS: "-5" }, "DB_STATEMENT_TIMEOUT_MS"],
    [{ REDIS_URL: "http://cache" }, "REDIS_URL"],
    [{ NATS_URL: "not a url" }, "NATS_URL"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ JWT_SECRET: "short" }, "JWT_SECRET"],
    [{ UPSTASH_REDIS_REST_URL: "https://x.upstash.io" }, "UPSTASH_REDIS_REST_TOKEN"],
    [{ NODE_ENV: "production" }, "JWT_SECRET"],
    [{ TIMESCALE_JOBS: "scheduler" }, "TIMESCALE_JOBS"],
    [{ MIGRATE_ON_START: "maybe" }, "MIGRATE_ON_START"],
  ])("a bad value is reported naming the variable: %p", (env, variable) => {
    const err = errorOf(env as Record<string, string>);
    expect(err.variables).toContain(variable);
    expect(err.message).toContain(`${variable}: `);
    expect(err.message).not.toContain("\n");
  });

  test("several bad values are all named in one message", () => {
    const err = errorOf({ PORT: "x", ROLE: "y" });
    expect(err.variables.sort()).toEqual(["PORT", "ROLE"]);
  });
});
