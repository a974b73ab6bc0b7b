/**
 * The message mix of the ingest benchmark (ingest.bench.ts), built and published by its publisher
 * child (ingest-publisher.ts) so that the bench process, which runs the worker, never holds the
 * messages. The bench itself imports only the counts (`mixCounts`) and the child protocol from here.
 *
 * The mix: N realistic events for 20 tenants (pre-serialised), 1 % duplicates (the same bytes
 * republished with a DIFFERENT Nats-Msg-Id, so JetStream's duplicate window keeps them and the
 * pipeline must catch them) and 0.5 % invalid (bad total, unknown type, malformed JSON bytes, tenant
 * mismatch, round-robin, so the count per reason depends on N alone).
 *
 * Determinism: every child of one run builds the same 20 tenants (their ids derive from the run id,
 * the rest from the PRNG's fixed start). Seed 0 then continues that PRNG exactly as the bench did
 * when it built the messages itself (same N ⇒ same mix); another seed draws different messages
 * (fresh event ids) over the same tenants, which is how the drain phase gets its backlog.
 */
import { createHash } from "node:crypto";
import type { JetStreamClient } from "nats";
import { mulberry32 } from "../helpers/random.ts";

export const TENANTS = 20;
const PUBLISH_WINDOW = 1_000;

/** how many of N messages are duplicates and invalid (the bench derives its expected counts from this) */
export function mixCounts(n: number): { duplicates: number; invalid: number; originals: number } {
  const duplicates = Math.round(n * 0.01);
  return { duplicates, invalid: Math.round(n * 0.005), originals: n - duplicates };
}

// ─── the child protocol: one JSON line per event on the child's stdout ─────────────────────────────

/** what the publisher child reports, one JSON object per line on its stdout */
export type PublisherEvent =
  | {
      event: "built";
      messages: number;
      bytes: number;
      /** build time, not part of any measurement */
      seconds: number;
      duplicates: number;
      invalid: number;
      invalidByReason: Record<string, number>;
      /** standalone validateEvent cost, µs per message (only when asked for with --validate) */
      validateUs?: number;
    }
  | {
      event: "published";
      /** the stream every publish ack named */
      stream: string;
      /** publishAll alone: from the "go" line to the last ack */
      seconds: number;
      /** messages JetStream dropped as duplicates (must be 0) */
      dropped: number;
      /** the child's own VmHWM after publishing, kB */
      vmHwmKb: number | null;
      /** the child's own CPU (user + system) over publishAll, seconds */
      cpuSeconds: number;
    }
  | { event: "error"; message: string };

/** the lines of a byte stream, one at a time; null at its end */
export function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string | null> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let ended = false;
  return async () => {
    for (;;) {
      const nl = buffered.indexOf("\n");
      if (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        return line;
      }
      if (ended) {
        if (buffered === "") return null;
        const rest = buffered;
        buffered = "";
        return rest;
      }
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        buffered += decoder.decode();
      } else {
        buffered += decoder.decode(value, { stream: true });
      }
    }
  };
}

// ─── events ─────────────────────────────────────────────────────────────────────────────────────────

export interface BenchMsg {
  /** "<tenantid>.<type>": the subject without the prefix */
  suffix: string;
  data: Uint8Array;
  msgId: string;
}

/** deterministic PRNG (mulberry32): the same seed and N publish the same mix */
const BASE_SEED = 0x5eed_1234;
let rand = mulberry32(BASE_SEED);
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

