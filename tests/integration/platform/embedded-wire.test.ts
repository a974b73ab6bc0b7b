/**
 * The embedded engine's wire front (src/db/embedded/wire.ts) on an engine of its own, so the test can
 * open and drop connections without touching the suite's shared one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { EmbeddedEngine } from "../../../src/db/embedded/manager.ts";
import { createLogger } from "../../../src/logger.ts";

let engine: EmbeddedEngine;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pulse-wire-"));
  engine = new EmbeddedEngine({ dataDir: join(dir, "db"), port: 0, logger: createLogger({ level: "silent", format: "json" }) });
  await engine.start();
}, 60_000);
afterAll(async () => {
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
});

function client() {
  return postgres(engine.url, { max: 1, onnotice: () => {} });
}

describe("embedded engine wire protocol", () => {
  test("a statement of several megabytes (many TCP reads) is answered and the engine stays up", async () => {
    const sql = client();
    try {
      const big = "x".repeat(3 * 1024 * 1024);
      const [row] = await sql`select length(${big}::text) as n`;
      expect(row!.n).toBe(3 * 1024 * 1024);
      // a 2,000-row unnest insert, the shape the ingest batch uses
      await sql`create table wide (id int, body text)`;
      const ids = Array.from({ length: 2_000 }, (_, i) => String(i));
      const bodies = ids.map((i) => `row-${i}-${"y".repeat(400)}`);
      await sql`insert into wide select * from unnest(${ids}::text[]::int[], ${bodies}::text[])`;
      const [count] = await sql`select count(*)::int as n, sum(length(body))::int as len from wide`;
      expect(count).toEqual({ n: 2_000, len: bodies.reduce((a, b) => a + b.length, 0) });
      expect(engine.status()).toMatchObject({ state: "up", restarts: 0 });
    } finally {
      await sql.end();
    }
  }, 30_000);

  test("a client that disconnects inside a transaction leaves no transaction, setting or prepared statement behind", async () => {
    const first = client();
    await first`create table if not exists kept (v int)`;
    // session-level state outside any transaction: survives a ROLLBACK, only DISCARD ALL clears it
    await first`select set_config('app.tenant_id', 'leaked', false)`;
    await first`prepare leaked_plan as select 1`;
    const open = first.begin(async (tx) => {
      await tx`insert into kept values (1)`;
      await new Promise(() => {}); // never commits
    });
    open.catch(() => {});
    await Bun.sleep(200);
    await first.end({ timeout: 0 });

    const second = client();
    try {
      const [state] =
        await second`select current_setting('app.tenant_id', true) as tenant, current_user as who, (select count(*)::int from kept) as kept`;
      expect(state).toEqual({ tenant: "", who: "postgres", kept: 0 });
      const [plans] = await second`select count(*)::int as n from pg_prepared_statements where name = 'leaked_plan'`;
      expect(plans!.n).toBe(0);
      // and it is not inside the abandoned transaction: a commit of its own is visible to a third client
      await second`insert into kept values (2)`;
    } finally {
      await second.end();
    }
    const third = client();
    try {
      expect([...(await third`select v from kept`)]).toEqual([{ v: 2 }]);
    } finally {
      await third.end();
    }
  }, 30_000);

  test("every client, also one after another's disconnect, gets a stock server's session settings, not PGlite's debug boot values", async () => {
    const settings = async () => {
      const c = client();
      try {
        const [row] = await c`
          select current_setting('search_path') as search_path, current_setting('enable_seqscan') as enable_seqscan,
                 current_setting('client_min_messages') as client_min_messages, current_setting('log_min_messages') as log_min_messages,
                 current_setting('work_mem') as work_mem`;
        return row;
      } finally {
        await c.end();
      }
    };
    const expected = {
      search_path: "public",
      enable_seqscan: "on",
      client_min_messages: "notice",
      log_min_messages: "warning",
      work_mem: "4MB",
    };
    expect(await settings()).toEqual(expected);
    // DISCARD ALL between clients returns to the boot values (search_path pg_catalog, debug3, seqscan off): re-applied
    expect(await settings()).toEqual(expected);
  }, 30_000);

  test("a second client waits for the first to leave and is then served", async () => {
    const a = client();
    const b = client();
    try {
      await a`select 1`;
      const waiting = b`select 2 as v`;
      const early = await Promise.race([waiting.then(() => "served"), Bun.sleep(300).then(() => "waiting")]);
      expect(early).toBe("waiting");
      await a.end();
      expect([...(await waiting)]).toEqual([{ v: 2 }]);
    } finally {
      await b.end();
    }
  }, 30_000);

  test("a message that ends exactly on PGlite's 8 KB read boundary, followed by more, is answered in full", async () => {
    const sql = client();
    try {
      // postgres.js binds one text parameter of n bytes in a Bind message of about n + 28 bytes (the
      // statement's random name varies in length), followed by Execute and Sync in the same write:
      // one n of this range makes the Bind exactly 16,384 bytes (2 × 8192)
      for (let n = 16_346; n <= 16_362; n++) {
        const v = "x".repeat(n);
        const answer = await Promise.race([
          sql`select length(${v}::text) as n`.then((r) => r[0]!.n as number),
          Bun.sleep(5_000).then(() => "no answer in 5 s"),
        ]);
        expect(answer).toBe(n);
      }
    } finally {
      await sql.end({ timeout: 1 });
    }
  }, 30_000);
});
