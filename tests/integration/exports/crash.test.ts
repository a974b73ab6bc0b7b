/**
 * Crash recovery: the service (ROLE=all: API and export worker) runs as a child process on its own
 * embedded engine; it is SIGKILLed while writing a 20,000-customer CSV (40 pages), a new process is
 * started on the same data, and after the dead worker's lease (EXPORT_LEASE_SECONDS=3) runs out the
 * job is claimed again and completes once: attempt 2, every customer exactly once, no leftover of
 * attempt 1 next to the file.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { createSql } from "../../../src/db/client.ts";
import { EmbeddedEngine } from "../../../src/db/embedded/manager.ts";
import { migrate } from "../../../src/db/migrate.ts";
import { TEST_JWT_SECRET, testLogger, token } from "../../helpers/deps.ts";
import { type RunningService, startService, waitFor } from "../../helpers/service.ts";
import { tempDir } from "../../helpers/tmp.ts";
import { parseCsv } from "./helpers.ts";

const running: RunningService[] = [];
afterAll(async () => {
  for (const s of running) await s.stop("SIGKILL");
});

// enough rows that the export is still running when the test kills it (pages cost their rows, so it is fast)
const N = 200_000;

async function seed(dataDir: string, tenant: string): Promise<void> {
  const engine = new EmbeddedEngine({ dataDir, port: 0, logger: testLogger });
  await engine.start();
  const sql = createSql(engine.url, { max: 1, statementTimeoutMs: 60_000, logger: testLogger, embedded: true });
  try {
    await migrate(sql, { logger: testLogger });
    await sql`
      insert into customer_scores (tenant_id, customer_id, currency, first_order_at, last_order_at,
                                   archived_orders, archived_net_minor, r_score, f_score, m_score, segment)
      select ${tenant}::uuid, 'c-' || lpad(g::text, 6, '0'), 'EUR', now() - interval '40 days', now() - make_interval(days => g % 60),
             1 + g % 4, 100 * g, 1 + g % 5, 1 + g % 5, 1 + g % 5, customer_segment(1 + g % 5, 1 + g % 5)
        from generate_series(1, ${N}) g`;
  } finally {
    await sql.end({ timeout: 1 });
    await engine.stop();
  }
}

async function startReady(env: Record<string, string>): Promise<RunningService> {
  // the data-dir lock of a killed process goes stale within ~10 s: retry until a start succeeds
  const deadline = Date.now() + 40_000;
  for (;;) {
    const svc = await startService(env);
    running.push(svc);
    const ready = await Promise.race([
      svc.proc.exited.then(() => "exited"),
      waitFor(`${svc.url}/health/ready`, 200, 30_000).then((r) => (r.res?.status === 200 ? "ready" : "late")),
    ]);
    if (ready === "ready") return svc;
    if (Date.now() > deadline) throw new Error(`the service did not start: ${svc.output().slice(-2000)}`);
    await svc.stop("SIGKILL");
    await Bun.sleep(1_000);
  }
}

describe("an export worker killed mid-file", () => {
  test("the job is picked up after its lease and completes once, every row exactly once", async () => {
    const root = tempDir("export-crash");
    const dataDir = join(root, "db");
    const exportsDir = join(root, "exports");
    const tenant = crypto.randomUUID();
    await seed(dataDir, tenant);
    const env = {
      EMBEDDED_DATA_DIR: dataDir,
      EXPORTS_DIR: exportsDir,
      JWT_SECRET: TEST_JWT_SECRET,
      ROLE: "all",
      EXPORT_LEASE_SECONDS: "3",
      EXPORT_POLL_INTERVAL_MS: "200",
    };
    const auth = { authorization: `Bearer ${await token({ tenantId: tenant, roles: ["analyst"], expiresIn: "10m" })}` };
    const status = async (url: string, id: string) => (await (await fetch(`${url}/v1/exports/${id}`, { headers: auth })).json()) as any;

    let svc = await startReady(env);
    const res = await fetch(`${svc.url}/v1/exports`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ operation: "listCustomers", params: {}, format: "csv" }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };

    // kill it once it has written part of the file (progress is recorded at each lease renewal)
    let seen: any;
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      seen = await status(svc.url, id);
      if (seen.status === "running" && seen.progress.rows_written >= 1_000) break;
      if (seen.status === "succeeded" || seen.status === "failed") break;
      await Bun.sleep(100);
    }
    expect(seen.status).toBe("running");
    expect(seen.progress.rows_written).toBeLessThan(N);
    svc.proc.kill("SIGKILL");
    await svc.proc.exited;
    // the killed attempt left its partial file, never a finished one
    expect(readdirSync(join(exportsDir, tenant, id))).toEqual(["1.csv.part"]);

    svc = await startReady(env);
    let done: any;
    const end = Date.now() + 90_000;
    while (Date.now() < end) {
      done = await status(svc.url, id);
      if (done.status === "succeeded" || done.status === "failed") break;
      await Bun.sleep(250);
    }
    expect(done).toMatchObject({ status: "succeeded", attempts: 2, progress: { rows_written: N, rows_total: N, percent: 100 } });
    const file = await fetch(`${svc.url}${done.download_url}`, { headers: auth });
    expect(file.status).toBe(200);
    const [head, ...rows] = parseCsv(new Uint8Array(await file.arrayBuffer()));
    expect(head![0]).toBe("customer_id");
    expect(rows.length).toBe(N);
    expect(new Set(rows.map((r) => r[0])).size).toBe(N);
    expect(rows[0]![0]).toBe("c-000001");
    expect(rows[N - 1]![0]).toBe(`c-${String(N).padStart(6, "0")}`);
    expect(readdirSync(join(exportsDir, tenant, id))).toEqual(["2.csv"]);
    expect(await svc.stop("SIGTERM")).toBe(0);
  }, 240_000);
});
