/**
 * Version-2 `data` schemas, one per event type of events.md. Built once at module load (validation runs
 * thousands of times a second). Objects are loose: publishers may send more fields and they are kept
 * (PII included: the privacy step after validation removes it).
 */
import { z } from "zod";
import { isCurrency } from "../../lib/currency.ts";
import type { EventType } from "../types.ts";

// ─── shared field rules (also used by v1.ts and the envelope) ──────────────────────────────────────

/** an upstream identifier: session_id, item_id, order_id, cart_id, customer_id, refund_id, shipment_id */
export const Id = z.string().min(1).max(128);
/** an amount in the currency's minor unit */
export const Minor = z.number().int().nonnegative();
export const Quantity = z.number().int().positive();
export const Currency = z
  .string()
  .regex(/^[A-Z]{3}$/, { message: "must be an uppercase ISO 4217 code such as USD", abort: true })
  .refine(isCurrency, "must be an ISO 4217 currency code");
export const Channel = z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, "must be a short lowercase token such as web, mobile or box_office");
export const Url = z.string().min(1).max(2048);
export const Referrer = z.string().max(2048);
export const Timestamp = z.iso.datetime({
  offset: true,
  error: "must be an RFC 3339 timestamp with a timezone, e.g. 2025-03-01T12:00:00Z",
});
export const DateOnly = z.iso.date({ error: "must be a date YYYY-MM-DD" });
/** free text with a sane bound (utm values, carrier, reason, category, names) */
export const Text = z.string().max(1024);
export const NonEmptyText = z.string().min(1).max(1024);
export const Email = z.string().max(320);
export const Ip = z.string().max(64);
export const UserAgent = z.string().max(2048);
export const PersonName = z.string().max(256);

const zones = new Map<string, boolean>();
/** a time zone the runtime knows (IANA name such as Europe/Berlin, or UTC) */
export function isTimeZone(tz: string): boolean {
  const cached = zones.get(tz);
  if (cached !== undefined) return cached;
  let ok: boolean;
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: tz });
    ok = tz.length > 0 && tz.length <= 64;
  } catch {
    ok = false;
  }
  if (zones.size < 1000) zones.set(tz, ok);
  return ok;
}
export const TimeZone = z.string().min(1).max(64).refine(isTimeZone, "must be an IANA time zone such as Europe/Berlin");

// ─── one schema per type ───────────────────────────────────────────────────────────────────────────

const pageViewed = z.looseObject({
  session_id: Id,
  url: Url,
  referrer: Referrer.optional(),
  utm_source: Text.optional(),
  utm_medium: Text.optional(),
  utm_campaign: Text.optional(),
  customer_id: Id.optional(),
  ip: Ip.optional(),
  user_agent: UserAgent.optional(),
});

const itemViewed = z.looseObject({
  session_id: Id,
  item_id: Id,
  customer_id: Id.optional(),
  ip: Ip.optional(),
  user_agent: UserAgent.optional(),
});

const cartItemAdded = z.looseObject({
  session_id: Id,
  cart_id: Id,
  item_id: Id,
  quantity: Quantity,
  unit_price_minor: Minor,
  currency: Currency,
  customer_id: Id.optional(),
});

const checkoutStarted = z.looseObject({
  session_id: Id,
  cart_id: Id,
  customer_id: Id.optional(),
});

export const OrderLine = z.looseObject({
  item_id: Id,
  quantity: Quantity,
  unit_price_minor: Minor,
});

/** Σ quantity × unit_price_minor − discount_minor, or null when an intermediate is not a safe integer */
export function expectedTotal(lines: ReadonlyArray<{ quantity: number; unit_price_minor: number }>, discount: number): number | null {
  let sum = 0;
  for (const l of lines) {
    const amount = l.quantity * l.unit_price_minor;
    if (!Number.isSafeInteger(amount)) return null;
    sum += amount;
    if (!Number.isSafeInteger(sum)) return null;
  }
  return sum - discount;
}

const orderCompleted = z
  .looseObject({
    order_id: Id,
    customer_id: Id,
    channel: Channel,
    currency: Currency,
    lines: z.array(OrderLine).min(1, "must have at least one line"),
    discount_minor: Minor.default(0),
    total_minor: Minor,
    session_id: Id.optional(),
    cart_id: Id.optional(),
    email: Email.optional(),
    customer_name: PersonName.optional(),
    ip: Ip.optional(),
    user_agent: UserAgent.optional(),
  })
  .superRefine((o, ctx) => {
    const expected = expectedTotal(o.lines, o.discount_minor);
    if (expected === null) {
      ctx.addIssue({ code: "custom", path: ["total_minor"], message: "the line amounts exceed the safe integer range" });
    } else if (o.total_minor !== expected) {
      ctx.addIssue({
        code: "custom",
        path: ["total_minor"],
        message: `must equal Σ quantity × unit_price_minor − discount_minor = ${expected}, got ${o.total_minor}`,
      });
    }
  });

