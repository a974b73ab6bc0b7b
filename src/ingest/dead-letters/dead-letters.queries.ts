/**
 * SQL of dead letters (table dead_letter_events): the insert that the batch statement runs
 * (write/write.queries.ts composes it, so a batch's events and its dead letters commit together) and
 * the page read. Tenant routes read inside withTenant (row-level security limits them to the caller's
 * tenant); the operators' cross-tenant read (src/admin/admin.routes.ts) runs listDeadLetters in a
 * read-only transaction outside withTenant.
 */
import type { Sql, TxSql } from "../../db/client.ts";
import type { FieldIssue, RejectReason } from "../types.ts";

/** a dead letter to store: what could be read of a rejected event, and why it was rejected */
export interface NewDeadLetter {
  tenant_id: string | null;
  event_id: string | null;
  subject: string | null;
  type: string | null;
  source: string | null;
  schema_version: string | null;
  reason: RejectReason;
  issues: FieldIssue[];
  /** already redacted */
  payload: unknown;
  payload_excerpt: string | null;
  transport: "nats" | "http";
  /** the JetStream stream (nats transport): with stream_sequence, the dead letter's idempotency key */
  stream: string | null;
  stream_sequence: number | null;
}

/**
 * The batch statement's dead-letter insert (the body of one of its data-modifying CTEs). The rows go
 * over as ONE JSON document, sent as text and cast in SQL (given a json-typed parameter, postgres.js
 * would serialise the string a second time). A redelivered NATS message's dead letter is a no-op.
 */
export function insertDeadLetters(sql: Sql | TxSql, rows: readonly NewDeadLetter[]) {
  return sql`
      insert into dead_letter_events (tenant_id, event_id, subject, type, source, schema_version, reason, issues,
                                      payload, payload_excerpt, transport, stream, stream_sequence)
      select * from json_to_recordset(${JSON.stringify(rows.map(storableDeadLetter))}::text::json)
        as d(tenant_id uuid, event_id text, subject text, type text, source text, schema_version text, reason text,
             issues jsonb, payload jsonb, payload_excerpt text, transport text, stream text, stream_sequence bigint)
      on conflict (stream, stream_sequence) where stream is not null and stream_sequence is not null do nothing`;
}

/**
 * PostgreSQL cannot store U+0000 or a lone UTF-16 surrogate in text or jsonb. Validation rejects events
 * holding either, so they can only reach a dead letter (the id, the payload, an excerpt of raw bytes, an
 * issue's path): there each becomes U+FFFD, so the rejection is stored instead of failing the batch.
 */
function storableDeadLetter(row: NewDeadLetter): NewDeadLetter {
  const clean = (v: string | null) => (v === null ? v : storable(v));
  return {
    ...row,
    event_id: clean(row.event_id),
    subject: clean(row.subject),
    type: clean(row.type),
    source: clean(row.source),
    schema_version: clean(row.schema_version),
    issues: row.issues.map((i) => ({ path: storable(i.path), message: storable(i.message) })),
    payload: storableJson(row.payload),
    payload_excerpt: clean(row.payload_excerpt),
  };
}

function storable(v: string): string {
  const s = v.includes("\u0000") ? v.replaceAll("\u0000", "\ufffd") : v;
  return s.isWellFormed() ? s : s.toWellFormed();
}

function storableJson(v: unknown): unknown {
  if (typeof v === "string") return storable(v);
  if (Array.isArray(v)) return v.map(storableJson);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[storable(k)] = storableJson(x);
    return out;
  }
  return v;
}

export interface DeadLetterFilter {
  /** an explicit tenant filter (operators' read); undefined ⇒ every row the transaction can see */
  tenantId?: string;
  status?: DeadLetterStatus;
  reason?: string;
  type?: string;
  from?: string;
  to?: string;
  limit: number;
  after?: { received_at: string; id: number };
}

/** pending until a redrive stores its event (or finds it stored): redriven (redrive.ts) */
export const DEAD_LETTER_STATUSES = ["pending", "redriven"] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];

/** a stored dead letter as read back */
export interface DeadLetterRow {
  id: string;
  /** null when the tenant could not be known (malformed payload) */
  tenant_id: string | null;
  received_at: Date;
  event_id: string | null;
  subject: string | null;
  type: string | null;
  source: string | null;
  schema_version: string | null;
  reason: string;
  issues: Array<{ path: string; message: string }>;
  payload: unknown;
  payload_excerpt: string | null;
  transport: string;
  stream_sequence: string | null;
  status: DeadLetterStatus;
  attempts: number;
  last_attempt_at: Date | null;
  redriven_at: Date | null;
  redriven_event_id: string | null;
}

