import { describe, expect, test } from "bun:test";
import type { EventType, Rejection, ValidationContext, ValidEvent } from "../../src/ingest/types.ts";
import { EVENT_TYPES } from "../../src/ingest/types.ts";
import { DEFAULT_MAX_EVENT_BYTES, validateEvent } from "../../src/ingest/validate.ts";

const NOW = new Date("2025-03-01T12:00:00Z");
const MIN = 60_000;
const DAY = 86_400_000;
const TENANT = "0b8e6c1e-8a4c-4e02-9d7e-3f3f6d1f2a10";
const OTHER_TENANT = "7c1f4a52-3b9e-4d8a-a1c2-5e6f7a8b9c0d";

function ctx(over: Partial<ValidationContext> = {}): ValidationContext {
  return {
    expectedTenant: TENANT,
    now: NOW,
    maxFutureMs: 5 * MIN,
    retentionMs: 90 * DAY,
    maxBytes: DEFAULT_MAX_EVENT_BYTES,
    maxDepth: 32,
    ...over,
  };
}

function event(type: string, data: unknown, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    specversion: "1.0",
    id: "evt-1",
    source: "/orders-service",
    type,
    time: "2025-03-01T11:00:00Z",
    tenantid: TENANT,
    schemaversion: "2",
    data,
    ...over,
  };
}

function v1event(type: string, data: Record<string, unknown>, over: Record<string, unknown> = {}): Record<string, unknown> {
  // v1 publishers name the tenant in data.venue_id; tenantid only when `over` sets it
  const { tenantid: _t, ...env } = event(type, { venue_id: TENANT, ...data }, { schemaversion: "1" });
  return { ...env, ...over };
}

function accepted(input: unknown, c: ValidationContext = ctx()): ValidEvent {
  const r = validateEvent(input, c);
  if (!r.ok) throw new Error(`expected acceptance, got ${r.rejection.reason}: ${JSON.stringify(r.rejection.issues)}`);
  return r.event;
}

function rejected(input: unknown, c: ValidationContext = ctx()): Rejection {
  const r = validateEvent(input, c);
  if (r.ok) throw new Error(`expected a rejection, got ${JSON.stringify(r.event)}`);
  return r.rejection;
}

const paths = (r: Rejection) => r.issues.map((i) => i.path);

/** a valid version-2 data object of every type */
const V2_DATA: Record<EventType, Record<string, unknown>> = {
  "page.viewed": {
    session_id: "s-1",
    url: "https://shop.example/tickets",
    referrer: "https://search.example/",
    utm_source: "newsletter",
    utm_medium: "email",
    utm_campaign: "spring",
    customer_id: "c-1",
    ip: "203.0.113.7",
    user_agent: "Mozilla/5.0",
  },
  "item.viewed": { session_id: "s-1", item_id: "i-1", customer_id: "c-1", ip: "2001:db8::1", user_agent: "Mozilla/5.0" },
  "cart.item_added": {
    session_id: "s-1",
    cart_id: "cart-1",
    item_id: "i-1",
    quantity: 2,
    unit_price_minor: 1250,
    currency: "EUR",
    customer_id: "c-1",
  },
  "checkout.started": { session_id: "s-1", cart_id: "cart-1" },
  "order.completed": {
    order_id: "o-1",
    customer_id: "c-1",
    channel: "box_office",
    currency: "USD",
    lines: [
      { item_id: "i-1", quantity: 2, unit_price_minor: 500 },
      { item_id: "i-2", quantity: 1, unit_price_minor: 250 },
    ],
    discount_minor: 150,
    // 2 × 500 + 1 × 250 − 150 = 1100
    total_minor: 1100,
    session_id: "s-1",
    cart_id: "cart-1",
    email: "ada@example.com",
    customer_name: "Ada Lovelace",
    ip: "203.0.113.7",
    user_agent: "Mozilla/5.0",
  },
  "order.refunded": { order_id: "o-1", refund_id: "r-1", amount_minor: 500, currency: "USD", reason: "damaged" },
  "order.fulfilled": { order_id: "o-1" },
  "shipment.dispatched": { order_id: "o-1", shipment_id: "sh-1", carrier: "dhl", promised_by: "2025-03-04T18:00:00+01:00" },
  "shipment.delivered": { order_id: "o-1", shipment_id: "sh-1", carrier: "dhl" },
  "customer.registered": {
    customer_id: "c-1",
    email: "ada@example.com",
    name: "Ada Lovelace",
    ip: "203.0.113.7",
    user_agent: "Mozilla/5.0",
  },
  "item.upserted": {
    item_id: "i-1",
    name: "Spring concert",
    category: "concerts",
    kind: "ticketed_event",
    currency: "EUR",
    base_price_minor: 4500,
    min_price_minor: 3000,
    max_price_minor: 9000,
    capacity: 800,
    starts_at: "2025-04-12T19:30:00+02:00",
  },
  "campaign.touched": { session_id: "s-1", utm_source: "newsletter", utm_medium: "email", utm_campaign: "spring", customer_id: "c-1" },
  "reconciliation.expected": { date: "2025-02-28", timezone: "Europe/Berlin", orders: 42, gross_minor: 123450, currency: "EUR" },
};

