/**
 * The backup commands of the embedded engine (EMBEDDED_DATA_DIR), package scripts:
 *   bun run backup -- --out FILE               back the data dir up (the service must be stopped)
 *   bun run restore -- --in FILE [--force]     restore it into EMBEDDED_DATA_DIR (--force: move a database there aside)
 *   bun run backup:verify -- --in FILE         restore into a temporary engine, compare, remove it
 * Each prints a table; restore and verify compare every table's row count, the checksums of events and
 * order_lines and the chunks with what the backup recorded. Exit codes: 0 done and equal; 1 a difference
 * or a damaged file; 2 usage; 3 refused (the data dir is in use, no database, a target that is not empty).
 * With DATABASE_URL (a real TimescaleDB server) these refuse: use pg_dump / pg_restore (docs/recovery.md).
 */
import { parseArgs } from "node:util";
import { loadConfigOrExit } from "../../config.ts";
import { fatalLine } from "../../logger.ts";
import { BackupFileError } from "./archive.ts";
import { backup, BackupRefusal, comparisonTable, DataDirInUseError, manifestTable, restore, verify } from "./backup.ts";

const USAGE = "usage: backup-cli.ts backup --out FILE | restore --in FILE [--force] | verify --in FILE";

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { out: { type: "string" }, in: { type: "string" }, force: { type: "boolean", default: false } },
  });
  const command = positionals[0];
  const config = loadConfigOrExit(fatalLine, (code) => process.exit(code));
  if (config.db.url) {
    err(`${command ?? "backup"}: DATABASE_URL is set (a real TimescaleDB server): use pg_dump and pg_restore as docs/recovery.md describes`);
    return 3;
  }
  const dataDir = config.db.embedded.dataDir;
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
  if (command === "verify" && values.in) {
    const r = await verify({ file: values.in });
    out(`verify ${values.in} (backup of ${r.manifest.created_at}, ${r.manifest.payload.bytes} bytes): restored into a temporary engine`);
    out(comparisonTable(r.rows));
    out(r.ok ? "verify: every figure is equal" : "verify: DIFFERENCES (rows marked DIFF)");
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
