/**
 * Migrations: numbered files `sql/NNNN_name.sql`, each applied once in its own transaction and recorded
 * in schema_migrations with a SHA-256 checksum (an applied file that was edited stops start-up), then
 * the idempotent files of `sql/repeatable/`, re-applied in name order on every migrate (continuous
 * aggregates, policies, jobs). Replicas migrating at once serialise on a transaction advisory lock.
 * The only place `sql.unsafe` is used.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import type { Sql, TxSql } from "./client.ts";

export const SQL_DIR = new URL("../../sql/", import.meta.url).pathname;
const NUMBERED = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const LOCK_KEY = 0x70756c73; // "puls"

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MigrationError";
  }
}

export interface MigrationFile {
  version: number;
  name: string;
  file: string;
  text: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
  repeatable: string[];
  durationMs: number;
}

export function checksum(text: string): string {
  return createHash("sha256").update(text.replace(/\r\n/g, "\n")).digest("hex");
}

export function readMigrations(dir = SQL_DIR): { numbered: MigrationFile[]; repeatable: MigrationFile[] } {
  const numbered: MigrationFile[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith(".sql")) continue;
    const m = NUMBERED.exec(file);
    if (!m) throw new MigrationError(`sql/${file}: migration files are named NNNN_name.sql`);
    const text = readFileSync(join(dir, file), "utf8");
    numbered.push({ version: Number(m[1]), name: m[2]!, file, text, checksum: checksum(text) });
  }
  for (let i = 1; i < numbered.length; i++) {
    if (numbered[i]!.version === numbered[i - 1]!.version) {
      throw new MigrationError(`sql/${numbered[i]!.file}: version ${numbered[i]!.version} is used twice`);
    }
  }
  const repDir = join(dir, "repeatable");
  const repeatable = safeReaddir(repDir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((file) => {
      const text = readFileSync(join(repDir, file), "utf8");
      return { version: 0, name: file.replace(/\.sql$/, ""), file: `repeatable/${file}`, text, checksum: checksum(text) };
    });
  return { numbered, repeatable };
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function lock(tx: TxSql): Promise<void> {
  await tx`select pg_advisory_xact_lock(${LOCK_KEY})`;
}

async function appliedChecksum(tx: TxSql, version: number): Promise<string | undefined | null> {
  const [exists] = await tx`select to_regclass('public.schema_migrations') is not null as ok`;
  if (!exists?.ok) return null;
  const [row] = await tx`select checksum from schema_migrations where version = ${version}`;
  return row?.checksum as string | undefined;
}

/** values the idempotent SQL reads with current_setting('pulse.<name>') */
export interface MigrateSettings {
  retention_days?: number;
  compress_after_days?: number;
  reconciliation_lookback_days?: number;
}

export function migrateSettings(config: Config): MigrateSettings {
  return {
    retention_days: config.storage.retentionDays,
    compress_after_days: config.storage.compressAfterDays,
    reconciliation_lookback_days: config.recovery.reconciliationLookbackDays,
  };
}

export async function migrate(sql: Sql, opts: { logger: Logger; dir?: string; settings?: MigrateSettings }): Promise<MigrateResult> {
  const started = performance.now();
  const log = opts.logger.child({ component: "migrate" });
  const { numbered, repeatable } = readMigrations(opts.dir);
  const applied: string[] = [];
  let alreadyApplied = 0;

  const known = new Set(numbered.map((m) => m.version));
  const [ledger] = await sql`select to_regclass('public.schema_migrations') is not null as ok`;
  if (ledger?.ok) {
    const rows = await sql`select version, name from schema_migrations order by version`;
    const unknown = rows.filter((r) => !known.has(Number(r.version)));
    if (unknown.length > 0) {
      throw new MigrationError(
        `the database has migrations this build does not know (${unknown.map((r) => `${r.version}_${r.name}`).join(", ")}); refusing to run an older build against it`,
      );
    }
  }

  for (const m of numbered) {
    const did = await sql.begin(async (tx) => {
      await lock(tx);
      const existing = await appliedChecksum(tx, m.version);
      if (typeof existing === "string") {
        if (existing !== m.checksum) {
          throw new MigrationError(
            `sql/${m.file} was edited after it was applied (checksum ${m.checksum.slice(0, 12)}… ≠ recorded ${existing.slice(0, 12)}…); ` +
              `add a new migration instead`,
          );
        }
        return false;
      }
      try {
        await tx.unsafe(m.text);
      } catch (err) {
        throw new MigrationError(`sql/${m.file} failed: ${(err as Error).message}`);
      }
      await tx`reset role`;
      await tx`insert into schema_migrations (version, name, checksum) values (${m.version}, ${m.name}, ${m.checksum})`;
      return true;
    });
    if (did) {
      applied.push(m.file);
      log.info({ file: m.file }, "applied migration");
    } else {
      alreadyApplied += 1;
    }
  }

  for (const r of repeatable) {
    await sql.begin(async (tx) => {
      await lock(tx);
      for (const [name, value] of Object.entries(opts.settings ?? {})) {
        if (value !== undefined) await tx`select set_config(${`pulse.${name}`}, ${String(value)}, true)`;
      }
      try {
        await tx.unsafe(r.text);
      } catch (err) {
        throw new MigrationError(`sql/${r.file} failed: ${(err as Error).message}`);
      }
    });
  }

  const durationMs = Math.round(performance.now() - started);
  log.info(
    { applied: applied.length, already_applied: alreadyApplied, repeatable: repeatable.length, duration_ms: durationMs },
    "migrations done",
  );
  return { applied, alreadyApplied, repeatable: repeatable.map((r) => r.file), durationMs };
}
