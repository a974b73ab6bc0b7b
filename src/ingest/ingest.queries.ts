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
 * Order lines, items and customers are written only for events that were new (a redelivery, or a
 * reused id with other content, changes nothing).
 * Every insert and upsert takes its rows in key order, so two batches written at once (a consumer's
 * pipeline, or several workers) lock shared keys in the same order and cannot deadlock.
 *
 * What can be worked out without the database is worked out here (the running newest time within the
 * batch, each (tenant, source)'s newest time, each tenant's row count, the order lines and the rows of
 * items and customers), so each side table reads only its own short arrays and the statement makes one
 * pass over the events: on the single-threaded embedded engine, every extra pass over the batch (a
 * materialised CTE, a window, a re-join) costs about as much as an index of the events table.
 */
export async function writeBatch(sql: Sql | TxSql, b: BatchWrite): Promise<BatchResult> {
  const rows = b.events;
  const dls = b.deadLetters.map(storableDeadLetter);
  const times = rows.map((r) => r.time.toISOString());
  const props = rows.map((r) => JSON.stringify(r.props));
  const f = batchFacts(rows, times, props, b.earlyDuplicates);
  const { lines, items, customers, sequences, tenants } = f;
  // every array goes over as text[] and is cast in SQL: postgres.js infers an array's type from its
  // elements, which is wrong for booleans and for numbers mixed with nulls
  const col = <K extends keyof EventRow>(k: K) => rows.map((r) => asText(r[k]));
  const result = await sql<{ tenant_id: string; event_id: string; time: Date; out_of_order: boolean }[]>`
    with input as (
      select * from unnest(
        ${times}::timestamptz[],
        ${col("tenant_id")}::uuid[], ${col("event_id")}::text[], ${col("type")}::text[],
        ${col("schema_version")}::smallint[], ${col("source")}::text[], ${col("customer_id")}::text[],
        ${col("visitor_id")}::text[], ${col("session_id")}::text[], ${col("order_id")}::text[],
        ${col("cart_id")}::text[], ${col("item_id")}::text[], ${col("channel")}::text[],
        ${col("amount_minor")}::bigint[], ${col("currency")}::text[], ${col("quantity")}::int[],
        ${col("trace_id")}::text[], ${col("ip_prefix")}::text[], ${col("ua_hash")}::text[],
        ${col("ua_family")}::text[], ${props}::text[]::jsonb[],
        ${f.newestBefore}::timestamptz[]
      ) as t(time, tenant_id, event_id, type, schema_version, source, customer_id, visitor_id, session_id,
             order_id, cart_id, item_id, channel, amount_minor, currency, quantity, trace_id, ip_prefix, ua_hash,
             ua_family, props, newest_before)
    ),
    ins as (
      insert into events (time, tenant_id, event_id, type, schema_version, source, customer_id, visitor_id,
                          session_id, order_id, cart_id, item_id, channel, amount_minor, currency, quantity,
                          trace_id, ip_prefix, ua_hash, ua_family, props, out_of_order)
      select i.time, i.tenant_id, i.event_id, i.type, i.schema_version, i.source, i.customer_id, i.visitor_id,
             i.session_id, i.order_id, i.cart_id, i.item_id, i.channel, i.amount_minor, i.currency, i.quantity,
             i.trace_id, i.ip_prefix, i.ua_hash, i.ua_family, i.props,
             coalesce(i.time < greatest(s.last_time, i.newest_before), false)
        from input i left join ingest_sequence s on s.tenant_id = i.tenant_id and s.source = i.source
       order by i.tenant_id, i.time desc, i.event_id
      on conflict (tenant_id, event_id, time) do nothing
      returning tenant_id, event_id, time, out_of_order
    ),
    seq as (
      insert into ingest_sequence (tenant_id, source, last_time)
      select * from unnest(${sequences.map((q) => q.tenant)}::uuid[], ${sequences.map((q) => q.source)}::text[],
                           ${sequences.map((q) => q.newest)}::timestamptz[]) as q(tenant_id, source, last_time)
       order by tenant_id, source
      on conflict (tenant_id, source) do update
        set last_time = greatest(ingest_sequence.last_time, excluded.last_time), updated_at = now()
    ),
    line_ins as (
      insert into order_lines (time, tenant_id, event_id, line_no, order_id, customer_id, channel, currency, item_id,
                               quantity, unit_price_minor, line_minor, net_line_minor)
      select * from unnest(
        ${lines.map((l) => l.time)}::timestamptz[], ${lines.map((l) => l.tenant)}::uuid[], ${lines.map((l) => l.event)}::text[],
        ${lines.map((l) => l.line_no)}::smallint[], ${lines.map((l) => l.order)}::text[], ${lines.map((l) => l.customer)}::text[],
        ${lines.map((l) => l.channel)}::text[], ${lines.map((l) => l.currency)}::text[], ${lines.map((l) => l.item)}::text[],
        ${lines.map((l) => l.quantity)}::int[], ${lines.map((l) => l.unit_price)}::bigint[], ${lines.map((l) => l.line)}::bigint[],
        ${lines.map((l) => l.net_line)}::bigint[]
      ) as l(time, tenant_id, event_id, line_no, order_id, customer_id, channel, currency, item_id, quantity,
             unit_price_minor, line_minor, net_line_minor)
       where (l.tenant_id, l.event_id, l.time) in (select tenant_id, event_id, time from ins)
       order by l.tenant_id, l.event_id, l.line_no, l.time
      on conflict do nothing
    ),
    item_up as (
      insert into items (tenant_id, item_id, name, category, kind, currency, base_price_minor, min_price_minor,
                         max_price_minor, capacity, starts_at, updated_at)
      select distinct on (tenant_id, item_id)
             tenant_id, item_id, props ->> 'name', props ->> 'category', props ->> 'kind', currency, amount_minor,
             (props ->> 'min_price_minor')::bigint, (props ->> 'max_price_minor')::bigint, (props ->> 'capacity')::int,
             (props ->> 'starts_at')::timestamptz, time
        from unnest(${items.map((x) => x.ord)}::int[], ${items.map((x) => x.time)}::timestamptz[],
                    ${items.map((x) => x.tenant)}::uuid[], ${items.map((x) => x.event)}::text[],
                    ${items.map((x) => x.item)}::text[], ${items.map((x) => x.currency)}::text[],
                    ${items.map((x) => x.amount)}::bigint[], ${items.map((x) => x.props)}::text[]::jsonb[])
             as x(ord, time, tenant_id, event_id, item_id, currency, amount_minor, props)
       where (tenant_id, event_id, time) in (select tenant_id, event_id, time from ins)
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
             (array_agg(email_hash order by time desc, ord desc) filter (where email_hash is not null))[1],
             min(time)
        from unnest(${customers.map((x) => x.ord)}::int[], ${customers.map((x) => x.time)}::timestamptz[],
                    ${customers.map((x) => x.tenant)}::uuid[], ${customers.map((x) => x.event)}::text[],
                    ${customers.map((x) => x.customer)}::text[], ${customers.map((x) => x.emailHash)}::text[])
             as x(ord, time, tenant_id, event_id, customer_id, email_hash)
       where (tenant_id, event_id, time) in (select tenant_id, event_id, time from ins)
       group by tenant_id, customer_id
       order by tenant_id, customer_id
      on conflict (tenant_id, customer_id) do update
        set email_hash = coalesce(excluded.email_hash, customers.email_hash),
            registered_at = least(customers.registered_at, excluded.registered_at)
    ),
    stored as (
      select tenant_id, count(*) as accepted, count(*) filter (where out_of_order) as ooo from ins group by tenant_id
    ),
    counters as (
      insert into ingest_counters (tenant_id, hour, accepted, duplicates, out_of_order)
      select t.tenant_id, date_trunc('hour', now()), coalesce(s.accepted, 0), t.total - coalesce(s.accepted, 0) + t.early,
             coalesce(s.ooo, 0)
        from unnest(${tenants.map((x) => x.tenant)}::uuid[], ${tenants.map((x) => x.total)}::bigint[],
                    ${tenants.map((x) => x.early)}::bigint[]) as t(tenant_id, total, early)
        left join stored s on s.tenant_id = t.tenant_id
       order by t.tenant_id
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

/** a batch's facts that need no database, as the statement's text arrays (ISO times, numbers as text) */
interface BatchFacts {
  /** per row: the newest time of an earlier row of the batch from the same (tenant, source), or null */
  newestBefore: Array<string | null>;
  /** per (tenant, source): the newest time in the batch */
  sequences: Array<{ tenant: string; source: string; newest: string }>;
  /** per tenant with rows or early duplicates: rows in the batch and duplicates caught before it */
  tenants: Array<{ tenant: string; total: string; early: string }>;
  lines: Array<{
    time: string; tenant: string; event: string; line_no: string; order: string | null; customer: string | null;
    channel: string | null; currency: string | null; item: string; quantity: string; unit_price: string; line: string; net_line: string;
  }>;
  items: Array<{ ord: string; time: string; tenant: string; event: string; item: string; currency: string | null; amount: string | null; props: string }>;
  customers: Array<{ ord: string; time: string; tenant: string; event: string; customer: string; emailHash: string | null }>;
}

/**
 * `times` and `props`: each row's time as ISO text and its props as JSON text, made once per batch
 * (the events' own columns use them too; formatting dates is a measurable cost)
 */
function batchFacts(rows: EventRow[], times: string[], props: string[], earlyDuplicates: Map<string, number>): BatchFacts {
  const newestBefore: Array<string | null> = new Array(rows.length);
  const newest = new Map<string, { tenant: string; source: string; ms: number; iso: string }>();
  const tenants = new Map<string, { total: number; early: number }>();
  const lines: BatchFacts["lines"] = [];
  const items: BatchFacts["items"] = [];
  const customers: BatchFacts["customers"] = [];
  rows.forEach((r, ord) => {
    const ms = r.time.getTime();
    const time = times[ord]!;
    const key = `${r.tenant_id}\u0000${r.source}`;
    const seen = newest.get(key);
    newestBefore[ord] = seen ? seen.iso : null;
    if (!seen) newest.set(key, { tenant: r.tenant_id, source: r.source, ms, iso: time });
    else if (ms > seen.ms) {
      seen.ms = ms;
      seen.iso = time;
    }
    const t = tenants.get(r.tenant_id);
    if (t) t.total += 1;
    else tenants.set(r.tenant_id, { total: 1, early: 0 });
    if (r.type === "order.completed") {
      for (const l of orderLines(r.props)) {
        lines.push({
          time, tenant: r.tenant_id, event: r.event_id, line_no: String(l.line_no), order: r.order_id, customer: r.customer_id,
          channel: r.channel, currency: r.currency, item: l.item_id, quantity: String(l.quantity),
          unit_price: String(l.unit_price_minor), line: String(l.line_minor), net_line: String(l.net_line_minor),
        });
      }
    } else if (r.type === "item.upserted" && r.item_id !== null) {
      items.push({
        ord: String(ord), time, tenant: r.tenant_id, event: r.event_id, item: r.item_id, currency: r.currency,
        amount: asText(r.amount_minor), props: props[ord]!,
      });
    } else if (r.type === "customer.registered" && r.customer_id !== null) {
      const hash = r.props.email_hash;
      customers.push({
        ord: String(ord), time, tenant: r.tenant_id, event: r.event_id, customer: r.customer_id,
        emailHash: typeof hash === "string" ? hash : null,
      });
    }
  });
  for (const [t, n] of earlyDuplicates) {
    const x = tenants.get(t);
    if (x) x.early += n;
    else tenants.set(t, { total: 0, early: n });
  }
  return {
    newestBefore,
    sequences: [...newest.values()].map((q) => ({ tenant: q.tenant, source: q.source, newest: q.iso })),
    tenants: [...tenants].map(([tenant, x]) => ({ tenant, total: String(x.total), early: String(x.early) })),
    lines,
    items,
    customers,
  };
}

/**
 * PostgreSQL cannot store U+0000 or a lone UTF-16 surrogate in text or jsonb. Validation rejects events
 * holding either, so they can only reach a dead letter (the id, the payload, an excerpt of raw bytes, an
 * issue's path): there each becomes U+FFFD, so the rejection is stored instead of failing the batch.
 */
function storableDeadLetter(row: DeadLetterRow): DeadLetterRow {
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

function asText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : String(v);
}

export function eventKey(tenantId: string, eventId: string, time: Date): string {
  return `${tenantId}\u0000${eventId}\u0000${time.getTime()}`;
}
