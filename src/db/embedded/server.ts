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
import { openPglite, sessionDefaults } from "./open.ts";
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
const workMem = arg("work-mem") ?? "4MB";
if (!/^[0-9]+(kB|MB|GB)$/.test(workMem)) {
  emit({ event: "error", message: `--work-mem: ${workMem} is not a size such as 16MB` });
  process.exit(2);
}
// TimescaleDB's TSL module loaded (open.ts); every client gets a stock server's session settings
// instead of PGlite's debugging ones, with work_mem from --work-mem (EMBEDDED_WORK_MEM)
const db = await openPglite(dataDir);
const SESSION_DEFAULTS = sessionDefaults(workMem);
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
