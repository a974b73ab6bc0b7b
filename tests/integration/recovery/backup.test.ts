import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSql } from "../../../src/db/client.ts";
import { EmbeddedEngine } from "../../../src/db/embedded/manager.ts";
import { migrate } from "../../../src/db/migrate.ts";
import { buildIngest } from "../../../src/deps.ts";
import { createMetrics } from "../../../src/metrics/metrics.ts";
import { childEnv, testConfig, testLogger } from "../../helpers/deps.ts";
import { orderCompleted, pageViewed } from "../../helpers/events.ts";
import { tempDir } from "../../helpers/tmp.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const DAY_MS = 86_400_000;
const oneLine = (minor: number) => ({
  lines: [{ item_id: "show-1", quantity: 1, unit_price_minor: minor }],
  discount_minor: 0,
  total_minor: minor,
});

/** `bun run <script> -- <args>` with EMBEDDED_DATA_DIR = dataDir (or a DATABASE_URL), as an operator runs it */
async function run(script: string, args: string[], dataDir: string, databaseUrl?: string) {
  const env = childEnv({ NODE_ENV: "test", EMBEDDED_DATA_DIR: dataDir, LOG_LEVEL: "warn" });
  delete env.DATABASE_URL;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const proc = Bun.spawn([process.execPath, "run", script, "--", ...args], { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

describe("backup, restore and verify of the embedded engine", () => {
  const dir = tempDir("backup");
  const source = join(dir, "source");
  const file = join(dir, "pulse.backup");
  const figures = join(dir, "figures.json");
  const T = crypto.randomUUID();
  let engine: EmbeddedEngine;

  beforeAll(async () => {
    engine = new EmbeddedEngine({ dataDir: source, port: 0, logger: testLogger });
    await engine.start();
    const sql = createSql(engine.url, { max: 1, statementTimeoutMs: 30_000, logger: testLogger, embedded: true });
    try {
      await migrate(sql, { logger: testLogger });
      const { ingest } = buildIngest({ config: testConfig(), logger: testLogger, sql, metrics: createMetrics(), nats: undefined });
      // noon (UTC) of 10 and 9 days ago, minus a minute per event: two daily chunks
      const noon = Date.parse(`${new Date(Date.now() - 10 * DAY_MS).toISOString().slice(0, 10)}T12:00:00Z`);
      const old = (i: number) => new Date(noon + (i % 2) * DAY_MS - i * 60_000).toISOString();
      // 10 and 9 days ago: 12 orders of 100, 200, …, 1200 (Σ 7800) and 8 page views; an hour ago: 3 orders of 2500 (Σ 7500)
      const events = [
        ...Array.from({ length: 12 }, (_, i) => orderCompleted(T, { time: old(i) }, oneLine((i + 1) * 100))),
        ...Array.from({ length: 8 }, (_, i) => pageViewed(T, { time: old(i) })),
        ...Array.from({ length: 3 }, () => orderCompleted(T, { time: new Date(Date.now() - 3_600_000).toISOString() }, oneLine(2500))),
      ];
      const out = await ingest.process(
        events.map((e) => ({
          input: JSON.stringify(e),
          expectedTenant: T,
          transport: "http" as const,
          subject: null,
          stream: null,
          streamSequence: null,
        })),
      );
      expect(out.every((o) => o.status === "accepted")).toBe(true);
      for (const table of ["events", "order_lines"]) {
        await sql`select compress_chunk(c) from show_chunks(${table}::regclass, older_than => now() - interval '5 days') c`;
      }
      const chunks = await sql`select hypertable_name, is_compressed, count(*)::int as n from timescaledb_information.chunks
                                where hypertable_name in ('events', 'order_lines') group by 1, 2 order by 1, 2`;
      // each table: the 2 old days compressed, today's chunk not (a chunk is one day)
      expect(chunks.map((c) => [c.hypertable_name, c.is_compressed, c.n])).toEqual([
        ["events", false, 1],
        ["events", true, 2],
        ["order_lines", false, 1],
        ["order_lines", true, 2],
      ]);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }, 60_000);

  afterAll(async () => {
    await engine.stop();
  });

  test("a backup while the service has the data dir open is refused, naming what to stop", async () => {
    const r = await run("backup", ["--out", file], source);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`the embedded data dir ${source} is in use`);
    expect(r.stderr).toContain("Stop it first");
    expect(existsSync(file)).toBe(false);
    // a server is backed up with pg_dump; its figures are recorded over DATABASE_URL (here: the running engine)
    const refused = await run("backup", ["--out", file], source, engine.url);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("pg_dump");
    const f = await run("backup:figures", ["--out", figures], source, engine.url);
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(/rows events\s+23\n/);
  }, 30_000);

  test("backup → verify → restore: every table's rows, the checksums and the compressed chunks come back", async () => {
    await engine.stop();
    const b = await run("backup", ["--out", file], source);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/rows events\s+23\n/); // 12 + 8 + 3
    expect(b.stdout).toMatch(/rows order_lines\s+15\n/); // one line per order
    expect(b.stdout).toMatch(/chunks events \(compressed\)\s+3 \(2\)\n/);

    const v = await run("backup:verify", ["--in", file], source);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain("verify: every figure is equal");
    expect(v.stdout).not.toContain("DIFF");
    expect(v.stdout).toMatch(/ok\s+checksum events\s+(\d+)\s+\1\n/);

    const target = join(dir, "restored");
    const r = await run("restore", ["--in", file], target);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("DIFF");
    // the restored engine serves the same data, compressed chunks included
    const restored = new EmbeddedEngine({ dataDir: target, port: 0, logger: testLogger });
    await restored.start();
    const sql = createSql(restored.url, { max: 1, statementTimeoutMs: 30_000, logger: testLogger, embedded: true });
    try {
      const [e] = await sql`select count(*)::int as n, sum(amount_minor) filter (where type = 'order.completed')::int as gross
                                from events where tenant_id = ${T}`;
      expect(e).toEqual({ n: 23, gross: 7800 + 7500 });
      const [old] = await sql`select count(*)::int as n from events where tenant_id = ${T} and time < now() - interval '5 days'`;
      expect(old!.n).toBe(20);
      const [c] =
        await sql`select count(*)::int as n from timescaledb_information.chunks where hypertable_name = 'events' and is_compressed`;
      expect(c!.n).toBe(2);
      const [l] = await sql`select count(*)::int as n, sum(net_line_minor)::int as net from order_lines where tenant_id = ${T}`;
      expect(l).toEqual({ n: 15, net: 15_300 });
      await sql.end({ timeout: 5 }); // the engine serves one connection at a time: the commands below need it
      // the figures recorded from the source over the wire (postgres.js) equal the restored server's, and the
      // backup's own (read in-process): one definition of the checksums whatever reads them
      const fv = await run("backup:verify", ["--figures", figures], target, restored.url);
      expect(fv.code).toBe(0);
      expect(fv.stdout).toContain("verify: every figure is equal");
      const recorded = JSON.parse(readFileSync(figures, "utf8"));
      expect(recorded.checksums.events.sum).toBe(
        JSON.parse(readFileSync(file).subarray(0, 200_000).toString("utf8").split("\n")[1]!).checksums.events.sum,
      );
      recorded.checksums.order_lines.sum = "1";
      writeFileSync(`${figures}.altered`, JSON.stringify(recorded));
      const fa = await run("backup:verify", ["--figures", `${figures}.altered`], target, restored.url);
      expect(fa.code).toBe(1);
      expect(fa.stdout).toMatch(/DIFF\s+checksum order_lines\s+1\s+\d+\n/);
    } finally {
      await sql.end({ timeout: 5 });
      await restored.stop();
    }

    const again = await run("restore", ["--in", file], target);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain("is not empty; pass --force");
    const forced = await run("restore", ["--in", file, "--force"], target);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`${target}.before-restore-`);
  }, 90_000);

  test("a damaged or altered backup file is detected", async () => {
    const bytes = readFileSync(file);
    const flipped = Buffer.from(bytes);
    const at = bytes.length - 1_000;
    flipped[at] = flipped[at]! ^ 0xff;
    writeFileSync(`${file}.flipped`, flipped);
    const f = await run("backup:verify", ["--in", `${file}.flipped`], source);
    expect(f.code).toBe(1);
    expect(f.stderr).toContain("damaged");
    expect(f.stderr).toContain("payload SHA-256");

    writeFileSync(`${file}.truncated`, bytes.subarray(0, bytes.length - 5_000));
    const t = await run("backup:verify", ["--in", `${file}.truncated`], source);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain("bytes; the manifest says");

    // a manifest that no longer matches its (intact) payload: the restored engine tells the difference
    const nl1 = bytes.indexOf(0x0a);
    const nl2 = bytes.indexOf(0x0a, nl1 + 1);
    const manifest = JSON.parse(bytes.subarray(nl1 + 1, nl2).toString("utf8"));
    manifest.tables.events += 1;
    writeFileSync(
      `${file}.altered`,
      Buffer.concat([bytes.subarray(0, nl1 + 1), Buffer.from(`${JSON.stringify(manifest)}\n`), bytes.subarray(nl2 + 1)]),
    );
    const a = await run("backup:verify", ["--in", `${file}.altered`], source);
    expect(a.code).toBe(1);
    expect(a.stdout).toMatch(/DIFF\s+rows events\s+24\s+23\n/);
    expect(a.stdout).toContain("verify: DIFFERENCES");

    writeFileSync(`${file}.not`, "hello");
    expect((await run("backup:verify", ["--in", `${file}.not`], source)).code).toBe(1);
  }, 60_000);
});
