/**
 * The one-statement batch write (src/ingest/write/write.queries.ts writeBatch) through the real pipeline:
 * a full default-size batch, order lines, in-batch ordering rules and idempotent dead letters.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { buildIngest, type Deps } from "../../../src/deps.ts";
import type { IncomingMessage } from "../../../src/ingest/pipeline.ts";
import { readGeneration } from "../../../src/analytics/shared/generation.ts";
import { createMetrics } from "../../../src/metrics/metrics.ts";
import { getTestDeps } from "../../helpers/deps.ts";
import { customerRegistered, itemUpserted, orderCompleted, pageViewed } from "../../helpers/events.ts";

let deps: Deps;
beforeAll(async () => {
  deps = await getTestDeps();
});

/** as the consumer hands messages on; each call is its own stream unless one is given (sequences are per stream) */
function viaNats(
  tenantId: string,
  events: unknown[],
  stream = `BATCH_${crypto.randomUUID().slice(0, 8)}`,
  firstSeq = 1,
): IncomingMessage[] {
  return events.map((e, i) => ({
    input: JSON.stringify(e),
    expectedTenant: tenantId,
    transport: "nats",
    subject: `analytics.${tenantId}.${(e as { type?: string }).type ?? "x"}`,
    stream,
    streamSequence: firstSeq + i,
  }));
}

