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
  reason?: string;
  type?: string;
  from?: string;
  to?: string;
  limit: number;
  after?: { received_at: string; id: number };
}

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
}

/** one page (limit + 1 rows, to tell whether another follows), newest first */
export async function listDeadLetters(tx: TxSql, f: DeadLetterFilter) {
  return tx<DeadLetterRow[]>`
    select id, tenant_id, received_at, event_id, subject, type, source, schema_version, reason, issues,
           payload, payload_excerpt, transport, stream_sequence
      from dead_letter_events
     where true
       ${f.tenantId ? tx`and tenant_id = ${f.tenantId}::uuid` : tx``}
       ${f.reason ? tx`and reason = ${f.reason}` : tx``}
       ${f.type ? tx`and type = ${f.type}` : tx``}
       ${f.from ? tx`and received_at >= ${f.from}` : tx``}
       ${f.to ? tx`and received_at < ${f.to}` : tx``}
       ${f.after ? tx`and (received_at, id) < (${f.after.received_at}::timestamptz, ${f.after.id})` : tx``}
     order by received_at desc, id desc
     limit ${f.limit + 1}`;
}