const orderRefunded = z.looseObject({
  order_id: Id,
  refund_id: Id,
  amount_minor: Minor,
  currency: Currency,
  reason: Text.optional(),
});

const orderFulfilled = z.looseObject({
  order_id: Id,
});

const shipmentDispatched = z.looseObject({
  order_id: Id,
  shipment_id: Id,
  carrier: NonEmptyText,
  promised_by: Timestamp.optional(),
});

const shipmentDelivered = z.looseObject({
  order_id: Id,
  shipment_id: Id,
  carrier: NonEmptyText,
});

const customerRegistered = z.looseObject({
  customer_id: Id,
  email: Email.optional(),
  name: PersonName.optional(),
  ip: Ip.optional(),
  user_agent: UserAgent.optional(),
});

const itemUpserted = z
  .looseObject({
    item_id: Id,
    name: NonEmptyText,
    category: NonEmptyText,
    kind: z.enum(["ticketed_event", "product"]),
    currency: Currency,
    base_price_minor: Minor,
    min_price_minor: Minor.optional(),
    max_price_minor: Minor.optional(),
    capacity: z.number().int().nonnegative().optional(),
    starts_at: Timestamp.optional(),
  })
  .superRefine((o, ctx) => {
    if (o.min_price_minor !== undefined && o.min_price_minor > o.base_price_minor) {
      ctx.addIssue({
        code: "custom",
        path: ["min_price_minor"],
        message: `must be ≤ base_price_minor (${o.base_price_minor}), got ${o.min_price_minor}`,
      });
    }
    if (o.max_price_minor !== undefined && o.max_price_minor < o.base_price_minor) {
      ctx.addIssue({
        code: "custom",
        path: ["max_price_minor"],
        message: `must be ≥ base_price_minor (${o.base_price_minor}), got ${o.max_price_minor}`,
      });
    }
  });

const campaignTouched = z.looseObject({
  session_id: Id,
  utm_source: NonEmptyText,
  utm_medium: Text.optional(),
  utm_campaign: Text.optional(),
  customer_id: Id.optional(),
});

const reconciliationExpected = z.looseObject({
  date: DateOnly,
  timezone: TimeZone,
  orders: z.number().int().nonnegative(),
  gross_minor: Minor,
  currency: Currency,
});

export const V2_SCHEMAS: Record<EventType, z.ZodType> = {
  "page.viewed": pageViewed,
  "item.viewed": itemViewed,
  "cart.item_added": cartItemAdded,
  "checkout.started": checkoutStarted,
  "order.completed": orderCompleted,
  "order.refunded": orderRefunded,
  "order.fulfilled": orderFulfilled,
  "shipment.dispatched": shipmentDispatched,
  "shipment.delivered": shipmentDelivered,
  "customer.registered": customerRegistered,
  "item.upserted": itemUpserted,
  "campaign.touched": campaignTouched,
  "reconciliation.expected": reconciliationExpected,
};

/** one line per type, for the catalog */
export const DESCRIPTIONS: Record<EventType, string> = {
  "page.viewed": "A visitor viewed a page (session, url, referrer, utm parameters).",
  "item.viewed": "A visitor viewed an item (product or ticketed event).",
  "cart.item_added": "An item was added to a cart (quantity and unit price in minor units).",
  "checkout.started": "A cart entered checkout.",
  "order.completed": "An order was placed: lines, discount and total in minor units (total = Σ lines − discount).",
  "order.refunded": "An order was (partly) refunded.",
  "order.fulfilled": "An order was fulfilled.",
  "shipment.dispatched": "A shipment left with a carrier, optionally with a promised delivery time.",
  "shipment.delivered": "A shipment was delivered.",
  "customer.registered": "A customer account was created.",
  "item.upserted": "An item of the catalogue was created or changed (kind, prices, capacity, start).",
  "campaign.touched": "A visitor arrived through a marketing campaign (utm source/medium/campaign).",
  "reconciliation.expected": "Upstream's own daily order count and gross revenue, to reconcile against.",
};
