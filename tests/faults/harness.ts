/**
 * What every fault scenario shares: its own service processes (tests/helpers/service.ts) on their own
 * embedded engines and private nats-server / redis-server (tests/helpers/servers.ts); a publisher that
 * retries every event until JetStream acknowledges it (same Nats-Msg-Id, so a retry of a publish that
 * did land is dropped by the stream's duplicate window); a readiness watcher; an exact count of what
 * is on disk once a service has stopped; and the table (report.fault.ts prints it at the end of the run:
 * the test files of one run share this module).
 *
 * Size: FAULTS_EVENTS sets the ingest of the engine-kill scenario; the default is the issue's
 * 100,000 (about 35 s on 2 cores), a smaller number makes a quicker local run.
 */
import { join } from "node:path";
import { connect, type JetStreamClient, type NatsConnection } from "nats";
import { createSql } from "../../src/db/client.ts";
import { EmbeddedEngine } from "../../src/db/embedded/manager.ts";
import { TEST_JWT_SECRET, testLogger, token } from "../helpers/deps.ts";
import type { CloudEvent } from "../helpers/events.ts";
import { type RunningService, startService, waitFor } from "../helpers/service.ts";
import type { PrivateServer } from "../helpers/servers.ts";
import { tempDir } from "../helpers/tmp.ts";

/** events of the engine-kill scenario (FAULTS_EVENTS; default the 100,000) */
export const KILL_EVENTS = Number(process.env.FAULTS_EVENTS ?? 100_000);

export const STREAM = "ANALYTICS";
export const PREFIX = "analytics";

// ─── service processes ─────────────────────────────────────────────────────────────────────────

export interface FaultService extends RunningService {
  role: "api" | "worker" | "all";
  dataDir: string;
  env: Record<string, string>;
}

const services = new Set<RunningService>();

/** a service process on its own embedded engine (a new data dir unless one is given) */
export async function startFaultService(opts: {
  role?: "api" | "worker" | "all";
  nats?: PrivateServer;
  redis?: PrivateServer;
  dataDir?: string;
  env?: Record<string, string>;
}): Promise<FaultService> {
  const role = opts.role ?? "all";
  const dataDir = opts.dataDir ?? join(tempDir(`fault-${role}`), "db");
  const env: Record<string, string> = {
    ROLE: role,
    EMBEDDED_DATA_DIR: dataDir,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: "info",
    RATE_LIMIT_READ_PER_MIN: "1000000",
    RATE_LIMIT_EXPORT_PER_MIN: "1000000",
    RATE_LIMIT_INGEST_PER_MIN: "1000000",
    RATE_LIMIT_PUBLIC_PER_MIN: "1000000",
    ...(opts.nats ? { NATS_URL: opts.nats.url, NATS_STREAM: STREAM, NATS_SUBJECT_PREFIX: PREFIX } : {}),
    ...(opts.redis ? { REDIS_URL: opts.redis.url } : {}),
    ...opts.env,
  };
  const svc = await startService(env);
  services.add(svc);
  const live = await Promise.race([
    svc.proc.exited.then(() => undefined),
    waitFor(`${svc.url}/health/live`, 200, 60_000).then((w) => w.res),
  ]);
  if (live?.status !== 200) throw new ServiceDidNotStart(role, svc.output());
  return Object.assign(svc, { role, dataDir, env });
}

export class ServiceDidNotStart extends Error {
  constructor(
    role: string,
    readonly output: string,
  ) {
    super(`${role} service did not start:\n${output.slice(-3_000)}`);
  }
}

/** wait until /health/ready answers 200; returns the ms it took */
export async function ready(svc: RunningService, timeoutMs = 60_000): Promise<number> {
  const { res, ms } = await waitFor(`${svc.url}/health/ready`, 200, timeoutMs);
  if (res?.status !== 200) throw new Error(`not ready after ${timeoutMs} ms: ${res ? JSON.stringify(await res.json()) : "no answer"}`);
  return ms;
}