/** a tenant id (a version-4-shaped uuid) derived from the run id: the same in every child of one run */
function tenantUuid(runId: string, i: number): string {
  const h = createHash("sha256").update(`pulse-bench:${runId}:${i}`).digest("hex");
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function makeTenant(runId: string, i: number): Tenant {
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
    id: tenantUuid(runId, i),
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

let tenants: Tenant[] = [];
let totalWeight = 0;
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
  [
    33,
    (t) => {
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
    },
  ],
  [
    20,
    (t) => {
      const s = pickSession(t);
      return {
        type: "item.viewed",
        source: "/web-tracker",
        version: "2",
        data: {
          session_id: s.id,
          item_id: pick(t.items).id,
          ...(s.customer ? { customer_id: s.customer } : {}),
          ip: s.ip,
          user_agent: s.ua,
        },
      };
    },
  ],
  [
    3,
    (t) => {
      const s = pickSession(t);
      return {
        type: "campaign.touched",
        source: "/web-tracker",
        version: "2",
        data: { session_id: s.id, ...pick(UTM), ...(s.customer ? { customer_id: s.customer } : {}) },
      };
    },
  ],
  [
    12,
    (t) => {
      const s = pickSession(t);
      const item = pick(t.items);
      return {
        type: "cart.item_added",
        source: "/cart-service",
        version: "2",
        data: {
          session_id: s.id,
          cart_id: s.cart,
          item_id: item.id,
          quantity: randInt(1, 4),
          unit_price_minor: item.price,
          currency: t.currency,
          ...(s.customer ? { customer_id: s.customer } : {}),
        },
      };
    },
  ],
  [
    6,
    (t) => {
      const s = pickSession(t);
      return {
        type: "checkout.started",
        source: "/cart-service",
        version: "2",
        data: { session_id: s.id, cart_id: s.cart, ...(s.customer ? { customer_id: s.customer } : {}) },
      };
    },
  ],
  [
    9,
    (t) => {
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
    },
  ],
  [
    1,
    (t) => ({
      type: "order.refunded",
      source: "/payments-service",
      version: "2",
      data: {
        order_id: recentOrder(t),
        refund_id: `r-${hex(10)}`,
        amount_minor: pick(t.items).price,
        currency: t.currency,
        reason: pick(["customer_request", "event_cancelled", "duplicate_charge"]),
      },
    }),
  ],
  [4, (t) => ({ type: "order.fulfilled", source: "/fulfilment-service", version: "2", data: { order_id: recentOrder(t) } })],
  [
    3,
    (t) => ({
      type: "shipment.dispatched",
      source: "/fulfilment-service",
      version: "2",
      data: {
        order_id: recentOrder(t),
        shipment_id: `sh-${hex(10)}`,
        carrier: pick(CARRIERS),
        promised_by: new Date(Date.now() + randInt(1, 5) * 86_400_000).toISOString(),
      },
    }),
  ],
  [
    3,
    (t) => ({
      type: "shipment.delivered",
      source: "/fulfilment-service",
      version: "2",
      data: { order_id: recentOrder(t), shipment_id: `sh-${hex(10)}`, carrier: pick(CARRIERS) },
    }),
  ],
  [
    2,
    (t) => {
      t.customers += 1; // a customer registers once (unique id)
      const first = pick(FIRST);
      const last = pick(LAST);
      return {
        type: "customer.registered",
        source: "/crm-service",
        version: "2",
        data: {
          customer_id: `c-${t.customers}-${hex(6)}`,
          email: `${first}.${last}@Mail.Example`,
          name: `${first} ${last}`,
          ip: randomIp(),
          user_agent: pick(USER_AGENTS),
        },
      };
    },
  ],
  [
    1,
    (t) => {
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
          ...(item.kind === "ticketed_event"
            ? { capacity: randInt(100, 2_000), starts_at: new Date(Date.now() + randInt(1, 90) * 86_400_000).toISOString() }
            : {}),
        },
      };
    },
  ],
  [
    0.2,
    (t) => ({
      type: "reconciliation.expected",
      source: "/finance-export",
      version: "2",
      data: {
        date: new Date(Date.now() - 86_400_000).toISOString().slice(0, 10),
        timezone: pick(ZONES),
        orders: randInt(50, 5_000),
        gross_minor: randInt(100_000, 9_000_000),
        currency: t.currency,
      },
    }),
  ],
  // legacy (schemaversion 1) publishers: the box office and an old tracker, upcast on ingest
  [
    1.5,
    (t) => {
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
        data: {
          venue_id: t.id,
          order_id: `bo-${hex(10)}`,
          customer_id: `c-${randInt(1, 2_000)}`,
          channel: "box_office",
          currency: t.currency,
          total: totalMinor / 100,
          items,
        },
      };
    },
  ],
  [
    1.5,
    (t) => {
      if (!t.legacy) return KINDS[0]![1](t);
      const s = pickSession(t);
      return {
        type: "page.viewed",
        source: "/legacy-tracker",
        version: "1",
        data: { venue_id: t.id, session: s.id, url: `https://${t.host}${pick(PATHS)}`, ip: s.ip, ua: s.ua },
      };
    },
  ],
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

/**
 * the n messages of one publisher child, in publish order (duplicates after their originals), and
 * how many of them are invalid per dead-letter reason
 */