function orderData(over: Record<string, unknown> = {}) {
  return { ...V2_DATA["order.completed"], ...over };
}

describe("validateEvent: accepts", () => {
  test.each([...EVENT_TYPES])("a valid version-2 %s, with its data unchanged", (type) => {
    const e = accepted(event(type, V2_DATA[type]));
    expect(e.type).toBe(type);
    expect(e.receivedVersion).toBe(2);
    expect(e.data).toEqual(V2_DATA[type]);
  });

  test("the envelope fields as a ValidEvent (time as Date, tenant, subject)", () => {
    const e = accepted(event("order.fulfilled", { order_id: "o-1" }, { time: "2025-03-01T12:30:00+01:00", subject: "o-1" }));
    expect(e).toEqual({
      id: "evt-1",
      source: "/orders-service",
      type: "order.fulfilled",
      time: new Date("2025-03-01T11:30:00Z"),
      tenantId: TENANT,
      receivedVersion: 2,
      traceId: null,
      subject: "o-1",
      data: { order_id: "o-1" },
    });
  });

  test("a missing schemaversion as version 2", () => {
    const { schemaversion: _sv, ...env } = event("order.fulfilled", { order_id: "o-1" });
    expect(accepted(env).receivedVersion).toBe(2);
  });

  test("discount_minor defaults to 0 when absent", () => {
    const { discount_minor: _d, ...data } = orderData({ total_minor: 1250 });
    expect(accepted(event("order.completed", data)).data.discount_minor).toBe(0);
  });

  test("the trace id of a traceparent is extracted", () => {
    const e = accepted(
      event("order.fulfilled", { order_id: "o-1" }, { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }),
    );
    expect(e.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });

  test("unknown extra data fields are kept (PII too: the privacy step removes it later)", () => {
    const data = orderData({ coupon: "SPRING10", meta: { campaign: "x" } });
    const e = accepted(event("order.completed", data));
    expect(e.data.coupon).toBe("SPRING10");
    expect(e.data.meta).toEqual({ campaign: "x" });
    expect(e.data.email).toBe("ada@example.com");
    expect(e.data.customer_name).toBe("Ada Lovelace");
    expect(e.data.ip).toBe("203.0.113.7");
  });

  test("bytes, text and an already-parsed object alike", () => {
    const ev = event("order.completed", orderData());
    const text = JSON.stringify(ev);
    const fromText = accepted(text);
    expect(accepted(new TextEncoder().encode(text))).toEqual(fromText);
    expect(accepted(ev)).toEqual(fromText);
  });

  test("an uppercase tenantid, normalised to lowercase", () => {
    expect(accepted(event("order.fulfilled", { order_id: "o-1" }, { tenantid: TENANT.toUpperCase() })).tenantId).toBe(TENANT);
  });

  test("any tenant when the transport vouches for none (expectedTenant null)", () => {
    expect(
      accepted(event("order.fulfilled", { order_id: "o-1" }, { tenantid: OTHER_TENANT }), ctx({ expectedTenant: null })).tenantId,
    ).toBe(OTHER_TENANT);
  });

  test("a time exactly at the future bound and exactly at the retention bound", () => {
    const atFuture = new Date(NOW.getTime() + 5 * MIN).toISOString();
    const atRetention = new Date(NOW.getTime() - 90 * DAY).toISOString();
    expect(accepted(event("order.fulfilled", { order_id: "o-1" }, { time: atFuture })).time.toISOString()).toBe("2025-03-01T12:05:00.000Z");
    expect(accepted(event("order.fulfilled", { order_id: "o-1" }, { time: atRetention })).time.toISOString()).toBe(
      "2024-12-01T12:00:00.000Z",
    );
  });

  test("an RFC 3339 time with more than millisecond precision (truncated to ms)", () => {
    expect(accepted(event("order.fulfilled", { order_id: "o-1" }, { time: "2025-03-01T11:00:00.123456789Z" })).time.toISOString()).toBe(
      "2025-03-01T11:00:00.123Z",
    );
  });
});

describe("validateEvent: payload_too_large", () => {
  test("text larger than maxBytes", () => {
    const text = JSON.stringify(event("order.completed", orderData({ pad: "x".repeat(2000) })));
    const r = rejected(text, ctx({ maxBytes: 1024 }));
    expect(r.reason).toBe("payload_too_large");
    expect(paths(r)).toEqual(["(root)"]);
    expect(r.excerpt).toBe(text.slice(0, 512));
  });

  test("counts UTF-8 bytes, not characters: 400 × '€' (1,200 bytes) > 1,024", () => {
    const text = JSON.stringify(event("order.completed", orderData({ note: "€".repeat(400) })));
    expect(text.length).toBeLessThan(1024 + 400);
    expect(rejected(text, ctx({ maxBytes: 1024 })).reason).toBe("payload_too_large");
  });

  test("bytes larger than maxBytes", () => {
    const bytes = new TextEncoder().encode(JSON.stringify(event("order.completed", orderData({ pad: "x".repeat(2000) }))));
    expect(rejected(bytes, ctx({ maxBytes: 1024 })).reason).toBe("payload_too_large");
  });

  test("an already-parsed object whose JSON is larger than maxBytes, keeping what it could read", () => {
    const ev = event("order.completed", orderData({ pad: "x".repeat(2000) }));
    const r = rejected(ev, ctx({ maxBytes: 1024 }));
    expect(r.reason).toBe("payload_too_large");
    expect(r.eventId).toBe("evt-1");
    expect(r.payload).toBe(ev);
  });
});

describe("validateEvent: malformed_json", () => {
  test("unparseable text, with the first 512 characters as excerpt and no payload", () => {
    const text = `{"specversion": "1.0", "id": "evt-1", "pad": "${"y".repeat(1000)}"`;
    const r = rejected(text);
    expect(r.reason).toBe("malformed_json");
    expect(paths(r)).toEqual(["(root)"]);
    expect(r.excerpt).toBe(text.slice(0, 512));
    expect(r.excerpt).toHaveLength(512);
    expect(r.payload).toBeUndefined();
  });

  test("bytes that are not UTF-8", () => {
    const r = rejected(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    expect(r.reason).toBe("malformed_json");
  });
});

describe("validateEvent: invalid_envelope", () => {
  test.each([
    ["specversion is not 1.0", { specversion: "0.3" }, "specversion"],
    ["id is empty", { id: "" }, "id"],
    ["id is longer than 128", { id: "x".repeat(129) }, "id"],
    ["id is missing", { id: undefined }, "id"],
    ["source has a space", { source: "orders service" }, "source"],
    ["source is empty", { source: "" }, "source"],
    ["type is not a string", { type: 42 }, "type"],
    ["time has no timezone", { time: "2025-03-01T11:00:00" }, "time"],
    ["time is not RFC 3339", { time: "01/03/2025 11:00" }, "time"],
    ["time is a day that does not exist", { time: "2025-02-30T11:00:00Z" }, "time"],
    ["tenantid is not a uuid", { tenantid: "shop-1" }, "tenantid"],
    ["schemaversion is a number", { schemaversion: 2 }, "schemaversion"],
    ["traceparent is malformed", { traceparent: "00-xyz-00f067aa0ba902b7-01" }, "traceparent"],
    ["traceparent has an all-zero trace id", { traceparent: `00-${"0".repeat(32)}-00f067aa0ba902b7-01` }, "traceparent"],
    ["data is an array", { data: [1, 2] }, "data"],
    ["data is missing", { data: undefined }, "data"],
  ])("%s", (_name, over, path) => {
    const r = rejected(event("order.fulfilled", { order_id: "o-1" }, over));
    expect(r.reason).toBe("invalid_envelope");
    expect(paths(r)).toContain(path);
  });

  test("a NUL character in an envelope attribute (subject)", () => {
    const r = rejected(JSON.stringify(event("order.fulfilled", { order_id: "o-1" }, { subject: "o\u0000" })));
    expect(r.reason).toBe("invalid_envelope");
    expect(paths(r)).toEqual(["subject"]);
  });

  test("the JSON is not an object", () => {
    const r = rejected("[1,2,3]");
    expect(r.reason).toBe("invalid_envelope");
    expect(paths(r)).toEqual(["(root)"]);
    expect(r.payload).toEqual([1, 2, 3]);
  });

  test("a version-2 event without any tenant (path tenantid)", () => {
    const { tenantid: _t, ...env } = event("order.fulfilled", { order_id: "o-1" });
    const r = rejected(env);
    expect(r.reason).toBe("invalid_envelope");
    expect(paths(r)).toEqual(["tenantid"]);
  });

  test("carries what could be read from the broken envelope", () => {
    const r = rejected(JSON.stringify(event("order.fulfilled", { order_id: "o-1" }, { specversion: "0.3" })));
    expect(r).toMatchObject({ tenantId: TENANT, eventId: "evt-1", type: "order.fulfilled", source: "/orders-service", schemaVersion: "2" });
    expect((r.payload as Record<string, unknown>).specversion).toBe("0.3");
  });
});

describe("validateEvent: unknown_type", () => {
  test("a type not in the catalog", () => {
    const r = rejected(event("order.created", { order_id: "o-1" }));
    expect(r.reason).toBe("unknown_type");
    expect(paths(r)).toEqual(["type"]);
    expect(r.type).toBe("order.created");
  });
});

describe("validateEvent: unsupported_schema_version", () => {
  test('schemaversion "3"', () => {
    const r = rejected(event("order.fulfilled", { order_id: "o-1" }, { schemaversion: "3" }));
    expect(r.reason).toBe("unsupported_schema_version");
    expect(paths(r)).toEqual(["schemaversion"]);
    expect(r.schemaVersion).toBe("3");
  });

  test('schemaversion "1" for a type that has no version 1 (cart.item_added)', () => {
    const r = rejected(event("cart.item_added", V2_DATA["cart.item_added"], { schemaversion: "1" }));
    expect(r.reason).toBe("unsupported_schema_version");
    expect(paths(r)).toEqual(["schemaversion"]);
  });
});

describe("validateEvent: invalid_data", () => {
  test("total_minor ≠ Σ quantity × unit_price_minor − discount_minor names the expected 1100", () => {
    // 2 × 500 + 1 × 250 − 150 = 1100, not 1250
    const r = rejected(event("order.completed", orderData({ total_minor: 1250 })));
    expect(r.reason).toBe("invalid_data");
    expect(paths(r)).toEqual(["data.total_minor"]);
    expect(r.issues[0]?.message).toContain("1100");
  });

  test("a discount larger than the lines cannot match any total_minor ≥ 0", () => {
    // 1250 − 2000 = −750
    const r = rejected(event("order.completed", orderData({ discount_minor: 2000, total_minor: 0 })));
    expect(paths(r)).toEqual(["data.total_minor"]);
    expect(r.issues[0]?.message).toContain("-750");
  });

  test.each([
    [
      "a zero quantity",
      { lines: [{ item_id: "i-1", quantity: 0, unit_price_minor: 500 }], total_minor: 0, discount_minor: 0 },
      "data.lines.0.quantity",
    ],
    ["a fractional quantity", { lines: [{ item_id: "i-1", quantity: 1.5, unit_price_minor: 500 }] }, "data.lines.0.quantity"],
    ["a negative unit price", { lines: [{ item_id: "i-1", quantity: 1, unit_price_minor: -500 }] }, "data.lines.0.unit_price_minor"],
    ["a fractional total_minor", { total_minor: 1100.5 }, "data.total_minor"],
    ["a negative total_minor", { total_minor: -1 }, "data.total_minor"],
    ["no lines", { lines: [] }, "data.lines"],
    ["a line without item_id", { lines: [{ quantity: 1, unit_price_minor: 500 }] }, "data.lines.0.item_id"],
    ["an unknown currency", { currency: "ABC" }, "data.currency"],
    ["a lowercase currency", { currency: "usd" }, "data.currency"],
    ["an uppercase channel", { channel: "Web" }, "data.channel"],
    ["a channel longer than 32", { channel: `w${"e".repeat(32)}` }, "data.channel"],
    ["an empty order_id", { order_id: "" }, "data.order_id"],
    ["an order_id longer than 128", { order_id: "o".repeat(129) }, "data.order_id"],
    ["a missing customer_id", { customer_id: undefined }, "data.customer_id"],
  ])("order.completed with %s", (_name, over, path) => {
    const r = rejected(event("order.completed", orderData(over)));
    expect(r.reason).toBe("invalid_data");
    expect(paths(r)).toContain(path);
  });

  test("item.upserted with min_price_minor > base_price_minor", () => {
    const r = rejected(event("item.upserted", { ...V2_DATA["item.upserted"], min_price_minor: 5000 }));
    expect(r.reason).toBe("invalid_data");
    expect(paths(r)).toEqual(["data.min_price_minor"]);
  });

  test("item.upserted with max_price_minor < base_price_minor", () => {
    const r = rejected(event("item.upserted", { ...V2_DATA["item.upserted"], max_price_minor: 4000 }));
    expect(paths(r)).toEqual(["data.max_price_minor"]);
  });

  test("item.upserted with an unknown kind", () => {
    expect(paths(rejected(event("item.upserted", { ...V2_DATA["item.upserted"], kind: "service" })))).toEqual(["data.kind"]);
  });

  test("reconciliation.expected with a time zone that does not exist", () => {
    const r = rejected(event("reconciliation.expected", { ...V2_DATA["reconciliation.expected"], timezone: "Mars/Olympus_Mons" }));
    expect(paths(r)).toEqual(["data.timezone"]);
  });

  test("reconciliation.expected with an impossible date", () => {
    expect(paths(rejected(event("reconciliation.expected", { ...V2_DATA["reconciliation.expected"], date: "2025-02-30" })))).toEqual([
      "data.date",
    ]);
  });

  test("shipment.dispatched with promised_by without a timezone", () => {
    const r = rejected(event("shipment.dispatched", { ...V2_DATA["shipment.dispatched"], promised_by: "2025-03-04T18:00:00" }));
    expect(paths(r)).toEqual(["data.promised_by"]);
  });

  test("page.viewed with a url longer than 2048", () => {
    const r = rejected(event("page.viewed", { ...V2_DATA["page.viewed"], url: `https://x.example/${"a".repeat(2048)}` }));
    expect(paths(r)).toEqual(["data.url"]);
  });

  test("a NUL character in a data string (PostgreSQL cannot store it), from text and from an object", () => {
    const ev = event("order.completed", orderData({ customer_id: "c-\u0000-1" }));
    const text = JSON.stringify(ev);
    expect(text).toContain("\\u0000");
    for (const input of [text, ev]) {
      const r = rejected(input);
      expect(r.reason).toBe("invalid_data");
      expect(paths(r)).toEqual(["data.customer_id"]);
    }
  });

  test("a NUL character in an extra field's key or nested value", () => {
    expect(paths(rejected(event("order.completed", orderData({ meta: { tags: ["ok", "b\u0000d"] } }))))).toEqual(["data.meta.tags.1"]);
    expect(paths(rejected(event("order.completed", orderData({ "k\u0000": 1 }))))).toEqual(["data.k\u0000"]);
  });

  test("a lone UTF-16 surrogate in a data string or key (PostgreSQL cannot store it), from text, from bytes and from an object; a surrogate pair is fine", () => {
    const ev = event("order.completed", orderData({ customer_id: "c-\ud800-1" }));
    const text = JSON.stringify(ev);
    expect(text).toContain("\\ud800");
    for (const input of [text, new TextEncoder().encode(text), ev]) {
      const r = rejected(input);
      expect(r.reason).toBe("invalid_data");
      expect(r.issues).toEqual([
        { path: "data.customer_id", message: "must not contain a lone UTF-16 surrogate (an unpaired \\uD800-\\uDFFF escape)" },
      ]);
    }
    expect(paths(rejected(event("order.completed", orderData({ meta: { "k\udfff": 1 } }))))).toEqual(["data.meta.k\udfff"]);
    // an escaped pair (an emoji) is one well-formed character, written as two escapes
    const pair = JSON.stringify(event("order.completed", orderData({ note: "x" }))).replace('"note":"x"', '"note":"\\ud83d\\ude00"');
    expect(accepted(pair).data).toMatchObject({ note: "\u{1F600}" });
  });

  test("objects and arrays nested deeper than maxDepth (JSON_MAX_DEPTH): invalid_data under data, invalid_envelope elsewhere, with the path and an excerpt instead of the payload", () => {
    /** `n` arrays, one inside the other */
    const nested = (n: number): unknown => JSON.parse("[".repeat(n) + "]".repeat(n));
    // maxDepth 32 here. envelope = level 1, data = 2, data.meta = 3: 30 arrays in meta reach level 32 exactly
    const ok = event("order.completed", orderData({ meta: nested(30) }));
    expect(accepted(JSON.stringify(ok)).data).toHaveProperty("meta");
    const deep = event("order.completed", orderData({ meta: nested(31) }));
    const text = JSON.stringify(deep);
    for (const input of [text, new TextEncoder().encode(text), deep]) {
      const r = rejected(input);
      expect(r.reason).toBe("invalid_data");
      expect(r.issues).toEqual([{ path: `data.meta${".0".repeat(30)}`, message: "nested deeper than 32 levels" }]);
      expect(r.payload).toBeUndefined();
      expect(r.excerpt).toBe(text.slice(0, 512));
      expect(r).toMatchObject({ tenantId: TENANT, eventId: "evt-1", type: "order.completed" });
    }
    // the bound is the context's: the same event passes under a larger one
    expect(accepted(text, ctx({ maxDepth: 40 })).data).toHaveProperty("meta");
    // the crash this guards against: 20,000 levels (40 KB, under the size limit)
    expect(
      rejected(JSON.stringify(event("page.viewed", { session_id: "s", url: "https://x.example/", extra: nested(20_000) }))).reason,
    ).toBe("invalid_data");
    // outside data: an extension attribute
    const env = rejected(JSON.stringify(event("order.fulfilled", { order_id: "o-1" }, { ext: nested(32) })));
    expect(env.reason).toBe("invalid_envelope");
    expect(paths(env)).toEqual([`ext${".0".repeat(31)}`]);
  });

  test("carries the readable envelope and the parsed payload", () => {
    const ev = event("order.completed", orderData({ total_minor: 1 }));
    const r = rejected(JSON.stringify(ev));
    expect(r).toMatchObject({
      tenantId: TENANT,
      eventId: "evt-1",
      type: "order.completed",
      source: "/orders-service",
      schemaVersion: "2",
      excerpt: null,
    });
    expect(r.payload).toEqual(ev);
  });
});

describe("validateEvent: tenant_mismatch", () => {
  test("tenantid differs from the tenant the transport vouches for", () => {
    const r = rejected(event("order.fulfilled", { order_id: "o-1" }, { tenantid: OTHER_TENANT }));
    expect(r.reason).toBe("tenant_mismatch");
    expect(paths(r)).toEqual(["tenantid"]);
    expect(r.tenantId).toBe(OTHER_TENANT);
  });

  test("v1 venue_id differs from tenantid", () => {
    const r = rejected(v1event("customer.registered", { customer_id: "c-1" }, { tenantid: OTHER_TENANT }), ctx({ expectedTenant: null }));
    expect(r.reason).toBe("tenant_mismatch");
    expect(paths(r)).toEqual(["data.venue_id"]);
  });

  test("v1 venue_id (no tenantid) differs from the expected tenant", () => {
    const r = rejected(v1event("customer.registered", { customer_id: "c-1", venue_id: OTHER_TENANT }));
    expect(r.reason).toBe("tenant_mismatch");
    expect(paths(r)).toEqual(["data.venue_id"]);
  });
});

describe("validateEvent: time bounds", () => {
  test("too_far_in_future: 1 s beyond now + 5 min", () => {
    const r = rejected(event("order.fulfilled", { order_id: "o-1" }, { time: "2025-03-01T12:05:01Z" }));
    expect(r.reason).toBe("too_far_in_future");
    expect(paths(r)).toEqual(["time"]);
  });

  test("older_than_retention: 1 s before now − 90 days", () => {
    const r = rejected(event("order.fulfilled", { order_id: "o-1" }, { time: "2024-12-01T11:59:59Z" }));
    expect(r.reason).toBe("older_than_retention");
    expect(paths(r)).toEqual(["time"]);
  });

  test("the bounds come from the context", () => {
    const time = "2025-03-01T11:00:00Z"; // one hour before NOW
    expect(rejected(event("order.fulfilled", { order_id: "o-1" }, { time }), ctx({ retentionMs: 30 * MIN })).reason).toBe(
      "older_than_retention",
    );
    const future = "2025-03-01T12:30:00Z";
    expect(
      accepted(event("order.fulfilled", { order_id: "o-1" }, { time: future }), ctx({ maxFutureMs: 60 * MIN })).time.toISOString(),
    ).toBe("2025-03-01T12:30:00.000Z");
  });
});

describe("validateEvent: version 1 (legacy) upcast", () => {
  const v1Order = (over: Record<string, unknown> = {}) => ({
    order_id: "o-1",
    customer_id: "c-1",
    channel: "web",
    currency: "USD",
    total: 12.5,
    items: [{ item_id: "i-1", qty: 1, price: 12.5 }],
    ...over,
  });

  test("total 12.5 USD ⇒ total_minor 1250", () => {
    const e = accepted(v1event("order.completed", v1Order()));
    expect(e.receivedVersion).toBe(1);
    expect(e.tenantId).toBe(TENANT);
    expect(e.data).toEqual({
      order_id: "o-1",
      customer_id: "c-1",
      channel: "web",
      currency: "USD",
      lines: [{ item_id: "i-1", quantity: 1, unit_price_minor: 1250 }],
      discount_minor: 0,
      total_minor: 1250,
    });
  });

  test("JPY 1500 ⇒ 1500 (exponent 0)", () => {
    const e = accepted(
      v1event("order.completed", v1Order({ currency: "JPY", total: 1500, items: [{ item_id: "i-1", qty: 3, price: 500 }] })),
    );
    expect(e.data.total_minor).toBe(1500);
    expect(e.data.lines).toEqual([{ item_id: "i-1", quantity: 3, unit_price_minor: 500 }]);
  });

  test("KWD 1.234 ⇒ 1234 (exponent 3)", () => {
    const e = accepted(
      v1event("order.completed", v1Order({ currency: "KWD", total: 1.234, items: [{ item_id: "i-1", qty: 1, price: 1.234 }] })),
    );
    expect(e.data.total_minor).toBe(1234);
  });

  test("several items: 2 × 19.99 + 3 × 0.07 = 40.19 USD ⇒ 4019", () => {
    const e = accepted(
      v1event(
        "order.completed",
        v1Order({
          total: 40.19,
          items: [
            { item_id: "i-1", qty: 2, price: 19.99 },
            { item_id: "i-2", qty: 3, price: 0.07 },
          ],
        }),
      ),
    );
    expect(e.data.total_minor).toBe(4019);
    expect(e.data.lines).toEqual([
      { item_id: "i-1", quantity: 2, unit_price_minor: 1999 },
      { item_id: "i-2", quantity: 3, unit_price_minor: 7 },
    ]);
  });

  test("12.345 USD (more fraction digits than USD has) ⇒ invalid_data", () => {
    const r = rejected(v1event("order.completed", v1Order({ total: 12.345, items: [{ item_id: "i-1", qty: 1, price: 12.345 }] })));
    expect(r.reason).toBe("invalid_data");
    expect(paths(r)).toEqual(["data.items.0.price", "data.total"]);
  });

  test("a total that is not Σ qty × price ⇒ invalid_data at data.total", () => {
    const r = rejected(v1event("order.completed", v1Order({ total: 13 })));
    expect(r.reason).toBe("invalid_data");
    expect(paths(r)).toEqual(["data.total"]);
    expect(r.issues[0]?.message).toContain("12.50");
  });

  test("a missing venue_id ⇒ invalid_data at data.venue_id", () => {
    const { venue_id: _v, ...data } = { venue_id: TENANT, ...v1Order() };
    const r = rejected({ ...v1event("order.completed", {}), data });
    expect(r.reason).toBe("invalid_data");
    expect(paths(r)).toEqual(["data.venue_id"]);
  });

  test("v1 field names appear in issue paths (items.0.qty)", () => {
    const r = rejected(v1event("order.completed", v1Order({ items: [{ item_id: "i-1", qty: 0, price: 12.5 }] })));
    expect(paths(r)).toContain("data.items.0.qty");
  });

  test("a tenantid equal to venue_id is accepted", () => {
    expect(accepted(v1event("customer.registered", { customer_id: "c-1" }, { tenantid: TENANT })).tenantId).toBe(TENANT);
  });

  test("order.refunded: the event id becomes refund_id, amount 7.5 EUR ⇒ amount_minor 750", () => {
    const e = accepted(v1event("order.refunded", { order_id: "o-1", amount: 7.5, currency: "EUR" }, { id: "evt-refund-9" }));
    expect(e.data).toEqual({ order_id: "o-1", refund_id: "evt-refund-9", amount_minor: 750, currency: "EUR" });
  });

  describe("a v1 and a v2 event of the same fact give deep-equal data", () => {
    test("order.completed", () => {
      const v1 = accepted(
        v1event("order.completed", {
          order_id: "o-1",
          customer_id: "c-1",
          channel: "web",
          currency: "EUR",
          total: 40.19,
          items: [
            { item_id: "i-1", qty: 2, price: 19.99 },
            { item_id: "i-2", qty: 3, price: 0.07 },
          ],
          email: "ada@example.com",
          ip: "203.0.113.7",
          user_agent: "Mozilla/5.0",
        }),
      );
      const v2 = accepted(
        event("order.completed", {
          order_id: "o-1",
          customer_id: "c-1",
          channel: "web",
          currency: "EUR",
          lines: [
            { item_id: "i-1", quantity: 2, unit_price_minor: 1999 },
            { item_id: "i-2", quantity: 3, unit_price_minor: 7 },
          ],
          total_minor: 4019,
          email: "ada@example.com",
          ip: "203.0.113.7",
          user_agent: "Mozilla/5.0",
        }),
      );
      expect(v1.data).toEqual(v2.data);
      expect(v1.receivedVersion).toBe(1);
      expect(v2.receivedVersion).toBe(2);
    });

    test("order.refunded", () => {
      const v1 = accepted(v1event("order.refunded", { order_id: "o-1", amount: 12.5, currency: "USD", reason: "late" }, { id: "evt-7" }));
      const v2 = accepted(
        event(
          "order.refunded",
          { order_id: "o-1", refund_id: "evt-7", amount_minor: 1250, currency: "USD", reason: "late" },
          { id: "evt-7" },
        ),
      );
      expect(v1.data).toEqual(v2.data);
    });

    test("page.viewed", () => {
      const v1 = accepted(
        v1event("page.viewed", {
          session: "s-1",
          url: "https://shop.example/",
          referrer: "https://ref.example/",
          ip: "203.0.113.7",
          ua: "Mozilla/5.0",
        }),
      );
      const v2 = accepted(
        event("page.viewed", {
          session_id: "s-1",
          url: "https://shop.example/",
          referrer: "https://ref.example/",
          ip: "203.0.113.7",
          user_agent: "Mozilla/5.0",
        }),
      );
      expect(v1.data).toEqual(v2.data);
    });

    test("customer.registered", () => {
      const v1 = accepted(v1event("customer.registered", { customer_id: "c-1", email: "ada@example.com", full_name: "Ada Lovelace" }));
      const v2 = accepted(event("customer.registered", { customer_id: "c-1", email: "ada@example.com", name: "Ada Lovelace" }));
      expect(v1.data).toEqual(v2.data);
      expect(v1.data).not.toHaveProperty("venue_id");
    });
  });
});
