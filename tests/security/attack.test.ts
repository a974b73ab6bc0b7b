/**
 * The attack suite. Every operation is read from the app's own /openapi.json at test time, so routes
 * added later are attacked without anyone editing this file. For each operation:
 *   auth      no token, expired, alg none, wrong signature, wrong role ⇒ 401/403, never data
 *   tenancy   tenants A, B, C seeded through POST /v1/events (B and C hold identical data): B's answers
 *             equal C's (normalised), and never hold a marker of A, also with A's tenant id and object
 *             ids forged into every query/path parameter, tenant-looking headers and body fields
 *   sqli      every string parameter and body field fed SQL-injection payloads ⇒ never 5xx, never A's
 *             data, the schema unchanged afterwards
 *   xss       script payloads stored as item names/categories come back as exact, inert JSON strings
 *             and never reach /docs or /openapi.json
 *   bodies    oversized ⇒ 413, malformed JSON ⇒ 400 problem+json
 *   burst     past the budget ⇒ 429 with Retry-After, and X-Forwarded-For / X-Real-IP do not reset it
 * A summary (operations, probes, failures) is printed at the end; failures must be 0.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SignJWT, UnsecuredJWT } from "jose";
import { createApp } from "../../src/app.ts";
import { ROLES, type ApiRole } from "../../src/http/auth.ts";
import { allowed, operationAccess } from "../../src/http/roles.ts";
import { capturedLogs, getTestDeps, refreshAggregates, TEST_JWT_SECRET, testConfig, token } from "../helpers/deps.ts";
import { envelope, type CloudEvent } from "../helpers/events.ts";

type App = ReturnType<typeof createApp>;
type Schema = Record<string, any>;
interface Param {
  name: string;
  in: "query" | "path" | "header" | "cookie";
  required?: boolean;
  schema: Schema;
}
interface Operation {
  id: string;
  method: string;
  path: string;
  params: Param[];
  body?: { contentType: string; schema: Schema };
  isPublic: boolean;
}

// ---------------------------------------------------------------------------------------------
// bookkeeping

const failures: string[] = [];
let probes = 0;
const covered = new Set<string>();
const seenWithData = new Set<string>(); // operations whose answer to A held A's data
const xssRoundTrips = new Set<string>();
function fail(where: string, why: string) {
  // a 5xx: add the error the app logged for that request
  const id = /"requestId":"([^"]+)"/.exec(why)?.[1];
  const logged = id
    ? capturedLogs
        .filter((l) => l.includes(id) && l.includes('"level":50'))
        .map((l) => /"message":"((?:[^"\\]|\\.)*)"/.exec(l)?.[1] ?? l.slice(0, 300))
    : [];
  failures.push(`${where}: ${why}${logged.length ? `\n      logged: ${logged.join(" | ")}` : ""}`);
}

// ---------------------------------------------------------------------------------------------
// the spec

let app: App;
let spec: Schema;
let ops: Operation[] = [];

function deref(s: Schema | undefined): Schema {
  let cur = s ?? {};
  for (let i = 0; i < 10 && typeof cur.$ref === "string"; i++) {
    const name = cur.$ref.replace("#/components/schemas/", "");
    cur = spec.components?.schemas?.[name] ?? {};
  }
  return cur;
}

function operationsOf(doc: Schema): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<Schema>(doc.paths)) {
    for (const [method, op] of Object.entries<Schema>(item)) {
      const params: Param[] = (op.parameters ?? []).map((p: Schema) => ({ ...p, schema: deref(p.schema) }));
      let body: Operation["body"];
      const content = op.requestBody?.content as Record<string, { schema: Schema }> | undefined;
      if (content) {
        const types = Object.keys(content);
        // the batch form when there is one: a malformed single CloudEvent is a dead letter by design
        const ct = types.find((t) => t.includes("batch")) ?? types.find((t) => t.includes("json")) ?? types[0]!;
        body = { contentType: ct, schema: deref(content[ct]!.schema) };
      }
      const isPublic = !path.startsWith("/v1") || (Array.isArray(op.security) && op.security.length === 0);
      out.push({ id: op.operationId, method: method.toUpperCase(), path, params, body, isPublic });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// tenants and their data

const A = crypto.randomUUID();
const B = crypto.randomUUID();
const C = crypto.randomUUID();
const D = crypto.randomUUID(); // the tenant the injection probes write into
const READER_ROLES: ApiRole[] = ["viewer", "analyst", "pricing_manager", "admin", "ingest"]; // not ops: its cross-tenant read is by design
const XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'] as const;
const tokens: Record<string, string> = {};

/** A's strings: any of them in an answer to B or C is a leak (ids are also forged into B's requests) */
const AM = {
  item: "aleakmark-item-1",
  item2: "aleakmark-item-2",
  name: "Aleakmark Secret Show",
  category: "aleakmark-category",
  channel: "aleakchan",
  customer: "aleakmark-cust-1",
  order: "aleakmark-order-1",
  source: "/aleakmark-source",
  campaign: "aleakmark-campaign",
  carrier: "aleakmark-carrier",
  session: "aleakmark-session-1",
  cart: "aleakmark-cart-1",
  reason: "aleakmark-reason",
};
const A_MARKERS = [...Object.values(AM), "aleakmark", A];
/** every money amount of A is ≥ 5,000,000 minor; every amount of B and C is < 10,000, so any B/C total ≥ 1,000,000 holds A's money */
const A_MONEY_FLOOR = 1_000_000;