/** stop every service process still running (afterAll) */
export async function stopServices(): Promise<void> {
  for (const s of services) await s.stop("SIGKILL");
  services.clear();
}

/** the embedded engine child of a service process (its own child: other engines may run beside it) */
export function engineChildPid(parent: number): number | null {
  const r = Bun.spawnSync(["pgrep", "-P", String(parent), "-f", "embedded/server.ts"]);
  const pid = Number(r.stdout.toString().trim().split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

// ─── readiness ─────────────────────────────────────────────────────────────────────────────────

export interface ReadySample {
  at: number;
  /** HTTP status, 0 when nothing answered */
  code: number;
  status?: string;
  reasons?: string[];
}

/** polls /health/ready every `everyMs` in the background */
export function watchReadiness(svc: RunningService, everyMs = 100) {
  const samples: ReadySample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = performance.now();
      try {
        const res = await fetch(`${svc.url}/health/ready`, { signal: AbortSignal.timeout(3_000) });
        const body = (await res.json()) as { status?: string; reasons?: string[] };
        samples.push({ at, code: res.status, status: body.status, reasons: body.reasons });
      } catch {
        samples.push({ at, code: 0 });
      }
      await Bun.sleep(Math.max(0, everyMs - (performance.now() - at)));
    }
  })();
  return {
    samples,
    /** the first sample at or after `from` that satisfies `pred` */
    first(from: number, pred: (s: ReadySample) => boolean): ReadySample | undefined {
      return samples.find((s) => s.at >= from && pred(s));
    },
    /** every sample in [from, to) */
    between(from: number, to: number): ReadySample[] {
      return samples.filter((s) => s.at >= from && s.at < to);
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** seconds from `from` to the first sample matching `pred`, or null */
export function secondsUntil(w: ReturnType<typeof watchReadiness>, from: number, pred: (s: ReadySample) => boolean): number | null {
  const s = w.first(from, pred);
  return s ? (s.at - from) / 1000 : null;
}

// ─── publishing ────────────────────────────────────────────────────────────────────────────────

export async function natsClient(server: PrivateServer): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 250, name: "fault-publisher" });
  return { nc, js: nc.jetstream({ timeout: 2_000 }) };
}

const enc = new TextEncoder();

export interface PublishTally {
  /** events JetStream acknowledged (each counted once, a retry's duplicate ack included) */
  acked: number;
  /** publish attempts that failed and were retried (NATS away, ack timeout) */
  retries: number;
  /** acks that said "duplicate": a retry of a publish that had landed, or a re-send */
  duplicateAcks: number;
}

/** publish one event until JetStream acknowledges it (same Nats-Msg-Id every time) */
export async function publishUntilAcked(
  js: JetStreamClient,
  e: CloudEvent,
  tally: PublishTally,
  msgId: string | undefined = e.id,
): Promise<void> {
  const data = enc.encode(JSON.stringify(e));
  for (;;) {
    try {
      const ack = await js.publish(`${PREFIX}.${e.tenantid}.${e.type}`, data, msgId ? { msgID: msgId } : {});
      tally.acked += 1;
      if (ack.duplicate) tally.duplicateAcks += 1;
      return;
    } catch {
      tally.retries += 1;
      await Bun.sleep(100);
    }
  }
}

/** publish every event (`window` in flight at once), each until acknowledged */
export async function publishAll(
  js: JetStreamClient,
  events: CloudEvent[],
  opts: { window?: number; msgId?: (e: CloudEvent) => string | undefined } = {},
): Promise<PublishTally> {
  const tally: PublishTally = { acked: 0, retries: 0, duplicateAcks: 0 };
  const window = opts.window ?? 500;
  for (let i = 0; i < events.length; i += window) {
    await Promise.all(events.slice(i, i + window).map((e) => publishUntilAcked(js, e, tally, opts.msgId ? opts.msgId(e) : e.id)));
  }
  return tally;
}

