/**
 * Ingest benchmark: NATS JetStream → IngestConsumer → pipeline → a fresh embedded TimescaleDB.
 *
 *   bun run bench:ingest [--events N] [--batch-size B]
 *   (N default 200,000; B = INGEST_BATCH_SIZE, default 500; NATS_URL defaults to nats://127.0.0.1:4222)
 *
 * What it does, in one run:
 *   1. builds N realistic mixed events for 20 tenants (pre-serialised): 1 % duplicates (the same bytes
 *      republished with a DIFFERENT Nats-Msg-Id, so JetStream's duplicate window keeps them and the
 *      pipeline must catch them) and 0.5 % invalid (bad total, unknown type, malformed JSON bytes,
 *      tenant mismatch, round-robin);
 *   2. ceiling (a) publish only: js.publish of the N messages to a throwaway stream, acks awaited in
 *      windows of 1000;
 *   3. ceiling (b) consume+ack only: a throwaway durable pull consumer on that stream acks everything;
 *   4. end to end: the worker (IngestConsumer + the pipeline of buildIngest) runs against its own
 *      embedded engine (temp data dir, migrated); the N messages are published to the bench's own
 *      stream while it runs; the clock stops when every message is handled and the stored and
 *      dead-lettered counts reach the expected numbers (polled cheaply from ingest_counters, written in
 *      the batch's own statement, on the SAME one-connection sql client the pipeline uses); the final
 *      check is an exact `count(*)` of events and dead_letter_events;
 *   5. (c) drain: N more messages (fresh ids, same mix) published while no worker runs, then drained by
 *      a new consumer: the worker and the engine alone on the 2 cores (in production the publishers
 *      run elsewhere); counts checked exactly again;
 *   6. prints the table, peak RSS (bench process, embedded engine child) and where the time went.
 * Exit code 1 when the stored / dead-lettered counts are not exactly the expected ones.
 * Stream, subject prefix and consumer names are unique per run; everything is deleted at the end.
 *
 * If the embedded engine dies during the run the bench says so and exits 1 instead of waiting. It also prints the consumer's effective ack_wait and how many messages
 * were processed more than once (a redelivered invalid event is dead-lettered twice: exit 1).
 * The time breakdown comes from bench-only wrappers (sql proxy, pipeline.process, the privacy step,
 * dead-letter publishes, metric updates); event-loop waits show up in whatever was being awaited.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AckPolicy, DeliverPolicy, DiscardPolicy, type JetStreamClient, nanos, RetentionPolicy, StorageType } from "nats";
import { loadConfig } from "../../src/config.ts";
import { createSql, type Sql } from "../../src/db/client.ts";
import { EmbeddedEngine } from "../../src/db/embedded/manager.ts";
import { migrate, migrateSettings } from "../../src/db/migrate.ts";
import { buildIngest } from "../../src/deps.ts";
import { IngestConsumer } from "../../src/ingest/consumer.ts";
import type { IngestPipeline, Privacy } from "../../src/ingest/pipeline.ts";
import type { ValidEvent } from "../../src/ingest/types.ts";
import { validateEvent } from "../../src/ingest/validate.ts";
import { createLogger } from "../../src/logger.ts";
import { createMetrics, type Metrics } from "../../src/metrics/metrics.ts";
import { closeNats, connectNats, type NatsHandle } from "../../src/nats/connection.ts";
import { engineChildPid, procCpuSeconds, procStatusKb } from "./proc.ts";

// ─── arguments, configuration ───────────────────────────────────────────────────────────────────────

const { values: args } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    events: { type: "string", default: "200000" },
    "batch-size": { type: "string", default: "500" },
  },
  strict: true,
});
const N = Number(args.events);
if (!Number.isInteger(N) || N < 1_000) {
  console.error("--events must be an integer ≥ 1000");
  process.exit(2);
}

const BATCH = Number(args["batch-size"]);
if (!Number.isInteger(BATCH) || BATCH < 1 || BATCH > 10_000) {
  console.error("--batch-size must be an integer from 1 to 10000");
  process.exit(2);
}

const TENANTS = 20;
const DUPLICATES = Math.round(N * 0.01);
const INVALID = Math.round(N * 0.005);
const ORIGINALS = N - DUPLICATES;
const EXPECTED_STORED = ORIGINALS - INVALID;
const EXPECTED_DEAD = INVALID;
const PUBLISH_WINDOW = 1_000;
/** the clock stops at the first poll that sees the expected counts; give up after this long without progress */
const STALL_MS = 120_000;

const runId = `${Date.now().toString(36)}${crypto.randomUUID().slice(0, 4)}`;
const dataDir = mkdtempSync(join(tmpdir(), "pulse-bench-"));
const env: Record<string, string> = {
  NODE_ENV: "test",
  LOG_LEVEL: "warn",
  NATS_URL: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  NATS_STREAM: `PULSE_BENCH_${runId.toUpperCase()}`,
  NATS_SUBJECT_PREFIX: `bench_${runId}`,
  NATS_CONSUMER: `pulse-bench-${runId}`,
  EMBEDDED_DATA_DIR: join(dataDir, "timescaledb"),
  EMBEDDED_PORT: "0",
  DB_POOL_MAX: "1",
  INGEST_BATCH_SIZE: String(BATCH),
  INGEST_FLUSH_MS: "200",
  TIMESCALE_JOBS: "service",
};
const config = loadConfig(env);
const logger = createLogger({ level: "warn", format: "pretty" });
const RAW_STREAM = `${config.nats.stream}_RAW`;
const RAW_PREFIX = `${config.nats.subjectPrefix}_raw`;

// ─── memory sampling ────────────────────────────────────────────────────────────────────────────────

let peakRss = process.memoryUsage().rss;
/** the phase running now, and the peak RSS of the bench process per phase */
let phase = "setup";
const phasePeaks = new Map<string, number>();
const rssTimer = setInterval(() => {
  const r = process.memoryUsage().rss;
  if (r > peakRss) peakRss = r;
  if (r > (phasePeaks.get(phase) ?? 0)) phasePeaks.set(phase, r);
}, 100);

const mb = (kb: number | null) => (kb === null ? "n/a" : `${(kb / 1024).toFixed(0)} MB`);

// ─── events ─────────────────────────────────────────────────────────────────────────────────────────

interface BenchMsg {
  /** "<tenantid>.<type>": the subject without the prefix */
  suffix: string;
  data: Uint8Array;
  msgId: string;
}

/** deterministic PRNG (mulberry32) so runs of the same N publish the same mix */
let seed = 0x5eed_1234;
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const chance = (p: number) => rand() < p;
const hex = (n: number) => {
  let s = "";
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
};