const base = Math.floor(Date.now() / 60_000) * 60_000; // a whole minute: B and C get identical times
const at = (minutesAgo: number) => new Date(base - minutesAgo * 60_000 - 17_000).toISOString();

interface Labels {
  item: string;
  item2: string;
  name: string;
  name2: string;
  category: string;
  category2: string;
  channel: string;
  customer: string;
  order: string;
  source: string;
  campaign: string;
  carrier: string;
  session: string;
  cart: string;
  reason: string;
  /** the type of an event that becomes a dead letter (unknown type) */
  deadType: string;
  price: number;
}

function dataset(tenant: string, l: Labels): CloudEvent[] {
  const ev = (type: string, minutesAgo: number, data: Record<string, unknown>, id: string) =>
    envelope(tenant, type, data, { id: `${id}-${l.order}`, time: at(minutesAgo), source: l.source });
  const p = l.price;
  return [
    ev(
      "item.upserted",
      300,
      {
        item_id: l.item,
        name: l.name,
        category: l.category,
        kind: "ticketed_event",
        currency: "EUR",
        base_price_minor: p,
        min_price_minor: p,
        max_price_minor: p * 2,
        capacity: 100,
        starts_at: at(-10_000),
      },
      "item-1",
    ),
    ev(
      "item.upserted",
      299,
      { item_id: l.item2, name: l.name2, category: l.category2, kind: "product", currency: "EUR", base_price_minor: p },
      "item-2",
    ),
    ev(
      "customer.registered",
      290,
      { customer_id: l.customer, email: "alice@example.com", name: "Alice Liddell", ip: "203.0.113.77" },
      "cust",
    ),
    ev(
      "campaign.touched",
      97,
      { session_id: l.session, utm_source: "newsletter", utm_medium: "email", utm_campaign: l.campaign, customer_id: l.customer },
      "camp",
    ),
    ev(
      "page.viewed",
      96,
      {
        session_id: l.session,
        url: "https://shop.example/shows",
        utm_source: "newsletter",
        utm_campaign: l.campaign,
        ip: "203.0.113.77",
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
      },
      "pv-1",
    ),
    ev("item.viewed", 95, { session_id: l.session, item_id: l.item, customer_id: l.customer }, "iv-1"),
    ev(
      "cart.item_added",
      94,
      {
        session_id: l.session,
        cart_id: l.cart,
        item_id: l.item,
        quantity: 2,
        unit_price_minor: p,
        currency: "EUR",
        customer_id: l.customer,
      },
      "cart-1",
    ),
    ev("checkout.started", 93, { session_id: l.session, cart_id: l.cart, customer_id: l.customer }, "co-1"),
    ev(
      "order.completed",
      92,
      {
        order_id: l.order,
        customer_id: l.customer,
        channel: l.channel,
        currency: "EUR",
        lines: [
          { item_id: l.item, quantity: 2, unit_price_minor: p },
          { item_id: l.item2, quantity: 1, unit_price_minor: p },
        ],
        discount_minor: 0,
        total_minor: 3 * p,
        session_id: l.session,
        cart_id: l.cart,
        email: "alice@example.com",
        ip: "203.0.113.77",
      },
      "oc-1",
    ),
    ev(
      "order.completed",
      47,
      {
        order_id: `${l.order}-b`,
        customer_id: l.customer,
        channel: "web",
        currency: "EUR",
        lines: [{ item_id: l.item, quantity: 1, unit_price_minor: p }],
        total_minor: p,
      },
      "oc-2",
    ),
    ev("order.refunded", 46, { order_id: l.order, refund_id: `${l.order}-r`, amount_minor: p, currency: "EUR", reason: l.reason }, "ref-1"),
    ev("order.fulfilled", 45, { order_id: l.order }, "ful-1"),
    ev("shipment.dispatched", 44, { order_id: l.order, shipment_id: `${l.order}-s`, carrier: l.carrier, promised_by: at(-2_000) }, "sd-1"),
    ev("shipment.delivered", 17, { order_id: l.order, shipment_id: `${l.order}-s`, carrier: l.carrier }, "sdl-1"),
    ev(
      "reconciliation.expected",
      26 * 60,
      { date: at(26 * 60).slice(0, 10), timezone: "UTC", orders: 2, gross_minor: 4 * p, currency: "EUR" },
      "rec-1",
    ),
    // a dead letter with labels (an unknown type)
    ev(l.deadType, 43, { item_id: l.item, name: l.name, category: l.category }, "dl-1"),
  ];
}

const A_LABELS: Labels = {
  ...AM,
  name2: "Aleakmark Second Thing",
  category2: "aleakmark-category-2",
  deadType: "aleakmark.unknown",
  price: 5_000_000,
};
const BC_LABELS: Labels = {
  item: "bc-item-1",
  item2: "bc-item-2",
  name: XSS[0],
  name2: XSS[1],
  category: XSS[1],
  category2: XSS[0],
  channel: "box_office",
  customer: "bc-cust-1",
  order: "bc-order-1",
  source: "/bc-source",
  campaign: "bc-campaign",
  carrier: "bc-carrier",
  session: "bc-session-1",
  cart: "bc-cart-1",
  reason: "bc-reason",
  deadType: "bc.unknown",
  price: 1_250,
};

