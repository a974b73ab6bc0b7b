/**
 * The privacy step of ingest (design.md "Privacy, two tiers"): ValidEvent → EventRow with no raw IP,
 * email, name or user agent.
 * - IP → network prefix (IPv4 /24, IPv6 /48); the raw IP only feeds the visitor id and is never stored.
 * - user agent → coarse family "browser/os/device" + a keyed hash.
 * - email → HMAC-SHA-256 under the tenant's key, prefixed with the key version ("v1:…").
 * - anonymous visitors (no customer_id) → visitor id = HMAC(daily salt, tenant|ip|ua); the salt of a
 *   day is destroyed after the next day, so a visitor can be counted per day but not followed longer.
 * - names never stored (item.upserted's `name` is the item's name, not a person's: kept).
 * Also the redaction of dead-letter payloads and excerpts.
 */
import { createHmac } from "node:crypto";
import { isIP } from "node:net";
import { LRUCache } from "lru-cache";
import { UAParser } from "ua-parser-js";
import type { Sql } from "../db/client.ts";
import type { Logger } from "../logger.ts";
import { getOrCreateTenantKeys, getOrCreateVisitorSalts, type TenantKey } from "./privacy.queries.ts";
import type { EventRow, ValidEvent } from "./types.ts";

// ─── IP prefixes ────────────────────────────────────────────────────────────────────────────────────

function v4Prefix(a: number, b: number, c: number): string {
  return `${a}.${b}.${c}.0/24`;
}

