/**
 * Backup, restore and verify of the embedded engine's data dir (the commands: backup-cli.ts; the file:
 * archive.ts; what is recorded and compared: backup.queries.ts).
 *
 * Consistency: the engine serves one process at a time and its data dir is locked by whoever has it open
 * (the service, `bun run migrate`). A backup takes the same lock, so it copies a data dir nobody writes
 * to: a running service is not snapshotted behind its back, the backup refuses and names what to stop
 * (DataDirInUseError). It opens the engine in this process, records the manifest, then dumps the data
 * dir (PGlite's dumpDataDir) under the same lock: manifest and payload are of the same state.
 *
 * A restore creates a data dir from the payload (PGlite's loadDataDir) and reads the manifest back from
 * the restored engine; verify does so into a temporary dir and removes it. Either compares every
 * figure with what the backup recorded.
 *
 * For a real TimescaleDB server (pg_dump / pg_restore, docs/recovery.md) the same figures are recorded
 * from the source before the dump (recordFigures) and compared with the restored server's
 * (verifyFigures), both over DATABASE_URL.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import lockfile from "proper-lockfile";
import { createSql } from "../../db/client.ts";
import { openPglite } from "../../db/embedded/open.ts";
import type { Logger } from "../../logger.ts";
import { BackupFileError, type BackupManifest, type ReadArchive, readArchive, writeArchive } from "./archive.ts";
import { type Manifest, pgliteFigures, serverFigures } from "./backup.queries.ts";

/** the data dir is open elsewhere: what to stop (exit code 3 of the commands) */
export class DataDirInUseError extends Error {
  constructor(readonly dataDir: string) {
    super(
      `the embedded data dir ${dataDir} is in use (lock ${dataDir}.lock): a Pulse service (bun run start, ROLE=all|api|worker) ` +
        "or bun run migrate has it open. Stop it first (SIGTERM: the service drains ingest and closes the engine cleanly), " +
        "then run this again. A backup while the service runs needs a real TimescaleDB server and pg_dump (docs/recovery.md).",
    );
    this.name = "DataDirInUseError";
  }
}

/** a refusal that is not a failure of the data (no database there, a target that is not empty) */
export class BackupRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackupRefusal";
  }
}