const USER_AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
  "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
];
const FIRST = ["Alice", "Bob", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Ingrid", "José", "Kemal", "Lena"];
const LAST = ["Liddell", "Builder", "Martin", "Ivanov", "Schmidt", "Haddad", "Hopper", "Tanaka", "Berg", "García", "Yılmaz", "Novak"];
const UTM = [
  { utm_source: "newsletter", utm_medium: "email", utm_campaign: "spring-sale" },
  { utm_source: "google", utm_medium: "cpc", utm_campaign: "brand" },
  { utm_source: "facebook", utm_medium: "social", utm_campaign: "retargeting" },
  { utm_source: "partner-site", utm_medium: "referral", utm_campaign: "affiliates" },
];
const PATHS = ["/", "/shows", "/shows/late-night", "/shop", "/shop/merch", "/cart", "/checkout", "/account", "/faq", "/search?q=tickets"];
const CHANNELS = ["web", "web", "web", "mobile", "mobile", "box_office", "partner"];
const CARRIERS = ["dhl", "ups", "dpd", "postnl", "royal_mail"];
const CURRENCIES = ["EUR", "EUR", "USD", "GBP", "JPY", "EUR", "USD", "CHF"];
const EXPONENT: Record<string, number> = { EUR: 2, USD: 2, GBP: 2, CHF: 2, JPY: 0 };
const ZONES = ["Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo", "Europe/Zurich"];

interface Session {
  id: string;
  ip: string;
  ua: string;
  customer: string | undefined;
  cart: string;
}
interface Item {
  id: string;
  name: string;
  category: string;
  kind: "ticketed_event" | "product";
  price: number;
}
interface Tenant {
  id: string;
  host: string;
  currency: string;
  legacy: boolean;
  items: Item[];
  sessions: Session[];
  customers: number;
  orders: string[];
  weight: number;
}

function randomIp(): string {
  if (chance(0.15)) return `2001:db8:${hex(4)}:${hex(4)}::${hex(3)}`;
  return `${randInt(1, 223)}.${randInt(0, 255)}.${randInt(0, 255)}.${randInt(1, 254)}`;
}

function newSession(t: Tenant): Session {
  return {
    id: `s-${hex(12)}`,
    ip: randomIp(),
    ua: pick(USER_AGENTS),
    customer: chance(0.3) ? `c-${randInt(1, Math.max(1, t.customers))}` : undefined,
    cart: `cart-${hex(10)}`,
  };
}

function makeTenant(i: number): Tenant {
  const currency = CURRENCIES[i % CURRENCIES.length]!;
  const minor = (major: number) => Math.round(major * 10 ** EXPONENT[currency]!);
  const items: Item[] = [];
  for (let k = 0; k < 60; k++) {
    const ticket = k % 3 !== 0;
    items.push({
      id: ticket ? `show-${i}-${k}` : `sku-${i}-${k}`,
      name: ticket ? `Concert night ${k}` : `Tour shirt ${k}`,
      category: ticket ? "concert" : "merch",
      kind: ticket ? "ticketed_event" : "product",
      price: currency === "JPY" ? randInt(15, 90) * 100 : minor(randInt(10, 90) + pick([0, 0.5, 0.99])),
    });
  }
  const t: Tenant = {
    id: crypto.randomUUID(),
    host: `venue-${i}.example`,
    currency,
    legacy: currency === "EUR" || currency === "USD",
    items,
    sessions: [],
    customers: 2_000,
    orders: [],
    weight: 1 / (i + 1) ** 0.8, // a few big venues, a long tail
  };
  for (let s = 0; s < 400; s++) t.sessions.push(newSession(t));
  return t;
}

const tenants = Array.from({ length: TENANTS }, (_, i) => makeTenant(i));
const totalWeight = tenants.reduce((s, t) => s + t.weight, 0);
function pickTenant(): Tenant {
  let r = rand() * totalWeight;
  for (const t of tenants) {
    r -= t.weight;
    if (r <= 0) return t;
  }
  return tenants[tenants.length - 1]!;
}

function pickSession(t: Tenant): Session {
  const i = Math.floor(rand() * t.sessions.length);
  if (chance(0.01)) t.sessions[i] = newSession(t); // visitors come and go
  return t.sessions[i]!;
}

function recentOrder(t: Tenant): string {
  return t.orders.length > 0 ? t.orders[Math.floor(rand() * Math.min(t.orders.length, 500))]! : `o-${hex(10)}`;
}

type Built = { type: string; source: string; version: "1" | "2"; data: Record<string, unknown> };

/** [weight, builder] per kind of event */
const KINDS: Array<[number, (t: Tenant) => Built]> = [
  [33, (t) => {
    const s = pickSession(t);
    const utm = chance(0.15) ? pick(UTM) : {};
    return {
      type: "page.viewed",
      source: "/web-tracker",
      version: "2",
      data: {
        session_id: s.id,
        url: `https://${t.host}${pick(PATHS)}`,
        ...(chance(0.4) ? { referrer: pick(["https://www.google.com/", "https://duckduckgo.com/", `https://${t.host}/`]) } : {}),
        ...utm,
        ...(s.customer ? { customer_id: s.customer } : {}),
        ip: s.ip,
        user_agent: s.ua,
      },
    };
  }],
  [20, (t) => {
    const s = pickSession(t);
    return {
      type: "item.viewed",
      source: "/web-tracker",
      version: "2",
      data: { session_id: s.id, item_id: pick(t.items).id, ...(s.customer ? { customer_id: s.customer } : {}), ip: s.ip, user_agent: s.ua },
    };
  }],
  [3, (t) => {
    const s = pickSession(t);
    return { type: "campaign.touched", source: "/web-tracker", version: "2", data: { session_id: s.id, ...pick(UTM), ...(s.customer ? { customer_id: s.customer } : {}) } };
  }],
  [12, (t) => {
    const s = pickSession(t);
    const item = pick(t.items);
    return {
      type: "cart.item_added",
      source: "/cart-service",
      version: "2",
      data: { session_id: s.id, cart_id: s.cart, item_id: item.id, quantity: randInt(1, 4), unit_price_minor: item.price, currency: t.currency, ...(s.customer ? { customer_id: s.customer } : {}) },
    };
  }],
  [6, (t) => {
    const s = pickSession(t);
    return { type: "checkout.started", source: "/cart-service", version: "2", data: { session_id: s.id, cart_id: s.cart, ...(s.customer ? { customer_id: s.customer } : {}) } };
  }],
  [9, (t) => {
    const s = pickSession(t);
    const lines = Array.from({ length: randInt(1, 4) }, () => {
      const item = pick(t.items);
      return { item_id: item.id, quantity: randInt(1, 4), unit_price_minor: item.price };
    });
    const gross = lines.reduce((sum, l) => sum + l.quantity * l.unit_price_minor, 0);
    const discount = chance(0.2) ? Math.floor(gross * pick([0.05, 0.1, 0.15])) : 0;
    const orderId = `o-${hex(12)}`;
    t.orders.unshift(orderId);
    if (t.orders.length > 1_000) t.orders.length = 1_000;
    const first = pick(FIRST);
    const last = pick(LAST);
    return {
      type: "order.completed",
      source: "/orders-service",
      version: "2",
      data: {
        order_id: orderId,
        customer_id: s.customer ?? `c-${randInt(1, t.customers)}`,
        channel: pick(CHANNELS),
        currency: t.currency,
        lines,
        ...(discount > 0 ? { discount_minor: discount } : {}),
        total_minor: gross - discount,
        session_id: s.id,
        cart_id: s.cart,
        email: `${first}.${last}${randInt(1, 999)}@mail.example`.toLowerCase(),
        customer_name: `${first} ${last}`,
        ip: s.ip,
        user_agent: s.ua,
      },
    };
  }],
  [1, (t) => ({
    type: "order.refunded",
    source: "/payments-service",
    version: "2",
    data: { order_id: recentOrder(t), refund_id: `r-${hex(10)}`, amount_minor: pick(t.items).price, currency: t.currency, reason: pick(["customer_request", "event_cancelled", "duplicate_charge"]) },
  })],
  [4, (t) => ({ type: "order.fulfilled", source: "/fulfilment-service", version: "2", data: { order_id: recentOrder(t) } })],
  [3, (t) => ({
    type: "shipment.dispatched",
    source: "/fulfilment-service",
    version: "2",
    data: { order_id: recentOrder(t), shipment_id: `sh-${hex(10)}`, carrier: pick(CARRIERS), promised_by: new Date(Date.now() + randInt(1, 5) * 86_400_000).toISOString() },
  })],
  [3, (t) => ({ type: "shipment.delivered", source: "/fulfilment-service", version: "2", data: { order_id: recentOrder(t), shipment_id: `sh-${hex(10)}`, carrier: pick(CARRIERS) } })],
  [2, (t) => {
    t.customers += 1; // a customer registers once (unique id)
    const first = pick(FIRST);
    const last = pick(LAST);
    return {
      type: "customer.registered",
      source: "/crm-service",
      version: "2",
      data: { customer_id: `c-${t.customers}-${hex(6)}`, email: `${first}.${last}@Mail.Example`, name: `${first} ${last}`, ip: randomIp(), user_agent: pick(USER_AGENTS) },
    };
  }],
  [1, (t) => {
    const item = pick(t.items);
    item.price += chance(0.5) ? 100 : 0; // prices move
    return {
      type: "item.upserted",
      source: "/catalog-service",
      version: "2",
      data: {
        item_id: item.id,
        name: item.name,
        category: item.category,
        kind: item.kind,
        currency: t.currency,
        base_price_minor: item.price,
        min_price_minor: Math.floor(item.price * 0.8),
        max_price_minor: item.price * 2,
        ...(item.kind === "ticketed_event" ? { capacity: randInt(100, 2_000), starts_at: new Date(Date.now() + randInt(1, 90) * 86_400_000).toISOString() } : {}),
      },
    };
  }],
  [0.2, (t) => ({
    type: "reconciliation.expected",
    source: "/finance-export",
    version: "2",
    data: { date: new Date(Date.now() - 86_400_000).toISOString().slice(0, 10), timezone: pick(ZONES), orders: randInt(50, 5_000), gross_minor: randInt(100_000, 9_000_000), currency: t.currency },
  })],
  // legacy (schemaversion 1) publishers: the box office and an old tracker, upcast on ingest
  [1.5, (t) => {
    if (!t.legacy) return KINDS[0]![1](t);
    const items = Array.from({ length: randInt(1, 3) }, () => {
      const item = pick(t.items);
      return { item_id: item.id, qty: randInt(1, 3), price: item.price / 100 };
    });
    const totalMinor = items.reduce((s, i) => s + i.qty * Math.round(i.price * 100), 0);
    return {
      type: "order.completed",
      source: "/legacy-box-office",
      version: "1",
      data: { venue_id: t.id, order_id: `bo-${hex(10)}`, customer_id: `c-${randInt(1, 2_000)}`, channel: "box_office", currency: t.currency, total: totalMinor / 100, items },
    };
  }],
  [1.5, (t) => {
    if (!t.legacy) return KINDS[0]![1](t);
    const s = pickSession(t);
    return {
      type: "page.viewed",
      source: "/legacy-tracker",
      version: "1",
      data: { venue_id: t.id, session: s.id, url: `https://${t.host}${pick(PATHS)}`, ip: s.ip, ua: s.ua },
    };
  }],
];
const kindsWeight = KINDS.reduce((s, [w]) => s + w, 0);
function pickKind(): (t: Tenant) => Built {
  let r = rand() * kindsWeight;
  for (const [w, build] of KINDS) {
    r -= w;
    if (r <= 0) return build;
  }
  return KINDS[0]![1];
}

const encoder = new TextEncoder();
const SPREAD_MS = 3 * 3_600_000;

function envelopeOf(t: Tenant, b: Built, id: string, time: Date): Record<string, unknown> {
  return {
    specversion: "1.0",
    id,
    source: b.source,
    type: b.type,
    time: time.toISOString(),
    ...(b.version === "2" ? { tenantid: t.id } : {}),
    schemaversion: b.version,
    ...(chance(0.3) ? { traceparent: `00-${hex(32)}-${hex(16)}-01` } : {}),
    datacontenttype: "application/json",
    data: b.data,
  };
}

type InvalidKind = "invalid_data" | "unknown_type" | "malformed_json" | "tenant_mismatch";
const INVALID_KINDS: InvalidKind[] = ["invalid_data", "unknown_type", "malformed_json", "tenant_mismatch"];

function buildEvents(): { msgs: BenchMsg[]; invalidByReason: Record<string, number> } {
  const started = Date.now();
  // which originals are invalid: evenly spread with jitter
  const invalidAt = new Map<number, InvalidKind>();
  const step = ORIGINALS / INVALID;
  for (let k = 0; k < INVALID; k++) {
    let i = Math.min(ORIGINALS - 1, Math.floor(k * step + rand() * step));
    while (invalidAt.has(i)) i = (i + 1) % ORIGINALS;
    invalidAt.set(i, INVALID_KINDS[k % INVALID_KINDS.length]!);
  }
  const invalidByReason: Record<string, number> = {};
  const originals: BenchMsg[] = [];
  for (let i = 0; i < ORIGINALS; i++) {
    const t = pickTenant();
    // roughly chronological over the last 3 hours, with jitter (some arrive out of order)
    const ms = Math.min(started - 1_000, started - SPREAD_MS + (i / ORIGINALS) * SPREAD_MS - rand() * 120_000);
    const id = `${t.id.slice(0, 8)}-${hex(20)}-${i}`;
    const bad = invalidAt.get(i);
    if (bad === undefined) {
      const b = pickKind()(t);
      originals.push({ suffix: `${t.id}.${b.type}`, data: encoder.encode(JSON.stringify(envelopeOf(t, b, id, new Date(ms)))), msgId: id });
      continue;
    }
    invalidByReason[bad] = (invalidByReason[bad] ?? 0) + 1;
    const order = KINDS[5]![1](t); // an order.completed (with PII) as the base of every invalid kind
    switch (bad) {
      case "invalid_data": {
        const d = order.data as { total_minor: number };
        d.total_minor += 1; // bad total
        originals.push({ suffix: `${t.id}.${order.type}`, data: encoder.encode(JSON.stringify(envelopeOf(t, order, id, new Date(ms)))), msgId: id });
        break;
      }
      case "unknown_type": {
        const b: Built = { type: "wishlist.item_added", source: "/web-tracker", version: "2", data: { session_id: `s-${hex(8)}`, item_id: pick(t.items).id } };
        originals.push({ suffix: `${t.id}.${b.type}`, data: encoder.encode(JSON.stringify(envelopeOf(t, b, id, new Date(ms)))), msgId: id });
        break;
      }
      case "malformed_json": {
        // a publisher that cut its buffer short: truncated JSON (with e-mail and IP in the excerpt)
        const text = JSON.stringify(envelopeOf(t, order, id, new Date(ms)));
        originals.push({ suffix: `${t.id}.${order.type}`, data: encoder.encode(text.slice(0, Math.floor(text.length * 0.8))), msgId: id });
        break;
      }
      case "tenant_mismatch": {
        // published on tenant A's subject, claims tenant B
        const other = tenants[(tenants.indexOf(t) + 1) % tenants.length]!;
        originals.push({ suffix: `${t.id}.${order.type}`, data: encoder.encode(JSON.stringify(envelopeOf(other, order, id, new Date(ms)))), msgId: id });
        break;
      }
    }
  }
  // duplicates of valid originals, each after its original: ~25 % close by (often the same batch), the rest later
  const validIdx: number[] = [];
  for (let i = 0; i < ORIGINALS; i++) if (!invalidAt.has(i)) validIdx.push(i);
  const after = new Map<number, BenchMsg[]>();
  const chosen = new Set<number>();
  for (let k = 0; k < DUPLICATES; k++) {
    let i = pick(validIdx);
    while (chosen.has(i)) i = pick(validIdx);
    chosen.add(i);
    const o = originals[i]!;
    const distance = chance(0.25) ? randInt(1, 300) : randInt(301, 50_000);
    const at = Math.min(ORIGINALS - 1, i + distance);
    const list = after.get(at) ?? [];
    list.push({ suffix: o.suffix, data: o.data, msgId: `${o.msgId}~redelivered` });
    after.set(at, list);
  }
  const msgs: BenchMsg[] = [];
  for (let i = 0; i < ORIGINALS; i++) {
    msgs.push(originals[i]!);
    const dups = after.get(i);
    if (dups) msgs.push(...dups);
  }
  if (msgs.length !== N) throw new Error(`built ${msgs.length} messages, expected ${N}`);
  return { msgs, invalidByReason };
}

// ─── publishing and the raw ceilings ────────────────────────────────────────────────────────────────

/** publish all messages, awaiting acks in windows; returns JetStream's duplicate count (must be 0) */
async function publishAll(js: JetStreamClient, prefix: string, msgs: BenchMsg[]): Promise<number> {
  let dropped = 0;
  let window: Array<Promise<{ duplicate: boolean }>> = [];
  const settle = async () => {
    for (const ack of await Promise.all(window)) if (ack.duplicate) dropped += 1;
    window = [];
  };
  for (const m of msgs) {
    window.push(js.publish(`${prefix}.${m.suffix}`, m.data, { msgID: m.msgId }));
    if (window.length >= PUBLISH_WINDOW) await settle();
  }
  await settle();
  return dropped;
}

async function addStream(nats: NatsHandle, name: string, prefix: string): Promise<void> {
  await nats.jsm.streams.add({
    name,
    subjects: [`${prefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(config.nats.duplicateWindowMs),
    max_age: nanos(config.nats.maxAgeMs),
    num_replicas: 1,
    max_msg_size: 1024 * 1024,
  });
}

/** a throwaway durable consumer (same settings as the ingest one) that only acks */
async function consumeAckAll(nats: NatsHandle, stream: string, prefix: string, expected: number): Promise<number> {
  const name = `${config.ingest.consumer}-raw`;
  await nats.jsm.consumers.add(stream, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(config.ingest.ackWaitMs),
    max_deliver: config.ingest.maxDeliver,
    filter_subject: `${prefix}.>`,
    max_ack_pending: Math.max(config.ingest.batchSize * 4, 1_000),
  });
  const consumer = await nats.js.consumers.get(stream, name);
  const started = performance.now();
  const messages = await consumer.consume({ max_messages: config.ingest.batchSize * 2, expires: 5_000 });
  let acked = 0;
  let last = Date.now();
  const watchdog = setInterval(() => {
    if (Date.now() - last > 30_000) void messages.close();
  }, 1_000);
  try {
    // no `break`: with nats 2.29.3, close() after breaking out of the iterator never resolves; closing
    // while iterating ends the loop cleanly
    for await (const m of messages) {
      m.ack();
      acked += 1;
      last = Date.now();
      if (acked === expected) void messages.close();
    }
  } finally {
    clearInterval(watchdog);
    await Promise.race([messages.close().catch(() => undefined), Bun.sleep(1_000)]);
  }
  await nats.nc.flush();
  const seconds = (performance.now() - started) / 1000;
  if (acked < expected) throw new Error(`consume ceiling: only ${acked} of ${expected} messages arrived`);
  await nats.jsm.consumers.delete(stream, name).catch(() => undefined);
  return seconds;
}

// ─── instrumentation (bench-only wrappers; nothing in src changes) ──────────────────────────────────

interface Profile {
  batches: number;
  messages: number;
  /** pipeline.commit: anonymise, the write, remember, dead-letter publishes */
  processMs: number;
  /** pipeline.prepare: validation and dedup (CPU, overlaps the previous batch's write) */
  validateMs: number;
  prepareMs: number;
  toRowMs: number;
  txMs: number;
  txCount: number;
  /** time of the statements run inside transactions (the rest of txMs is begin/commit and client overhead) */
  txStatementsMs: number;
  /** the largest `insert into events` (its parameters), bytes */
  maxInsertEventsBytes: number;
  dlqMs: number;
  dlqCount: number;
  metricsMs: number;
  statements: Map<string, { n: number; ms: number }>;
}
const prof: Profile = { batches: 0, messages: 0, processMs: 0, validateMs: 0, prepareMs: 0, toRowMs: 0, txMs: 0, txCount: 0, txStatementsMs: 0, maxInsertEventsBytes: 0, dlqMs: 0, dlqCount: 0, metricsMs: 0, statements: new Map() };

function labelOf(strings: readonly string[]): string {
  const text = strings.join("?").replace(/\s+/g, " ");
  if (/^ ?with input as \(/i.test(text)) return "write batch (one statement)";
  const ins = /insert into (\w+)/i.exec(text);
  if (/^ ?with ins as \( insert into (\w+)/i.test(text)) return `get-or-create ${ins?.[1]}`;
  if (ins) return `insert ${ins[1]}`;
  const from = /from (\w+)/i.exec(text);
  return from ? `select ${from[1]}` : text.trim().slice(0, 30);
}

function timeStatement(label: string, query: unknown, inTx: boolean): void {
  const q = query as PromiseLike<unknown>;
  const t0 = performance.now();
  const done = () => {
    const s = prof.statements.get(label) ?? { n: 0, ms: 0 };
    s.n += 1;
    s.ms += performance.now() - t0;
    if (inTx) prof.txStatementsMs += performance.now() - t0;
    prof.statements.set(label, s);
  };
  // postgres.js queries run when first awaited; the pipeline awaits each right away, so this is equivalent
  q.then(done, done);
}

/** about the size of a statement's parameters on the wire (text format) */
function paramBytes(params: unknown[]): number {
  let n = 0;
  for (const p of params) {
    if (!Array.isArray(p)) continue;
    for (const x of p) n += (x === null ? 4 : Buffer.byteLength(String(x))) + 3; // value, quoting and separator
  }
  return n;
}

function isTemplate(a: unknown): a is TemplateStringsArray {
  return Array.isArray(a) && "raw" in a;
}

/** the same client, with every tagged-template query and every transaction timed */
function instrumentSql(sql: Sql): Sql {
  const wrapTx = <T extends object>(tx: T): T =>
    new Proxy(tx, {
      apply(target, thisArg, argv: unknown[]) {
        const q = Reflect.apply(target as (...a: unknown[]) => unknown, thisArg, argv);
        if (isTemplate(argv[0])) {
          const label = labelOf(argv[0]);
          timeStatement(label, q, true);
          if (label.startsWith("write batch")) prof.maxInsertEventsBytes = Math.max(prof.maxInsertEventsBytes, paramBytes(argv.slice(1)));
        }
        return q;
      },
    });
  return new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop !== "begin") return Reflect.get(target, prop, receiver);
      return async (...argv: unknown[]) => {
        const fn = argv[argv.length - 1] as (tx: object) => unknown;
        argv[argv.length - 1] = (tx: object) => fn(wrapTx(tx));
        const t0 = performance.now();
        try {
          return await (target.begin as (...a: unknown[]) => Promise<unknown>)(...argv);
        } finally {
          prof.txMs += performance.now() - t0;
          prof.txCount += 1;
        }
      };
    },
    apply(target, thisArg, argv: unknown[]) {
      const q = Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, argv);
      if (isTemplate(argv[0])) {
        const label = labelOf(argv[0]);
        timeStatement(label, q, false);
        if (label.startsWith("write batch")) prof.maxInsertEventsBytes = Math.max(prof.maxInsertEventsBytes, paramBytes(argv.slice(1)));
      }
      return q;
    },
  });
}

/** time the dead-letter publishes (awaited by the pipeline) and the per-message metric updates */
function instrumentNatsAndMetrics(h: NatsHandle, metrics: Metrics): void {
  const publish = h.js.publish.bind(h.js);
  const dlq = `${h.subjectPrefix}.dlq.`;
  h.js.publish = ((subject: string, ...rest: Parameters<typeof publish> extends [string, ...infer R] ? R : never) => {
    if (!subject.startsWith(dlq)) return publish(subject, ...rest);
    const t0 = performance.now();
    return publish(subject, ...rest).finally(() => {
      prof.dlqMs += performance.now() - t0;
      prof.dlqCount += 1;
    });
  }) as typeof h.js.publish;
  for (const m of [metrics.ingestEvents, metrics.deadLetters, metrics.dedupLookups] as Array<{ inc: (...a: never[]) => void }>) {
    const inc = m.inc.bind(m) as (...a: unknown[]) => void;
    m.inc = ((...a: unknown[]) => {
      const t0 = performance.now();
      inc(...a);
      prof.metricsMs += performance.now() - t0;
    }) as typeof m.inc;
  }
}

function instrumentPipeline(pipeline: IngestPipeline): void {
  // the consumer calls prepare() (validation, dedup: CPU) and later commit() (the write) per batch
  const prepareBatch = pipeline.prepare.bind(pipeline);
  pipeline.prepare = (msgs) => {
    const t0 = performance.now();
    try {
      return prepareBatch(msgs);
    } finally {
      prof.validateMs += performance.now() - t0;
      prof.batches += 1;
      prof.messages += msgs.length;
    }
  };
  const commitBatch = pipeline.commit.bind(pipeline);
  pipeline.commit = async (batch) => {
    const t0 = performance.now();
    try {
      return await commitBatch(batch);
    } finally {
      prof.processMs += performance.now() - t0;
    }
  };
  // the privacy step sits in the pipeline's private options; time it when it is where we expect it
  const privacy = (pipeline as unknown as { o?: { privacy?: Privacy } }).o?.privacy;
  if (!privacy) return;
  const prepare = privacy.prepare.bind(privacy);
  privacy.prepare = async (events: ValidEvent[], now: Date) => {
    const t0 = performance.now();
    const toRow = await prepare(events, now);
    prof.prepareMs += performance.now() - t0;
    return (e) => {
      const t1 = performance.now();
      try {
        return toRow(e);
      } finally {
        prof.toRowMs += performance.now() - t1;
      }
    };
  };
}

// ─── the run ────────────────────────────────────────────────────────────────────────────────────────

interface Row {
  phase: string;
  events: number;
  seconds: number;
  ceiling: number | null;
}

function printTable(rows: Row[]): void {
  const header = ["phase", "events", "seconds", "events/s", "ratio to ceiling"];
  const body = rows.map((r) => {
    const rate = r.events / r.seconds;
    return [r.phase, r.events.toLocaleString("en-US"), r.seconds.toFixed(2), Math.round(rate).toLocaleString("en-US"), r.ceiling === null ? "—" : `${((rate / r.ceiling) * 100).toFixed(1)} %`];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  │  ");
  console.log(line(header));
  console.log(widths.map((w) => "─".repeat(w)).join("──┼──"));
  for (const b of body) console.log(line(b));
}

function engineDied(eng: EmbeddedEngine): Error {
  return new Error(
    `the embedded engine died during the run (restarts: ${eng.status().restarts}; its stderr is above)`,
  );
}

let engine: EmbeddedEngine | undefined;
let sql: Sql | undefined;
let nats: NatsHandle | undefined;
let worker: IngestConsumer | undefined;
let cleaned = false;

async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  clearInterval(rssTimer);
  await worker?.stop().catch(() => undefined);
  if (nats) {
    await nats.jsm.streams.delete(config.nats.stream).catch(() => undefined);
    await nats.jsm.streams.delete(RAW_STREAM).catch(() => undefined);
    await closeNats(nats).catch(() => undefined);
  }
  await sql?.end({ timeout: 5 }).catch(() => undefined);
  await engine?.stop().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
}

process.once("SIGINT", () => {
  console.error("\ninterrupted: cleaning up");
  void cleanup().finally(() => process.exit(130));
});

async function main(): Promise<number> {
  console.log(`Pulse ingest benchmark: ${N.toLocaleString("en-US")} events, ${TENANTS} tenants, ${DUPLICATES} duplicates, ${INVALID} invalid`);
  console.log(`stream ${config.nats.stream}, subjects ${config.nats.subjectPrefix}.>, batch ${config.ingest.batchSize}, flush ${config.ingest.flushMs} ms, data dir ${dataDir}`);

  let t = performance.now();
  phase = "build events";
  const { msgs, invalidByReason } = buildEvents();
  const bytes = msgs.reduce((s, m) => s + m.data.byteLength, 0);
  console.log(`built ${msgs.length.toLocaleString("en-US")} messages (${(bytes / 1024 / 1024).toFixed(1)} MB, avg ${Math.round(bytes / msgs.length)} B) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  t = performance.now();
  const eng = new EmbeddedEngine({ dataDir: config.db.embedded.dataDir, port: 0, logger });
  engine = eng;
  await eng.start();
  const enginePid = engineChildPid();
  sql = createSql(eng.url, { max: 1, statementTimeoutMs: config.db.statementTimeoutMs, logger, embedded: true });
  await migrate(sql, { logger, settings: migrateSettings(config) });
  console.log(`embedded engine up and migrated in ${((performance.now() - t) / 1000).toFixed(1)} s (child pid ${enginePid ?? "not found"})`);

  nats = await connectNats(config.nats, logger); // creates the bench's own stream
  await addStream(nats, RAW_STREAM, RAW_PREFIX);

  // (a) publish ceiling
  phase = "(a) publish";
  t = performance.now();
  const rawDropped = await publishAll(nats.js, RAW_PREFIX, msgs);
  const publishSeconds = (performance.now() - t) / 1000;
  if (rawDropped > 0) throw new Error(`JetStream dropped ${rawDropped} messages as duplicates in the publish ceiling`);
  console.log(`(a) publish ceiling: ${publishSeconds.toFixed(2)} s`);

  // (b) consume+ack ceiling
  phase = "(b) consume+ack";
  const consumeSeconds = await consumeAckAll(nats, RAW_STREAM, RAW_PREFIX, N);
  console.log(`(b) consume+ack ceiling: ${consumeSeconds.toFixed(2)} s`);
  await nats.jsm.streams.delete(RAW_STREAM).catch(() => undefined);

  // end to end
  phase = "end to end";
  const metrics = createMetrics({ defaultMetrics: false });
  const timedSql = instrumentSql(sql);
  instrumentNatsAndMetrics(nats, metrics);
  const { ingest, dedup } = buildIngest({ config, logger, sql: timedSql, metrics, nats });
  instrumentPipeline(ingest);
  worker = new IngestConsumer({ nats, pipeline: ingest, cfg: config.ingest, logger, metrics });
  await worker.start();
  const consumerInfo0 = await nats.jsm.consumers.info(config.nats.stream, config.ingest.consumer);
  const effectiveAckWaitS = (consumerInfo0.config.ack_wait ?? 0) / 1e9;

  const cpu0 = process.cpuUsage();
  const engineCpu0 = enginePid ? procCpuSeconds(enginePid) : null;
  const e2eStart = performance.now();
  let publishDoneAt = 0;
  let publishError: unknown;
  let e2eDropped = 0;
  const publishing = publishAll(nats.js, config.nats.subjectPrefix, msgs).then(
    (d) => {
      e2eDropped = d;
      publishDoneAt = performance.now();
    },
    (err) => {
      publishError = err;
    },
  );

  const h = nats;
  /** nothing left to deliver or to ack (our dead letters, published to the same stream, included) */
  const drained = async () => {
    if (!publishDoneAt) return false;
    const info = await h.jsm.consumers.info(config.nats.stream, config.ingest.consumer);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  };
  let stored = 0;
  let dead = 0;
  let polls = 0;
  let pollMs = 0;
  const poll = async () => {
    const p0 = performance.now();
    if (eng.status().restarts > 0) throw engineDied(eng);
    let row: { stored: number; dead: number } | undefined;
    try {
      [row] = await sql!<Array<{ stored: number; dead: number }>>`
        select (select coalesce(sum(accepted), 0) from ingest_counters)::int as stored,
               (select count(*) from dead_letter_events)::int as dead`;
    } catch (err) {
      throw eng.status().restarts > 0 ? engineDied(eng) : err;
    }
    pollMs += performance.now() - p0;
    polls += 1;
    stored = row!.stored;
    dead = row!.dead;
  };
  let lastPoll = performance.now();
  let lastProgress = Date.now();
  let lastSeen = -1;
  let progressAt = Date.now();
  /** when the counts first reached the expected ones (the end of the end-to-end clock) */
  let doneAt = 0;
  let cpu = process.cpuUsage(cpu0);
  let engineCpu1: number | null = null;
  const markDone = () => {
    doneAt = performance.now();
    cpu = process.cpuUsage(cpu0);
    engineCpu1 = enginePid ? procCpuSeconds(enginePid) : null;
  };
  for (;;) {
    await Bun.sleep(50);
    if (publishError) throw publishError;
    const s = worker.stats;
    const handled = s.acked + s.terminated;
    if (handled !== lastSeen) {
      lastSeen = handled;
      lastProgress = Date.now();
    }
    // every message handled at least once (and nothing pending): the counts are final
    if (handled >= N && (await drained())) {
      await poll();
      if (!doneAt) markDone();
      break;
    }
    if (performance.now() - lastPoll >= 1_000) {
      await poll();
      lastPoll = performance.now();
      if (!doneAt && stored >= EXPECTED_STORED && dead >= EXPECTED_DEAD) markDone();
    }
    if (Date.now() - lastProgress > STALL_MS) {
      console.error(`no progress for ${STALL_MS / 1000} s: stats ${JSON.stringify(s)}`);
      await poll();
      break;
    }
    if (Date.now() - progressAt > 10_000) {
      progressAt = Date.now();
      console.log(`  … ${((performance.now() - e2eStart) / 1000).toFixed(0)} s: stored ${stored}, dead letters ${dead}, handled ${handled} / ${N}`);
    }
  }
  await publishing;
  const e2eEnd = doneAt || performance.now();
  const e2eSeconds = (e2eEnd - e2eStart) / 1000;
  const wallSeconds = e2eSeconds;
  await worker.stop();
  {
    // the verdict comes from the tables themselves, not from the counters
    const [exact] = await sql<Array<{ stored: number; dead: number }>>`
      select (select count(*) from events)::int as stored, (select count(*) from dead_letter_events)::int as dead`;
    stored = exact!.stored;
    dead = exact!.dead;
  }
  const reasons = await sql<Array<{ reason: string; n: number }>>`select reason, count(*)::int as n from dead_letter_events group by reason order by reason`;

  // (c) the worker alone: N fresh messages (new ids) published while no worker runs, then drained by
  // a new consumer (same durable) — the worker and the engine without a publisher sharing the cores
  phase = "(c) drain";
  const backlog = buildEvents().msgs;
  const drainDropped = await publishAll(nats.js, config.nats.subjectPrefix, backlog);
  const drainIngest = buildIngest({ config, logger, sql, metrics: createMetrics({ defaultMetrics: false }), nats }).ingest;
  const drainer = new IngestConsumer({ nats, pipeline: drainIngest, cfg: config.ingest, logger, metrics: createMetrics({ defaultMetrics: false }) });
  const drainCpu0 = process.cpuUsage();
  const drainEngineCpu0 = enginePid ? procCpuSeconds(enginePid) : null;
  const d0 = performance.now();
  await drainer.start();
  let drainStored = 0;
  let drainDead = 0;
  let drainProgressAt = Date.now();
  for (;;) {
    await Bun.sleep(100);
    if (eng.status().restarts > 0) throw engineDied(eng);
    const [r] = await sql<Array<{ stored: number; dead: number }>>`
      select (select coalesce(sum(accepted), 0) from ingest_counters)::int as stored, (select count(*) from dead_letter_events)::int as dead`;
    if (r!.stored + r!.dead !== drainStored + drainDead) drainProgressAt = Date.now();
    drainStored = r!.stored;
    drainDead = r!.dead;
    if (drainStored >= stored + EXPECTED_STORED && drainDead >= dead + EXPECTED_DEAD) break;
    if (Date.now() - drainProgressAt > STALL_MS) {
      console.error(`drain: no progress for ${STALL_MS / 1000} s: stats ${JSON.stringify(drainer.stats)}`);
      break;
    }
  }
  const drainSeconds = (performance.now() - d0) / 1000;
  const drainCpu = process.cpuUsage(drainCpu0);
  const drainEngineCpu = enginePid && drainEngineCpu0 !== null ? (procCpuSeconds(enginePid) ?? drainEngineCpu0) - drainEngineCpu0 : null;
  await drainer.stop();
  const [afterDrain] = await sql<Array<{ stored: number; dead: number }>>`
    select (select count(*) from events)::int as stored, (select count(*) from dead_letter_events)::int as dead`;
  const drainOk = drainDropped === 0 && afterDrain!.stored === stored + EXPECTED_STORED && afterDrain!.dead === dead + EXPECTED_DEAD;

  phase = "report";
  const engineHwmKb = enginePid ? procStatusKb(enginePid, "VmHWM") : null;
  const engineRssKb = enginePid ? procStatusKb(enginePid, "VmRSS") : null;
  const benchHwmKb = procStatusKb(process.pid, "VmHWM");

  // standalone CPU cost of validation (a pure function the pipeline calls once per message)
  const sample = msgs.slice(0, Math.min(N, 50_000));
  const vctx = {
    now: new Date(),
    maxFutureMs: config.ingest.maxFutureMs,
    retentionMs: config.storage.retentionDays * 86_400_000,
    maxBytes: config.ingest.maxEventBytes,
  };
  const v0 = performance.now();
  for (const m of sample) validateEvent(m.data, { ...vctx, expectedTenant: m.suffix.slice(0, 36) });
  const validateUs = ((performance.now() - v0) * 1000) / sample.length;

  // ── report ──
  const ceiling = Math.min(N / publishSeconds, N / consumeSeconds);
  console.log("");
  printTable([
    { phase: "(a) publish only (ceiling)", events: N, seconds: publishSeconds, ceiling: N / publishSeconds },
    { phase: "(b) consume+ack only (ceiling)", events: N, seconds: consumeSeconds, ceiling: N / consumeSeconds },
    { phase: "publish, worker running", events: N, seconds: (publishDoneAt - e2eStart) / 1000, ceiling: N / publishSeconds },
    { phase: "end to end (publish → stored/DL)", events: N, seconds: e2eSeconds, ceiling },
    { phase: "(c) worker draining a backlog", events: N, seconds: drainSeconds, ceiling: N / consumeSeconds },
  ]);
  console.log(`(end-to-end ratio is against the slower ceiling, ${Math.round(ceiling).toLocaleString("en-US")} events/s; the drain's against consume+ack)`);
  console.log(
    `(c) drain: the same mix with fresh ids published before the worker starts, so no publisher shares the 2 cores; CPU bench process ${((drainCpu.user + drainCpu.system) / 1e6).toFixed(1)} s, engine child ${drainEngineCpu !== null ? `${drainEngineCpu.toFixed(1)} s (${((drainEngineCpu / drainSeconds) * 100).toFixed(0)} %)` : "n/a"}; ` +
      `counts after it: stored ${afterDrain!.stored} (expected ${stored + EXPECTED_STORED}), dead letters ${afterDrain!.dead} (expected ${dead + EXPECTED_DEAD}) ${drainOk ? "OK" : "MISMATCH"}`,
  );

  console.log("");
  console.log(`peak RSS: bench process ${mb(peakRss / 1024)} (sampled every 100 ms; VmHWM ${mb(benchHwmKb)}), embedded engine child VmHWM ${mb(engineHwmKb)} (VmRSS at end ${mb(engineRssKb)})`);
  console.log(`  bench process peak by phase: ${[...phasePeaks].map(([p, b]) => `${p} ${mb(b / 1024)}`).join(", ")}`);
  console.log(
    `CPU during end to end (${wallSeconds.toFixed(1)} s wall, ${cpus().length} cores): bench process ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (${(((cpu.user + cpu.system) / 1e6 / wallSeconds) * 100).toFixed(0)} %), engine child ${engineCpu0 !== null && engineCpu1 !== null ? `${(engineCpu1 - engineCpu0).toFixed(1)} s (${(((engineCpu1 - engineCpu0) / wallSeconds) * 100).toFixed(0)} %)` : "n/a"}`,
  );

  const ms = (x: number) => `${(x / 1000).toFixed(2)} s`;
  const share = (x: number) => `${((x / (e2eSeconds * 1000)) * 100).toFixed(0)} %`;
  console.log("");
  console.log(`where the end-to-end time went (${prof.batches} batches, avg ${(prof.messages / Math.max(1, prof.batches)).toFixed(0)} messages; wall ${e2eSeconds.toFixed(2)} s):`);
  console.log(`  pipeline.prepare (validation, dedup) ${ms(prof.validateMs).padStart(9)}  ${share(prof.validateMs).padStart(5)}   (${((prof.validateMs * 1000) / Math.max(1, prof.messages)).toFixed(1)} µs/message; overlaps the previous batch's write)`);
  console.log(`  pipeline.commit total              ${ms(prof.processMs).padStart(9)}  ${share(prof.processMs).padStart(5)}   (${(prof.processMs / Math.max(1, prof.batches)).toFixed(1)} ms/batch)`);
  console.log(`    privacy.prepare (keys/salts)     ${ms(prof.prepareMs).padStart(9)}  ${share(prof.prepareMs).padStart(5)}`);
  console.log(`    privacy toRow (anonymise, CPU)   ${ms(prof.toRowMs).padStart(9)}  ${share(prof.toRowMs).padStart(5)}   (${((prof.toRowMs * 1000) / Math.max(1, EXPECTED_STORED)).toFixed(1)} µs/event)`);
  let statementsMs = 0;
  for (const [label, s] of [...prof.statements].sort((a, b) => b[1].ms - a[1].ms)) {
    statementsMs += s.ms;
    console.log(`    ${label.padEnd(32)} ${ms(s.ms).padStart(9)}  ${share(s.ms).padStart(5)}   (${s.n}×, ${(s.ms / s.n).toFixed(1)} ms each)`);
  }
  console.log(`      (largest batch statement: ≈ ${(prof.maxInsertEventsBytes / 1024).toFixed(0)} KB of parameters, ≈ ${Math.round(prof.maxInsertEventsBytes / config.ingest.batchSize)} B/event)`);
  console.log(`    dead-letter publishes            ${ms(prof.dlqMs).padStart(9)}          (${prof.dlqCount}×, concurrent within a batch: summed latencies)`);
  console.log(`    metric updates (per message)     ${ms(prof.metricsMs).padStart(9)}  ${share(prof.metricsMs).padStart(5)}`);
  const rest = prof.processMs - prof.prepareMs - prof.toRowMs - statementsMs - prof.metricsMs;
  console.log(`    rest: dead-letter publishes, event-loop waits ${ms(rest)}  ${share(rest)}   (validation alone: ${validateUs.toFixed(1)} µs/event standalone ≈ ${ms((validateUs * N) / 1000)})`);
  console.log(`  outside commit (fetch, ack, prepare, waits) ${ms(e2eSeconds * 1000 - prof.processMs).padStart(9)}  ${share(e2eSeconds * 1000 - prof.processMs).padStart(5)}`);
  console.log(`  bench polls (${polls} × counters)${" ".repeat(Math.max(0, 13 - String(polls).length))}${ms(pollMs).padStart(9)}  ${share(pollMs).padStart(5)}   (same connection: they queue behind batches)`);
  console.log(`  dedup cache: ${dedup.hits} hits / ${dedup.misses} misses; consumer stats ${JSON.stringify(worker.stats)}`);
  const handledTotal = worker.stats.acked + worker.stats.terminated;
  console.log(
    `  JetStream: effective ack_wait ${effectiveAckWaitS} s (NATS_ACK_WAIT_MS ${config.ingest.ackWaitMs / 1000} s), ` +
      `messages handled ${handledTotal} for ${N} published (${handledTotal - N} redeliveries processed again)`,
  );

  // ── verification ──
  console.log("");
  const reasonText = reasons.map((r) => `${r.reason} ${r.n}`).join(", ");
  console.log(`stored ${stored} (expected ${EXPECTED_STORED} = ${N} − ${DUPLICATES} duplicates − ${INVALID} invalid), dead letters ${dead} (expected ${EXPECTED_DEAD}: ${reasonText})`);
  let ok = stored === EXPECTED_STORED && dead === EXPECTED_DEAD && e2eDropped === 0;
  for (const [reason, n] of Object.entries(invalidByReason)) {
    const got = reasons.find((r) => r.reason === reason)?.n ?? 0;
    if (got !== n) {
      console.log(`MISMATCH: ${reason}: ${got} dead letters, expected ${n}`);
      ok = false;
    }
  }
  if (e2eDropped > 0) console.log(`MISMATCH: JetStream dropped ${e2eDropped} messages as duplicates`);
  if (!drainOk) {
    console.log("MISMATCH: the drain phase's counts differ (see its line above)");
    ok = false;
  }
  console.log(ok ? "OK: counts match exactly" : "FAILED: counts differ");
  return ok ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