export function buildEvents(opts: { n: number; runId: string; seed: number }): {
  msgs: BenchMsg[];
  invalidByReason: Record<string, number>;
} {
  const { n } = opts;
  const { duplicates: nDuplicates, invalid: nInvalid, originals: nOriginals } = mixCounts(n);
  // the tenants first, from the PRNG's fixed start: the same tenants in every child of the run …
  rand = mulberry32(BASE_SEED);
  tenants = Array.from({ length: TENANTS }, (_, i) => makeTenant(opts.runId, i));
  totalWeight = tenants.reduce((s, t) => s + t.weight, 0);
  // … then the messages: seed 0 continues that sequence (the mix the bench always published), any
  // other seed draws a different one, so its event ids are fresh
  if (opts.seed !== 0) rand = mulberry32(BASE_SEED ^ Math.imul(opts.seed, 0x9e37_79b9));
  const started = Date.now();
  // which originals are invalid: evenly spread with jitter
  const invalidAt = new Map<number, InvalidKind>();
  const step = nOriginals / nInvalid;
  for (let k = 0; k < nInvalid; k++) {
    let i = Math.min(nOriginals - 1, Math.floor(k * step + rand() * step));
    while (invalidAt.has(i)) i = (i + 1) % nOriginals;
    invalidAt.set(i, INVALID_KINDS[k % INVALID_KINDS.length]!);
  }
  const invalidByReason: Record<string, number> = {};
  const originals: BenchMsg[] = [];
  for (let i = 0; i < nOriginals; i++) {
    const t = pickTenant();
    // roughly chronological over the last 3 hours, with jitter (some arrive out of order)
    const ms = Math.min(started - 1_000, started - SPREAD_MS + (i / nOriginals) * SPREAD_MS - rand() * 120_000);
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
        originals.push({
          suffix: `${t.id}.${order.type}`,
          data: encoder.encode(JSON.stringify(envelopeOf(t, order, id, new Date(ms)))),
          msgId: id,
        });
        break;
      }
      case "unknown_type": {
        const b: Built = {
          type: "wishlist.item_added",
          source: "/web-tracker",
          version: "2",
          data: { session_id: `s-${hex(8)}`, item_id: pick(t.items).id },
        };
        originals.push({
          suffix: `${t.id}.${b.type}`,
          data: encoder.encode(JSON.stringify(envelopeOf(t, b, id, new Date(ms)))),
          msgId: id,
        });
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
        originals.push({
          suffix: `${t.id}.${order.type}`,
          data: encoder.encode(JSON.stringify(envelopeOf(other, order, id, new Date(ms)))),
          msgId: id,
        });
        break;
      }
    }
  }
  // duplicates of valid originals, each after its original: ~25 % close by (often the same batch), the rest later
  const validIdx: number[] = [];
  for (let i = 0; i < nOriginals; i++) if (!invalidAt.has(i)) validIdx.push(i);
  const after = new Map<number, BenchMsg[]>();
  const chosen = new Set<number>();
  for (let k = 0; k < nDuplicates; k++) {
    let i = pick(validIdx);
    while (chosen.has(i)) i = pick(validIdx);
    chosen.add(i);
    const o = originals[i]!;
    const distance = chance(0.25) ? randInt(1, 300) : randInt(301, 50_000);
    const at = Math.min(nOriginals - 1, i + distance);
    const list = after.get(at) ?? [];
    list.push({ suffix: o.suffix, data: o.data, msgId: `${o.msgId}~redelivered` });
    after.set(at, list);
  }
  const msgs: BenchMsg[] = [];
  for (let i = 0; i < nOriginals; i++) {
    msgs.push(originals[i]!);
    const dups = after.get(i);
    if (dups) msgs.push(...dups);
  }
  if (msgs.length !== n) throw new Error(`built ${msgs.length} messages, expected ${n}`);
  return { msgs, invalidByReason };
}

// ─── publishing ─────────────────────────────────────────────────────────────────────────────────────

/**
 * publish all messages, awaiting acks in windows; returns JetStream's duplicate count (must be 0).
 * Every ack must come from `stream` (the subjects under `prefix` belong to it).
 */
export async function publishAll(js: JetStreamClient, prefix: string, msgs: BenchMsg[], stream: string): Promise<number> {
  let dropped = 0;
  let window: Array<Promise<{ duplicate: boolean; stream: string }>> = [];
  const settle = async () => {
    for (const ack of await Promise.all(window)) {
      if (ack.stream !== stream) throw new Error(`a publish to ${prefix}.> was stored in stream ${ack.stream}, expected ${stream}`);
      if (ack.duplicate) dropped += 1;
    }
    window = [];
  };
  for (const m of msgs) {
    window.push(js.publish(`${prefix}.${m.suffix}`, m.data, { msgID: m.msgId }));
    if (window.length >= PUBLISH_WINDOW) await settle();
  }
  await settle();
  return dropped;
}