async function lock(dataDir: string): Promise<() => Promise<void>> {
  try {
    // the same lock as the engine's manager (src/db/embedded/manager.ts)
    return await lockfile.lock(dataDir, { realpath: false, stale: 10_000, update: 2_000, retries: 0 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOCKED") throw new DataDirInUseError(dataDir);
    throw err;
  }
}

export interface BackupResult {
  file: string;
  manifest: BackupManifest;
}

/** back the data dir up into `out` (refused while the data dir is in use) */
export async function backup(o: { dataDir: string; out: string }): Promise<BackupResult> {
  const dataDir = resolve(o.dataDir);
  if (!existsSync(join(dataDir, "PG_VERSION"))) throw new BackupRefusal(`there is no embedded database at ${dataDir} (EMBEDDED_DATA_DIR)`);
  const release = await lock(dataDir);
  try {
    const db = await openPglite(dataDir);
    try {
      const manifest = await pgliteFigures(db);
      const dump = await db.dumpDataDir("gzip");
      const payload = new Uint8Array(await dump.arrayBuffer());
      const file = resolve(o.out);
      const written = writeArchive(file, { created_at: new Date().toISOString(), data_dir: dataDir, ...manifest }, payload);
      return { file, manifest: written };
    } finally {
      await db.close();
    }
  } finally {
    await release();
  }
}

/** create `dataDir` (empty or absent) from a backup and read its manifest back */
async function loadInto(archive: ReadArchive, dataDir: string): Promise<Manifest> {
  mkdirSync(dataDir, { recursive: true });
  const release = await lock(dataDir);
  try {
    const db = await openPglite(dataDir, { load: new Blob([archive.payload]) });
    try {
      return await pgliteFigures(db);
    } finally {
      await db.close();
    }
  } finally {
    await release();
  }
}

function damaged(file: string, archive: ReadArchive): void {
  if (archive.damage.length > 0) throw new BackupFileError(`${file} is damaged: ${archive.damage.join("; ")}`);
}

export interface Comparison {
  file: string;
  manifest: BackupManifest;
  restored: Manifest;
  rows: ComparisonRow[];
  ok: boolean;
}

/**
 * Restore a backup into `dataDir`. A data dir that holds a database is refused, unless `force`: then it
 * is moved aside to <dir>.before-restore-<time> (never deleted). A damaged file is refused before
 * anything is touched.
 */
export async function restore(o: { file: string; dataDir: string; force: boolean }): Promise<Comparison & { movedAside: string | null }> {
  const archive = readArchive(o.file);
  damaged(o.file, archive);
  const dataDir = resolve(o.dataDir);
  let movedAside: string | null = null;
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    if (!o.force)
      throw new BackupRefusal(`${dataDir} is not empty; pass --force to move it aside (to ${dataDir}.before-restore-<time>) and restore`);
    const release = await lock(dataDir); // nobody may have it open while it is moved
    try {
      movedAside = `${dataDir}.before-restore-${new Date().toISOString().replaceAll(/[:.]/g, "-")}`;
      renameSync(dataDir, movedAside);
    } finally {
      await release();
    }
  }
  const restored = await loadInto(archive, dataDir);
  const rows = compare(archive.manifest, restored);
  return { file: o.file, manifest: archive.manifest, restored, rows, ok: rows.every((r) => r.ok), movedAside };
}

/** restore into a temporary data dir, compare, remove it */
export async function verify(o: { file: string }): Promise<Comparison> {
  const archive = readArchive(o.file);
  damaged(o.file, archive);
  const dir = mkdtempSync(join(tmpdir(), "pulse-verify-"));
  try {
    const restored = await loadInto(archive, join(dir, "db"));
    const rows = compare(archive.manifest, restored);
    return { file: o.file, manifest: archive.manifest, restored, rows, ok: rows.every((r) => r.ok) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const FIGURES_FORMAT = "PULSE-FIGURES 1";

/** the figures of the configured database: a server (DATABASE_URL) over one connection, or the embedded data dir opened here */
export async function figuresOf(o: { url: string | undefined; dataDir: string; logger: Logger }): Promise<Manifest> {
  if (o.url) {
    const sql = createSql(o.url, { max: 1, statementTimeoutMs: 3_600_000, logger: o.logger, embedded: false });
    try {
      return await serverFigures(sql);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  const dataDir = resolve(o.dataDir);
  if (!existsSync(join(dataDir, "PG_VERSION"))) throw new BackupRefusal(`there is no embedded database at ${dataDir} (EMBEDDED_DATA_DIR)`);
  const release = await lock(dataDir);
  try {
    const db = await openPglite(dataDir);
    try {
      return await pgliteFigures(db);
    } finally {
      await db.close();
    }
  } finally {
    await release();
  }
}

/** record the configured database's figures in `out` (JSON; no connection string in it) */
export async function recordFigures(o: { url: string | undefined; dataDir: string; logger: Logger; out: string }): Promise<Manifest> {
  const figures = await figuresOf(o);
  writeFileSync(resolve(o.out), `${JSON.stringify({ format: FIGURES_FORMAT, recorded_at: new Date().toISOString(), ...figures })}\n`);
  return figures;
}

/** the configured database's figures against those recorded in `file` */
export async function verifyFigures(o: {
  url: string | undefined;
  dataDir: string;
  logger: Logger;
  file: string;
}): Promise<Omit<Comparison, "manifest"> & { recordedAt: string }> {
  let recorded: Manifest & { format?: string; recorded_at?: string };
  try {
    recorded = JSON.parse(readFileSync(o.file, "utf8")) as typeof recorded;
  } catch (err) {
    throw new BackupFileError(`${o.file} cannot be read as figures (${(err as Error).message})`);
  }
  if (recorded.format !== FIGURES_FORMAT || !recorded.tables || !recorded.checksums) {
    throw new BackupFileError(`${o.file} is not a figures file of bun run backup:figures`);
  }
  const current = await figuresOf(o);
  const rows = compare(recorded, current);
  return { file: o.file, restored: current, rows, ok: rows.every((r) => r.ok), recordedAt: recorded.recorded_at ?? "?" };
}

export interface ComparisonRow {
  what: string;
  backup: string;
  restored: string;
  ok: boolean;
}

/** every figure of the backup's manifest against the restored engine's */
export function compare(expected: Manifest, actual: Manifest): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  const add = (what: string, a: string | number | undefined, b: string | number | undefined) =>
    rows.push({
      what,
      backup: a === undefined ? "(none)" : String(a),
      restored: b === undefined ? "(none)" : String(b),
      ok: a !== undefined && a === b,
    });
  for (const name of [...new Set([...Object.keys(expected.tables), ...Object.keys(actual.tables)])].sort()) {
    add(`rows ${name}`, expected.tables[name], actual.tables[name]);
  }
  for (const t of ["events", "order_lines"] as const) {
    add(`checksum ${t}`, expected.checksums[t]?.sum, actual.checksums[t]?.sum);
  }
  for (const name of [...new Set([...Object.keys(expected.chunks ?? {}), ...Object.keys(actual.chunks)])].sort()) {
    const a = expected.chunks?.[name];
    const b = actual.chunks[name];
    add(`chunks ${name} (compressed)`, a && `${a.chunks} (${a.compressed})`, b && `${b.chunks} (${b.compressed})`);
  }
  return rows;
}

/** an aligned text table */
function textTable(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** the comparison, differences marked DIFF */
export function comparisonTable(rows: ComparisonRow[]): string {
  return textTable(
    ["", "figure", "backup", "restored"],
    rows.map((r) => [r.ok ? "ok" : "DIFF", r.what, r.backup, r.restored]),
  );
}

/** what a backup recorded */
export function manifestTable(m: Manifest): string {
  return textTable(
    ["figure", "value"],
    compare(m, m).map((r) => [r.what, r.backup]),
  );
}
