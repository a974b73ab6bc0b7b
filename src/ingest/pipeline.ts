/**
 * The ingest pipeline shared by NATS and HTTP: validate (fail-closed) → dedup → anonymise → one
 * statement per batch (events, order lines, side tables, counters, dead letters) → remember → publish dead
 * letters. Every input ends as exactly one outcome: accepted, duplicate or rejected (dead-lettered).
 * A transient database failure throws DatabaseUnavailableError and commits nothing: the caller
 * retries the whole batch (NATS nak) or answers 503 (HTTP).
 */
import type { Sql } from "../db/client.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { type DbBreaker, isTransientDbError } from "./breaker.ts";
import { ping } from "./ingest.queries.ts";
import type { DedupCache } from "./dedup.ts";
import type { NewDeadLetter } from "./dead-letters/dead-letters.queries.ts";
import { type BatchResult, eventKey, wasStored, writeBatch } from "./write/write.queries.ts";
import type { MemoryGuard } from "./memory-guard.ts";
import type { Privacy } from "./privacy/privacy.ts";
import { redactPayload, redactText } from "./privacy/redact.ts";
import { UUID } from "./schemas/envelope.ts";
import type { EventRow, FieldIssue, Rejection, RejectReason, ValidEvent } from "./types.ts";
import { validateEvent } from "./validate.ts";

export interface IncomingMessage {
  input: Uint8Array | string | unknown;
  /** the tenant the transport vouches for: the NATS subject token or the HTTP token's tenant */
  expectedTenant: string | null;
  transport: "nats" | "http";
  subject: string | null;
  /** JetStream stream and sequence (nats transport; null over HTTP) */
  stream: string | null;
  streamSequence: number | null;
}

export type Outcome =
  | { status: "accepted"; id: string; outOfOrder: boolean }
  | { status: "duplicate"; id: string }
  | { status: "rejected"; id: string | null; reason: RejectReason; issues: FieldIssue[] };

export interface PipelineOptions {
  sql: Sql;
  logger: Logger;
  metrics: Metrics;
  privacy: Privacy;
  dedup: DedupCache;
  breaker: DbBreaker;
  limits: { maxFutureMs: number; retentionMs: number; maxEventBytes: number; maxDepth: number };
  /** publish a dead letter to <prefix>.dlq.<reason> (after commit); absent without NATS */
  publishDeadLetter?: (row: NewDeadLetter) => Promise<void>;
  /**
   * called after a commit that stored new events, with their tenants, before the batch's outcomes
   * are returned (the analytics cache bumps the tenants' data generations: a read after a 202 or an
   * ack is fresh); must not reject
   */
  onCommitted?: (tenantIds: string[]) => Promise<unknown>;
  /** checked after each batch: a full collection when the process is above its soft memory limit */
  memoryGuard?: MemoryGuard;
}