// ---------------------------------------------------------------------------------------------
// requests

const nowS = () => Math.floor(Date.now() / 1000);

async function send(a: App, path: string, init: RequestInit = {}, env?: unknown) {
  probes += 1;
  const res = await a.request(path, init, env as never);
  const type = res.headers.get("content-type") ?? "";
  let text = "";
  if (type.includes("text/event-stream")) {
    // a stream: read until the first complete event (or 1 s), then hang up
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    const deadline = Date.now() + 1_000;
    while (Date.now() < deadline && text.length < 65_536 && !text.includes("\n\n")) {
      const chunk = await Promise.race([reader.read(), Bun.sleep(Math.max(1, deadline - Date.now())).then(() => undefined)]);
      if (!chunk || chunk.done) break;
      text += dec.decode(chunk.value);
    }
    await reader.cancel().catch(() => undefined);
  } else {
    text = await res.text();
  }
  return { res, status: res.status, type, text };
}

const RANGE = { from: new Date(base - 3 * 86_400_000).toISOString(), to: new Date(base + 3_600_000).toISOString() };

/** a plausible value for a schema (enum, example, default, format, name) */
function sample(s: Schema, name = ""): unknown {
  s = deref(s);
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum.find((v: unknown) => v !== null) ?? s.enum[0];
  for (const k of ["anyOf", "oneOf", "allOf"]) {
    if (Array.isArray(s[k])) {
      const pick = s[k].map(deref).find((x: Schema) => x.type !== "null") ?? s[k][0];
      return sample(pick, name);
    }
  }
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== "null") : s.type;
  if (name === "from" || name === "to") return RANGE[name];
  if (type === "integer" || type === "number") return s.default ?? s.example ?? s.minimum ?? 1;
  if (type === "boolean") return s.default ?? true;
  if (type === "array") return [sample(s.items ?? {}, name)];
  if (type === "object" || s.properties) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries<Schema>(s.properties ?? {})) o[k] = sample(v, k);
    return o;
  }
  if (s.format === "date-time") return new Date(base).toISOString();
  if (s.format === "uuid") return crypto.randomUUID();
  if (name === "timezone") return "UTC";
  return s.default ?? s.example ?? "x";
}

function isStringParam(p: Param): boolean {
  const s = p.schema;
  const t = Array.isArray(s.type) ? s.type : [s.type];
  return t.includes("string") || (s.type === undefined && !s.enum);
}

function buildPath(op: Operation, overrides: Record<string, string> = {}): string {
  return op.path.replaceAll(/{([^}]+)}/g, (_, name: string) => {
    const p = op.params.find((x) => x.in === "path" && x.name === name);
    return encodeURIComponent(overrides[name] ?? String(sample(p?.schema ?? {}, name)));
  });
}

function buildQuery(op: Operation, overrides: Record<string, string> = {}, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const p of op.params.filter((x) => x.in === "query")) {
    if (overrides[p.name] !== undefined) q.set(p.name, overrides[p.name]!);
    else if (p.required || p.name === "from" || p.name === "to") q.set(p.name, String(sample(p.schema, p.name)));
  }
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** the request body of an operation for a tenant (ingest: a valid event of that tenant) */
function bodyFor(op: Operation, tenant: string, fill?: (value: string, path: string) => string): string | undefined {
  if (!op.body) return undefined;
  const v =
    op.id === "ingestEvents"
      ? [
          envelope(tenant, "item.upserted", {
            item_id: `probe-${crypto.randomUUID().slice(0, 8)}`,
            name: "probe",
            category: "probe",
            kind: "product",
            currency: "EUR",
            base_price_minor: 100,
          }),
        ]
      : sample(op.body.schema);
  return JSON.stringify(fill ? mapStrings(v, fill) : v);
}

function mapStrings(v: unknown, f: (value: string, path: string) => string, path = ""): any {
  if (typeof v === "string") return f(v, path);
  if (Array.isArray(v)) return v.map((x, i) => mapStrings(x, f, `${path}[${i}]`));
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapStrings(x, f, path ? `${path}.${k}` : k)]));
  return v;
}

function stringPaths(v: unknown, path = ""): string[] {
  if (typeof v === "string") return [path];
  if (Array.isArray(v)) return v.flatMap((x, i) => stringPaths(x, `${path}[${i}]`));
  if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => stringPaths(x, path ? `${path}.${k}` : k));
  return [];
}

function init(op: Operation, bearer: string | undefined, body?: string, headers: Record<string, string> = {}): RequestInit {
  const h: Record<string, string> = { ...headers };
  if (bearer) h.authorization = `Bearer ${bearer}`;
  const b = body ?? (op.body ? bodyFor(op, B) : undefined);
  if (b !== undefined) h["content-type"] = op.body?.contentType ?? "application/json";
  return { method: op.method, headers: h, ...(b !== undefined && op.method !== "GET" ? { body: b } : {}) };
}

