/**
 * The ingest write path: ONE statement per batch. Data-modifying CTEs insert the events (INSERT …
 * SELECT FROM unnest(arrays) … ON CONFLICT DO NOTHING: a redelivery is a no-op, counted as a
 * duplicate), their order lines, the per-(tenant, source) sequence, items, customers, counters and
 * dead letters. A single statement is atomic by itself, so it needs no BEGIN/COMMIT: one round trip
 * per batch on the (single-connection) embedded engine. Runs as the owner: a batch spans tenants, and
 * each row's tenant was checked against its transport (subject token or token claim) before it got here.
 */
import type { Sql, TxSql } from "../db/client.ts";
import { orderLines } from "./lines.ts";
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
  /** the JetStream stream (nats transport): with stream_sequence, the dead letter's idempotency key */
  stream: string | null;
  stream_sequence: number | null;
}

export interface BatchWrite {
  events: EventRow[];
  deadLetters: DeadLetterRow[];
  /** duplicates caught before the database (LRU, same batch), per tenant: counted with the batch */
  earlyDuplicates: Map<string, number>;
}

export interface BatchResult {
  /** keys (tenant \0 event_id \0 time-ms) of the events that were new */
  inserted: Set<string>;
  /** keys of new events older than the newest earlier event of their (tenant, source) */
  outOfOrder: Set<string>;
}

/**
 * Out of order: an event is older than the newest event seen before it from the same (tenant,
 * source): the stored sequence, or an earlier event of this batch (in batch order).
 * Items: the newest item.upserted per item wins (ties: the later in the batch), never an older one.
 * Customers: registered_at is the earliest registration, email_hash the newest one given.
 * Every insert and upsert takes its rows in key order, so two batches written at once (a consumer's
 * pipeline, or several workers) lock shared keys in the same order and cannot deadlock.
 */