describe("batch write", () => {
  test("a 500-event batch (the default batch size, ~200 KB in one statement) is stored whole", async () => {
    const t = crypto.randomUUID();
    const base = Date.now() - 3_600_000;
    const events = Array.from({ length: 500 }, (_, i) =>
      i % 2 === 0
        ? orderCompleted(t, { time: new Date(base + i * 1000).toISOString() })
        : pageViewed(t, { time: new Date(base + i * 1000).toISOString() }),
    );
    const outcomes = await deps.ingest.process(viaNats(t, events));
    expect(outcomes.filter((o) => o.status === "accepted")).toHaveLength(500);
    const [row] =
      await deps.sql`select count(*)::int as n, count(*) filter (where type = 'order.completed')::int as orders from events where tenant_id = ${t}`;
    expect(row).toEqual({ n: 500, orders: 250 });
    // 250 orders × 2 lines each
    const [lines] = await deps.sql`select count(*)::int as n from order_lines where tenant_id = ${t}`;
    expect(lines!.n).toBe(500);
  }, 30_000);

  test("an order's lines are stored once, with the discount shared so the net lines add up to the total", async () => {
    const t = crypto.randomUUID();
    const order = orderCompleted(t);
    await deps.ingest.process(viaNats(t, [order]));
    // a redelivery stores neither the event nor its lines again
    await deps.ingest.process(viaNats(t, [order]));
    const rows = await deps.sql`
      select line_no, item_id, quantity, unit_price_minor, line_minor, net_line_minor, order_id, channel, currency, customer_id
        from order_lines where tenant_id = ${t} order by line_no`;
    // 2 × 2500 = 5000 and 1 × 1999 = 1999; discount 499 shared 356 / 143 (largest remainder) ⇒ 4644 + 1856 = 6500
    expect([...rows]).toEqual([
      {
        line_no: 1,
        item_id: "show-1",
        quantity: 2,
        unit_price_minor: "2500",
        line_minor: "5000",
        net_line_minor: "4644",
        order_id: (order.data as { order_id: string }).order_id,
        channel: "web",
        currency: "EUR",
        customer_id: "c-1",
      },
      {
        line_no: 2,
        item_id: "tee-1",
        quantity: 1,
        unit_price_minor: "1999",
        line_minor: "1999",
        net_line_minor: "1856",
        order_id: (order.data as { order_id: string }).order_id,
        channel: "web",
        currency: "EUR",
        customer_id: "c-1",
      },
    ]);
  });

  test("an id reused with other content (same id and time) is a duplicate: no order lines, item or customer change from it", async () => {
    const t = crypto.randomUUID();
    const time = new Date(Date.now() - 600_000).toISOString();
    const order = orderCompleted(t, { time });
    const item = itemUpserted(t, "show-7", { time }, { name: "Original name" });
    const customer = customerRegistered(t, "c-reuse", { time }, { email: "first@example.com" });
    await deps.ingest.process(viaNats(t, [order, item, customer]));
    // the same ids and times, other data: three lines instead of two, another name, another email
    const reusedOrder = orderCompleted(
      t,
      { id: order.id, time },
      {
        order_id: (order.data as { order_id: string }).order_id,
        lines: [
          { item_id: "show-1", quantity: 2, unit_price_minor: 2500 },
          { item_id: "tee-1", quantity: 1, unit_price_minor: 1999 },
          { item_id: "mug-1", quantity: 1, unit_price_minor: 1000 },
        ],
        total_minor: 7500,
      },
    );
    const reusedItem = itemUpserted(t, "show-7", { id: item.id, time }, { name: "Changed name" });
    const reusedCustomer = customerRegistered(t, "c-reuse", { id: customer.id, time }, { email: "second@example.com" });
    // another worker replica (its own, empty LRU): only the table's unique key can tell
    const replica = buildIngest({ config: deps.config, logger: deps.logger, sql: deps.sql, metrics: deps.metrics, nats: undefined }).ingest;
    const outcomes = await replica.process(viaNats(t, [reusedOrder, reusedItem, reusedCustomer]));
    expect(outcomes.map((o) => o.status)).toEqual(["duplicate", "duplicate", "duplicate"]);
    const lines = await deps.sql`select line_no, item_id from order_lines where tenant_id = ${t} order by line_no`;
    expect([...lines]).toEqual([
      { line_no: 1, item_id: "show-1" },
      { line_no: 2, item_id: "tee-1" },
    ]);
    const [stored] = await deps.sql`
      select (select name from items where tenant_id = ${t} and item_id = 'show-7') as item_name,
             (select email_hash from customers where tenant_id = ${t} and customer_id = 'c-reuse') as email_hash,
             (select props ->> 'email_hash' from events where tenant_id = ${t} and event_id = ${customer.id}) as first_hash`;
    expect(stored!.item_name).toBe("Original name");
    expect(stored!.email_hash).toBe(stored!.first_hash);
  });

  test("each batch's outcomes, dead letters and LRU look-ups are in the metrics when the batch returns", async () => {
    const t = crypto.randomUUID();
    const metrics = createMetrics();
    const { ingest } = buildIngest({ config: deps.config, logger: deps.logger, sql: deps.sql, metrics, nats: undefined });
    const a = pageViewed(t);
    const b = pageViewed(t);
    await ingest.process(viaNats(t, [a, b, orderCompleted(t, {}, { total_minor: 1 })]));
    // a redelivery of a (an LRU hit) and an unknown type
    await ingest.process(viaNats(t, [a, { ...pageViewed(t), type: "page.scrolled" }]));
    const value = async (
      m: { get(): Promise<{ values: Array<{ labels: Record<string, unknown>; value: number }> }> },
      label: string,
      v: string,
    ) => (await m.get()).values.find((x) => x.labels[label] === v)?.value ?? 0;
    expect(await value(metrics.ingestEvents, "outcome", "accepted")).toBe(2);
    expect(await value(metrics.ingestEvents, "outcome", "duplicate")).toBe(1);
    expect(await value(metrics.ingestEvents, "outcome", "rejected")).toBe(2);
    expect(await value(metrics.deadLetters, "reason", "invalid_data")).toBe(1);
    expect(await value(metrics.deadLetters, "reason", "unknown_type")).toBe(1);
    expect(await value(metrics.dedupLookups, "result", "miss")).toBe(2);
    expect(await value(metrics.dedupLookups, "result", "hit")).toBe(1);
  });

  test("two registrations of one customer in a batch keep the earliest time and the newest email hash", async () => {
    const t = crypto.randomUUID();
    const first = customerRegistered(t, "c-9", { time: new Date(Date.now() - 600_000).toISOString() }, { email: "first@example.com" });
    const second = customerRegistered(t, "c-9", { time: new Date(Date.now() - 60_000).toISOString() }, { email: "second@example.com" });
    const outcomes = await deps.ingest.process(viaNats(t, [second, first]));
    expect(outcomes.map((o) => o.status)).toEqual(["accepted", "accepted"]);
    const rows = await deps.sql`select customer_id, email_hash, registered_at from customers where tenant_id = ${t}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.registered_at.toISOString()).toBe(first.time);
    const [hashes] = await deps.sql`
      select (select props ->> 'email_hash' from events where tenant_id = ${t} and event_id = ${second.id}) as newest,
             (select props ->> 'email_hash' from events where tenant_id = ${t} and event_id = ${first.id}) as oldest`;
    // two different emails ⇒ two different hashes; the customer keeps the newer one
    expect(hashes!.newest).not.toBe(hashes!.oldest);
    expect(rows[0]!.email_hash).toBe(hashes!.newest);
  });

  test("within one batch, an event older than an earlier one from the same source is out of order", async () => {
    const t = crypto.randomUUID();
    const late = pageViewed(t, { time: new Date(Date.now() - 60_000).toISOString() });
    const early = pageViewed(t, { time: new Date(Date.now() - 120_000).toISOString() });
    const other = pageViewed(t, { time: new Date(Date.now() - 180_000).toISOString(), source: "/another-source" });
    const outcomes = await deps.ingest.process(viaNats(t, [late, early, other]));
    expect(outcomes.map((o) => (o.status === "accepted" ? o.outOfOrder : o.status))).toEqual([false, true, false]);
    const [seq] = await deps.sql`select last_time from ingest_sequence where tenant_id = ${t} and source = '/test-publisher'`;
    expect(seq!.last_time.toISOString()).toBe(late.time);
  });

  test("a batch mixing events already stored (seen by another replica) with new ones in and out of order gets each outcome right", async () => {
    const t = crypto.randomUUID();
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    const stored = [pageViewed(t, { time: at(10) }), pageViewed(t, { time: at(30) })];
    await deps.ingest.process(viaNats(t, stored));
    // another replica (empty LRU): the stored two are duplicates only by the table's key
    const replica = buildIngest({ config: deps.config, logger: deps.logger, sql: deps.sql, metrics: deps.metrics, nats: undefined }).ingest;
    const fresh = [
      pageViewed(t, { time: at(5) }),
      pageViewed(t, { time: at(20) }),
      pageViewed(t, { time: at(1), source: "/another-source" }),
    ];
    const outcomes = await replica.process(viaNats(t, [stored[0], fresh[0], stored[1], fresh[1], fresh[2]]));
    // at(20) is older than at(10), stored earlier from the same source: out of order
    expect(outcomes.map((o) => (o.status === "accepted" ? `accepted${o.outOfOrder ? " out of order" : ""}` : o.status))).toEqual([
      "duplicate",
      "accepted",
      "duplicate",
      "accepted out of order",
      "accepted",
    ]);
    // and a batch where every event is new and none is out of order answers every one accepted
    const next = [pageViewed(t, { time: at(0.5) }), pageViewed(t, { time: at(0.2) })];
    expect((await replica.process(viaNats(t, next))).map((o) => (o.status === "accepted" ? o.outOfOrder : o.status))).toEqual([
      false,
      false,
    ]);
    const [n] =
      await deps.sql`select count(*)::int as n, count(*) filter (where out_of_order)::int as ooo from events where tenant_id = ${t}`;
    // out of order: at(30) after at(10) in the first batch, and at(20)
    expect(n).toEqual({ n: 7, ooo: 2 });
  });

  test("the same JetStream message dead-lettered twice (redelivery after a crash) leaves one dead letter", async () => {
    const t = crypto.randomUUID();
    const bad = orderCompleted(t, {}, { total_minor: 1 });
    const stream = `DLQ_IDEMP_${crypto.randomUUID().slice(0, 8)}`;
    await deps.ingest.process(viaNats(t, [bad], stream, 77));
    await deps.ingest.process(viaNats(t, [bad], stream, 77));
    // the same bad event as another stream message (a publisher retry) is a second dead letter
    await deps.ingest.process(viaNats(t, [bad], stream, 78));
    const rows =
      await deps.sql`select stream, stream_sequence, reason from dead_letter_events where tenant_id = ${t} order by stream_sequence`;
    expect([...rows]).toEqual([
      { stream, stream_sequence: "77", reason: "invalid_data" },
      { stream, stream_sequence: "78", reason: "invalid_data" },
    ]);
  });

  test("a commit that stores events bumps the data generation of exactly their tenants; duplicates and dead letters do not", async () => {
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    const order = orderCompleted(a);
    const before = { a: await readGeneration(deps.cache, a), b: await readGeneration(deps.cache, b) };
    await deps.ingest.process(viaNats(a, [order]));
    const afterStore = { a: await readGeneration(deps.cache, a), b: await readGeneration(deps.cache, b) };
    expect(Number(afterStore.a)).toBe(Number(before.a) + 1);
    expect(afterStore.b).toBe(before.b);
    // a redelivery (duplicate) and an invalid event change nothing an answer depends on
    await deps.ingest.process(viaNats(a, [order, orderCompleted(a, {}, { total_minor: 1 })]));
    expect(await readGeneration(deps.cache, a)).toBe(afterStore.a);
  });

  test("a NUL character (which PostgreSQL cannot store) in the data, the id or raw bytes ends in a dead letter, and the rest of the batch is stored", async () => {
    const t = crypto.randomUUID();
    const good = pageViewed(t);
    const nulInData = pageViewed(t, {}, { url: "https://shop.example/a\u0000b" });
    const nulInId = pageViewed(t, { id: "id-with-\u0000-nul" });
    const rawBytes = new TextEncoder().encode(`{"specversion":"1.0","id":"x\u0000`);
    const stream = `NUL_${crypto.randomUUID().slice(0, 8)}`;
    const msgs = viaNats(t, [good, nulInData, nulInId], stream);
    msgs.push({ ...msgs[0]!, input: rawBytes, streamSequence: 4 });
    const outcomes = await deps.ingest.process(msgs);
    expect(outcomes.map((o) => (o.status === "rejected" ? o.reason : o.status))).toEqual([
      "accepted",
      "invalid_data",
      "invalid_envelope",
      "malformed_json",
    ]);
    const [stored] = await deps.sql`select count(*)::int as n from events where tenant_id = ${t}`;
    expect(stored!.n).toBe(1);
    const dead = await deps.sql`
      select reason, event_id, payload #>> '{data,url}' as url, payload_excerpt
        from dead_letter_events where stream = ${stream}
       order by stream_sequence`;
    // U+0000 is stored as U+FFFD (the replacement character)
    expect(dead.map((d) => [d.reason, d.event_id, d.url])).toEqual([
      ["invalid_data", nulInData.id, "https://shop.example/a\ufffdb"],
      ["invalid_envelope", "id-with-\ufffd-nul", (nulInId.data as { url: string }).url],
      ["malformed_json", null, null],
    ]);
    expect(dead[2]!.payload_excerpt).toContain("\ufffd");
  });

  test("a lone UTF-16 surrogate (a valid JSON escape PostgreSQL cannot store) in the data or the id ends in a dead letter, and the rest of the batch is stored", async () => {
    const t = crypto.randomUUID();
    const good = pageViewed(t);
    const loneInData = pageViewed(t, {}, { url: "https://shop.example/a\ud800b" });
    const loneInId = pageViewed(t, { id: "id-with-\udc00-low" });
    const stream = `SURR_${crypto.randomUUID().slice(0, 8)}`;
    const msgs = viaNats(t, [good, loneInData, loneInId], stream);
    // JSON.stringify writes a lone surrogate as its escape: the publisher's bytes are valid UTF-8 and valid JSON
    expect(msgs[1]!.input as string).toContain("\\ud800");
    const outcomes = await deps.ingest.process(msgs);
    expect(outcomes.map((o) => (o.status === "rejected" ? o.reason : o.status))).toEqual(["accepted", "invalid_data", "invalid_envelope"]);
    const rejected = outcomes.filter((o) => o.status === "rejected");
    expect(rejected.map((o) => o.issues[0]!.path)).toEqual(["data.url", "id"]);
    const [stored] = await deps.sql`select count(*)::int as n from events where tenant_id = ${t}`;
    expect(stored!.n).toBe(1);
    const dead = await deps.sql`
      select reason, event_id, payload #>> '{data,url}' as url from dead_letter_events where stream = ${stream} order by stream_sequence`;
    // a lone surrogate is stored as U+FFFD (the replacement character)
    expect(dead.map((d) => [d.reason, d.event_id, d.url])).toEqual([
      ["invalid_data", loneInData.id, "https://shop.example/a\ufffdb"],
      ["invalid_envelope", "id-with-\ufffd-low", (loneInId.data as { url: string }).url],
    ]);
  });

  test("an event nested 20,000 levels deep (40 KB) ends in a dead letter with an excerpt, and the rest of the batch is stored", async () => {
    // before events from NATS met JSON_MAX_DEPTH (32), this one crashed the embedded engine on insert
    // (its WebAssembly stack), and again on every redelivery of its batch
    const t = crypto.randomUUID();
    const deep = pageViewed(t, {}, { extra: JSON.parse("[".repeat(20_000) + "]".repeat(20_000)) });
    const stream = `DEEP_${crypto.randomUUID().slice(0, 8)}`;
    const msgs = viaNats(t, [pageViewed(t), deep, pageViewed(t)], stream);
    const outcomes = await deps.ingest.process(msgs);
    expect(outcomes.map((o) => (o.status === "rejected" ? o.reason : o.status))).toEqual(["accepted", "invalid_data", "accepted"]);
    const [stored] = await deps.sql`select count(*)::int as n from events where tenant_id = ${t}`;
    expect(stored!.n).toBe(2);
    const dead = await deps.sql`
      select reason, event_id, payload is null as no_payload, payload_excerpt, issues -> 0 ->> 'message' as message
        from dead_letter_events where stream = ${stream}`;
    expect(dead.map((d) => [d.reason, d.event_id, d.no_payload, d.message])).toEqual([
      ["invalid_data", deep.id, true, "nested deeper than 32 levels"],
    ]);
    // the first 512 characters of the event, its contact data masked like every excerpt's
    const excerpt = dead[0]!.payload_excerpt as string;
    expect(excerpt.startsWith(`{"specversion":"1.0","id":"${deep.id}"`)).toBe(true);
    expect(excerpt).toContain('"ip":"[redacted-ip]"');
    expect(excerpt).not.toContain((deep.data as { ip: string }).ip);
  });
});