/** one page (limit + 1 rows, to tell whether another follows), newest first */
export async function listDeadLetters(tx: TxSql, f: DeadLetterFilter) {
  return tx<DeadLetterRow[]>`
    select id, tenant_id, received_at, event_id, subject, type, source, schema_version, reason, issues,
           payload, payload_excerpt, transport, stream_sequence, status, attempts, last_attempt_at, redriven_at,
           redriven_event_id
      from dead_letter_events
     where true
       ${f.tenantId ? tx`and tenant_id = ${f.tenantId}::uuid` : tx``}
       ${f.status ? tx`and status = ${f.status}` : tx``}
       ${f.reason ? tx`and reason = ${f.reason}` : tx``}
       ${f.type ? tx`and type = ${f.type}` : tx``}
       ${f.from ? tx`and received_at >= ${f.from}` : tx``}
       ${f.to ? tx`and received_at < ${f.to}` : tx``}
       ${f.after ? tx`and (received_at, id) < (${f.after.received_at}::timestamptz, ${f.after.id})` : tx``}
     order by received_at desc, id desc
     limit ${f.limit + 1}`;
}

// ─── redrive (redrive.ts) ────────────────────────────────────────────────────────────────────────────

/** which pending dead letters a redrive takes (always inside withTenant: one tenant at a time) */
export interface RedriveFilter {
  reason?: string;
  type?: string;
  /** received_at range */
  from?: string;
  to?: string;
  ids?: string[];
  /** ids above this one only (the previous call's last id) */
  afterId?: string;
}

export interface ClaimedDeadLetter {
  id: string;
  payload: unknown;
  transport: "nats" | "http";
  subject: string | null;
}

function redriveWhere(tx: TxSql, f: RedriveFilter) {
  return tx`
       status = 'pending'
       ${f.reason ? tx`and reason = ${f.reason}` : tx``}
       ${f.type ? tx`and type = ${f.type}` : tx``}
       ${f.from ? tx`and received_at >= ${f.from}` : tx``}
       ${f.to ? tx`and received_at < ${f.to}` : tx``}
       ${f.ids ? tx`and id = any(${f.ids}::bigint[])` : tx``}
       ${f.afterId ? tx`and id > ${f.afterId}::bigint` : tx``}`;
}

/**
 * Claim up to `limit` pending dead letters with a payload, oldest first, for `leaseS` seconds: rows
 * another redrive holds (claimed, not yet released or expired) are skipped, so two redrives at once
 * never take the same row.
 */
export async function claimDeadLetters(tx: TxSql, f: RedriveFilter, limit: number, leaseS: number) {
  // the rows are picked once (a materialised CTE): an IN (subquery … FOR UPDATE) may be run again for each
  // row and, skipping the rows this statement already updated, pick more than `limit`
  const rows = await tx<ClaimedDeadLetter[]>`
    with picked as materialized (
      select id from dead_letter_events
       where ${redriveWhere(tx, f)}
         and payload is not null and (claimed_until is null or claimed_until < now())
       order by id
       limit ${limit}
       for update skip locked
    )
    update dead_letter_events d
       set claimed_until = now() + make_interval(secs => ${leaseS})
      from picked
     where d.id = picked.id
    returning d.id::text as id, d.payload, d.transport, d.subject`;
  return rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
}

/** pending dead letters of the filter that hold no payload (unparseable or too large): nothing to re-validate */
export async function countWithoutPayload(tx: TxSql, f: RedriveFilter): Promise<number> {
  const [row] = await tx<Array<{ n: number }>>`
    select count(*)::int as n from dead_letter_events where ${redriveWhere(tx, f)} and payload is null`;
  return row?.n ?? 0;
}

/** the outcome of one claimed dead letter's redrive */
export interface RedriveMark {
  id: string;
  /** stored now or found stored: the dead letter becomes redriven with this event id */
  redrivenEventId: string | null;
  /** still invalid: the new reason and issues */
  reason: string | null;
  issues: FieldIssue[] | null;
}

/** one attempt more for every claimed row; the stored ones become redriven; every claim is released */
export async function markRedriven(tx: TxSql, marks: RedriveMark[]): Promise<void> {
  if (marks.length === 0) return;
  const rows = marks.map((m) => ({ id: m.id, event_id: m.redrivenEventId, reason: m.reason, issues: m.issues }));
  await tx`
    update dead_letter_events d
       set attempts = d.attempts + 1,
           last_attempt_at = now(),
           claimed_until = null,
           status = case when r.event_id is not null then 'redriven' else d.status end,
           redriven_at = case when r.event_id is not null then now() else d.redriven_at end,
           redriven_event_id = coalesce(r.event_id, d.redriven_event_id),
           reason = coalesce(r.reason, d.reason),
           issues = coalesce(r.issues, d.issues)
      from json_to_recordset(${JSON.stringify(rows)}::text::json) as r(id bigint, event_id text, reason text, issues jsonb)
     where d.id = r.id`;
}

/** release claims without an attempt (the redrive failed before it could write) */
export async function releaseClaims(tx: TxSql, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx`update dead_letter_events set claimed_until = null where id = any(${ids}::bigint[])`;
}

/** pending dead letters per reason, every tenant (pulse_dead_letter_depth): the connection role, read-only */
export async function deadLetterDepth(sql: Sql): Promise<Array<{ reason: string; depth: number }>> {
  return sql.begin(
    "read only",
    (tx) => tx<Array<{ reason: string; depth: number }>>`
    select reason, count(*)::int as depth from dead_letter_events where status = 'pending' group by reason order by reason`,
  );
}
