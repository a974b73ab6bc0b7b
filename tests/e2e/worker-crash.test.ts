import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createSql } from "../../src/db/client.ts";
import { EmbeddedEngine } from "../../src/db/embedded/manager.ts";
import { TEST_JWT_SECRET, testLogger, token } from "../helpers/deps.ts";
import { orderCompleted, pageViewed } from "../helpers/events.ts";
import { privateNats, until } from "../helpers/nats.ts";
import { type RunningService, startService, waitFor } from "../helpers/service.ts";
import { tempDir } from "../helpers/tmp.ts";

const running: RunningService[] = [];
afterAll(async () => {
  for (const s of running) await s.stop("SIGKILL");
});

describe("a worker killed mid-stream", () => {
  test("loses nothing and duplicates nothing after a restart", async () => {
    const { nats, config, cleanup } = await privateNats();
    const dataDir = join(tempDir("kill"), "db");
    const env = {
      EMBEDDED_DATA_DIR: dataDir,
      NATS_URL: "nats://127.0.0.1:4222",
      NATS_STREAM: config.nats.stream,
      NATS_SUBJECT_PREFIX: config.nats.subjectPrefix,
      NATS_CONSUMER: config.ingest.consumer,
      NATS_ACK_WAIT_MS: "3000",
      JWT_SECRET: TEST_JWT_SECRET,
      INGEST_BATCH_SIZE: "100",
    };
    const t = crypto.randomUUID();
    const total = 3_000;
    const enc = new TextEncoder();
    try {
      let svc = await startService(env);
      running.push(svc);
      expect((await waitFor(`${svc.url}/health/ready`, 200, 20_000)).res?.status).toBe(200);
      const auth = { authorization: `Bearer ${await token({ tenantId: t })}` };
      const accepted = async (url: string) => {
        const range = `from=${new Date(Date.now() - 86_400_000).toISOString()}&to=${new Date(Date.now() + 86_400_000).toISOString()}`;
        const res = await fetch(`${url}/v1/ingest/stats?${range}`, { headers: auth }).catch(() => undefined);
        return res?.ok ? ((await res.json()) as { accepted: number; duplicates: number }) : undefined;
      };
      const publishes: Array<Promise<unknown>> = [];
      for (let i = 0; i < total; i++) {
        const e = i % 3 === 0 ? orderCompleted(t) : pageViewed(t);
        publishes.push(nats.js.publish(`${nats.subjectPrefix}.${t}.${e.type}`, enc.encode(JSON.stringify(e)), { msgID: e.id }));
      }
      await Promise.all(publishes);

      // kill it (no shutdown, no acks of the batch in flight) once part of the stream is stored
      expect(await until(async () => ((await accepted(svc.url))?.accepted ?? 0) > 300, 30_000, 20)).toBe(true);
      svc.proc.kill("SIGKILL");
      await svc.proc.exited;
      const before = (await waitFor(`${svc.url}/health/live`, 200, 100)).res;
      expect(before).toBeUndefined();

      // restart (the data-dir lock of the killed process goes stale within ~10 s)
      const deadline = Date.now() + 30_000;
      for (;;) {
        svc = await startService(env);
        running.push(svc);
        const ready = await Promise.race([
          svc.proc.exited.then(() => "exited"),
          waitFor(`${svc.url}/health/ready`, 200, 20_000).then(() => "ready"),
        ]);
        if (ready === "ready" || Date.now() > deadline) break;
        await Bun.sleep(1_000);
      }
      expect(await until(async () => (await accepted(svc.url))?.accepted === total, 60_000, 200)).toBe(true);
      await Bun.sleep(500);
      const stats = await accepted(svc.url);
      expect(stats?.accepted).toBe(total);
      expect(await svc.stop("SIGTERM")).toBe(0);

      // count what is on disk: every event once
      const engine = new EmbeddedEngine({ dataDir, port: 0, logger: testLogger });
      await engine.start();
      const sql = createSql(engine.url, { max: 1, statementTimeoutMs: 30_000, logger: testLogger, embedded: true });
      try {
        const [row] = await sql`select count(*)::int as n, count(distinct event_id)::int as d from events where tenant_id = ${t}`;
        expect(row).toEqual({ n: total, d: total });
      } finally {
        await sql.end({ timeout: 1 });
        await engine.stop();
      }
    } finally {
      await cleanup();
    }
  }, 150_000);
});