// ---------------------------------------------------------------------------------------------
// leak detection

/** A's data in an answer to B/C: a marker (other than the values the request itself carried), or money only A has */
function leakIn(text: string, forged: string[] = []): string | undefined {
  let t = text;
  for (const f of forged) if (f) t = t.split(f).join("").split(JSON.stringify(f).slice(1, -1)).join("");
  for (const m of A_MARKERS) if (t.includes(m)) return `holds A's ${JSON.stringify(m)}`;
  for (const m of t.matchAll(/"([a-z_]*_minor)"\s*:\s*(-?\d+)/g)) {
    if (Math.abs(Number(m[2])) >= A_MONEY_FLOOR) return `holds A-sized money ${m[1]}=${m[2]}`;
  }
  return undefined;
}

const VOLATILE = new Set([
  "requestId",
  "instance",
  "as_of",
  "generated_at",
  "computed_at",
  "id",
  "received_at",
  "next_cursor",
  "stream_sequence",
]);
/** figures derived from the answer's `as_of` (items/performance): equal only when the two answers share it */
const CLOCK_DERIVED = new Set(["days_on_sale", "sell_through_per_day", "time_to_start_seconds"]);
function normalise(v: unknown, tenants: string[], dropClock = false): unknown {
  if (typeof v === "string") {
    let s = v;
    for (const t of tenants) s = s.split(t).join("<tenant>");
    if (/^\d{4}-\d\d-\d\dT/.test(s) && Math.abs(Date.parse(s) - Date.now()) < 10 * 60_000 && Date.parse(s) > base) return "<now>";
    return s;
  }
  if (Array.isArray(v)) return v.map((x) => normalise(x, tenants, dropClock));
  if (v && typeof v === "object") {
    const kept = Object.entries(v).filter(([k]) => !VOLATILE.has(k) && !(dropClock && CLOCK_DERIVED.has(k)));
    return Object.fromEntries(kept.map(([k, x]) => [k, normalise(x, tenants, dropClock)]));
  }
  return v;
}
function parsed(text: string): unknown {
  // server-sent events: the JSON of each data line
  if (/^(event|data|id|retry):/m.test(text) && !text.trimStart().startsWith("{")) {
    return text
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => parsed(l.slice(5).trim()));
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** a 4xx problem+json with nothing but problem fields */
function problemOnly(r: { type: string; text: string }): string | undefined {
  if (!r.type.startsWith("application/problem+json")) return `content-type ${r.type}`;
  const body = parsed(r.text) as Record<string, unknown>;
  const extra = Object.keys(body ?? {}).filter(
    (k) => !["type", "title", "status", "detail", "instance", "requestId", "errors"].includes(k),
  );
  return extra.length > 0 ? `problem has extra fields ${extra.join(",")}` : undefined;
}

// ---------------------------------------------------------------------------------------------

async function post(a: App, tenant: string, events: unknown[]) {
  const r = await send(a, "/v1/events", {
    method: "POST",
    headers: { authorization: `Bearer ${tokens[`ingest:${tenant}`]}`, "content-type": "application/cloudevents-batch+json" },
    body: JSON.stringify(events),
  });
  return { ...r, body: parsed(r.text) as { accepted: number; rejected: Array<{ reason: string }> } };
}

async function schemaFingerprint() {
  const { sql } = await getTestDeps();
  const [t] = await sql`select count(*)::int as tables, string_agg(table_name, ',' order by table_name) as names
                          from information_schema.tables where table_schema = 'public'`;
  const [c] = await sql`select count(*)::int as columns from information_schema.columns where table_schema = 'public'`;
  const [e] = await sql`select count(*)::int as a_events from events where tenant_id = ${A}`;
  return { ...t, ...c, ...e };
}

let fingerprintBefore: Record<string, unknown>;
const baselines = new Map<
  string,
  { A: Awaited<ReturnType<typeof send>>; B: Awaited<ReturnType<typeof send>>; C: Awaited<ReturnType<typeof send>> }
>();

beforeAll(async () => {
  const deps = await getTestDeps();
  // generous budgets for the probes; the burst test builds its own app
  app = createApp({ ...deps, config: testConfig({ RATE_LIMIT_READ_PER_MIN: "1000000", RATE_LIMIT_INGEST_PER_MIN: "1000000" }) });
  spec = (await (await app.request("/openapi.json")).json()) as Schema;
  ops = operationsOf(spec);
  for (const t of [A, B, C, D]) {
    // the same subject in every tenant: B's and C's answers (whoami too) must be identical
    tokens[`read:${t}`] = await token({ tenantId: t, roles: READER_ROLES, sub: "reader" });
    tokens[`ingest:${t}`] = await token({ tenantId: t, roles: ["ingest"], sub: `publisher-${t.slice(0, 8)}` });
  }
  const a = await post(app, A, dataset(A, A_LABELS));
  const b = await post(app, B, dataset(B, BC_LABELS));
  const c = await post(app, C, dataset(C, BC_LABELS));
  for (const [n, r] of [
    ["A", a],
    ["B", b],
    ["C", c],
  ] as const) {
    expect(r.status, `seeding ${n}`).toBe(202);
    expect(r.body.accepted, `seeding ${n}: ${JSON.stringify(r.body.rejected)}`).toBe(15);
  }
  // as the refresh policies would: operations answering from the aggregates see the seeded data
  await refreshAggregates(deps.sql, new Date(base - 4 * 86_400_000), new Date(base + 3_600_000));
  // operations that compute something from the data (a score refresh, …): run each once per tenant,
  // identically, so the reads below see the same derived state in A, B and C
  for (const op of ops.filter((o) => o.method !== "GET" && o.id !== "ingestEvents" && !o.isPublic)) {
    for (const t of [A, B, C]) await send(app, buildPath(op) + buildQuery(op), init(op, tokens[`read:${t}`], bodyFor(op, t)));
  }
  fingerprintBefore = await schemaFingerprint();
}, 60_000);

type Answer = Awaited<ReturnType<typeof send>>;
const norm = (r: Answer, tenants: string[], dropClock = false) =>
  `${r.status} ${JSON.stringify(normalise(parsed(r.text), tenants, dropClock))}`;
const asOfOf = (r: Answer): unknown => {
  const v = parsed(r.text);
  return v && typeof v === "object" && "as_of" in v ? v.as_of : undefined;
};

/**
 * Do two requests give the same answer (normalised)? Asked up to three times, back to back: answers
 * that depend on the clock may move between two requests. Two cached answers computed at different
 * instants keep their own `as_of` until they expire, so retrying does not align them: the figures
 * derived from `as_of` are compared only when both answers share it (the stored figures always are).
 */
async function sameAnswers(
  first: [Answer, Answer],
  again: () => Promise<[Answer, Answer]>,
  tenants: string[],
): Promise<string | undefined> {
  let [x, y] = first;
  for (let attempt = 0; ; attempt++) {
    const dropClock = asOfOf(x) !== asOfOf(y);
    const nx = norm(x, tenants, dropClock);
    const ny = norm(y, tenants, dropClock);
    if (nx === ny) return undefined;
    if (attempt === 2) return `\n      ${nx.slice(0, 1500)}\n      ${ny.slice(0, 1500)}`;
    await Bun.sleep(20);
    [x, y] = await again();
  }
}

afterAll(() => {
  const lines = [
    "",
    "security attack suite",
    `  operations covered:        ${covered.size} of ${ops.length} in /openapi.json`,
    `  operations answering A with A's data (tenancy probes bite): ${seenWithData.size} (${[...seenWithData].join(", ")})`,
    `  operations returning stored XSS as exact JSON strings: ${xssRoundTrips.size} (${[...xssRoundTrips].join(", ")})`,
    `  probes sent:               ${probes}`,
    `  failures:                  ${failures.length}`,
    ...failures.slice(0, 50).map((f) => `    - ${f}`),
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
});

describe("attack suite (operations from /openapi.json)", () => {
  test("the spec lists the operations this suite attacks, each with an operationId", () => {
    expect(ops.length).toBeGreaterThanOrEqual(8);
    for (const op of ops) expect(typeof op.id).toBe("string");
  });

  test("auth: no token, expired, alg none, wrong signature, wrong role ⇒ 401/403 problem+json without data", async () => {
    const before = failures.length;
    const claims = { tenant_id: A, roles: [...ROLES] };
    const expired = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("x")
      .setIssuedAt(nowS() - 7200)
      .setExpirationTime(nowS() - 3600)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const none = new UnsecuredJWT(claims).setSubject("x").setExpirationTime("1h").encode();
    const wrongSig = await token({ tenantId: A, roles: [...ROLES], secret: "another-secret-that-is-long-enough-0123456789" });
    for (const op of ops) {
      covered.add(op.id);
      if (op.isPublic) continue;
      const path = buildPath(op) + buildQuery(op);
      const cases: Array<[string, string | undefined, number]> = [
        ["no token", undefined, 401],
        ["expired", expired, 401],
        ["alg none", none, 401],
        ["wrong signature", wrongSig, 401],
      ];
      const wrongRole = ROLES.find((r) => !allowed(op.id, [r]));
      if (wrongRole) cases.push([`wrong role ${wrongRole}`, await token({ tenantId: A, roles: [wrongRole] }), 403]);
      for (const [name, bearer, status] of cases) {
        const r = await send(app, path, init(op, bearer, bodyFor(op, A)));
        const where = `${op.method} ${op.path} ${name}`;
        if (r.status !== status) fail(where, `status ${r.status}, expected ${status}`);
        const p = problemOnly(r);
        if (p) fail(where, p);
        const leak = leakIn(r.text);
        if (leak) fail(where, leak);
      }
    }
    expect(failures.slice(before)).toEqual([]);
  }, 60_000);

  test("tenancy: B's answers equal C's (same data) and never hold A's data; A's answers do", async () => {
    const before = failures.length;
    for (const op of ops) {
      if (op.isPublic || op.id === "ingestEvents") continue;
      const path = buildPath(op) + buildQuery(op);
      const ra = await send(app, path, init(op, tokens[`read:${A}`]));
      const rb = await send(app, path, init(op, tokens[`read:${B}`]));
      const rc = await send(app, path, init(op, tokens[`read:${C}`]));
      baselines.set(op.id, { A: ra, B: rb, C: rc });
      const where = `${op.method} ${op.path}`;
      for (const [n, r] of [
        ["A", ra],
        ["B", rb],
        ["C", rc],
      ] as const)
        if (r.status >= 500) fail(`${where} as ${n}`, `status ${r.status}`);
      if (leakIn(ra.text.replaceAll(A, ""))) seenWithData.add(op.id);
      for (const [n, r] of [
        ["B", rb],
        ["C", rc],
      ] as const) {
        const leak = leakIn(r.text);
        if (leak) fail(`${where} as ${n}`, leak);
      }
      const differ = await sameAnswers(
        [rb, rc],
        async () => [await send(app, path, init(op, tokens[`read:${B}`])), await send(app, path, init(op, tokens[`read:${C}`]))],
        [B, C],
      );
      if (differ) fail(where, `B and C hold the same data but answer differently (B, then C):${differ}`);
    }
    expect(failures.slice(before)).toEqual([]);
  }, 60_000);

  test("tenancy: A's tenant and object ids forged into every parameter, tenant-looking headers and body fields never reach A's data", async () => {
    const before = failures.length;
    const forgeFor = (name: string): string => {
      const n = name.toLowerCase();
      if (n.includes("tenant")) return A;
      if (n.includes("channel")) return AM.channel;
      if (n.includes("categor")) return AM.category;
      if (n.includes("item")) return AM.item;
      if (n.includes("customer")) return AM.customer;
      if (n.includes("order")) return AM.order;
      if (n.includes("source")) return AM.source;
      if (n.includes("campaign") || n.includes("utm")) return AM.campaign;
      if (n.includes("carrier")) return AM.carrier;
      if (n.includes("session")) return AM.session;
      return A;
    };
    const tenantHeaders = { "x-tenant-id": A, "x-tenant": A, "tenant-id": A, "x-pulse-tenant": A, "x-forwarded-tenant": A };
    for (const op of ops) {
      if (op.isPublic) continue;
      const where = `${op.method} ${op.path}`;
      const check = (r: Awaited<ReturnType<typeof send>>, probe: string, forged: string[]) => {
        if (r.status >= 500) fail(`${where} ${probe}`, `status ${r.status} ${r.text.slice(0, 300)}`);
        const leak = leakIn(r.text, forged);
        if (leak) fail(`${where} ${probe}`, leak);
      };
      if (op.id === "ingestEvents") {
        // B's publisher posts events claiming A: rejected (tenant_mismatch), never stored for A
        const forgedEvents = [
          envelope(A, "page.viewed", { session_id: "forged", url: "https://x.example/" }),
          { ...envelope(B, "page.viewed", { session_id: "forged", url: "https://x.example/" }), tenantid: A },
          {
            specversion: "1.0",
            id: `forged-${crypto.randomUUID()}`,
            source: "/legacy",
            type: "order.completed",
            time: at(30),
            schemaversion: "1",
            data: {
              venue_id: A,
              order_id: "forged",
              customer_id: "c",
              channel: "web",
              currency: "EUR",
              total: 1,
              items: [{ item_id: "i", qty: 1, price: 1 }],
            },
          },
        ];
        const r = await send(app, "/v1/events", init(op, tokens[`ingest:${B}`], JSON.stringify(forgedEvents), tenantHeaders));
        const body = parsed(r.text) as { accepted?: number; rejected?: Array<{ reason: string }> };
        if (r.status !== 202 || body.accepted !== 0 || body.rejected?.some((x) => x.reason !== "tenant_mismatch"))
          fail(`${where} forged tenantid`, `${r.status} ${r.text.slice(0, 200)}`);
        continue;
      }
      // 1. tenant-looking query parameters and headers: ignored, the answer is B's own
      const extraQ = { tenant_id: A, tenantId: A, tenant: A, tenantid: A };
      const forgedPath = buildPath(op) + buildQuery(op, {}, extraQ);
      const ownPath = buildPath(op) + buildQuery(op);
      const own = await send(app, ownPath, init(op, tokens[`read:${B}`]));
      const rq = await send(app, forgedPath, init(op, tokens[`read:${B}`], undefined, tenantHeaders));
      check(rq, "tenant query/headers", [A]);
      if (rq.status < 400) {
        const differ = await sameAnswers(
          [own, rq],
          async () => [
            await send(app, ownPath, init(op, tokens[`read:${B}`])),
            await send(app, forgedPath, init(op, tokens[`read:${B}`], undefined, tenantHeaders)),
          ],
          [A, B],
        );
        if (differ) fail(`${where} tenant query/headers`, `the answer changed with a forged tenant id (own, then forged):${differ}`);
      }
      // 2. each query and path parameter set to A's id of that kind
      for (const p of op.params.filter((x) => x.in === "query" || x.in === "path")) {
        const forged = forgeFor(p.name);
        const path =
          p.in === "path" ? buildPath(op, { [p.name]: forged }) + buildQuery(op) : buildPath(op) + buildQuery(op, { [p.name]: forged });
        check(await send(app, path, init(op, tokens[`read:${B}`])), `${p.in} ${p.name}=A's`, [forged]);
      }
      // 3. body fields
      if (op.body) {
        const forgedBody = bodyFor(op, B, (_v, path) => forgeFor(path));
        check(
          await send(app, buildPath(op) + buildQuery(op), init(op, tokens[`read:${B}`], forgedBody)),
          "body fields=A's",
          Object.values(AM).concat(A),
        );
      }
    }
    expect(failures.slice(before)).toEqual([]);
  }, 60_000);

  const SQLI = [
    "' OR 1=1 --",
    "'; DROP TABLE events; --",
    '" OR ""="',
    "1) OR (1=1",
    "x' UNION SELECT tenant_id::text, null FROM events --",
    "$$; DROP TABLE items; $$",
    "\u02bc OR 1=1 --", // modifier letter apostrophe
    "\uff07 OR \uff11=\uff11 --", // fullwidth apostrophe and digits
    "' OR 1=1 --\u0000",
    "\u0000'; DROP TABLE events; --",
  ];

  test("sqli: payloads in every string parameter and body field ⇒ never 5xx, never A's data, schema intact", async () => {
    const before = failures.length;
    const MAX_PARAMS = 4;
    const MAX_BODY_FIELDS = 8;
    for (const op of ops) {
      const where = `${op.method} ${op.path}`;
      const bearer = op.isPublic ? undefined : op.id === "ingestEvents" ? tokens[`ingest:${D}`] : tokens[`read:${B}`];
      const params = op.params.filter((p) => (p.in === "query" || p.in === "path") && isStringParam(p)).slice(0, MAX_PARAMS);
      for (const p of params) {
        for (const payload of SQLI) {
          const path =
            p.in === "path" ? buildPath(op, { [p.name]: payload }) + buildQuery(op) : buildPath(op) + buildQuery(op, { [p.name]: payload });
          const r = await send(app, path, init(op, bearer, op.body ? bodyFor(op, op.id === "ingestEvents" ? D : B) : undefined));
          if (r.status >= 500) fail(`${where} ${p.name}=${JSON.stringify(payload)}`, `status ${r.status} ${r.text.slice(0, 200)}`);
          const leak = leakIn(r.text, [payload]);
          if (leak) fail(`${where} ${p.name}=${JSON.stringify(payload)}`, leak);
        }
      }
      if (op.body) {
        const tenant = op.id === "ingestEvents" ? D : B;
        const fields = stringPaths(parsed(bodyFor(op, tenant)!)).filter((f) => !/specversion|tenantid|schemaversion|time$/.test(f));
        for (const payload of SQLI) {
          // every string field of the body carries the payload at once, then each one alone (bounded)
          const all = bodyFor(op, tenant, (v, path) => (fields.includes(path) ? payload : v));
          const variants = [
            all,
            ...fields.slice(0, MAX_BODY_FIELDS).map((f) => bodyFor(op, tenant, (v, path) => (path === f ? `${v}${payload}` : v))),
          ];
          for (const body of variants) {
            const r = await send(app, buildPath(op) + buildQuery(op), init(op, bearer, body));
            if (r.status >= 500) fail(`${where} body=${JSON.stringify(payload)}`, `status ${r.status} ${r.text.slice(0, 200)}`);
            const leak = leakIn(r.text, [payload]);
            if (leak) fail(`${where} body=${JSON.stringify(payload)}`, leak);
          }
        }
      }
    }
    const after = await schemaFingerprint();
    if (JSON.stringify(after) !== JSON.stringify(fingerprintBefore))
      fail("schema", `changed: ${JSON.stringify(fingerprintBefore)} → ${JSON.stringify(after)}`);
    // payloads are stored as data, verbatim
    const { sql } = await getTestDeps();
    const names = await sql`select name from items where tenant_id = ${D} and name like ${"%DROP TABLE%"}`;
    if (names.length === 0) fail("sqli", "no payload was stored verbatim as an item name (the probes did not reach storage)");
    expect(failures.slice(before)).toEqual([]);
  }, 90_000);

  test("xss: stored names and categories come back as exact, inert JSON strings; /docs and /openapi.json never carry them", async () => {
    const before = failures.length;
    const { sql } = await getTestDeps();
    const stored = await sql`select name, category from items where tenant_id = ${B} order by item_id`;
    expect(stored.map((r) => [r.name, r.category])).toEqual([
      [XSS[0], XSS[1]],
      [XSS[1], XSS[0]],
    ]);
    const strings = (v: unknown): string[] =>
      typeof v === "string"
        ? [v]
        : Array.isArray(v)
          ? v.flatMap(strings)
          : v && typeof v === "object"
            ? Object.values(v).flatMap(strings)
            : [];
    for (const op of ops) {
      const b = baselines.get(op.id)?.B;
      if (!b) continue;
      if (!XSS.some((x) => b.text.includes(x) || b.text.includes(x.replaceAll('"', '\\"')))) continue;
      const where = `${op.method} ${op.path}`;
      if (!/^application\/([a-z.+-]*\+)?json/.test(b.type)) {
        fail(where, `returns a stored script payload as ${b.type}`);
        continue;
      }
      if (b.res.headers.get("x-content-type-options") !== "nosniff") fail(where, "no nosniff");
      const values = strings(parsed(b.text));
      if (XSS.some((x) => values.some((v) => v.includes(x)))) xssRoundTrips.add(op.id);
      for (const v of values) {
        if ((v.includes("<script") || v.includes("onerror")) && !XSS.some((x) => v.includes(x)))
          fail(where, `an altered payload came back: ${JSON.stringify(v)}`);
      }
    }
    if (xssRoundTrips.size === 0) fail("xss", "no operation returned the stored names (nothing was checked)");
    for (const path of ["/docs", "/openapi.json"]) {
      const r = await send(app, path);
      for (const x of XSS) if (r.text.includes(x) || r.text.includes("onerror=alert")) fail(path, `carries ${x}`);
    }
    expect(failures.slice(before)).toEqual([]);
  }, 30_000);

  test("bodies: oversized ⇒ 413 and malformed JSON ⇒ 400 problem+json, for every operation that takes a body", async () => {
    const before = failures.length;
    const cfg = testConfig();
    let withBody = 0;
    for (const op of ops.filter((o) => o.body)) {
      withBody += 1;
      const where = `${op.method} ${op.path}`;
      const bearer = op.isPublic ? undefined : op.id === "ingestEvents" ? tokens[`ingest:${D}`] : tokens[`read:${B}`];
      const limit = op.id === "ingestEvents" ? cfg.bodyLimitBytes : cfg.security.bodyLimitSmallBytes;
      const big = await send(app, buildPath(op) + buildQuery(op), init(op, bearer, " ".repeat(limit + 1)));
      if (big.status !== 413) fail(`${where} oversized`, `status ${big.status}`);
      const bigProblem = problemOnly(big);
      if (bigProblem) fail(`${where} oversized`, bigProblem);
      for (const bad of ['{"a":', "[{,]", "\u00ff\u00fe", "{'single': 'quotes'}"]) {
        const r = await send(app, buildPath(op) + buildQuery(op), init(op, bearer, bad));
        if (r.status !== 400) fail(`${where} malformed ${JSON.stringify(bad)}`, `status ${r.status}`);
        const p = problemOnly(r);
        if (p) fail(`${where} malformed`, p);
      }
    }
    expect(withBody).toBeGreaterThanOrEqual(1);
    expect(failures.slice(before)).toEqual([]);
  }, 30_000);

  test("burst: past the budget every operation answers 429 with Retry-After, and forwarding headers do not reset it", async () => {
    const before = failures.length;
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 5_000) await Bun.sleep(left + 50); // fixed one-minute windows: do not straddle one
    const BUDGET = 2;
    const limited = createApp({
      ...(await getTestDeps()),
      config: testConfig({
        RATE_LIMIT_READ_PER_MIN: String(BUDGET),
        RATE_LIMIT_EXPORT_PER_MIN: String(BUDGET),
        RATE_LIMIT_INGEST_PER_MIN: String(BUDGET),
        RATE_LIMIT_PUBLIC_PER_MIN: String(BUDGET),
      }),
    });
    for (const op of ops) {
      const where = `${op.method} ${op.path}`;
      const access = operationAccess(op.id);
      const role = access && access.roles !== "public" ? access.roles[0]! : undefined;
      const bearer = role ? await token({ tenantId: D, roles: [role], sub: `burst-${op.id}` }) : undefined;
      // public operations are limited per client IP: one address per operation
      const ip = { requestIP: () => ({ address: `198.51.100.${(ops.indexOf(op) % 250) + 1}`, family: "IPv4", port: 1 }) };
      const path = buildPath(op) + buildQuery(op);
      const body = op.body ? bodyFor(op, D) : undefined;
      for (let i = 0; i < BUDGET; i++) {
        const r = await send(limited, path, init(op, bearer, body), ip);
        if (r.status === 429) fail(`${where} request ${i + 1}`, "limited before the budget was spent");
        if (!r.res.headers.get("ratelimit-limit")) fail(`${where} request ${i + 1}`, "no RateLimit-Limit header");
      }
      const over = await send(limited, path, init(op, bearer, body), ip);
      if (over.status !== 429) fail(`${where} past the budget`, `status ${over.status}`);
      const retry = Number(over.res.headers.get("retry-after"));
      if (!(retry >= 1 && retry <= 60)) fail(`${where} past the budget`, `Retry-After ${over.res.headers.get("retry-after")}`);
      if (over.res.headers.get("ratelimit-remaining") !== "0") fail(`${where} past the budget`, "RateLimit-Remaining is not 0");
      const p = problemOnly(over);
      if (p) fail(`${where} past the budget`, p);
      const tricks: Array<Record<string, string>> = [
        { "x-forwarded-for": "203.0.113.1" },
        { "x-real-ip": "203.0.113.2" },
        { "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1" },
      ];
      for (const h of tricks) {
        const r = await send(limited, path, init(op, bearer, body, h), ip);
        if (r.status !== 429) fail(`${where} with ${JSON.stringify(h)}`, `status ${r.status}: the header reset the budget`);
      }
    }
    expect(failures.slice(before)).toEqual([]);
  }, 60_000);

  test("summary: no failures across all probes", () => {
    expect(covered.size).toBe(ops.length);
    expect(probes).toBeGreaterThan(ops.length * 5);
    expect(failures).toEqual([]);
  });
});