/** the 8 16-bit groups of a string that isIP() already accepted as IPv6 (zone id allowed) */
function ipv6Groups(input: string): number[] | null {
  let s = input;
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(":");
  const last = s.slice(lastColon + 1);
  if (last.includes(".")) {
    const o = last.split(".").map(Number);
    if (o.length !== 4 || o.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return null;
    tail.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    s = s.slice(0, lastColon); // "::ffff" from "::ffff:1.2.3.4"; ":" from "::1.2.3.4"
    if (s.endsWith(":")) s += ":";
  }
  const want = 8 - tail.length;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    for (const g of part.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const dbl = s.indexOf("::");
  let groups: number[];
  if (dbl >= 0) {
    const head = parse(s.slice(0, dbl));
    const rest = parse(s.slice(dbl + 2));
    if (!head || !rest) return null;
    const zeros = want - head.length - rest.length;
    if (zeros < 1) return null;
    groups = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  } else {
    const all = parse(s);
    if (!all || all.length !== want) return null;
    groups = all;
  }
  groups.push(...tail);
  return groups.length === 8 ? groups : null;
}

/** RFC 5952 text form: lower-case, no leading zeros, the longest run (≥ 2) of zero groups as "::" */
function formatIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/**
 * The stored form of an IP: IPv4 → its /24 ("203.0.113.0/24"), IPv6 → its /48 ("2001:db8:1::/48"),
 * an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 it maps; anything else → null.
 */
export function ipPrefix(ip: string): string | null {
  if (typeof ip !== "string") return null;
  const s = ip.trim();
  const kind = isIP(s);
  if (kind === 4) {
    const o = s.split(".");
    return v4Prefix(Number(o[0]), Number(o[1]), Number(o[2]));
  }
  if (kind !== 6) return null;
  const g = ipv6Groups(s);
  if (!g) return null;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return v4Prefix(g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8);
  }
  return `${formatIpv6([g[0]!, g[1]!, g[2]!, 0, 0, 0, 0, 0])}/48`;
}

// ─── user agents ────────────────────────────────────────────────────────────────────────────────────

const BOT = /bot\b|bot\/|crawl|spider|slurp|headless|curl\/|wget\/|python-requests|python-urllib|aiohttp|httpclient|okhttp|go-http-client|java\/|axios\/|node-fetch|undici|postman|facebookexternalhit|bingpreview|lighthouse/i;

function browserFamily(name: string | undefined): string {
  if (!name) return "other";
  const n = name.toLowerCase();
  if (n.includes("edge")) return "edge";
  if (n.includes("opera")) return "opera";
  if (n.includes("samsung")) return "samsung";
  if (n.includes("yandex")) return "yandex";
  if (n.startsWith("uc")) return "uc";
  if (n.includes("brave")) return "brave";
  if (n.includes("vivaldi")) return "vivaldi";
  if (n.includes("firefox")) return "firefox";
  if (n.includes("chrom")) return "chrome";
  if (n.includes("safari")) return "safari";
  if (n === "ie" || n === "iemobile") return "ie";
  return "other";
}

const LINUXES = new Set(["linux", "ubuntu", "debian", "fedora", "mint", "arch", "gentoo", "centos", "red hat", "redhat", "suse", "opensuse", "kubuntu", "xubuntu", "mandriva", "slackware", "manjaro", "deepin", "elementary os", "pclinuxos", "mageia", "zenwalk", "linpus", "knoppix", "vectorlinux"]);

function osFamily(name: string | undefined): string {
  if (!name) return "other";
  const n = name.toLowerCase();
  if (n.startsWith("windows")) return "windows";
  if (n === "mac os" || n === "macos" || n === "mac os x") return "macos";
  if (n === "ios" || n === "ipados") return "ios";
  if (n === "android") return "android";
  if (n === "chromium os" || n === "chrome os" || n === "chromeos") return "chromeos";
  if (LINUXES.has(n)) return "linux";
  return "other";
}

function deviceClass(type: string | undefined, bot: boolean): string {
  if (bot) return "bot";
  switch (type) {
    case "mobile":
    case "wearable":
      return "mobile";
    case "tablet":
      return "tablet";
    case "smarttv":
      return "tv";
    case "console":
      return "console";
    case "embedded":
      return "other";
    default:
      return "desktop";
  }
}

/** parsing costs ~20 µs; real traffic has few distinct user agents */
const uaFamilies = new LRUCache<string, string>({ max: 5_000 });

/**
 * Coarse, low-cardinality family "browser/os/device" of a user agent, no versions:
 * "chrome/windows/desktop", "safari/ios/mobile", "firefox/linux/desktop"; crawlers and HTTP
 * libraries get device "bot" ("other/other/bot"); unknown parts are "other".
 */
export function uaFamily(ua: string): string {
  const key = typeof ua === "string" ? ua.slice(0, 512) : "";
  const hit = uaFamilies.get(key);
  if (hit !== undefined) return hit;
  const r = new UAParser(key).getResult();
  const family = `${browserFamily(r.browser.name)}/${osFamily(r.os.name)}/${deviceClass(r.device.type, BOT.test(key))}`;
  uaFamilies.set(key, family);
  return family;
}

// ─── keyed hashes ───────────────────────────────────────────────────────────────────────────────────

/**
 * hex HMAC-SHA-256 of a text. Bun's native hasher where the runtime has one: about 1.1 µs a call
 * against 2.0 for node:crypto's createHmac (up to three calls an event on the ingest path); the
 * same digest (tests/unit/anonymise.test.ts pins the values). node:crypto elsewhere (Deno).
 */
const BunHasher = typeof Bun !== "undefined" ? Bun.CryptoHasher : undefined;
function hmacHex(key: Uint8Array, text: string): string {
  return BunHasher ? new BunHasher("sha256", key).update(text).digest("hex") : createHmac("sha256", key).update(text).digest("hex");
}

/** "v<version>:" + hex HMAC-SHA-256(tenant key, trimmed lower-cased email) */
export function emailHash(tenantKey: Uint8Array, version: number, email: string): string {
  return `v${version}:${hmacHex(tenantKey, email.trim().toLowerCase())}`;
}

/** hex HMAC-SHA-256(tenant key, user agent), first 32 hex chars (128 bits) */
export function uaHash(tenantKey: Uint8Array, ua: string): string {
  return hmacHex(tenantKey, ua).slice(0, 32);
}

/** hex HMAC-SHA-256(daily salt, "tenant|ip|ua"), first 32 hex chars; pass the RAW ip (never stored) */
export function visitorId(salt: Uint8Array, tenantId: string, ip: string, ua: string): string {
  return hmacHex(salt, `${tenantId}|${ip}|${ua}`).slice(0, 32);
}

// ─── ValidEvent → EventRow ──────────────────────────────────────────────────────────────────────────

/** keys that never reach props, at any depth ("name" is kept only at the top of item.upserted) */
const PII_KEYS = new Set(["ip", "user_agent", "ua", "email", "name", "customer_name", "full_name"]);
/** copied to the same-named column, so not repeated in props */
const COLUMN_KEYS = new Set(["customer_id", "session_id", "order_id", "cart_id", "item_id", "channel", "currency"]);

const DAY_MS = 86_400_000;

function utcDay(t: Date | number): string {
  return new Date(typeof t === "number" ? t : t.getTime()).toISOString().slice(0, 10);
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function hasPiiDeep(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasPiiDeep);
  if (v !== null && typeof v === "object") {
    for (const k in v as Record<string, unknown>) {
      if (PII_KEYS.has(k) || hasPiiDeep((v as Record<string, unknown>)[k])) return true;
    }
  }
  return false;
}

/** the value without PII keys at any depth (the same reference when it has none: cheap on clean data) */
function scrubDeep(v: unknown): unknown {
  if (v === null || typeof v !== "object" || !hasPiiDeep(v)) return v;
  if (Array.isArray(v)) return v.map(scrubDeep);
  const out: Record<string, unknown> = {};
  for (const k in v as Record<string, unknown>) {
    if (!PII_KEYS.has(k)) out[k] = scrubDeep((v as Record<string, unknown>)[k]);
  }
  return out;
}

function amountOf(e: ValidEvent): number | null {
  const d = e.data;
  switch (e.type) {
    case "order.completed":
      return num(d.total_minor);
    case "order.refunded":
      return num(d.amount_minor);
    case "cart.item_added": {
      const q = num(d.quantity);
      const p = num(d.unit_price_minor);
      return q === null || p === null ? null : q * p;
    }
    case "item.upserted":
      return num(d.base_price_minor);
    case "reconciliation.expected":
      return num(d.gross_minor);
    default:
      return null;
  }
}

function quantityOf(e: ValidEvent): number | null {
  const d = e.data;
  switch (e.type) {
    case "order.completed": {
      if (!Array.isArray(d.lines)) return null;
      let sum = 0;
      for (const l of d.lines as unknown[]) {
        const q = l !== null && typeof l === "object" ? num((l as Record<string, unknown>).quantity) : null;
        if (q === null) return null;
        sum += q;
      }
      return sum;
    }
    case "cart.item_added":
      return num(d.quantity);
    case "reconciliation.expected":
      return num(d.orders);
    default:
      return null;
  }
}

function userAgentOf(d: Record<string, unknown>): string | null {
  const ua = str(d.user_agent) ?? str(d.ua);
  return ua === null || ua === "" ? null : ua;
}

function ipOf(d: Record<string, unknown>): string | null {
  const ip = str(d.ip);
  return ip === null || ip.trim() === "" ? null : ip.trim();
}

/** events whose visitor id is computed: a network identity and no known customer */
function isAnonymousVisit(d: Record<string, unknown>): boolean {
  return (ipOf(d) !== null || userAgentOf(d) !== null) && !str(d.customer_id);
}

export interface PrivacyOptions {
  /** how long a tenant's latest key is cached (a rotation reaches other replicas within it) */
  keyTtlMs?: number;
  /** how long a day's salt is cached (days older than yesterday are never used, whatever the cache) */
  saltTtlMs?: number;
  maxTenants?: number;
}

export interface Privacy {
  /** load what the batch needs (≤ 2 queries, none when cached), then map each event synchronously */
  prepare(events: ValidEvent[], now: Date): Promise<(e: ValidEvent) => EventRow>;
}

export function createPrivacy(sql: Sql, logger: Logger, opts: PrivacyOptions = {}): Privacy {
  const log = logger.child({ component: "privacy" });
  const keys = new LRUCache<string, TenantKey>({ max: opts.maxTenants ?? 50_000, ttl: opts.keyTtlMs ?? 5 * 60_000 });
  const salts = new LRUCache<string, Buffer>({ max: 8, ttl: opts.saltTtlMs ?? 5 * 60_000 });

  async function loadKeys(tenants: Set<string>): Promise<Map<string, TenantKey>> {
    const out = new Map<string, TenantKey>();
    const missing: string[] = [];
    for (const t of tenants) {
      const k = keys.get(t);
      if (k) out.set(t, k);
      else missing.push(t);
    }
    if (missing.length === 0) return out;
    let got = await getOrCreateTenantKeys(sql, missing);
    const again = missing.filter((t) => !got.has(t));
    if (again.length > 0) {
      // created by a concurrent transaction after our snapshot: now committed and visible
      const more = await getOrCreateTenantKeys(sql, again);
      got = new Map([...got, ...more]);
    }
    for (const t of missing) {
      const k = got.get(t);
      if (!k) throw new Error(`no HMAC key could be loaded for tenant ${t}`);
      keys.set(t, k);
      out.set(t, k);
    }
    log.debug({ tenants: missing.length }, "loaded tenant keys");
    return out;
  }

  async function loadSalts(days: Set<string>): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    const missing: string[] = [];
    for (const d of days) {
      const s = salts.get(d);
      if (s) out.set(d, s);
      else missing.push(d);
    }
    if (missing.length === 0) return out;
    let got = await getOrCreateVisitorSalts(sql, missing);
    const again = missing.filter((d) => !got.has(d));
    if (again.length > 0) {
      const more = await getOrCreateVisitorSalts(sql, again);
      got = new Map([...got, ...more]);
    }
    for (const [d, s] of got) {
      salts.set(d, s);
      out.set(d, s);
    }
    log.debug({ days: missing, found: got.size }, "loaded visitor salts");
    return out;
  }

  return {
    async prepare(events, now) {
      const oldestDay = utcDay(now.getTime() - DAY_MS); // yesterday (UTC): older salts are destroyed
      const tenants = new Set<string>();
      const days = new Set<string>();
      for (const e of events) {
        const d = e.data;
        if (str(d.email) !== null || userAgentOf(d) !== null) tenants.add(e.tenantId);
        if (isAnonymousVisit(d)) {
          const day = utcDay(e.time);
          if (day >= oldestDay) days.add(day);
        }
      }
      const [tenantKeys, daySalts] = await Promise.all([loadKeys(tenants), loadSalts(days)]);

      return (e: ValidEvent): EventRow => {
        const d = e.data;
        const ip = ipOf(d);
        const ua = userAgentOf(d);
        const email = str(d.email);
        const customerId = str(d.customer_id);

        let key: TenantKey | undefined;
        if (email !== null || ua !== null) {
          key = tenantKeys.get(e.tenantId);
          if (!key) throw new Error(`privacy: event ${e.id} of tenant ${e.tenantId} was not in the prepared batch`);
        }

        let visitor: string | null = null;
        if ((ip !== null || ua !== null) && !customerId) {
          const day = utcDay(e.time);
          const salt = day >= oldestDay ? daySalts.get(day) : undefined;
          if (salt) visitor = visitorId(salt, e.tenantId, ip ?? "", ua ?? "");
        }

        const props: Record<string, unknown> = {};
        const keepName = e.type === "item.upserted";
        const refund = e.type === "order.refunded";
        const cart = e.type === "cart.item_added";
        for (const k in d) {
          if (COLUMN_KEYS.has(k)) continue;
          if (PII_KEYS.has(k) && !(keepName && k === "name")) continue;
          if (refund && k === "amount_minor") continue;
          if (cart && k === "quantity") continue;
          const v = d[k];
          if (v === undefined) continue;
          props[k] = keepName && k === "name" ? (typeof v === "string" ? v : scrubDeep(v)) : scrubDeep(v);
        }
        if (email !== null && email.trim() !== "" && key) props.email_hash = emailHash(key.key, key.version, email);

        return {
          time: e.time,
          tenant_id: e.tenantId,
          event_id: e.id,
          type: e.type,
          schema_version: e.receivedVersion,
          source: e.source,
          customer_id: customerId,
          visitor_id: visitor,
          session_id: str(d.session_id),
          order_id: str(d.order_id),
          cart_id: str(d.cart_id),
          item_id: str(d.item_id),
          channel: str(d.channel),
          amount_minor: amountOf(e),
          currency: str(d.currency),
          quantity: quantityOf(e),
          trace_id: e.traceId,
          ip_prefix: ip === null ? null : ipPrefix(ip),
          ua_hash: ua !== null && key ? uaHash(key.key, ua) : null,
          ua_family: ua === null ? null : uaFamily(ua),
          props,
        };
      };
    },
  };
}

