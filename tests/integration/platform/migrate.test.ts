import { beforeAll, describe, expect, test } from "bun:test";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Sql } from "../../../src/db/client.ts";
import { MigrationError, migrate, readMigrations, SQL_DIR } from "../../../src/db/migrate.ts";
import { getTestDeps, testLogger } from "../../helpers/deps.ts";
import { tempDir } from "../../helpers/tmp.ts";

let sql: Sql;
beforeAll(async () => {
  sql = (await getTestDeps()).sql;
});

/** a fingerprint of the schema: columns, policies, views, jobs, migrations */
async function fingerprint(sql: Sql) {
  const columns =
    await sql`select table_name, column_name, data_type from information_schema.columns where table_schema = 'public' order by 1, 2`;
  const policies = await sql`select tablename, policyname, qual from pg_policies order by 1, 2`;
  const jobs = await sql`select job_id, proc_name, schedule_interval::text, config::text from timescaledb_information.jobs order by 1`;
  const migrations = await sql`select version, checksum, applied_at from schema_migrations order by 1`;
  return JSON.stringify({ columns, policies, jobs, migrations });
}

describe("migrate", () => {
  test("applying twice changes nothing the second time", async () => {
    const before = await fingerprint(sql);
    const again = await migrate(sql, { logger: testLogger });
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toBe(readMigrations().numbered.length);
    expect(again.repeatable.length).toBeGreaterThan(0);
    const third = await migrate(sql, { logger: testLogger });
    expect(third.applied).toEqual([]);
    expect(await fingerprint(sql)).toBe(before);
  });

  test("records every numbered file with its sha-256 checksum", async () => {
    const rows = await sql`select version, name, checksum from schema_migrations order by version`;
    const files = readMigrations().numbered;
    expect(rows.map((r) => Number(r.version))).toEqual(files.map((f) => f.version));
    expect(rows.map((r) => r.checksum)).toEqual(files.map((f) => f.checksum));
  });

  test("stops with a clear error naming the file when an applied migration was edited", async () => {
    const dir = tempDir("sql");
    cpSync(SQL_DIR, dir, { recursive: true });
    const file = join(dir, "0002_job_runs.sql");
    writeFileSync(file, `${readFileSync(file, "utf8")}\n-- an innocent-looking edit\n`);
    const err = await migrate(sql, { logger: testLogger, dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toContain("sql/0002_job_runs.sql was edited after it was applied");
  });

  test("refuses to run when the database has a migration this build does not know", async () => {
    await sql`insert into schema_migrations (version, name, checksum) values (9999, 'from_the_future', 'x')`;
    try {
      const err = await migrate(sql, { logger: testLogger }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MigrationError);
      expect((err as Error).message).toContain("9999_from_the_future");
    } finally {
      await sql`delete from schema_migrations where version = 9999`;
    }
  });

  test("rejects a file in sql/ that is not named NNNN_name.sql", () => {
    const dir = tempDir("sql");
    writeFileSync(join(dir, "create_things.sql"), "select 1;");
    expect(() => readMigrations(dir)).toThrow(/NNNN_name\.sql/);
  });

  test("creates the owner and the non-owner application role that cannot bypass RLS", async () => {
    const roles = await sql`select rolname, rolsuper, rolbypassrls from pg_roles where rolname in ('pulse_owner', 'pulse_app') order by 1`;
    expect([...roles]).toEqual([
      { rolname: "pulse_app", rolsuper: false, rolbypassrls: false },
      { rolname: "pulse_owner", rolsuper: false, rolbypassrls: false },
    ]);
    const [owner] = await sql`select tableowner from pg_tables where tablename = 'events'`;
    expect(owner?.tableowner).toBe("pulse_owner");
    const forced = await sql`select relname from pg_class where relforcerowsecurity and relname = 'dead_letter_events'`;
    expect(forced).toHaveLength(1);
  });
});
