/**
 * ValidEvent → EventRow (exactly the events table's columns) with no raw IP, email, name or user agent:
 * - IP → network prefix (ip.ts); the raw IP only feeds the visitor id and is never stored.
 * - user agent → coarse family "browser/os/device" (user-agent.ts) + a keyed hash (hash.ts).
 * - email → HMAC-SHA-256 under the tenant's key, prefixed with the key version ("v1:…").
 * - anonymous visitors (no customer_id) → visitor id = HMAC(daily salt, tenant|ip|ua).
 * - names never stored (item.upserted's `name` is the item's name, not a person's: kept).
 */
import type { EventRow, ValidEvent } from "../types.ts";
import { emailHash, uaHash, visitorId } from "./hash.ts";
import { ipPrefix } from "./ip.ts";
import type { TenantKey } from "./privacy.queries.ts";
import { uaFamily } from "./user-agent.ts";

/** keys that never reach props, at any depth ("name" is kept only at the top of item.upserted) */
const PII_KEYS = new Set(["ip", "user_agent", "ua", "email", "name", "customer_name", "full_name"]);
/** copied to the same-named column, so not repeated in props */
const COLUMN_KEYS = new Set(["customer_id", "session_id", "order_id", "cart_id", "item_id", "channel", "currency"]);

/** the secrets one event's row is made with, from the batch the privacy step prepared */
export interface RowSecrets {
  /** the latest key of the event's tenant (asked only for events with an email or a user agent) */
  tenantKey(e: ValidEvent): TenantKey;
  /** the salt of the event's UTC day, while it exists (asked only for anonymous visits) */
  daySalt(e: ValidEvent): Buffer | undefined;
}

export function toEventRow(e: ValidEvent, secrets: RowSecrets): EventRow {
  const d = e.data;
  const ip = ipOf(d);
  const ua = userAgentOf(d);
  const email = str(d.email);
  const customerId = str(d.customer_id);
  const key = email !== null || ua !== null ? secrets.tenantKey(e) : undefined;

  let visitor: string | null = null;
  if ((ip !== null || ua !== null) && !customerId) {
    const salt = secrets.daySalt(e);
    if (salt) visitor = visitorId(salt, e.tenantId, ip ?? "", ua ?? "");
  }

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
    props: propsOf(e, email, key),
  };
}

/** events whose row needs the tenant's key: an email or a user agent to hash */
export function needsTenantKey(d: Record<string, unknown>): boolean {
  return str(d.email) !== null || userAgentOf(d) !== null;
}

/** events whose visitor id is computed: a network identity and no known customer */
export function isAnonymousVisit(d: Record<string, unknown>): boolean {
  return (ipOf(d) !== null || userAgentOf(d) !== null) && !str(d.customer_id);
}

/** the data that has no column of its own, PII removed (email only as email_hash) */
function propsOf(e: ValidEvent, email: string | null, key: TenantKey | undefined): Record<string, unknown> {
  const d = e.data;
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
  return props;
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
