/**
 * Runs the embedded TimescaleDB (server.ts) as a child process so the WASM engine never blocks the
 * HTTP event loop. Holds a lock on the data dir for its whole life (two services cannot open one
 * data dir), restarts the child with backoff when it dies, and stops it cleanly.
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import lockfile from "proper-lockfile";
import type { Logger } from "../../logger.ts";

export type EngineState = "stopped" | "starting" | "up" | "down";

export interface EngineStatus {
  state: EngineState;
  port: number | undefined;
  restarts: number;
  last_exit_code: number | null;
  boot_ms: number | undefined;
}

export class DataDirLockedError extends Error {
  constructor(readonly dataDir: string) {
    super(`embedded data dir ${dataDir} is in use by another Pulse process (lock ${dataDir}.lock); stop it or set EMBEDDED_DATA_DIR`);
    this.name = "DataDirLockedError";
  }
}

export interface EmbeddedEngineOptions {
  dataDir: string;
  /** 0 ⇒ pick a free loopback port at first start, then keep it across restarts */
  port: number;
  logger: Logger;
  bootTimeoutMs?: number;
  /** work_mem of every session (PostgreSQL size syntax); default 4MB, PostgreSQL's own */
  workMem?: string;
}

const SERVER_ENTRY = new URL("./server.ts", import.meta.url).pathname;

export class EmbeddedEngine {
  readonly dataDir: string;
  private readonly workMem: string;
  private port: number;
  private readonly logger: Logger;
  private readonly bootTimeoutMs: number;
  private proc: ReturnType<typeof Bun.spawn> | undefined;
  private releaseLock: (() => Promise<void>) | undefined;
  private state: EngineState = "stopped";
  private restarts = 0;
  private lastExitCode: number | null = null;
  private bootMs: number | undefined;
  private stopping = false;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private readyWaiters: Array<() => void> = [];

  constructor(opts: EmbeddedEngineOptions) {
    this.dataDir = resolve(opts.dataDir);
    this.workMem = opts.workMem ?? "4MB";
    this.port = opts.port;
    this.logger = opts.logger.child({ component: "embedded-timescaledb" });
    this.bootTimeoutMs = opts.bootTimeoutMs ?? 60_000;
  }

  /** postgres:// URL of the engine (valid after start) */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  status(): EngineStatus {
    return {
      state: this.state,
      port: this.port || undefined,
      restarts: this.restarts,
      last_exit_code: this.lastExitCode,
      boot_ms: this.bootMs,
    };
  }

  async start(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    try {
      this.releaseLock = await lockfile.lock(this.dataDir, {
        realpath: false,
        stale: 10_000,
        update: 2_000,
        retries: 0,
        onCompromised: (err) => this.logger.error({ err }, "lost the embedded data dir lock"),
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ELOCKED") throw new DataDirLockedError(this.dataDir);
      throw err;
    }
    this.stopping = false;
    try {
      await this.spawn();
    } catch (err) {
      await this.releaseLock?.();
      this.releaseLock = undefined;
      throw err;
    }
  }

  /** resolves when the engine is up (immediately if it is) */
  waitUntilUp(timeoutMs: number): Promise<boolean> {
    if (this.state === "up") return Promise.resolve(true);
    return new Promise((resolveWait) => {
      const timer = setTimeout(() => resolveWait(false), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolveWait(true);
      });
    });
  }

  private async spawn(): Promise<void> {
    this.state = "starting";
    const proc: ReturnType<typeof Bun.spawn> = Bun.spawn(
      [process.execPath, SERVER_ENTRY, "--data-dir", this.dataDir, "--port", String(this.port), "--work-mem", this.workMem],
      {
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
        onExit: (_p, exitCode, signalCode): void => this.onExit(proc, exitCode, signalCode),
      },
    );
    this.proc = proc;
    void this.pipeStderr(proc);

    const ready = await this.readReady(proc);
    this.port = ready.port;
    this.bootMs = ready.boot_ms;
    this.state = "up";
    this.logger.info({ port: this.port, boot_ms: ready.boot_ms, data_dir: this.dataDir }, "embedded TimescaleDB is up");
    for (const w of this.readyWaiters.splice(0)) w();
  }

  private async readReady(proc: ReturnType<typeof Bun.spawn>): Promise<{ port: number; boot_ms: number }> {
    const stdout = proc.stdout as ReadableStream<Uint8Array>;
    const reader = stdout.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    const deadline = setTimeout(() => proc.kill("SIGKILL"), this.bootTimeoutMs);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`embedded TimescaleDB exited before it was ready (exit code ${proc.exitCode ?? "?"})`);
        buffered += decoder.decode(value, { stream: true });
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const msg = safeJson(line);
          if (msg?.event === "ready") return { port: Number(msg.port), boot_ms: Number(msg.boot_ms) };
          if (msg?.event === "error") throw new Error(`embedded TimescaleDB: ${String(msg.message)}`);
        }
      }
    } finally {
      clearTimeout(deadline);
      reader.releaseLock();
    }
  }

  private async pipeStderr(proc: ReturnType<typeof Bun.spawn>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
        const text = decoder.decode(chunk).trim();
        if (text) this.logger.warn({ stderr: text.slice(-2_000) }, "embedded TimescaleDB wrote to stderr");
      }
    } catch {
      // stream closed with the process
    }
  }

  private onExit(proc: ReturnType<typeof Bun.spawn>, exitCode: number | null, signal: number | string | null): void {
    if (proc !== this.proc) return;
    this.lastExitCode = exitCode;
    this.proc = undefined;
    if (this.stopping) {
      this.state = "stopped";
      return;
    }
    this.state = "down";
    this.restarts += 1;
    const delay = Math.min(10_000, 250 * 2 ** Math.min(this.restarts - 1, 6));
    this.logger.error(
      { exit_code: exitCode, signal, restart_in_ms: delay, restarts: this.restarts },
      "embedded TimescaleDB died; restarting",
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      // a failed boot ends in the new child's own exit, which schedules the next attempt
      this.spawn().catch((err) => this.logger.error({ err }, "embedded TimescaleDB restart failed"));
    }, delay);
  }

  /** for failure tests: kill the engine as a crash would */
  crash(): void {
    this.proc?.kill("SIGKILL");
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const proc = this.proc;
    if (proc) {
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(timeoutMs).then(() => false)]);
      if (!exited) {
        this.logger.warn("embedded TimescaleDB did not stop in time; killing it");
        proc.kill("SIGKILL");
        await proc.exited;
      }
    }
    this.state = "stopped";
    this.proc = undefined;
    await this.releaseLock?.().catch(() => undefined);
    this.releaseLock = undefined;
  }
}

function safeJson(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return v && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
