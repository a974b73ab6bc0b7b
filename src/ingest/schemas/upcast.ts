/**
 * Version 1 → version 2. A v1 event and a v2 event of the same fact give IDENTICAL v2 data:
 *   order.completed      total/items[{qty, price}] (major units) → total_minor/lines[{quantity, unit_price_minor}], discount_minor 0
 *   order.refunded       amount → amount_minor; refund_id = the event id (v1 has none)
 *   page.viewed          session → session_id, ua → user_agent
 *   customer.registered  full_name → name
 * venue_id (the tenant) is dropped from the data; other fields, unknown extras included, pass through.
 * The result is validated against the v2 schema as well. Issue paths are dotted from the envelope
 * root and name the v1 fields the publisher sent ("data.items.0.price").
 */
import type { z } from "zod";
import { majorToMinor, minorExponent, MoneyConversionError } from "../../lib/currency.ts";
import type { EventType, FieldIssue } from "../types.ts";
import { type CustomerRegisteredV1, type OrderCompletedV1, type OrderRefundedV1, type PageViewedV1, V1_SCHEMAS } from "./v1.ts";
import { expectedTotal, V2_SCHEMAS } from "./v2.ts";

export type UpcastResult = { ok: true; data: Record<string, unknown> } | { ok: false; issues: FieldIssue[] };

/** what the upcaster needs from the envelope */
export interface UpcastEnvelope {
  id: string;
}

/** zod issues → FieldIssues under `data.`, v2 field names renamed back to what the v1 publisher sent */
function dataIssues(issues: ReadonlyArray<z.core.$ZodIssue>, rename: Readonly<Record<string, string>> = {}): FieldIssue[] {
  return issues.map((i) => {
    const segments = i.path.map((p) => {
      const s = String(p);
      return rename[s] ?? s;
    });
    // a rename starting with "@" points outside data (refund_id comes from the envelope's id)
    const head = segments[0];
    const path = head?.startsWith("@") ? [head.slice(1), ...segments.slice(1)].join(".") : ["data", ...segments].join(".");
    return { path, message: i.message };
  });
}

// v2 field → v1 field, per type (for issues found by the v2 check after upcasting)
const RENAMES: Partial<Record<EventType, Readonly<Record<string, string>>>> = {
  "order.completed": { lines: "items", quantity: "qty", unit_price_minor: "price", total_minor: "total" },
  "order.refunded": { amount_minor: "amount", refund_id: "@id" },
  "page.viewed": { session_id: "session", user_agent: "ua" },
  "customer.registered": { name: "full_name" },
};

class UpcastIssue extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

function toMinor(amount: number, currency: string, path: string): number {
  try {
    return majorToMinor(amount, currency);
  } catch (err) {
    if (err instanceof MoneyConversionError || err instanceof RangeError) throw new UpcastIssue(path, err.message);
    throw err;
  }
}

function orderCompleted(d: OrderCompletedV1): Record<string, unknown> {
  const { venue_id: _tenant, total, items, ...rest } = d;
  const issues: UpcastIssue[] = [];
  const lines = items.map(({ qty, price, ...lineRest }, i) => {
    let unit = 0;
    try {
      unit = toMinor(price, d.currency, `data.items.${i}.price`);
    } catch (err) {
      if (!(err instanceof UpcastIssue)) throw err;
      issues.push(err);
    }
    return { ...lineRest, quantity: qty, unit_price_minor: unit };
  });
  let totalMinor = 0;
  try {
    totalMinor = toMinor(total, d.currency, "data.total");
  } catch (err) {
    if (!(err instanceof UpcastIssue)) throw err;
    issues.push(err);
  }
  if (issues.length > 0) throw new AggregateUpcastIssue(issues);
  const expected = expectedTotal(lines, 0);
  if (expected === null) throw new UpcastIssue("data.total", "the item amounts exceed the safe integer range");
  if (expected !== totalMinor) {
    const exp = minorExponent(d.currency);
    throw new UpcastIssue("data.total", `must equal Σ qty × price = ${formatMajor(expected, exp)} ${d.currency}, got ${String(total)}`);
  }
  return { ...rest, lines, discount_minor: 0, total_minor: totalMinor };
}

class AggregateUpcastIssue extends Error {
  constructor(readonly issues: UpcastIssue[]) {
    super(issues.map((i) => i.message).join("; "));
  }
}

/** 1250, 2 → "12.50" (display only) */
function formatMajor(minor: number, exponent: number): string {
  if (exponent === 0) return String(minor);
  const neg = minor < 0;
  const s = String(Math.abs(minor)).padStart(exponent + 1, "0");
  return `${neg ? "-" : ""}${s.slice(0, -exponent)}.${s.slice(-exponent)}`;
}

function orderRefunded(d: OrderRefundedV1, env: UpcastEnvelope): Record<string, unknown> {
  const { venue_id: _tenant, amount, ...rest } = d;
  return { ...rest, refund_id: env.id, amount_minor: toMinor(amount, d.currency, "data.amount") };
}

function pageViewed(d: PageViewedV1): Record<string, unknown> {
  const { venue_id: _tenant, session, ua, ...rest } = d;
  return { ...rest, session_id: session, ...(ua !== undefined ? { user_agent: ua } : {}) };
}

function customerRegistered(d: CustomerRegisteredV1): Record<string, unknown> {
  const { venue_id: _tenant, full_name, ...rest } = d;
  return { ...rest, ...(full_name !== undefined ? { name: full_name } : {}) };
}

/** v1 data (unvalidated) → v2 data, validated against both versions' schemas */
export function upcastV1(type: EventType, v1data: unknown, envelope: UpcastEnvelope): UpcastResult {
  const v1 = V1_SCHEMAS[type];
  if (!v1) return { ok: false, issues: [{ path: "schemaversion", message: `${type} has no version 1; send schemaversion "2"` }] };
  const parsed = v1.safeParse(v1data);
  if (!parsed.success) return { ok: false, issues: dataIssues(parsed.error.issues) };

  let v2data: Record<string, unknown>;
  try {
    switch (type) {
      case "order.completed":
        v2data = orderCompleted(parsed.data as OrderCompletedV1);
        break;
      case "order.refunded":
        v2data = orderRefunded(parsed.data as OrderRefundedV1, envelope);
        break;
      case "page.viewed":
        v2data = pageViewed(parsed.data as PageViewedV1);
        break;
      case "customer.registered":
        v2data = customerRegistered(parsed.data as CustomerRegisteredV1);
        break;
      default:
        return { ok: false, issues: [{ path: "schemaversion", message: `${type} has no version 1 upcaster` }] };
    }
  } catch (err) {
    if (err instanceof UpcastIssue) return { ok: false, issues: [{ path: err.path, message: err.message }] };
    if (err instanceof AggregateUpcastIssue) return { ok: false, issues: err.issues.map((i) => ({ path: i.path, message: i.message })) };
    throw err;
  }

  const checked = V2_SCHEMAS[type].safeParse(v2data);
  if (!checked.success) return { ok: false, issues: dataIssues(checked.error.issues, RENAMES[type]) };
  return { ok: true, data: checked.data as Record<string, unknown> };
}
