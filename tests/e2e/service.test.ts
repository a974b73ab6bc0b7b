import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { MAIN, type RunningService, startService, waitFor } from "../helpers/service.ts";
import { childEnv } from "../helpers/deps.ts";
import { readMigrations } from "../../src/db/migrate.ts";
import { tempDir } from "../helpers/tmp.ts";

const running: RunningService[] = [];
afterAll(async () => {
  for (const s of running) await s.stop("SIGKILL");
});

describe("bun run start on the embedded TimescaleDB", () => {
  const dataDir = join(tempDir("e2e"), "db");
  const env = { EMBEDDED_DATA_DIR: dataDir, JOBS_POLL_INTERVAL_MS: "1000" };
  let firstJobs: Array<{ job_id: number; last_run_at: string | null }> = [];

  test("a new data dir is ready within 15 s and readiness names the TimescaleDB version", async () => {
    const svc = await startService(env);
    running.push(svc);
    const { res, ms } = await waitFor(`${svc.url}/health/ready`, 200, 15_000);
    expect(res?.status).toBe(200);
    expect(ms).toBeLessThan(15_000);
    const body = await res!.json();
    expect(body.checks.database.details.timescaledb_version).toMatch(/^2\.\d+/);
    expect(body.checks.database.details.embedded).toBe(true);

    // the service runs due TimescaleDB jobs itself in embedded mode
    const deadline = Date.now() + 10_000;
    do {
      const b = await (await fetch(`${svc.url}/health/ready`)).json();
      firstJobs = b.jobs.items;
      if (firstJobs.some((j) => j.last_run_at)) break;
      await Bun.sleep(200);
    } while (Date.now() < deadline);
    expect(firstJobs.filter((j) => j.last_run_at).length).toBeGreaterThan(0);
  }, 40_000);

  test("a second service on the same data dir refuses to start, naming the lock", async () => {
    const second = await startService(env);
    running.push(second);
    const code = await Promise.race([second.proc.exited, Bun.sleep(15_000).then(() => "still running")]);
    expect(code).toBe(1);
    expect(second.output()).toContain("is in use by another Pulse process");
  }, 30_000);

  test("SIGTERM stops it cleanly within the shutdown budget", async () => {
    const svc = running[0]!;
    const started = performance.now();
    const code = await svc.stop("SIGTERM");
    expect(code).toBe(0);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(svc.output()).toContain("stopped cleanly");
  }, 20_000);

  test("data survives a restart: migrations are not re-applied and job runs are remembered", async () => {
    const svc = await startService(env);
    running.push(svc);
    const { res } = await waitFor(`${svc.url}/health/ready`, 200, 15_000);
    expect(res?.status).toBe(200);
    const body = await res!.json();
    for (const before of firstJobs.filter((j) => j.last_run_at)) {
      const after = body.jobs.items.find((j: { job_id: number }) => j.job_id === before.job_id);
      expect(after?.last_run_at).toBe(before.last_run_at);
    }
    expect(svc.output()).toContain('"applied":0');
    const numbered = readMigrations().numbered.length;
    expect(svc.output()).toContain(`"already_applied":${numbered}`);
    expect(await svc.stop("SIGTERM")).toBe(0);
  }, 40_000);
});

describe("configuration errors", () => {
  test("a bad value stops start-up with exit 1 and one line naming the variable", async () => {
    const proc = Bun.spawn(["bun", MAIN], { env: childEnv({ PORT: "not-a-port", ROLE: "api" }), stdout: "pipe", stderr: "pipe" });
    const code = await proc.exited;
    const out = (await new Response(proc.stdout as ReadableStream).text()) + (await new Response(proc.stderr as ReadableStream).text());
    expect(code).toBe(1);
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(line.msg).toContain("PORT: ");
    expect(line.variables).toEqual(["PORT"]);
  }, 20_000);
});
