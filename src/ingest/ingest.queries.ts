/**
 * The ingest write path: one transaction per batch (events, side tables, counters, dead letters).
 * Events go in with INSERT … SELECT FROM unnest(arrays) … ON CONFLICT DO NOTHING: a redelivery is a
 * no-op and is counted as a duplicate. Runs as the owner: a batch spans tenants, and each row's
 * tenant was checked against its transport (subject token or token claim) before it got here.
 */
import type { Sql, TxSql } from "../db/client.ts";
import type { EventRow, FieldIssue, RejectReason } from "./types.ts";

export interface DeadLetterRow {
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
  stream_sequence: number | null;
}

export async function lastTimes(tx: TxSql, keys: Array<{ tenant_id: string; source: string }>): Promise<Map<string, Date>> {
  const out = new Map<string, Date>();
  if (keys.length === 0) return out;
  const rows = await tx<{ tenant_id: string; source: string; last_time: Date }[]>`
    select s.tenant_id, s.source, s.last_time
      from ingest_sequence s
      join unnest(${keys.map((k) => k.tenant_id)}::uuid[], ${keys.map((k) => k.source)}::text[]) as k(tenant_id, source)
        on s.tenant_id = k.tenant_id and s.source = k.source`;
  for (const r of rows) out.set(`${r.tenant_id}\u0000${r.source}`, r.last_time);
  return out;
}

/** insert events; returns the keys (tenant \0 event_id \0 time-ms) that were new */
export async function insertEvents(tx: TxSql, rows: Array<EventRow & { out_of_order: boolean }>): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  // every array goes over as text[] and is cast in SQL: postgres.js infers an array's type from its
  // elements, which is wrong for booleans and for numbers mixed with nulls
  const col = <K extends keyof (EventRow & { out_of_order: boolean })>(k: K) => rows.map((r) => asText(r[k]));
  const inserted = await tx<{ tenant_id: string; event_id: string; time: Date }[]>`
    insert into events (time, tenant_id, event_id, type, schema_version, source, customer_id, visitor_id,
                        session_id, order_id, cart_id, item_id, channel, amount_minor, currency, quantity,
                        trace_id, ip_prefix, ua_hash, ua_family, props, out_of_order)
    select * from unnest(
      ${rows.map((r) => r.time.toISOString())}::timestamptz[],
      ${col("tenant_id")}::uuid[],
      ${col("event_id")}::text[],
      ${col("type")}::text[],
      ${col("schema_version")}::smallint[],
      ${col("source")}::text[],
      ${col("customer_id")}::text[],
      ${col("visitor_id")}::text[],
      ${col("session_id")}::text[],
      ${col("order_id")}::text[],
      ${col("cart_id")}::text[],
      ${col("item_id")}::text[],
      ${col("channel")}::text[],
      ${col("amount_minor")}::bigint[],
      ${col("currency")}::text[],
      ${col("quantity")}::int[],
      ${col("trace_id")}::text[],
      ${col("ip_prefix")}::text[],
      ${col("ua_hash")}::text[],
      ${col("ua_family")}::text[],
      ${rows.map((r) => JSON.stringify(r.props))}::text[]::jsonb[],
      ${rows.map((r) => (r.out_of_order ? "true" : "false"))}::text[]::bool[]
    )
    on conflict (tenant_id, event_id, time) do nothing
    returning tenant_id, event_id, time`;
  return new Set(inserted.map((r) => eventKey(r.tenant_id, r.event_id, r.time)));
}

function asText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : String(v);
}

export function eventKey(tenantId: string, eventId: string, time: Date): string {
  return `${tenantId}\u0000${eventId}\u0000${time.getTime()}`;
}

export async function advanceSequences(tx: TxSql, latest: Array<{ tenant_id: string; source: string; last_time: Date }>): Promise<void> {
  if (latest.length === 0) return;
  await tx`
    insert into ingest_sequence (tenant_id, source, last_time)
    select * from unnest(${latest.map((l) => l.tenant_id)}::uuid[], ${latest.map((l) => l.source)}::text[],
                         ${latest.map((l) => l.last_time.toISOString())}::timestamptz[])
    on conflict (tenant_id, source) do update
      set last_time = greatest(ingest_sequence.last_time, excluded.last_time), updated_at = now()`;
}

