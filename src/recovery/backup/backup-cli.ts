/**
 * The backup commands, package scripts. The embedded engine (EMBEDDED_DATA_DIR):
 *   bun run backup -- --out FILE               back the data dir up (the service must be stopped)
 *   bun run restore -- --in FILE [--force]     restore it into EMBEDDED_DATA_DIR (--force: move a database there aside)
 *   bun run backup:verify -- --in FILE         restore into a temporary engine, compare, remove it
 * Any database (DATABASE_URL, or the embedded data dir), for the pg_dump procedure of a real server:
 *   bun run backup:figures -- [--out FILE]     print (and record) its figures
 *   bun run backup:verify -- --figures FILE    compare its figures with those recorded
 * Restore and verify compare every table's row count, the checksums of events and order_lines and the
 * chunks, and print a table. Exit codes: 0 done and equal; 1 a difference or a damaged file; 2 usage;
 * 3 refused (the data dir is in use, no database, a target that is not empty, backup/restore with
 * DATABASE_URL: a real server is backed up with pg_dump, docs/recovery.md).
 */
import { parseArgs } from "node:util";
import { loadConfigOrExit } from "../../config.ts";
import { createLogger, fatalLine } from "../../logger.ts";
import { BackupFileError } from "./archive.ts";
import {
  backup,
  BackupRefusal,
  comparisonTable,
  DataDirInUseError,
  figuresOf,
  manifestTable,
  recordFigures,
  restore,
  verify,
  verifyFigures,
} from "./backup.ts";

const USAGE =
  "usage: backup-cli.ts backup --out FILE | restore --in FILE [--force] | verify --in FILE | figures [--out FILE] | verify --figures FILE";

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { out: { type: "string" }, in: { type: "string" }, figures: { type: "string" }, force: { type: "boolean", default: false } },
  });
  const command = positionals[0];
  const config = loadConfigOrExit(fatalLine, (code) => process.exit(code));
  const dataDir = config.db.embedded.dataDir;
  const db = { url: config.db.url, dataDir, logger: createLogger(config.log) };
  const where = config.db.url ? "the server of DATABASE_URL" : dataDir;
  if (command === "figures") {
    const figures = values.out ? await recordFigures({ ...db, out: values.out }) : await figuresOf(db);
    out(`figures of ${where}${values.out ? `, recorded in ${values.out}` : ""}`);
    out(manifestTable(figures));
    return 0;
  }
  if (command === "verify" && values.figures) {
    const r = await verifyFigures({ ...db, file: values.figures });
    out(`figures of ${where} against ${values.figures} (recorded ${r.recordedAt})`);
    out(comparisonTable(r.rows));
    out(r.ok ? "verify: every figure is equal" : "verify: DIFFERENCES (rows marked DIFF)");
    return r.ok ? 0 : 1;
  }
  if (command === "verify" && values.in) {
    const r = await verify({ file: values.in });
    out(`verify ${values.in} (backup of ${r.manifest.created_at}, ${r.manifest.payload.bytes} bytes): restored into a temporary engine`);
    out(comparisonTable(r.rows));
    out(r.ok ? "verify: every figure is equal" : "verify: DIFFERENCES (rows marked DIFF)");
    return r.ok ? 0 : 1;
  }
  if (config.db.url && (command === "backup" || command === "restore")) {
    err(
      `${command ?? "backup"}: DATABASE_URL is set (a real TimescaleDB server): use pg_dump and pg_restore as docs/recovery.md describes`,
    );
    return 3;
  }
  if (command === "backup" && values.out) {
    const r = await backup({ dataDir, out: values.out });
    out(`backup of ${r.manifest.data_dir} written to ${r.file} (${r.manifest.payload.bytes} bytes, sha256 ${r.manifest.payload.sha256})`);
    out(manifestTable(r.manifest));
    return 0;
  }
  if (command === "restore" && values.in) {
    const r = await restore({ file: values.in, dataDir, force: values.force });
    if (r.movedAside) out(`the database that was in ${dataDir} was moved to ${r.movedAside}`);
    out(`restored ${values.in} (backup of ${r.manifest.created_at}) into ${dataDir}`);
    out(comparisonTable(r.rows));
    if (!r.ok) err("restore: the restored database differs from what the backup recorded (DIFF rows above)");
    return r.ok ? 0 : 1;
  }
  err(USAGE);
  return 2;
}

try {
  process.exit(await main());
} catch (e) {
  if (e instanceof DataDirInUseError || e instanceof BackupRefusal) {
    err(`refused: ${e.message}`);
    process.exit(3);
  }
  if (e instanceof BackupFileError) {
    err(`damaged: ${e.message}`);
    process.exit(1);
  }
  err(`failed: ${(e as Error).message}`);
  process.exit(1);
}