export async function writeBatch(sql: Sql | TxSql, b: BatchWrite): Promise<BatchResult> {
  const rows = b.events;
  const dls = b.deadLetters.map(storableDeadLetter);
  const lines = rows.flatMap((r, ord) => (r.type === "order.completed" ? orderLines(r.props).map((l) => ({ ord, ...l })) : []));
  const early = [...b.earlyDuplicates];
  // every array goes over as text[] and is cast in SQL: postgres.js infers an array's type from its
  // elements, which is wrong for booleans and for numbers mixed with nulls
  const col = <K extends keyof EventRow>(k: K) => rows.map((r) => asText(r[k]));
  const result = await sql<{ tenant_id: string; event_id: string; time: Date; out_of_order: boolean }[]>`
    with input as (
      select * from unnest(
        ${rows.map((_, i) => String(i))}::int[],
        ${rows.map((r) => r.time.toISOString())}::timestamptz[],
        ${col("tenant_id")}::uuid[], ${col("event_id")}::text[], ${col("type")}::text[],
        ${col("schema_version")}::smallint[], ${col("source")}::text[], ${col("customer_id")}::text[],
        ${col("visitor_id")}::text[], ${col("session_id")}::text[], ${col("order_id")}::text[],
        ${col("cart_id")}::text[], ${col("item_id")}::text[], ${col("channel")}::text[],
        ${col("amount_minor")}::bigint[], ${col("currency")}::text[], ${col("quantity")}::int[],
        ${col("trace_id")}::text[], ${col("ip_prefix")}::text[], ${col("ua_hash")}::text[],
        ${col("ua_family")}::text[], ${rows.map((r) => JSON.stringify(r.props))}::text[]::jsonb[]
      ) as t(ord, time, tenant_id, event_id, type, schema_version, source, customer_id, visitor_id, session_id,
             order_id, cart_id, item_id, channel, amount_minor, currency, quantity, trace_id, ip_prefix, ua_hash,
             ua_family, props)
    ),
    seen as (
      select s.tenant_id, s.source, s.last_time
        from ingest_sequence s
       where (s.tenant_id, s.source) in (select distinct tenant_id, source from input)
    ),
    marked as (
      select i.*,
             coalesce(i.time < greatest(p.last_time, max(i.time) over earlier), false) as out_of_order
        from input i left join seen p on p.tenant_id = i.tenant_id and p.source = i.source
      window earlier as (partition by i.tenant_id, i.source order by i.ord rows between unbounded preceding and 1 preceding)
    ),
    ins as (
      insert into events (time, tenant_id, event_id, type, schema_version, source, customer_id, visitor_id,
                          session_id, order_id, cart_id, item_id, channel, amount_minor, currency, quantity,
                          trace_id, ip_prefix, ua_hash, ua_family, props, out_of_order)
      select time, tenant_id, event_id, type, schema_version, source, customer_id, visitor_id, session_id,
             order_id, cart_id, item_id, channel, amount_minor, currency, quantity, trace_id, ip_prefix, ua_hash,
             ua_family, props, out_of_order
        from marked
       order by tenant_id, event_id, time
      on conflict (tenant_id, event_id, time) do nothing
      returning tenant_id, event_id, time, out_of_order
    ),
    fresh as (
      select m.* from marked m where (m.tenant_id, m.event_id, m.time) in (select tenant_id, event_id, time from ins)
    ),
    seq as (
      insert into ingest_sequence (tenant_id, source, last_time)
      select tenant_id, source, max(time) from input group by tenant_id, source order by tenant_id, source
      on conflict (tenant_id, source) do update
        set last_time = greatest(ingest_sequence.last_time, excluded.last_time), updated_at = now()
    ),
    line_input as (
      select * from unnest(
        ${lines.map((l) => String(l.ord))}::int[], ${lines.map((l) => String(l.line_no))}::smallint[],
        ${lines.map((l) => l.item_id)}::text[], ${lines.map((l) => String(l.quantity))}::int[],
        ${lines.map((l) => String(l.unit_price_minor))}::bigint[], ${lines.map((l) => String(l.line_minor))}::bigint[],
        ${lines.map((l) => String(l.net_line_minor))}::bigint[]
      ) as l(ord, line_no, item_id, quantity, unit_price_minor, line_minor, net_line_minor)
    ),
    line_ins as (
      insert into order_lines (time, tenant_id, event_id, line_no, order_id, customer_id, channel, currency, item_id,
                               quantity, unit_price_minor, line_minor, net_line_minor)
      select f.time, f.tenant_id, f.event_id, l.line_no, f.order_id, f.customer_id, f.channel, f.currency, l.item_id,
             l.quantity, l.unit_price_minor, l.line_minor, l.net_line_minor
        from line_input l join fresh f on f.ord = l.ord
      on conflict do nothing
    ),
    item_up as (
      insert into items (tenant_id, item_id, name, category, kind, currency, base_price_minor, min_price_minor,
                         max_price_minor, capacity, starts_at, updated_at)
      select distinct on (tenant_id, item_id)
             tenant_id, item_id, props ->> 'name', props ->> 'category', props ->> 'kind', currency, amount_minor,
             (props ->> 'min_price_minor')::bigint, (props ->> 'max_price_minor')::bigint, (props ->> 'capacity')::int,
             (props ->> 'starts_at')::timestamptz, time
        from fresh
       where type = 'item.upserted' and item_id is not null
       order by tenant_id, item_id, time desc, ord desc
      on conflict (tenant_id, item_id) do update set
        name = excluded.name, category = excluded.category, kind = excluded.kind, currency = excluded.currency,
        base_price_minor = excluded.base_price_minor, min_price_minor = excluded.min_price_minor,
        max_price_minor = excluded.max_price_minor, capacity = excluded.capacity, starts_at = excluded.starts_at,
        updated_at = excluded.updated_at
      where items.updated_at <= excluded.updated_at
    ),
    cust_up as (
      insert into customers (tenant_id, customer_id, email_hash, registered_at)
      select tenant_id, customer_id,
             (array_agg(props ->> 'email_hash' order by time desc, ord desc) filter (where props ? 'email_hash'))[1],
             min(time)
        from fresh
       where type = 'customer.registered' and customer_id is not null
       group by tenant_id, customer_id
       order by tenant_id, customer_id
      on conflict (tenant_id, customer_id) do update
        set email_hash = coalesce(excluded.email_hash, customers.email_hash),
            registered_at = least(customers.registered_at, excluded.registered_at)
    ),
    early as (
      select * from unnest(${early.map(([t]) => t)}::uuid[], ${early.map(([, n]) => String(n))}::bigint[]) as e(tenant_id, n)
    ),
    counts as (
      select tenant_id, sum(total) as total, sum(accepted) as accepted, sum(ooo) as ooo, sum(early) as early
        from (
          select tenant_id, 1 as total, 0 as accepted, 0 as ooo, 0 as early from input
          union all select tenant_id, 0, 1, case when out_of_order then 1 else 0 end, 0 from ins
          union all select tenant_id, 0, 0, 0, n from early
        ) x
       group by tenant_id
    ),
    counters as (
      insert into ingest_counters (tenant_id, hour, accepted, duplicates, out_of_order)
      select tenant_id, date_trunc('hour', now()), accepted, total - accepted + early, ooo from counts
       order by tenant_id
      on conflict (tenant_id, hour) do update set
        accepted = ingest_counters.accepted + excluded.accepted,
        duplicates = ingest_counters.duplicates + excluded.duplicates,
        out_of_order = ingest_counters.out_of_order + excluded.out_of_order
    ),
    dead as (
      insert into dead_letter_events (tenant_id, event_id, subject, type, source, schema_version, reason, issues,
                                      payload, payload_excerpt, transport, stream, stream_sequence)
      select * from unnest(
        ${dls.map((r) => r.tenant_id)}::uuid[], ${dls.map((r) => r.event_id)}::text[],
        ${dls.map((r) => r.subject)}::text[], ${dls.map((r) => r.type)}::text[], ${dls.map((r) => r.source)}::text[],
        ${dls.map((r) => r.schema_version)}::text[], ${dls.map((r) => r.reason)}::text[],
        ${dls.map((r) => JSON.stringify(r.issues))}::text[]::jsonb[],
        ${dls.map((r) => (r.payload === undefined ? null : JSON.stringify(r.payload)))}::text[]::jsonb[],
        ${dls.map((r) => r.payload_excerpt)}::text[], ${dls.map((r) => r.transport)}::text[],
        ${dls.map((r) => r.stream)}::text[], ${dls.map((r) => asText(r.stream_sequence))}::bigint[])
      on conflict (stream, stream_sequence) where stream is not null and stream_sequence is not null do nothing
    )
    select tenant_id, event_id, time, out_of_order from ins`;
  const inserted = new Set<string>();
  const outOfOrder = new Set<string>();
  for (const r of result) {
    const key = eventKey(r.tenant_id, r.event_id, r.time);
    inserted.add(key);
    if (r.out_of_order) outOfOrder.add(key);
  }
  return { inserted, outOfOrder };
}