export async function upsertItems(tx: TxSql, rows: EventRow[]): Promise<void> {
  // newest event per item wins; within the batch keep only the newest
  const newest = new Map<string, EventRow>();
  for (const r of rows) {
    const k = `${r.tenant_id}\u0000${r.item_id}`;
    const cur = newest.get(k);
    if (!cur || cur.time <= r.time) newest.set(k, r);
  }
  const items = [...newest.values()];
  if (items.length === 0) return;
  const p = (r: EventRow, k: string) => asText(r.props[k]);
  await tx`
    insert into items (tenant_id, item_id, name, category, kind, currency, base_price_minor, min_price_minor,
                       max_price_minor, capacity, starts_at, updated_at)
    select * from unnest(
      ${items.map((r) => r.tenant_id)}::uuid[], ${items.map((r) => r.item_id)}::text[],
      ${items.map((r) => p(r, "name"))}::text[], ${items.map((r) => p(r, "category"))}::text[],
      ${items.map((r) => p(r, "kind"))}::text[], ${items.map((r) => r.currency)}::text[],
      ${items.map((r) => asText(r.amount_minor))}::bigint[], ${items.map((r) => p(r, "min_price_minor"))}::bigint[],
      ${items.map((r) => p(r, "max_price_minor"))}::bigint[], ${items.map((r) => p(r, "capacity"))}::int[],
      ${items.map((r) => p(r, "starts_at"))}::timestamptz[], ${items.map((r) => r.time.toISOString())}::timestamptz[])
    on conflict (tenant_id, item_id) do update set
      name = excluded.name, category = excluded.category, kind = excluded.kind, currency = excluded.currency,
      base_price_minor = excluded.base_price_minor, min_price_minor = excluded.min_price_minor,
      max_price_minor = excluded.max_price_minor, capacity = excluded.capacity, starts_at = excluded.starts_at,
      updated_at = excluded.updated_at
    where items.updated_at <= excluded.updated_at`;
}

export async function upsertCustomers(tx: TxSql, rows: EventRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx`
    insert into customers (tenant_id, customer_id, email_hash, registered_at)
    select * from unnest(${rows.map((r) => r.tenant_id)}::uuid[], ${rows.map((r) => r.customer_id)}::text[],
                         ${rows.map((r) => (r.props.email_hash as string | undefined) ?? null)}::text[],
                         ${rows.map((r) => r.time.toISOString())}::timestamptz[])
    on conflict (tenant_id, customer_id) do update
      set email_hash = coalesce(excluded.email_hash, customers.email_hash),
          registered_at = least(customers.registered_at, excluded.registered_at)`;
}

export async function addCounters(
  tx: TxSql,
  counts: Array<{ tenant_id: string; accepted: number; duplicates: number; out_of_order: number }>,
): Promise<void> {
  if (counts.length === 0) return;
  await tx`
    insert into ingest_counters (tenant_id, hour, accepted, duplicates, out_of_order)
    select t, date_trunc('hour', now()), a, d, o
      from unnest(${counts.map((c) => c.tenant_id)}::uuid[], ${counts.map((c) => String(c.accepted))}::bigint[],
                  ${counts.map((c) => String(c.duplicates))}::bigint[], ${counts.map((c) => String(c.out_of_order))}::bigint[]) as x(t, a, d, o)
    on conflict (tenant_id, hour) do update set
      accepted = ingest_counters.accepted + excluded.accepted,
      duplicates = ingest_counters.duplicates + excluded.duplicates,
      out_of_order = ingest_counters.out_of_order + excluded.out_of_order`;
}

export async function insertDeadLetters(tx: TxSql | Sql, rows: DeadLetterRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx`
    insert into dead_letter_events (tenant_id, event_id, subject, type, source, schema_version, reason, issues,
                                    payload, payload_excerpt, transport, stream_sequence)
    select * from unnest(
      ${rows.map((r) => r.tenant_id)}::uuid[], ${rows.map((r) => r.event_id)}::text[],
      ${rows.map((r) => r.subject)}::text[], ${rows.map((r) => r.type)}::text[], ${rows.map((r) => r.source)}::text[],
      ${rows.map((r) => r.schema_version)}::text[], ${rows.map((r) => r.reason)}::text[],
      ${rows.map((r) => JSON.stringify(r.issues))}::text[]::jsonb[],
      ${rows.map((r) => (r.payload === undefined ? null : JSON.stringify(r.payload)))}::text[]::jsonb[],
      ${rows.map((r) => r.payload_excerpt)}::text[], ${rows.map((r) => r.transport)}::text[],
      ${rows.map((r) => asText(r.stream_sequence))}::bigint[])`;
}