// ─── dead letters ───────────────────────────────────────────────────────────────────────────────────

const DROP = Symbol("drop");

/** the dead-letter form of one field: PII replaced or dropped (DROP), anything else redacted within */
function redactField(k: string, x: unknown, maskText: boolean, keepName: boolean): unknown {
  switch (k) {
    case "email":
      return "[redacted-email]";
    case "ip":
      return (typeof x === "string" ? ipPrefix(x) : null) ?? "[redacted-ip]";
    case "user_agent":
    case "ua":
      return typeof x === "string" ? uaFamily(x) : "[redacted-ua]";
    case "customer_name":
    case "full_name":
      return DROP;
    case "name":
      return keepName && typeof x === "string" ? x : DROP;
    default:
      return redact(x, maskText);
  }
}

/** PII keys replaced at any depth; with maskText, e-mail/IP literals in other strings are masked too */
function redact(v: unknown, maskText: boolean, keepTopName = false): unknown {
  if (Array.isArray(v)) return v.map((x) => redact(x, maskText));
  if (v === null || typeof v !== "object") return maskText && typeof v === "string" ? redactText(v) : v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const r = redactField(k, x, maskText, keepTopName);
    if (r !== DROP) out[k] = r;
  }
  return out;
}

/**
 * A deep copy of a (possibly invalid) event payload fit for the dead-letter table: in `data`, at any
 * depth, ip → its prefix, email → "[redacted-email]", user_agent/ua → its family, names removed
 * (item.upserted keeps its top-level item `name`), and e-mail/IP literals in other strings masked.
 * The same keys are redacted outside `data` too (a publisher that forgot to nest its data under
 * `data` is a typical invalid envelope), without masking envelope strings such as ids.
 */