// ─── counting ──────────────────────────────────────────────────────────────────────────────────

/** accepted events of `tenants` so far, from the running service's own counters (/v1/ingest/stats) */
export async function acceptedSoFar(svc: RunningService, tenants: string[]): Promise<number | undefined> {
  const range = `from=${new Date(Date.now() - 2 * 86_400_000).toISOString()}&to=${new Date(Date.now() + 86_400_000).toISOString()}`;
  let sum = 0;
  for (const t of tenants) {
    const headers = { authorization: `Bearer ${await token({ tenantId: t })}` };
    const res = await fetch(`${svc.url}/v1/ingest/stats?${range}`, { headers, signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
    if (!res?.ok) return undefined;
    sum += ((await res.json()) as { accepted: number }).accepted;
  }
  return sum;
}

export interface OnDisk {
  stored: number;
  distinct: number;
  deadLettered: number;
  /** redeliveries the pipeline caught as duplicates (ingest_counters) */
  caughtDuplicates: number;
}

/** exact counts in a stopped service's data dir (opened by an engine of this process) */
export async function countOnDisk(dataDir: string, tenants: string[]): Promise<OnDisk> {
  const engine = new EmbeddedEngine({ dataDir, port: 0, logger: testLogger });
  // the data-dir lock of a killed process goes stale within ~10 s
  for (let i = 0; ; i++) {
    try {
      await engine.start();
      break;
    } catch (err) {
      if (i >= 30) throw err;
      await Bun.sleep(1_000);
    }
  }
  const sql = createSql(engine.url, { max: 1, statementTimeoutMs: 60_000, logger: testLogger, embedded: true });
  try {
    const [ev] = await sql`
      select count(*)::int as n, count(distinct (tenant_id, event_id))::int as d from events where tenant_id = any(${tenants}::uuid[])`;
    const [dl] = await sql`select count(*)::int as n from dead_letter_events where tenant_id = any(${tenants}::uuid[])`;
    const [dup] = await sql`select coalesce(sum(duplicates), 0)::int as n from ingest_counters where tenant_id = any(${tenants}::uuid[])`;
    return { stored: ev!.n, distinct: ev!.d, deadLettered: dl!.n, caughtDuplicates: dup!.n };
  } finally {
    await sql.end({ timeout: 1 });
    await engine.stop();
  }
}

// ─── the table ─────────────────────────────────────────────────────────────────────────────────

export interface FaultRow {
  scenario: string;
  published?: number;
  stored?: number;
  duplicated?: number;
  lost?: number;
  deadLettered?: number;
  /** seconds from the fault to readiness 503 (null: never 503) */
  to503?: number | null;
  /** seconds from the recovery (dependency back / process restarted) to readiness 200 */
  to200?: number | null;
  /** reads answered / reads made while the fault lasted */
  reads?: string;
  notes: string;
}

const rows: FaultRow[] = [];

export function record(row: FaultRow): void {
  rows.push(row);
  console.log(`fault scenario: ${JSON.stringify(row)}`);
}

function fmt(v: number | string | null | undefined): string {
  if (v === undefined) return "";
  if (v === null) return "never";
  return typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2) : String(v);
}

export function table(): string {
  const head = ["scenario", "published", "stored", "dup", "lost", "dead-lettered", "to 503 (s)", "to 200 (s)", "reads answered"];
  const body = rows.map((r) => [
    r.scenario,
    ...[r.published, r.stored, r.duplicated, r.lost, r.deadLettered, r.to503, r.to200].map(fmt),
    r.reads ?? "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  const rule = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
  return [line(head), rule, ...body.map(line), "", ...rows.map((r) => `${r.scenario}: ${r.notes}`)].join("\n");
}

/** the rows recorded so far in this run (report.fault.ts, the last file of `bun run test:faults`, prints them) */
export function recorded(): readonly FaultRow[] {
  return rows;
}
