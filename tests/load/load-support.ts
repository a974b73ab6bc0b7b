/** Support of the load test (tests/load/load.ts): the service child process, /metrics samples, percentiles. */

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

export { freePort } from "../helpers/service.ts";

/** the value at percentile p (nearest rank) of an ascending list; NaN when empty */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** `bun src/main.ts` with this environment (on top of the caller's), its output kept */
export async function startService(env: Record<string, string>) {
  let out = "";
  const proc = Bun.spawn(["bun", MAIN], {
    env: { ...process.env, NODE_ENV: "production", LOG_FORMAT: "json", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) out = (out + dec.decode(chunk)).slice(-100_000);
  };
  void collect(proc.stdout as ReadableStream<Uint8Array>);
  void collect(proc.stderr as ReadableStream<Uint8Array>);
  const url = `http://127.0.0.1:${env.PORT}`;
  return {
    url,
    output: () => out,
    /** readiness 200 within the time */
    ready: async (timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && proc.exitCode === null) {
        const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
        if (res?.status === 200) return true;
        await Bun.sleep(250);
      }
      return false;
    },
    stop: async () => {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

export interface Sample {
  at: number;
  poolMax: number;
  poolBusySeconds: number;
  poolWaiting: number;
  lagSeconds: number;
  pending: number;
  /** events the worker processed (pulse_ingest_events_total{transport="nats"}, every outcome) */
  ingested: number;
}

/** the figures the load test reports, from the service's /metrics */
export async function scrape(base: string): Promise<Sample> {
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const sum = (name: string, labels = "") => {
    let total = 0;
    for (const line of text.split("\n")) {
      if (!line.startsWith(name) || (line[name.length] !== " " && line[name.length] !== "{")) continue;
      if (labels && !line.includes(labels)) continue;
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return total;
  };
  return {
    at: Date.now(),
    poolMax: sum("pulse_db_pool_max"),
    poolBusySeconds: sum("pulse_db_pool_busy_seconds_total"),
    poolWaiting: sum("pulse_db_pool_waiting"),
    lagSeconds: sum("pulse_ingest_consumer_lag_seconds"),
    pending: sum("pulse_ingest_consumer_pending"),
    ingested: sum("pulse_ingest_events_total", 'transport="nats"'),
  };
}