/** how many items fall under each key */
function countBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, number> {
  const counts = new Map<K, number>();
  for (const x of items) {
    const k = keyOf(x);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/** a batch after prepare(): outcomes of the rejected and early duplicates known, the rest to write */
export interface PreparedBatch {
  msgs: IncomingMessage[];
  started: number;
  now: Date;
  outcomes: Outcome[];
  deadLetters: Array<{ index: number; row: NewDeadLetter }>;
  valid: Array<{ index: number; event: ValidEvent; key: string }>;
  earlyDuplicates: Map<string, number>;
}

interface Candidate {
  index: number;
  key: string;
  row: EventRow;
}

export class IngestPipeline {
  constructor(private readonly o: PipelineOptions) {}

  /** database writes are paused (the breaker is open) */
  get paused(): boolean {
    return this.o.breaker.open;
  }

  /**
   * A round trip to the database through the breaker (it counts as the half-open probe): resolves once
   * writes can go on, else throws DatabaseUnavailableError with when to try again. The NATS consumer
   * probes with this instead of a batch: a batch probe costs each of its messages a delivery.
   */
  async probe(): Promise<void> {
    await this.o.breaker.execute(() => ping(this.o.sql));
  }

  /** validate, dedup and anonymise, then write: prepare() and commit() in one go */
  async process(msgs: IncomingMessage[]): Promise<Outcome[]> {
    return this.commit(this.prepare(msgs));
  }

  /**
   * The CPU part of a batch (validation, in-batch and LRU dedup), no I/O: a consumer can prepare the
   * next batch while the previous one is being written. A duplicate the LRU has not seen yet (its
   * batch not committed) is still caught by the table's unique key and counted as a duplicate.
   */
  prepare(msgs: IncomingMessage[]): PreparedBatch {
    const started = performance.now();
    const now = new Date();
    const outcomes: Outcome[] = new Array(msgs.length);
    const deadLetters: Array<{ index: number; row: NewDeadLetter }> = [];
    const valid: Array<{ index: number; event: ValidEvent; key: string }> = [];
    const inBatch = new Set<string>();
    /** duplicates caught before the database, per tenant (counted with the batch) */
    const earlyDuplicates = new Map<string, number>();

    msgs.forEach((m, index) => {
      const r = validateEvent(m.input, {
        expectedTenant: m.expectedTenant,
        now,
        maxFutureMs: this.o.limits.maxFutureMs,
        retentionMs: this.o.limits.retentionMs,
        maxBytes: this.o.limits.maxEventBytes,
        maxDepth: this.o.limits.maxDepth,
      });
      if (!r.ok) {
        const j = r.rejection;
        deadLetters.push({ index, row: rejectedDeadLetter(j, m) });
        outcomes[index] = { status: "rejected", id: j.eventId, reason: j.reason, issues: j.issues };
        return;
      }
      const key = eventKey(r.event.tenantId, r.event.id, r.event.time);
      if (inBatch.has(key) || this.o.dedup.seen(key)) {
        outcomes[index] = { status: "duplicate", id: r.event.id };
        earlyDuplicates.set(r.event.tenantId, (earlyDuplicates.get(r.event.tenantId) ?? 0) + 1);
        return;
      }
      inBatch.add(key);
      valid.push({ index, event: r.event, key });
    });

    this.o.dedup.flushMetrics();
    return { msgs, started, now, outcomes, deadLetters, valid, earlyDuplicates };
  }

  /** write a prepared batch (one statement), then remember its keys and publish its dead letters */
  async commit(batch: PreparedBatch): Promise<Outcome[]> {
    const { msgs, started, now, outcomes, deadLetters, valid, earlyDuplicates } = batch;
    const { splitRejects, ...result } = await this.o.breaker.execute(async () => {
      const toRow = await this.o.privacy.prepare(
        valid.map((v) => v.event),
        now,
      );
      const candidates: Candidate[] = valid.map((v) => ({ index: v.index, key: v.key, row: toRow(v.event) }));
      return this.write(
        candidates,
        deadLetters.map((d) => d.row),
        earlyDuplicates,
        msgs,
      );
    });

    for (const v of valid) {
      if (splitRejects.has(v.index)) {
        const dl = splitRejects.get(v.index)!;
        deadLetters.push({ index: v.index, row: dl });
        outcomes[v.index] = { status: "rejected", id: v.event.id, reason: dl.reason, issues: dl.issues };
      } else if (wasStored(result, v.key)) {
        outcomes[v.index] = { status: "accepted", id: v.event.id, outOfOrder: result.outOfOrder.has(v.key) };
      } else {
        outcomes[v.index] = { status: "duplicate", id: v.event.id };
      }
    }
    this.o.dedup.remember(valid.filter((v) => !splitRejects.has(v.index)).map((v) => v.key));
    if (this.o.onCommitted) {
      const tenants = new Set<string>();
      for (const v of valid) if (wasStored(result, v.key)) tenants.add(v.event.tenantId);
      if (tenants.size > 0) await this.o.onCommitted([...tenants]);
    }

    const transport = msgs[0]?.transport ?? "nats";
    // counted per batch, not per event (a labelled inc() hashes its labels on every call)
    for (const [outcome, n] of countBy(outcomes, (o) => o.status)) this.o.metrics.ingestEvents.inc({ transport, outcome }, n);
    for (const [reason, n] of countBy(deadLetters, (d) => d.row.reason)) this.o.metrics.deadLetters.inc({ reason }, n);
    this.o.metrics.ingestBatchSeconds.observe({ transport }, (performance.now() - started) / 1000);
    this.o.memoryGuard?.check();

    const publish = this.o.publishDeadLetter;
    if (publish) {
      await Promise.all(
        deadLetters.map((d) =>
          publish(d.row).catch((err) =>
            this.o.logger.error({ err: (err as Error).message, reason: d.row.reason }, "could not publish a dead letter (it is stored)"),
          ),
        ),
      );
    }
    return outcomes;
  }

  /** one statement (its own transaction); on a data error, split the batch to isolate the bad events */
  private async write(
    candidates: Candidate[],
    deadLetters: NewDeadLetter[],
    earlyDuplicates: Map<string, number>,
    msgs: IncomingMessage[],
  ): Promise<BatchResult & { splitRejects: Map<number, NewDeadLetter> }> {
    const splitRejects = new Map<number, NewDeadLetter>();
    try {
      const r = await writeBatch(this.o.sql, { events: candidates.map((c) => c.row), deadLetters, earlyDuplicates });
      return { ...r, splitRejects };
    } catch (err) {
      // only a data problem of some row (SQLSTATE class 22 data exception, 23 integrity) is isolated;
      // anything else (a transient failure, or a bug such as a bad cast) fails the batch for a retry
      if (!isDataError(err) || candidates.length === 0) throw err;
      this.o.logger.warn({ err: (err as Error).message, batch: candidates.length }, "batch failed for a data reason; splitting it");
    }
    const inserted = new Set<string>();
    const outOfOrder = new Set<string>();
    await writeBatch(this.o.sql, { events: [], deadLetters, earlyDuplicates });
    const bisect = async (part: Candidate[]): Promise<void> => {
      try {
        const r = await writeBatch(this.o.sql, { events: part.map((c) => c.row), deadLetters: [], earlyDuplicates: new Map() });
        for (const c of part) if (wasStored(r, c.key)) inserted.add(c.key);
        for (const k of r.outOfOrder) outOfOrder.add(k);
      } catch (err) {
        if (!isDataError(err)) throw err;
        if (part.length === 1) {
          const c = part[0]!;
          const m = msgs[c.index]!;
          const dl: NewDeadLetter = {
            tenant_id: c.row.tenant_id,
            event_id: c.row.event_id,
            subject: m.subject,
            type: c.row.type,
            source: c.row.source,
            schema_version: String(c.row.schema_version),
            reason: "invalid_data",
            issues: [{ path: "(database)", message: (err as Error).message }],
            payload: redactPayload(typeof m.input === "object" && !(m.input instanceof Uint8Array) ? m.input : safeParse(m.input)),
            payload_excerpt: null,
            transport: m.transport,
            stream: m.stream,
            stream_sequence: m.streamSequence,
          };
          await writeBatch(this.o.sql, { events: [], deadLetters: [dl], earlyDuplicates: new Map() });
          splitRejects.set(c.index, dl);
          return;
        }
        const mid = Math.ceil(part.length / 2);
        await bisect(part.slice(0, mid));
        await bisect(part.slice(mid));
      }
    };
    await bisect(candidates);
    return { inserted, outOfOrder, splitRejects };
  }
}

/** the dead letter of an event validation rejected, its payload and excerpt redacted */
function rejectedDeadLetter(j: Rejection, m: IncomingMessage): NewDeadLetter {
  // a tenant mismatch is filed under the tenant the transport vouches for (the publisher
  // who sent it sees why), never under the tenant the payload claims
  const vouched = m.expectedTenant && UUID.test(m.expectedTenant) ? m.expectedTenant.toLowerCase() : null;
  return {
    tenant_id: j.reason === "tenant_mismatch" && vouched ? vouched : j.tenantId,
    event_id: j.eventId,
    subject: m.subject,
    type: j.type,
    source: j.source,
    schema_version: j.schemaVersion,
    reason: j.reason,
    issues: j.issues,
    payload: j.payload === undefined ? undefined : redactPayload(j.payload),
    payload_excerpt: j.excerpt === null ? null : redactText(j.excerpt),
    transport: m.transport,
    stream: m.stream,
    stream_sequence: m.streamSequence,
  };
}

export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && /^(22|23)/.test(code) && !isTransientDbError(err);
}

function safeParse(input: unknown): unknown {
  try {
    return JSON.parse(typeof input === "string" ? input : new TextDecoder().decode(input as Uint8Array));
  } catch {
    return undefined;
  }
}