/**
 * PostgreSQL cannot store U+0000 in text or jsonb. Validation rejects events holding it, so it can
 * only reach a dead letter (the id, the payload, an excerpt of raw bytes, an issue's path): there it
 * becomes U+FFFD, so the rejection is stored instead of failing the batch.
 */
function storableDeadLetter(row: DeadLetterRow): DeadLetterRow {
  const clean = (v: string | null) => (v !== null && v.includes("\u0000") ? v.replaceAll("\u0000", "\ufffd") : v);
  return {
    ...row,
    event_id: clean(row.event_id),
    subject: clean(row.subject),
    type: clean(row.type),
    source: clean(row.source),
    schema_version: clean(row.schema_version),
    issues: row.issues.map((i) => ({ path: clean(i.path)!, message: clean(i.message)! })),
    payload: withoutNul(row.payload),
    payload_excerpt: clean(row.payload_excerpt),
  };
}

function withoutNul(v: unknown): unknown {
  if (typeof v === "string") return v.includes("\u0000") ? v.replaceAll("\u0000", "\ufffd") : v;
  if (Array.isArray(v)) return v.map(withoutNul);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k.replaceAll("\u0000", "\ufffd")] = withoutNul(x);
    return out;
  }
  return v;
}

function asText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : String(v);
}

export function eventKey(tenantId: string, eventId: string, time: Date): string {
  return `${tenantId}\u0000${eventId}\u0000${time.getTime()}`;
}
