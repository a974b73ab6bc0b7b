/**
 * A private redis-server or nats-server (JetStream) on a free loopback port, for tests that stop and
 * start a dependency: never the shared 6379 / 4222. `stop()` ends the process this helper started (by
 * its pid); `start()` starts it again on the same port with the same data dir (the JetStream store
 * survives). `close()` stops it for good. Every started server is also stopped at process exit.
 */
import type { Subprocess } from "bun";
import { join } from "node:path";
import { freePort } from "./service.ts";
import { tempDir } from "./tmp.ts";

export interface PrivateServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** the running process's pid (undefined while stopped) */
  pid(): number | undefined;
  start(): Promise<void>;
  /** SIGTERM (a clean stop) by default; resolves when the process has exited */
  stop(signal?: NodeJS.Signals): Promise<void>;
  close(): Promise<void>;
}

const live = new Set<Subprocess>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

async function portOpen(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

function privateServer(kind: string, url: string, port: number, dir: string, argv: () => string[]): PrivateServer {
  let proc: Subprocess | undefined;
  let log = "";
  const server: PrivateServer = {
    port,
    dir,
    url,
    pid: () => proc?.pid,
    async start() {
      if (proc) return;
      const p = Bun.spawn(argv(), { stdout: "pipe", stderr: "pipe" });
      proc = p;
      live.add(p);
      void (async () => {
        const dec = new TextDecoder();
        for await (const chunk of p.stderr as ReadableStream<Uint8Array>) log = (log + dec.decode(chunk)).slice(-4_000);
      })();
      void (async () => {
        for await (const _ of p.stdout as ReadableStream<Uint8Array>) {
          // drained: a full pipe would block the server
        }
      })();
      const deadline = Date.now() + 10_000;
      while (!(await portOpen(port))) {
        if (p.exitCode !== null || Date.now() > deadline) {
          throw new Error(`${kind} on port ${port} did not start (exit ${p.exitCode}): ${log}`);
        }
        await Bun.sleep(25);
      }
    },
    async stop(signal = "SIGTERM") {
      const p = proc;
      if (!p) return;
      proc = undefined;
      p.kill(signal);
      await p.exited;
      live.delete(p);
    },
    async close() {
      await server.stop("SIGKILL");
    },
  };
  return server;
}

/** redis-server without persistence (a restart starts empty, as a cache may) */
export async function startRedisServer(): Promise<PrivateServer> {
  const port = await freePort();
  const dir = tempDir("redis");
  const argv = ["redis-server", "--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", dir];
  const s = privateServer("redis-server", `redis://127.0.0.1:${port}`, port, dir, () => argv);
  await s.start();
  return s;
}

/** nats-server with JetStream, its file store in a directory of its own (kept across restarts) */
export async function startNatsServer(): Promise<PrivateServer> {
  const port = await freePort();
  const dir = tempDir("nats");
  const argv = ["nats-server", "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", join(dir, "js")];
  const s = privateServer("nats-server", `nats://127.0.0.1:${port}`, port, dir, () => argv);
  await s.start();
  return s;
}