export function redactPayload(payload: unknown): unknown {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return redact(payload, false);
  const p = payload as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(p)) {
    const r = k === "data" ? redact(x, true, p.type === "item.upserted") : redactField(k, x, false, false);
    if (r !== DROP) out[k] = r;
  }
  return out;
}

const EMAIL_RE = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]*/g;
const IPV6_RE = /[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?:%[0-9A-Za-z]+)?/g;
const IPV4_RE = /(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])/g;
const PII_FIELD_RE = /("(?:name|customer_name|full_name|user_agent|ua)"\s*:\s*")((?:[^"\\]|\\.)*)("?)/g;

/**
 * Masks contact data in a text excerpt that could not be parsed: e-mail addresses (also a truncated
 * "alice@exa"), IPv4 and IPv6 literals, and the string values of JSON-looking name / user-agent fields.
 */
export function redactText(text: string): string {
  return text
    .replace(PII_FIELD_RE, (_m, open: string, _v: string, close: string) => `${open}[redacted]${close}`)
    .replace(EMAIL_RE, "[redacted-email]")
    .replace(IPV6_RE, (m) => (isIP(m) === 6 || isIP(m.replace(/[:.]+$/, "")) === 6 ? "[redacted-ip]" : m))
    .replace(IPV4_RE, (m) => (isIP(m) === 4 ? "[redacted-ip]" : m));
}
