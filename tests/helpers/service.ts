/** Start the real service (`bun src/main.ts`) as a child process, for end-to-end tests. */
import { createServer } from "node:net";
import { childEnv } from "./deps.ts";

export const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export interface RunningService {
  proc: ReturnType<typeof Bun.spawn>;
  port: number;
  url: string;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export async function startService(env: Record<string, string>): Promise<RunningService> {
  const port = Number(env.PORT ?? (await freePort()));
  let out = "";
  const proc = Bun.spawn(["bun", MAIN], {
    env: childEnv({ LOG_FORMAT: "json", LOG_LEVEL: "info", NODE_ENV: "development", ...env, PORT: String(port) }),
    stdout: "pipe",
    stderr: "pipe",
  });
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) out += dec.decode(chunk);
  };
  void collect(proc.stdout as ReadableStream<Uint8Array>);
  void collect(proc.stderr as ReadableStream<Uint8Array>);
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    stop: async (signal = "SIGTERM") => {
      if (proc.exitCode === null && !proc.killed) proc.kill(signal);
      return proc.exited;
    },
  };
}

/** poll until GET path answers `status` or the deadline passes; returns the last response and time taken */
export async function waitFor(url: string, status: number, timeoutMs: number): Promise<{ res: Response | undefined; ms: number }> {
  const started = performance.now();
  let res: Response | undefined;
  while (performance.now() - started < timeoutMs) {
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.status === status) return { res, ms: performance.now() - started };
    } catch {
      // not listening yet
    }
    await Bun.sleep(100);
  }
  return { res, ms: performance.now() - started };
}
