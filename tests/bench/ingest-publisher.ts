/**
 * Publisher child of the ingest benchmark: ingest.bench.ts spawns it so that the messages and their
 * publishing live outside the bench process, which runs the worker and whose RSS is the worker's.
 *
 *   bun tests/bench/ingest-publisher.ts --events N --nats-url URL --run-id R --seed S
 *       --target STREAM=PREFIX [--target STREAM=PREFIX …] [--validate JSON]
 *
 *   --run-id   the bench run: every child of one run builds the same tenants (ingest-events.ts)
 *   --seed     0: the bench's usual mix; another value: the same mix with fresh event ids
 *   --target   a stream and the subject prefix its subjects start with; published to in order
 *   --validate {"sample":K,"maxFutureMs":…,"retentionMs":…,"maxBytes":…,"maxDepth":…}: also time validateEvent
 *              alone over the first K messages (pure CPU, measured before "built")
 *
 * Protocol (one JSON line per event on stdout, see PublisherEvent; stderr is the parent's):
 *   1. builds the N messages, connects to NATS, then reports
 *      {"event":"built","messages":…,"bytes":…,"invalidByReason":{…},…};
 *   2. per target, waits for a line "go" on stdin, publishes every message to it and reports
 *      {"event":"published","stream":…,"seconds":…,"dropped":…,"vmHwmKb":…}; the seconds cover the
 *      publishing alone (build time is in no measurement);
 *   3. after the last target: closes the connection and exits 0.
 * Any failure (stdin closed before a "go": the parent is gone) reports {"event":"error","message":…}
 * and exits 1.
 */
import { parseArgs } from "node:util";
import { connect, type NatsConnection } from "nats";
import { validateEvent } from "../../src/ingest/validate.ts";
import { buildEvents, lineReader, mixCounts, publishAll, type PublisherEvent } from "./ingest-events.ts";
import { procStatusKb } from "./proc.ts";

const { values: args } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    events: { type: "string" },
    "nats-url": { type: "string" },
    "run-id": { type: "string" },
    seed: { type: "string", default: "0" },
    target: { type: "string", multiple: true },
    validate: { type: "string" },
  },
  strict: true,
});

/** one JSON line on stdout, written out before the promise resolves (so it survives a process.exit) */
async function report(e: PublisherEvent): Promise<void> {
  await Bun.write(Bun.stdout, `${JSON.stringify(e)}\n`);
}

interface ValidateOptions {
  sample: number;
  maxFutureMs: number;
  retentionMs: number;
  maxBytes: number;
  maxDepth: number;
}

let nc: NatsConnection | undefined;

async function main(): Promise<void> {
  const n = Number(args.events);
  if (!Number.isInteger(n) || n < 1) throw new Error("--events must be a positive integer");
  const seed = Number(args.seed);
  if (!Number.isInteger(seed)) throw new Error("--seed must be an integer");
  if (!args["nats-url"] || !args["run-id"]) throw new Error("--nats-url and --run-id are required");
  const targets = (args.target ?? []).map((t) => {
    const eq = t.indexOf("=");
    if (eq <= 0 || eq === t.length - 1) throw new Error(`--target must be STREAM=PREFIX, got ${JSON.stringify(t)}`);
    return { stream: t.slice(0, eq), prefix: t.slice(eq + 1) };
  });
  if (targets.length === 0) throw new Error("at least one --target is required");
  const validate = args.validate === undefined ? undefined : (JSON.parse(args.validate) as ValidateOptions);

  const t0 = performance.now();
  const { msgs, invalidByReason } = buildEvents({ n, runId: args["run-id"], seed });
  const buildSeconds = (performance.now() - t0) / 1000;
  const bytes = msgs.reduce((s, m) => s + m.data.byteLength, 0);

  let validateUs: number | undefined;
  if (validate) {
    // the standalone CPU cost of validation (a pure function the pipeline calls once per message)
    const sample = msgs.slice(0, Math.min(msgs.length, validate.sample));
    const vctx = {
      now: new Date(),
      maxFutureMs: validate.maxFutureMs,
      retentionMs: validate.retentionMs,
      maxBytes: validate.maxBytes,
      maxDepth: validate.maxDepth,
    };
    // one untimed pass first: the worker's validation runs warm (JIT-compiled), so time a warm pass
    for (const m of sample) validateEvent(m.data, { ...vctx, expectedTenant: m.suffix.slice(0, 36) });
    const v0 = performance.now();
    for (const m of sample) validateEvent(m.data, { ...vctx, expectedTenant: m.suffix.slice(0, 36) });
    validateUs = ((performance.now() - v0) * 1000) / sample.length;
  }

  // connected before "built", so that a "go" starts the publishing at once
  nc = await connect({ servers: args["nats-url"], name: `pulse-bench-publisher-${args["run-id"]}-${seed}` });
  const js = nc.jetstream();
  const { duplicates, invalid } = mixCounts(n);
  await report({
    event: "built",
    messages: msgs.length,
    bytes,
    seconds: buildSeconds,
    duplicates,
    invalid,
    invalidByReason,
    ...(validateUs !== undefined ? { validateUs } : {}),
  });

  const nextLine = lineReader(Bun.stdin.stream());
  for (const { stream, prefix } of targets) {
    const line = await nextLine();
    if (line === null) throw new Error(`stdin closed before the "go" for ${stream}: the bench process is gone`);
    if (line.trim() !== "go") throw new Error(`expected a "go" line on stdin, got ${JSON.stringify(line)}`);
    const t = performance.now();
    const cpu0 = process.cpuUsage();
    const dropped = await publishAll(js, prefix, msgs, stream);
    const seconds = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    await report({ event: "published", stream, seconds, dropped, vmHwmKb: procStatusKb(process.pid, "VmHWM"), cpuSeconds });
  }
  await nc.drain();
}

try {
  await main();
  process.exit(0);
} catch (err) {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  await report({ event: "error", message }).catch(() => undefined);
  await nc?.close().catch(() => undefined);
  process.exit(1);
}
