/**
 * A property-based generator (fast-check) of hostile CloudEvents for the ingest fuzz test
 * (tests/integration/ingest/fuzz.test.ts). Each case is a valid event of events.md (version 2 or the
 * legacy version 1, with hostile but legal values: any Unicode text, odd IPs and user agents, late
 * times, odd but legal time formats) plus zero to three mutations: wrong types, missing and extra
 * fields, huge and deep values, NUL, lone surrogates, numbers as strings, negative and overflowing
 * amounts, bad times and zones, tenant mismatches, unknown types and versions; or one wire-level
 * mutation (invalid UTF-8 bytes, truncated JSON, raw control characters, a BOM, a non-object root).
 *
 * Each mutation says what the contract (events.md, design.md) makes of it, per transport: stored,
 * rejected into a dead letter with one of some reasons, either (the contract leaves it open, e.g. an
 * int4 overflow that only the database rejects), or, over HTTP, refused as a whole request (a
 * problem+json 400: src/http/hardening.ts bounds JSON bodies: nesting depth and NUL characters). A
 * case's expectation combines its mutations'. The oracle is the contract, not the validator's code.
 */
import fc from "fast-check";
import type { RejectReason } from "../../src/ingest/types.ts";

export type Expect =
  | { expect: "stored" }
  | { expect: "duplicate" }
  | { expect: "rejected" | "either"; reasons: RejectReason[] }
  | { expect: "refused" };

export interface HostileCase {
  n: number;
  /** the tenant the transport vouches for (the NATS subject token, the HTTP token's tenant) */
  tenant: string;
  /** the NATS subject after `<prefix>.` */
  subject: string;
  /** what goes on the wire: JSON text, or bytes (invalid UTF-8) */
  wire: string | Uint8Array;
  /** the envelope id as sent, when it is a string (matches stored rows and rejections to cases) */
  id: string | null;
  mutations: string[];
  nats: Expect;
  http: Expect;
  /** over HTTP this case goes in a request of its own (it may refuse or break a batch body) */
  httpAlone: boolean;
  /** a copy of an earlier case's wire (a publisher's re-send) */
  resendOf?: number;
}

type Env = Record<string, unknown> & { data: Record<string, unknown> };

interface Mutation {
  /** what it changes: a case changes each field once */
  field: string;
  name: string;
  /** changes the envelope in place (tenant: the one the transport vouches for) */
  apply?: (e: Env, tenant: string) => void;
  /** the tenant token of the NATS subject instead of the tenant's own (over HTTP the token's tenant stays) */
  subject?: (tenant: string) => string;
  /** changes the serialised text (such a mutation comes alone, on a clean event) */
  raw?: (text: string) => string | Uint8Array;
  nats: Expect;
  /** default: as over NATS */
  http?: Expect;
  /** the event is large: over HTTP it travels alone (a batch of them would pass the body limit) */
  large?: boolean;
}

/** a valid event before its envelope: type, version, data and what its fields are */
interface Base {
  type: string;
  version: "1" | "2";
  data: Record<string, unknown>;
  /** required data fields: removing one is invalid_data */
  required: string[];
  /** integer (or, version 1, decimal) amount fields */
  amounts: string[];
}

const DAY = 86_400_000;
const STORED: Expect = { expect: "stored" };
const REFUSED: Expect = { expect: "refused" };
const rejected = (...reasons: RejectReason[]): Expect => ({ expect: "rejected", reasons });
const either = (...reasons: RejectReason[]): Expect => ({ expect: "either", reasons });

// ─── legal but hostile values ────────────────────────────────────────────────────────────────────

/** storable text: well-formed UTF-16 without NUL (anything else in Unicode is legal) */
const storable = (s: string) => s.isWellFormed() && !s.includes("\u0000");
const text = (min: number, max: number) =>
  fc
    .string({ unit: "grapheme", minLength: min, maxLength: max })
    .map((s) => s.slice(0, max * 2))
    .filter((s) => storable(s) && s.length >= min);
const id = text(1, 16);
const token = fc.stringMatching(/^[a-z][a-z0-9_]{0,31}$/);
const currency = fc.constantFrom("USD", "EUR", "JPY", "KWD", "GBP", "CHF");
const minor = fc.integer({ min: 0, max: 5_000_000 });
const quantity = fc.integer({ min: 1, max: 500 });
const ip = fc.oneof(fc.ipV4(), fc.ipV6(), text(0, 32));
const userAgent = fc.oneof(
  fc.constantFrom(
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148",
    "curl/8.4.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
  ),
  text(0, 200),
);
const email = fc.oneof(
  fc.emailAddress().filter((s) => s.length <= 320),
  text(0, 60),
);
const zone = fc.constantFrom("Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns");

