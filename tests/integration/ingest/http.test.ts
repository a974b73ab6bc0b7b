import { beforeAll, describe, expect, test } from "bun:test";
import type { Deps } from "../../../src/deps.ts";
import { capturedLogs, testApp, token } from "../../helpers/deps.ts";
import { customerRegistered, envelope, itemUpserted, legacyOrder, orderCompleted, pageViewed } from "../../helpers/events.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;
beforeAll(async () => {
  ({ app, deps } = await testApp());
});

const BATCH = "application/cloudevents-batch+json";
const SINGLE = "application/cloudevents+json";

async function post(tenantId: string, body: unknown, contentType = BATCH, roles: Array<"ingest" | "viewer"> = ["ingest"]) {
  const res = await app.request("/v1/events", {
    method: "POST",
    headers: { authorization: `Bearer ${await token({ tenantId, roles })}`, "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { res, body: (await res.json()) as any };
}

async function eventRows(tenantId: string) {
  return deps.sql`select * from events where tenant_id = ${tenantId} order by time, event_id`;
}

describe("POST /v1/events", () => {
  test("stores a valid batch once and answers 202 with the counts", async () => {
    const t = crypto.randomUUID();
    const order = orderCompleted(t);
    const r = await post(t, [order, pageViewed(t)]);
    expect(r.res.status).toBe(202);
    expect(r.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    const rows = await eventRows(t);
    expect(rows).toHaveLength(2);
    const o = rows.find((x) => x.type === "order.completed")!;
    // 2 × 2500 + 1 × 1999 − 499 = 6500; units 2 + 1 = 3
    expect(o).toMatchObject({
      event_id: order.id,
      amount_minor: "6500",
      quantity: 3,
      currency: "EUR",
      channel: "web",
      customer_id: "c-1",
      ip_prefix: "203.0.113.0/24",
      schema_version: 2,
      out_of_order: false,
    });
    expect(o.ua_family).toBe("chrome/windows/desktop");
    expect(o.props.email_hash).toMatch(/^v1:[0-9a-f]{64}$/);
    expect(o.props.lines).toHaveLength(2);
  });

  test("duplicates within a batch, across batches and in a redelivery are stored once and counted", async () => {
    const t = crypto.randomUUID();
    const e1 = orderCompleted(t);
    const e2 = pageViewed(t);
    const first = await post(t, [e1, e1, e2]);
    expect(first.body).toEqual({ accepted: 2, duplicates: 1, rejected: [] });
    const again = await post(t, [e1, e2]);
    expect(again.body).toEqual({ accepted: 0, duplicates: 2, rejected: [] });
    // a redelivery that the LRU no longer remembers is stopped by the table's unique key
    deps.dedup.remember([]); // (the LRU is per process; the database guard is tested by the NATS suite too)
    expect(await eventRows(t)).toHaveLength(2);
    const stats = await app.request(
      `/v1/ingest/stats?from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`,
      {
        headers: { authorization: `Bearer ${await token({ tenantId: t })}` },
      },
    );
    const s = (await stats.json()) as any;
    expect(s).toMatchObject({ accepted: 2, duplicates: 3, out_of_order: 0, rejected: {} });
    expect(s.last_event_time).toBe(new Date(Math.max(Date.parse(e1.time), Date.parse(e2.time))).toISOString());
  });

  test("a v1 and a v2 event of the same fact are stored identically", async () => {
    const t = crypto.randomUUID();
    const time = new Date(Date.now() - 120_000).toISOString();
    const v1 = legacyOrder(t, "legacy-1", time);
    const v2 = envelope(
      t,
      "order.completed",
      {
        order_id: "o-legacy",
        customer_id: "c-9",
        channel: "box_office",
        currency: "USD",
        lines: [{ item_id: "show-9", quantity: 3, unit_price_minor: 1250 }],
        total_minor: 3750,
      },
      { id: "modern-1", time, source: "/legacy-orders" },
    );
    const r = await post(t, [v1, v2]);
    expect(r.body.accepted).toBe(2);
    const [a, b] = await deps.sql`select * from events where tenant_id = ${t} order by event_id`;
    const strip = (row: Record<string, unknown>) => {
      const { event_id, schema_version, received_at, ...rest } = row;
      return rest;
    };
    expect(a!.schema_version).toBe(1);
    expect(b!.schema_version).toBe(2);
    expect(strip(a!)).toEqual(strip(b!));
    expect(a!.amount_minor).toBe("3750");
  });

  test("an older event from the same source arriving later is stored with out_of_order = true", async () => {
    const t = crypto.randomUUID();
    const newer = pageViewed(t, { time: new Date(Date.now() - 60_000).toISOString() });
    const older = pageViewed(t, { time: new Date(Date.now() - 600_000).toISOString() });
    await post(t, [newer]);
    const r = await post(t, [older]);
    expect(r.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const rows = await eventRows(t);
    expect(rows.map((x) => [x.event_id, x.out_of_order])).toEqual([
      [older.id, true],
      [newer.id, false],
    ]);
  });

  test("item.upserted feeds items and customer.registered feeds customers with a hashed email only", async () => {
    const t = crypto.randomUUID();
    const older = itemUpserted(t, "show-7", { time: new Date(Date.now() - 300_000).toISOString() }, { base_price_minor: 2000 });
    const newer = itemUpserted(t, "show-7", { time: new Date(Date.now() - 100_000).toISOString() }, { base_price_minor: 3000 });
    await post(t, [newer, older, customerRegistered(t, "c-42")]);
    const [item] = await deps.sql`select * from items where tenant_id = ${t}`;
    expect(item).toMatchObject({
      item_id: "show-7",
      name: "Late show",
      category: "concert",
      kind: "ticketed_event",
      base_price_minor: "3000",
      capacity: 300,
    });
    const [cust] = await deps.sql`select * from customers where tenant_id = ${t}`;
    expect(cust!.customer_id).toBe("c-42");
    expect(cust!.email_hash).toMatch(/^v1:[0-9a-f]{64}$/);
  });

  describe("each kind of bad input becomes a dead letter with its reason (never an event)", () => {
    const cases: Array<[string, (t: string) => unknown, string, RegExp]> = [
      ["malformed_json", () => '{"specversion": "1.0", "id": "x"', "malformed_json", /\(root\)|json/i],
      ["invalid_envelope", (t) => ({ ...pageViewed(t), specversion: "0.3" }), "invalid_envelope", /specversion/],
      ["unknown_type", (t) => envelope(t, "concert.cancelled", {}), "unknown_type", /type/],
      ["unsupported_schema_version", (t) => ({ ...pageViewed(t), schemaversion: "7" }), "unsupported_schema_version", /schemaversion/],
      ["invalid_data", (t) => orderCompleted(t, {}, { total_minor: 9999 }), "invalid_data", /data\.total_minor/],
      ["tenant_mismatch", () => pageViewed(crypto.randomUUID()), "tenant_mismatch", /tenantid/],
      ["too_far_in_future", (t) => pageViewed(t, { time: new Date(Date.now() + 3_600_000).toISOString() }), "too_far_in_future", /time/],
      [
        "older_than_retention",
        (t) => pageViewed(t, { time: new Date(Date.now() - 91 * 86_400_000).toISOString() }),
        "older_than_retention",
        /time/,
      ],
      ["payload_too_large", (t) => pageViewed(t, {}, { url: `https://x.example/${"a".repeat(70_000)}` }), "payload_too_large", /.*/],
    ];
    for (const [name, make, reason, path] of cases) {
      test(`${name}: 202 with the event rejected, a dead-letter row, nothing stored`, async () => {
        const t = crypto.randomUUID();
        const input = make(t);
        const r = typeof input === "string" ? await post(t, input, SINGLE) : await post(t, [input]);
        expect(r.res.status).toBe(202);
        expect(r.body.accepted).toBe(0);
        expect(r.body.rejected).toHaveLength(1);
        expect(r.body.rejected[0].reason).toBe(reason);
        expect(r.body.rejected[0].issues.map((i: { path: string }) => i.path).join(" ")).toMatch(path);
        expect(await eventRows(t)).toHaveLength(0);
        const dl =
          await deps.sql`select reason, tenant_id, transport from dead_letter_events where reason = ${reason} and transport = 'http' and (tenant_id = ${t} or tenant_id is null) order by id desc limit 1`;
        expect(dl).toHaveLength(1);
      });
    }
  });

  test("GET /v1/dead-letters lists the tenant's rejections with reasons and field paths, newest first, in cursor pages", async () => {
    const t = crypto.randomUUID();
    await post(t, [
      orderCompleted(t, {}, { total_minor: 1 }),
      envelope(t, "nope.nope", {}),
      pageViewed(t, { time: "2000-01-01T00:00:00Z" }),
    ]);
    const auth = { authorization: `Bearer ${await token({ tenantId: t })}` };
    const page1 = (await (await app.request("/v1/dead-letters?limit=2", { headers: auth })).json()) as any;
    expect(page1.data).toHaveLength(2);
    expect(page1.next_cursor).toBeTruthy();
    const page2 = (await (await app.request(`/v1/dead-letters?limit=2&cursor=${page1.next_cursor}`, { headers: auth })).json()) as any;
    expect(page2.data).toHaveLength(1);
    expect(page2.next_cursor).toBeNull();
    const reasons = [...page1.data, ...page2.data].map((d: { reason: string }) => d.reason).sort();
    expect(reasons).toEqual(["invalid_data", "older_than_retention", "unknown_type"]);
    const invalid = [...page1.data, ...page2.data].find((d: { reason: string }) => d.reason === "invalid_data");
    expect(invalid.issues[0].path).toBe("data.total_minor");
    expect(JSON.stringify(invalid.payload)).not.toContain("alice@example.com");
    expect(JSON.stringify(invalid.payload)).not.toContain("203.0.113.77");
    const filtered = (await (await app.request("/v1/dead-letters?reason=unknown_type", { headers: auth })).json()) as any;
    expect(filtered.data.map((d: { reason: string }) => d.reason)).toEqual(["unknown_type"]);
    const other = (await (await app.request("/v1/dead-letters", { headers: { authorization: `Bearer ${await token()}` } })).json()) as any;
    expect(other.data).toEqual([]);
  });

  test("answers 403 to a token without the ingest role, 415 to another content type, 400 to a batch that is not an array, 413 past 1,000 events", async () => {
    const t = crypto.randomUUID();
    expect((await post(t, [pageViewed(t)], BATCH, ["viewer"])).res.status).toBe(403);
    expect((await post(t, "<xml/>", "application/xml")).res.status).toBe(415);
    const notArray = await post(t, { specversion: "1.0" }, BATCH);
    expect(notArray.res.status).toBe(400);
    expect(notArray.res.headers.get("content-type")).toBe("application/problem+json");
    const tooMany = await post(
      t,
      Array.from({ length: 1001 }, () => ({ id: "x" })),
    );
    expect(tooMany.res.status).toBe(413);
    expect(await eventRows(t)).toHaveLength(0);
  });
});

describe("privacy", () => {
  test("no raw IP, email, name or user agent reaches events, dead letters or the logs", async () => {
    const t = crypto.randomUUID();
    const raw = {
      email: "secret.person@example.org",
      name: "Zaphod Beeblebrox",
      ip: "192.0.2.123",
      ua: "PrivacyTestAgent/9.9 (X11; Linux x86_64)",
    };
    const data = { email: raw.email, customer_name: raw.name, ip: raw.ip, user_agent: raw.ua };
    await post(t, [
      orderCompleted(t, {}, data),
      orderCompleted(t, {}, { ...data, total_minor: 1 }), // a dead letter carrying the same PII
      pageViewed(t, {}, { ip: raw.ip, user_agent: raw.ua }),
      customerRegistered(t, "c-pii", {}),
    ]);
    await post(t, `{"broken": "${raw.email} ${raw.ip}`, SINGLE);
    const events = await deps.sql`select t::text as row from events t where tenant_id = ${t}`;
    const letters = await deps.sql`select t::text as row from dead_letter_events t where tenant_id = ${t} or tenant_id is null`;
    const customers = await deps.sql`select t::text as row from customers t where tenant_id = ${t}`;
    expect(events.length).toBeGreaterThan(0);
    expect(letters.length).toBeGreaterThan(0);
    const haystack = [...events, ...letters, ...customers].map((r) => r.row).join("\n") + capturedLogs.join("\n");
    for (const needle of [raw.email, raw.name, raw.ip, raw.ua, "Bob@Example.com", "bob@example.com", "Bob Builder", "192.0.2.10"]) {
      expect(haystack.toLowerCase()).not.toContain(needle.toLowerCase());
    }
  });
});
