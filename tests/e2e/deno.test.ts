/**
 * The HTTP app must also start under Deno 2 (design.md). Runs src/deno.ts with the deno binary from
 * the `deno` devDependency and exactly the flags of the `start:deno` package script.
 *
 * The embedded engine serves one connection at a time and the suite's shared client may hold it, so
 * the Deno process must never connect: the endpoints used here do not touch the database and
 * postgres.js connects lazily. The test checks that (on Linux) by looking at the child's sockets.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { childEnv, TEST_JWT_SECRET } from "../helpers/deps.ts";

const ROOT = join(import.meta.dir, "../..");

/** the native deno binary (node_modules/.bin/deno; the bin.cjs wrapper would not forward signals) */
function denoBinary(): string {
  const bin = realpathSync(join(ROOT, "node_modules/.bin/deno"));
  if (!bin.endsWith(".cjs")) return bin;
  // postinstall did not run (deno missing from trustedDependencies): use the platform package
  const native = join(ROOT, "node_modules/deno/deno");
  if (existsSync(native)) return native;
  throw new Error(`node_modules/.bin/deno is the JS wrapper ${bin}; run \`bun install\` so deno's postinstall links the binary`);
}

/** the arguments of `bun run start:deno`, minus the leading "deno" */
function startDenoArgs(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const parts = pkg.scripts["start:deno"]!.trim().split(/\s+/);
  expect(parts.slice(0, 2)).toEqual(["deno", "run"]);
  return parts.slice(1);
}

function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

/** remote TCP ports of the sockets `pid` has open (Linux /proc); undefined where /proc is missing */
function remotePortsOf(pid: number): number[] | undefined {
  if (!existsSync(`/proc/${pid}/fd`)) return undefined;
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // fd closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ["tcp", "tcp6"]) {
    const file = `/proc/${pid}/net/${table}`;
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || !inodes.has(cols[9]!)) continue;
      ports.push(Number.parseInt(cols[2]!.split(":")[1]!, 16));
    }
  }
  return ports;
}

describe("Deno 2 smoke", () => {
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  let output = "";

  afterAll(async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  });

  test("the HTTP app starts under Deno and serves /health/live and /openapi.json", async () => {
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const engineUrl = globalThis.__pulseTest.engine.url;
    const enginePort = Number(new URL(engineUrl).port);
    const started = performance.now();
    proc = Bun.spawn([denoBinary(), ...startDenoArgs()], {
      cwd: ROOT,
      env: childEnv({
        DATABASE_URL: engineUrl,
        MIGRATE_ON_START: "false",
        PORT: String(port),
        HOST: "127.0.0.1",
        NODE_ENV: "test",
        JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: "warn",
        DENO_NO_UPDATE_CHECK: "1",
        NO_COLOR: "1",
      }),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const child = proc;
    const decoder = new TextDecoder();
    const drain = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
    };
    const drained = Promise.all([drain(child.stdout as ReadableStream<Uint8Array>), drain(child.stderr as ReadableStream<Uint8Array>)]);

    // first run may need to compile: poll for up to 30 s, stop early if deno exits
    let live: Response | undefined;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const res = await fetch(`${base}/health/live`, { signal: AbortSignal.timeout(1_000) });
        if (res.status === 200) {
          live = res;
          break;
        }
      } catch {
        // not listening yet
      }
      await Bun.sleep(100);
    }
    if (!live) throw new Error(`deno did not become live within 30 s (exit ${child.exitCode}); output:\n${output}`);
    const liveMs = Math.round(performance.now() - started);
    expect(liveMs).toBeLessThan(30_000);

    expect(live.headers.get("content-type")).toContain("application/json");
    const body = (await live.json()) as { status: string; timestamp: string; uptime_s: number };
    expect(body.status).toBe("ok");
    expect(Number.isNaN(Date.parse(body.timestamp))).toBe(false);
    expect(typeof body.uptime_s).toBe("number");

    const specRes = await fetch(`${base}/openapi.json`);
    expect(specRes.status).toBe(200);
    const spec = (await specRes.json()) as { openapi: string; paths: Record<string, Record<string, { operationId?: string }>> };
    expect(spec.openapi.startsWith("3.1")).toBe(true);
    expect(spec.paths["/health/live"]?.get?.operationId).toBe("getLiveness");

    // postgres.js stayed lazy: no socket from the Deno process to the engine
    const ports = remotePortsOf(child.pid);
    if (ports) expect(ports).not.toContain(enginePort);

    child.kill("SIGTERM");
    const code = await Promise.race([child.exited, Bun.sleep(10_000).then(() => "timeout" as const)]);
    await Promise.race([drained, Bun.sleep(1_000)]);
    if (code !== 0) throw new Error(`deno did not exit cleanly after SIGTERM (${code}); output:\n${output}`);
    expect(code).toBe(0);
    expect(output).not.toContain("error");
  }, 60_000);
});