/** RFC 3339 forms of one instant: Z with or without milliseconds, 6 or 9 fraction digits, a numeric offset */
function rfc3339(ms: number, form: number, offsetMin: number): string {
  const iso = new Date(ms).toISOString();
  if (form === 0) return iso;
  if (form === 1) return iso.replace(/\.\d{3}Z$/, "Z");
  if (form === 2) return iso.replace(/Z$/, "123Z");
  if (form === 3) return iso.replace(/Z$/, "456789Z");
  const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 23);
  const abs = Math.abs(offsetMin);
  return `${local}${offsetMin < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}
/** an instant ≤ 4 min ahead (the bound is 5) and mostly within 3 days back; 1 in 20 up to 60 days back (late events) */
const time = fc
  .tuple(
    fc.oneof(
      { weight: 19, arbitrary: fc.integer({ min: -3 * DAY, max: 4 * 60_000 }) },
      { weight: 1, arbitrary: fc.integer({ min: -60 * DAY, max: -3 * DAY }) },
    ),
    fc.integer({ min: 0, max: 4 }),
    fc.constantFrom(0, 60, 330, 345, -300, -570, 840, -720),
  )
  .map(
    ([offset, form, zoneMin]) =>
      (now: number) =>
        rfc3339(now + offset, form, zoneMin),
  );

// ─── valid events (events.md) ────────────────────────────────────────────────────────────────────

const v2 =
  (type: string, required: string[], amounts: string[]) =>
  (data: Record<string, unknown>): Base => ({ type, version: "2", data, required, amounts });
const lines = fc.array(fc.record({ item_id: id, quantity, unit_price_minor: fc.integer({ min: 0, max: 200_000 }) }), {
  minLength: 1,
  maxLength: 5,
});

const V2: Array<fc.Arbitrary<Base>> = [
  fc
    .record(
      { session_id: id, url: text(1, 60), referrer: text(0, 40), utm_source: text(0, 20), customer_id: id, ip, user_agent: userAgent },
      { requiredKeys: ["session_id", "url"] },
    )
    .map(v2("page.viewed", ["session_id", "url"], [])),
  fc
    .record({ session_id: id, item_id: id, customer_id: id, ip, user_agent: userAgent }, { requiredKeys: ["session_id", "item_id"] })
    .map(v2("item.viewed", ["session_id", "item_id"], [])),
  fc
    .record({ session_id: id, cart_id: id, item_id: id, quantity, unit_price_minor: minor, currency })
    .map(
      v2(
        "cart.item_added",
        ["session_id", "cart_id", "item_id", "quantity", "unit_price_minor", "currency"],
        ["quantity", "unit_price_minor"],
      ),
    ),
  fc
    .record({ session_id: id, cart_id: id, customer_id: id }, { requiredKeys: ["session_id", "cart_id"] })
    .map(v2("checkout.started", ["session_id", "cart_id"], [])),
  fc
    .record({
      order_id: id,
      customer_id: id,
      channel: token,
      currency,
      lines,
      share: fc.integer({ min: 0, max: 100 }),
      email,
      ip,
      user_agent: userAgent,
      customer_name: text(0, 30),
    })
    .map(({ lines: ls, share, ...rest }) => {
      // total_minor = Σ quantity × unit_price_minor − discount_minor (events.md); the discount a share of the sum
      const sum = ls.reduce((s, l) => s + l.quantity * l.unit_price_minor, 0);
      const discount = Math.floor((sum * share) / 100);
      const data = { ...rest, lines: ls, discount_minor: discount, total_minor: sum - discount };
      return v2(
        "order.completed",
        ["order_id", "customer_id", "channel", "currency", "lines", "total_minor"],
        ["total_minor", "discount_minor"],
      )(data);
    }),
  fc
    .record(
      { order_id: id, refund_id: id, amount_minor: minor, currency, reason: text(0, 40) },
      { requiredKeys: ["order_id", "refund_id", "amount_minor", "currency"] },
    )
    .map(v2("order.refunded", ["order_id", "refund_id", "amount_minor", "currency"], ["amount_minor"])),
  fc.record({ order_id: id }).map(v2("order.fulfilled", ["order_id"], [])),
  fc
    .record({ order_id: id, shipment_id: id, carrier: text(1, 20), promised_in: fc.integer({ min: 0, max: 10 * DAY }) })
    .map(({ promised_in, ...d }) =>
      v2(
        "shipment.dispatched",
        ["order_id", "shipment_id", "carrier"],
        [],
      )({ ...d, promised_by: new Date(Date.now() + promised_in).toISOString() }),
    ),
  fc
    .record({ order_id: id, shipment_id: id, carrier: text(1, 20) })
    .map(v2("shipment.delivered", ["order_id", "shipment_id", "carrier"], [])),
  fc
    .record({ customer_id: id, email, name: text(0, 30), ip, user_agent: userAgent }, { requiredKeys: ["customer_id"] })
    .map(v2("customer.registered", ["customer_id"], [])),
  fc
    .record({
      item_id: id,
      name: text(1, 30),
      category: text(1, 20),
      kind: fc.constantFrom("ticketed_event", "product"),
      currency,
      base: minor,
      low: minor,
      high: minor,
      capacity: fc.integer({ min: 0, max: 100_000 }),
    })
    .map(({ base, low, high, ...d }) =>
      // min ≤ base ≤ max (events.md)
      v2(
        "item.upserted",
        ["item_id", "name", "category", "kind", "currency", "base_price_minor"],
        ["base_price_minor", "capacity"],
      )({
        ...d,
        base_price_minor: base,
        min_price_minor: Math.min(base, low),
        max_price_minor: base + high,
        starts_at: new Date(Date.now() + DAY).toISOString(),
      }),
    ),
  fc
    .record(
      { session_id: id, utm_source: text(1, 20), utm_medium: text(0, 20), utm_campaign: text(0, 20) },
      { requiredKeys: ["session_id", "utm_source"] },
    )
    .map(v2("campaign.touched", ["session_id", "utm_source"], [])),
  fc
    .record({
      daysBack: fc.integer({ min: 1, max: 30 }),
      timezone: zone,
      orders: fc.integer({ min: 0, max: 10_000 }),
      gross_minor: minor,
      currency,
    })
    .map(({ daysBack, ...d }) =>
      v2(
        "reconciliation.expected",
        ["date", "timezone", "orders", "gross_minor", "currency"],
        ["orders", "gross_minor"],
      )({
        ...d,
        date: new Date(Date.now() - daysBack * DAY).toISOString().slice(0, 10),
      }),
    ),
];

/** version 1: decimal major units of 2-digit currencies (cents / 100 is exact); venue_id = the tenant, set per case */
const V1: Array<fc.Arbitrary<Base>> = [
  fc
    .record({
      order_id: id,
      customer_id: id,
      channel: token,
      currency: fc.constantFrom("USD", "EUR"),
      items: fc.array(fc.record({ item_id: id, qty: quantity, cents: fc.integer({ min: 0, max: 99_999 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
    })
    .map(({ items, ...d }) => ({
      type: "order.completed",
      version: "1" as const,
      // total = Σ qty × price, summed in cents so that the decimal is exact
      data: {
        ...d,
        items: items.map((i) => ({ item_id: i.item_id, qty: i.qty, price: i.cents / 100 })),
        total: items.reduce((s, i) => s + i.qty * i.cents, 0) / 100,
      },
      required: ["venue_id", "order_id", "customer_id", "channel", "currency", "total", "items"],
      amounts: ["total"],
    })),
  fc
    .record({ order_id: id, cents: fc.integer({ min: 0, max: 99_999 }), currency: fc.constantFrom("USD", "EUR") })
    .map(({ cents, ...d }) => ({
      type: "order.refunded",
      version: "1" as const,
      data: { ...d, amount: cents / 100 },
      required: ["venue_id", "order_id", "amount", "currency"],
      amounts: ["amount"],
    })),
  fc
    .record({ session: id, url: text(1, 60), ua: userAgent })
    .map((data) => ({ type: "page.viewed", version: "1" as const, data, required: ["venue_id", "session", "url"], amounts: [] })),
  fc
    .record({ customer_id: id, email, full_name: text(0, 30) }, { requiredKeys: ["customer_id"] })
    .map((data) => ({ type: "customer.registered", version: "1" as const, data, required: ["venue_id", "customer_id"], amounts: [] })),
];

// ─── mutations ───────────────────────────────────────────────────────────────────────────────────

/** field: what the mutation changes (a case changes each field at most once, so that mutations never undo each other) */
const m = (field: string, name: string, apply: (e: Env, tenant: string) => void, nats: Expect, more: Partial<Mutation> = {}): Mutation => ({
  field,
  name,
  apply,
  nats,
  ...more,
});
const set = (key: string, v: unknown) => (e: Env) => {
  e[key] = v;
};
const drop = (key: string) => (e: Env) => {
  delete e[key];
};
const anyOf = <T extends unknown[]>(...xs: T): fc.Arbitrary<T[number]> => fc.constantFrom(...xs);
const show = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 24);

/** every string of a JSON value, property names included */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      strings(x, out);
    }
  }
  return out;
}
/** a JSON value with any strings (NUL and lone surrogates included), and whether it holds either */
const extraValue = fc.jsonValue({ maxDepth: 3, stringUnit: "binary" }).map((v) => {
  const all = strings(v);
  return { v, nul: all.some((s) => s.includes("\u0000")), lone: all.some((s) => !s.isWellFormed()) };
});

/** the data object, or a scratch one when an envelope mutation replaced it (the event is invalid_envelope then) */
const dataOf = (e: Env): Record<string, unknown> => (typeof e.data === "object" && e.data !== null && !Array.isArray(e.data) ? e.data : {});

function extra(where: "envelope" | "data", reason: RejectReason) {
  return fc.tuple(token, extraValue).map(([k, { v, nul, lone }]) => {
    const field = where === "data" ? `data.x_${k}` : `x_${k}`;
    const apply = (e: Env) => {
      (where === "data" ? dataOf(e) : e)[`x_${k}`] = v;
    };
    if (nul) return m(field, `extra ${where} field with NUL`, apply, rejected(reason), { http: REFUSED });
    return m(field, lone ? `extra ${where} field with a lone surrogate` : `extra ${where} field`, apply, lone ? rejected(reason) : STORED);
  });
}

const nested = (depth: number) => {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

function envelopeMutations(b: Base): Array<fc.Arbitrary<Mutation>> {
  // a version-1 event read as another version has no tenantid (its tenant is data.venue_id): invalid_envelope first
  const otherVersion: RejectReason[] =
    b.version === "1" ? ["unsupported_schema_version", "invalid_envelope"] : ["unsupported_schema_version"];
  return [
    anyOf("0.3", "1", 1, null, "").map((v) =>
      m("specversion", `specversion ${show(v)}`, set("specversion", v), rejected("invalid_envelope")),
    ),
    anyOf("specversion", "id", "source", "time", "data").map((k) => m(k, `${k} missing`, drop(k), rejected("invalid_envelope"))),
    anyOf("", 42, ["a"], "x".repeat(129)).map((v) => m("id", `id ${show(v)}`, set("id", v), rejected("invalid_envelope"))),
    fc.constant(m("id", "id with NUL", (e) => void (e.id = `${e.id}\u0000`), rejected("invalid_envelope"), { http: REFUSED })),
    fc.constant(m("id", "id with a lone surrogate", (e) => void (e.id = `${e.id}\ud800`), rejected("invalid_envelope"))),
    anyOf("", "has space", 42, "\u0007bell", "/a\tb").map((v) =>
      m("source", `source ${show(v)}`, set("source", v), rejected("invalid_envelope")),
    ),
    token.map((t) => m("type", "unknown type", set("type", `x.${t}`), rejected("unknown_type"))),
    anyOf(7, null, ["order.completed"], "").map((v) => m("type", `type ${show(v)}`, set("type", v), rejected("invalid_envelope"))),
    anyOf(
      "2026-13-01T00:00:00Z",
      "yesterday",
      "",
      "2026-06-01T12:00:00",
      "2026-06-01T25:00:00Z",
      "2026-02-30T00:00:00Z",
      "2026-06-01T12:00:00+25:00",
      "+010000-01-01T00:00:00Z",
      1_780_000_000_000,
      null,
    ).map((v) => m("time", `time ${show(v)}`, set("time", v), rejected("invalid_envelope"))),
    fc
      .integer({ min: 10 * 60_000, max: 400 * DAY })
      .map((ahead) =>
        m("time", "time in the future", (e) => void (e.time = new Date(Date.now() + ahead).toISOString()), rejected("too_far_in_future")),
      ),
    fc
      .integer({ min: 91 * DAY, max: 3650 * DAY })
      .map((back) =>
        m(
          "time",
          "time before the retention window",
          (e) => void (e.time = new Date(Date.now() - back).toISOString()),
          rejected("older_than_retention"),
        ),
      ),
    anyOf("0001-01-01T00:00:00Z", "1970-01-01T00:00:00+14:00").map((v) =>
      m("time", `time ${v}`, set("time", v), rejected("older_than_retention")),
    ),
    fc.constant(m("time", "time 9999-12-31", set("time", "9999-12-31T23:59:59.999Z"), rejected("too_far_in_future"))),
    // RFC 3339 allows a lower-case t and z, a leap second and any number of fraction digits; ISO 8601 a comma and no
    // seconds: the contract does not say which are taken (each an hour ago, so that taken means stored)
    anyOf("lower", "leap", "fraction", "comma", "minutes").map((form) =>
      m(
        "time",
        `time ${form}`,
        (e) => {
          const iso = new Date(Date.now() - 3_600_000).toISOString();
          const forms: Record<string, string> = {
            lower: iso.toLowerCase(),
            leap: "2026-06-30T23:59:60Z",
            fraction: iso.replace(/Z$/, "12345678901234567Z"),
            comma: iso.replace(".", ","),
            minutes: `${iso.slice(0, 16)}Z`,
          };
          e.time = forms[form];
        },
        either("invalid_envelope", "older_than_retention"),
      ),
    ),
    anyOf("3", "0", "2.0", "").map((v) =>
      m("schemaversion", `schemaversion ${show(v)}`, set("schemaversion", v), rejected(...otherVersion)),
    ),
    anyOf(2, null, ["2"]).map((v) => m("schemaversion", `schemaversion ${show(v)}`, set("schemaversion", v), rejected("invalid_envelope"))),
    fc
      .tuple(fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-f]{16}$/))
      .map(([t, p]) =>
        m(
          "traceparent",
          "traceparent",
          set("traceparent", `00-${t}-${p}-01`),
          t === "0".repeat(32) ? rejected("invalid_envelope") : STORED,
        ),
      ),
    anyOf("00-xyz", `ff-${"a".repeat(32)}-${"b".repeat(16)}-01`, `00-${"0".repeat(32)}-${"b".repeat(16)}-01`, 5).map((v) =>
      m("traceparent", `traceparent ${show(v)}`, set("traceparent", v), rejected("invalid_envelope")),
    ),
    anyOf(["subject", 42], ["datacontenttype", {}], ["dataschema", "x".repeat(2049)], ["subject", "s".repeat(1025)]).map(([k, v]) =>
      m(k as string, `${k} of the wrong kind`, set(k as string, v), rejected("invalid_envelope")),
    ),
    anyOf(null, [], "data", 5).map((v) => m("data", `data ${show(v)}`, set("data", v), rejected("invalid_envelope"))),
    extra("envelope", "invalid_envelope"),
    // the subject's tenant token (NATS only): upper case is the same tenant; another or no uuid is a mismatch
    fc.constant(m("(subject)", "subject token in upper case", () => {}, STORED, { subject: (t) => t.toUpperCase() })),
    fc
      .uuid({ version: 4 })
      .map((u) =>
        m("(subject)", "subject token of another tenant", () => {}, rejected("tenant_mismatch"), { http: STORED, subject: () => u }),
      ),
    anyOf("venue-1", "_", "0").map((tok) =>
      m("(subject)", `subject token ${tok}`, () => {}, rejected("tenant_mismatch"), { http: STORED, subject: () => tok }),
    ),
    fc
      .integer({ min: 40, max: 3000 })
      .map((d) => m("x_deep", `envelope ${d} levels deep`, set("x_deep", nested(d)), rejected("invalid_envelope"), { http: REFUSED })),
  ];
}

function tenantMutations(b: Base): Array<fc.Arbitrary<Mutation>> {
  const other = fc.uuid({ version: 4 });
  if (b.version === "2") {
    return [
      fc.constant(m("tenantid", "tenantid missing", drop("tenantid"), rejected("invalid_envelope"))),
      anyOf("not-a-uuid", 42, "", null).map((v) => m("tenantid", `tenantid ${show(v)}`, set("tenantid", v), rejected("invalid_envelope"))),
      other.map((t) => m("tenantid", "tenantid of another tenant", set("tenantid", t), rejected("tenant_mismatch"))),
      fc.constant(m("tenantid", "tenantid in upper case", (e, tenant) => void (e.tenantid = tenant.toUpperCase()), STORED)),
      fc.constant(m("schemaversion", "schemaversion missing (defaults to 2)", drop("schemaversion"), STORED)),
      fc.constant(
        m(
          "schemaversion",
          'schemaversion "1" on version-2 data',
          set("schemaversion", "1"),
          rejected("unsupported_schema_version", "invalid_data"),
        ),
      ),
    ];
  }
  return [
    other.map((t) => m("data.venue_id", "venue_id of another tenant", (e) => void (dataOf(e).venue_id = t), rejected("tenant_mismatch"))),
    anyOf("not-a-uuid", 42).map((v) =>
      m("data.venue_id", `venue_id ${show(v)}`, (e) => void (dataOf(e).venue_id = v), rejected("invalid_data")),
    ),
    fc.constant(m("tenantid", "tenantid equal to venue_id", (e, tenant) => void (e.tenantid = tenant), STORED)),
    other.map((t) => m("tenantid", "tenantid unlike venue_id", set("tenantid", t), rejected("tenant_mismatch"))),
    // read as version 2: v1 customer.registered data happens to be valid v2 data (then only a missing tenantid rejects it)
    fc.constant(
      m(
        "schemaversion",
        "schemaversion missing on version-1 data",
        drop("schemaversion"),
        (b.type === "customer.registered" ? either : rejected)("invalid_envelope", "invalid_data"),
      ),
    ),
  ];
}

function dataMutations(b: Base): Array<fc.Arbitrary<Mutation>> {
  const d = dataOf;
  // the first required string field (every base has one): NUL and lone surrogates go there
  const text0 = b.required.find((k) => typeof b.data[k] === "string" && k !== "venue_id")!;
  const out: Array<fc.Arbitrary<Mutation>> = [
    anyOf(...b.required).map((k) => m(`data.${k}`, `data.${k} missing`, (e) => void delete d(e)[k], rejected("invalid_data"))),
    anyOf(...b.required).map((k) => m(`data.${k}`, `data.${k} null`, (e) => void (d(e)[k] = null), rejected("invalid_data"))),
    extra("data", "invalid_data"),
    fc
      .integer({ min: 40_000, max: 200_000 })
      .map((n) =>
        m("data.x_blob", "a huge value", (e) => void (d(e).x_blob = "ü".repeat(n)), rejected("payload_too_large"), { large: true }),
      ),
    fc
      .integer({ min: 40, max: 3000 })
      .map((n) =>
        m("data.x_deep", `data ${n} levels deep`, (e) => void (d(e).x_deep = nested(n)), rejected("invalid_data"), { http: REFUSED }),
      ),
    fc.constant(m(`data.${text0}`, "NUL in data", (e) => void (d(e)[text0] += "\u0000"), rejected("invalid_data"), { http: REFUSED })),
    anyOf("\ud800", "\udfff", "a\udc00b").map((s) =>
      m(`data.${text0}`, "lone surrogate in data", (e) => void (d(e)[text0] += s), rejected("invalid_data")),
    ),
    anyOf("constructor", "toString", "hasOwnProperty", "valueOf").map((k) =>
      m(`data.${k}`, `data.${k} as a field`, (e) => void (d(e)[k] = { x: 1 }), STORED),
    ),
    fc.constant(m("data.k\udc00", "lone surrogate in a data key", (e) => void (d(e)["k\udc00"] = 1), rejected("invalid_data"))),
    fc.constant(
      m(
        "data.__proto__",
        "__proto__ key in data",
        (e) =>
          void Object.defineProperty(d(e), "__proto__", {
            value: { polluted: true },
            enumerable: true,
            configurable: true,
            writable: true,
          }),
        either("invalid_data"),
      ),
    ),
  ];
  const strs = b.required.filter((k) => typeof b.data[k] === "string" && !["venue_id", "currency", "kind"].includes(k));
  if (strs.length > 0)
    out.push(anyOf(...strs).map((k) => m(`data.${k}`, `data.${k} as a number`, (e) => void (d(e)[k] = 12345), rejected("invalid_data"))));
  const optional = Object.keys(b.data).filter((k) => !b.required.includes(k) && k !== "discount_minor");
  if (optional.length > 0)
    out.push(anyOf(...optional).map((k) => m(`data.${k}`, `optional data.${k} left out`, (e) => void delete d(e)[k], STORED)));
  if (b.amounts.length > 0) {
    const amount = anyOf(...b.amounts);
    const finer = b.version === "2" ? ["with a fraction", 0.5] : ["finer than a cent", 0.001];
    out.push(
      amount.map((k) => m(`data.${k}`, `data.${k} as a string`, (e) => void (d(e)[k] = String(d(e)[k])), rejected("invalid_data"))),
      amount.map((k) => m(`data.${k}`, `data.${k} negative`, (e) => void (d(e)[k] = -1 - Number(d(e)[k])), rejected("invalid_data"))),
      fc
        // biome-ignore lint/correctness/noPrecisionLoss: 2^53 + 1 is the point: a JSON number beyond exact integers
        .tuple(amount, anyOf(2 ** 53, 2 ** 63, 1e308, 9_007_199_254_740_993))
        .map(([k, v]) => m(`data.${k}`, `data.${k} ${v}`, (e) => void (d(e)[k] = v), rejected("invalid_data"))),
      amount.map((k) =>
        m(`data.${k}`, `data.${k} ${finer[0]}`, (e) => void (d(e)[k] = Number(d(e)[k]) + Number(finer[1])), rejected("invalid_data")),
      ),
    );
  }
  if ("currency" in b.data) {
    out.push(
      anyOf("usd", "ABC", "EURO", 978).map((v) =>
        m("data.currency", `currency ${show(v)}`, (e) => void (d(e).currency = v), rejected("invalid_data")),
      ),
    );
  }
  if ("channel" in b.data) {
    out.push(
      anyOf("WEB", "web store", "").map((v) =>
        m("data.channel", `channel ${show(v)}`, (e) => void (d(e).channel = v), rejected("invalid_data")),
      ),
    );
  }
  if (b.type === "order.completed" && b.version === "2") {
    const firstLine = (e: Env) => ((d(e).lines as Array<Record<string, unknown>> | undefined) ?? [{}])[0] ?? {};
    out.push(
      fc.constant(
        m(
          "data.total_minor",
          "total_minor off by one",
          (e) => void (d(e).total_minor = Number(d(e).total_minor) + 1),
          rejected("invalid_data"),
        ),
      ),
      fc.constant(m("data.lines", "no lines", (e) => void (d(e).lines = []), rejected("invalid_data"))),
      // fits a JavaScript safe integer, not the database's integer column; and the total no longer adds up
      fc.constant(
        m("data.lines", "a line quantity past int4", (e) => void (firstLine(e).quantity = 2 ** 31 + 7), rejected("invalid_data")),
      ),
    );
  }
  if (b.type === "cart.item_added") {
    out.push(fc.constant(m("data.quantity", "quantity past int4", (e) => void (d(e).quantity = 2 ** 31 + 7), either("invalid_data"))));
  }
  if (b.type === "reconciliation.expected") {
    out.push(
      anyOf("Mars/Olympus_Mons", "", "UTC+25", "Europe/Berlin\u200b", "x".repeat(65)).map((z) =>
        m("data.timezone", `timezone ${show(z)}`, (e) => void (d(e).timezone = z), rejected("invalid_data")),
      ),
      anyOf("2026-02-30", "2026-13-01", "26-01-01", "2026-01-01T00:00:00Z").map((v) =>
        m("data.date", `date ${v}`, (e) => void (d(e).date = v), rejected("invalid_data")),
      ),
    );
  }
  return out;
}

const built = new Map<string, fc.Arbitrary<Mutation[]>>();
/** 1 to 3 mutations, each on a different field (built once per type, version and set of data fields) */
function mutationsFor(b: Base): fc.Arbitrary<Mutation[]> {
  const key = `${b.type}/${b.version}/${Object.keys(b.data).sort().join(",")}`;
  let arb = built.get(key);
  if (!arb) {
    const one = fc.oneof(...envelopeMutations(b), ...tenantMutations(b), ...dataMutations(b));
    arb = fc.uniqueArray(one, { minLength: 1, maxLength: 3, selector: (mu) => mu.field });
    built.set(key, arb);
  }
  return arb;
}

const enc = new TextEncoder();
/** inserts at the start of the source's value: `"source":"` is in every clean event */
const atSource = (text: string, insert: string) => text.replace('"source":"', `"source":"${insert}`);
const RAW: Array<fc.Arbitrary<Mutation>> = [
  anyOf([0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80]).map((bad) => ({
    field: "(wire)",
    name: `invalid UTF-8 ${bad.map((x) => x.toString(16)).join(" ")}`,
    raw: (text: string) => {
      const [head, tail] = text.split(/(?<="source":")/);
      return new Uint8Array([...enc.encode(head), ...bad, ...enc.encode(tail)]);
    },
    // over HTTP the body is decoded leniently (U+FFFD): the event may well be valid then
    nats: rejected("malformed_json"),
    http: either("malformed_json", "invalid_envelope"),
  })),
  fc.nat().map((k) => ({
    field: "(wire)",
    name: "truncated JSON",
    raw: (text: string) => text.slice(0, k % text.length),
    nats: rejected("malformed_json"),
  })),
  anyOf("}", "x", ",", " {}").map((s) => ({
    field: "(wire)",
    name: `trailing ${JSON.stringify(s)}`,
    raw: (text: string) => text + s,
    nats: rejected("malformed_json"),
  })),
  fc.constant({
    field: "(wire)",
    name: "raw NUL byte",
    raw: (text: string) => atSource(text, "\u0000"),
    nats: rejected("malformed_json"),
    http: REFUSED,
  }),
  fc.constant({
    field: "(wire)",
    name: "raw control character",
    raw: (text: string) => atSource(text, "\u0001"),
    nats: rejected("malformed_json"),
  }),
  fc.constant({ field: "(wire)", name: "byte-order mark", raw: (text: string) => `\ufeff${text}`, nats: either("malformed_json") }),
  anyOf("array", "42", "null", '"text"').map((root) => ({
    field: "(wire)",
    name: `root ${root}`,
    raw: (text: string) => (root === "array" ? `[${text}]` : root),
    nats: rejected("invalid_envelope"),
  })),
  fc.constant({
    field: "(wire)",
    name: "duplicate keys",
    raw: (text: string) => text.replace('"specversion":"1.0"', '"specversion":"0.3","specversion":"1.0"'),
    nats: either("invalid_envelope"),
  }),
];

// ─── cases ─────────────────────────────────────────────────────────────────────────────────────────

const draft = fc.oneof({ weight: 5, arbitrary: fc.oneof(...V2) }, { weight: 1, arbitrary: fc.oneof(...V1) }).chain((b) =>
  fc.record({
    base: fc.constant(b),
    time,
    idFlavor: text(0, 12),
    source: fc.stringMatching(/^\/[A-Za-z0-9._~/-]{0,30}$/),
    tenantPick: fc.nat(),
    // a third clean (with legal but hostile values), the rest with 1 to 3 hostile mutations, 1 in 12 a wire-level one instead
    mutations: fc.oneof(
      { weight: 8, arbitrary: fc.constant([] as Mutation[]) },
      { weight: 15, arbitrary: mutationsFor(b) },
      { weight: 2, arbitrary: fc.oneof(...RAW).map((r) => [r]) },
    ),
  }),
);

/** combines per transport: refused (HTTP) beats rejected beats either beats stored; the reasons are the union */
function combine(expects: Expect[]): Expect {
  if (expects.some((e) => e.expect === "refused")) return REFUSED;
  const reasons = [...new Set(expects.flatMap((e) => ("reasons" in e ? e.reasons : [])))];
  if (expects.some((e) => e.expect === "rejected")) return { expect: "rejected", reasons };
  if (expects.some((e) => e.expect === "either")) return { expect: "either", reasons };
  return STORED;
}

/** a re-sent copy: a stored event becomes a duplicate; anything else happens again */
const again = (e: Expect): Expect => (e.expect === "stored" ? { expect: "duplicate" } : e);

/**
 * `count` hostile cases for the tenants a transport vouches for, reproducible from `seed`. About 1 in 40
 * re-sends an earlier case's exact bytes (a duplicate when it was stored, else the same outcome again).
 */
export function hostileCases(count: number, tenants: string[], seed: number, now = Date.now()): HostileCase[] {
  const drafts = fc.sample(draft, { numRuns: count, seed });
  const picks = fc.sample(fc.nat({ max: 1_000_000 }), { numRuns: count, seed: seed + 1 });
  const cases: HostileCase[] = [];
  drafts.forEach((d, n) => {
    const pick = picks[n]!;
    const earlier = cases[pick % Math.max(cases.length, 1)];
    const definite = (e: Expect) => e.expect !== "either";
    if (pick % 40 === 0 && earlier && earlier.resendOf === undefined && definite(earlier.nats) && definite(earlier.http)) {
      cases.push({
        ...earlier,
        n,
        resendOf: earlier.n,
        mutations: [`resend of #${earlier.n}`],
        nats: again(earlier.nats),
        http: again(earlier.http),
      });
      return;
    }
    const tenant = tenants[d.tenantPick % tenants.length]!;
    const env: Env = {
      specversion: "1.0",
      id: `fz${n}-${d.idFlavor}`,
      source: d.source,
      type: d.base.type,
      time: d.time(now),
      ...(d.base.version === "2" ? { tenantid: tenant } : {}),
      schemaversion: d.base.version,
      data: structuredClone(d.base.data),
    };
    if (d.base.version === "1") env.data.venue_id = tenant;
    for (const mu of d.mutations) mu.apply?.(env, tenant);
    // a data mutation after data was replaced by a non-object changed only a scratch copy: it takes no part
    const replaced = dataOf(env) !== env.data;
    const effective = d.mutations.filter((mu) => !(replaced && mu.field.startsWith("data.")));
    const json = JSON.stringify(env);
    const raw = d.mutations.find((mu) => mu.raw);
    const typeToken = typeof env.type === "string" && /^[a-z]+(\.[a-z_]+)*$/.test(env.type) ? env.type : "unknown";
    const http = combine(effective.map((mu) => mu.http ?? mu.nats));
    cases.push({
      n,
      tenant,
      subject: `${effective.find((mu) => mu.subject)?.subject?.(tenant) ?? tenant}.${typeToken}`,
      wire: raw?.raw ? raw.raw(json) : json,
      id: typeof env.id === "string" ? env.id : null,
      mutations: d.mutations.map((mu) => mu.name),
      nats: combine(effective.map((mu) => mu.nats)),
      http,
      httpAlone: Boolean(raw) || http.expect === "refused" || effective.some((mu) => mu.large),
    });
  });
  return cases;
}

/** the size and seed of a run: PULSE_FUZZ_EVENTS (default 10,000: CI) and PULSE_FUZZ_SEED (default: random, printed) */
export function fuzzSettings(): { events: number; seed: number } {
  const events = Number(process.env.PULSE_FUZZ_EVENTS ?? 10_000);
  const seed = process.env.PULSE_FUZZ_SEED ? Number(process.env.PULSE_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(events) || events < 100) throw new Error("PULSE_FUZZ_EVENTS must be an integer ≥ 100");
  if (!Number.isInteger(seed)) throw new Error("PULSE_FUZZ_SEED must be an integer");
  return { events, seed };
}
