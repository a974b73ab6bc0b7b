/**
 * Shared shapes of the ingest pipeline:
 *   raw bytes/JSON ─validateEvent→ ValidEvent (v2 data, upcast from v1) | Rejection
 *   ValidEvent ─toEventRow (privacy)→ EventRow (exactly the events table's columns, no PII)
 */

export const EVENT_TYPES = [
  "page.viewed",
  "item.viewed",
  "cart.item_added",
  "checkout.started",
  "order.completed",
  "order.refunded",
  "order.fulfilled",
  "shipment.dispatched",
  "shipment.delivered",
  "customer.registered",
  "item.upserted",
  "campaign.touched",
  "reconciliation.expected",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const REJECT_REASONS = [
  "malformed_json",
  "invalid_envelope",
  "unknown_type",
  "unsupported_schema_version",
  "invalid_data",
  "tenant_mismatch",
  "too_far_in_future",
  "older_than_retention",
  "payload_too_large",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface FieldIssue {
  /** dotted path from the envelope root, e.g. "data.lines.0.quantity" */
  path: string;
  message: string;
}

/** a valid event, its data in the version-2 shape (upcast when it arrived as version 1) */
export interface ValidEvent {
  id: string;
  source: string;
  type: EventType;
  time: Date;
  tenantId: string;
  /** the version it arrived in (1 or 2); data is always v2 */
  receivedVersion: 1 | 2;
  traceId: string | null;
  subject: string | null;
  data: Record<string, unknown>;
}

export interface Rejection {
  reason: RejectReason;
  issues: FieldIssue[];
  /** whatever could be read from the envelope (null when unknown) */
  tenantId: string | null;
  eventId: string | null;
  type: string | null;
  source: string | null;
  schemaVersion: string | null;
  /** the parsed payload (PII not yet removed: the dead-letter writer redacts it), undefined when not JSON */
  payload: unknown;
  /** the first bytes of an unparseable payload (PII not yet removed) */
  excerpt: string | null;
}

export type ValidationResult = { ok: true; event: ValidEvent } | { ok: false; rejection: Rejection };

export interface ValidationContext {
  /** the tenant the transport vouches for (NATS subject token, or the HTTP token's tenant) */
  expectedTenant: string | null;
  now: Date;
  /** time more than this in the future ⇒ too_far_in_future (default 5 min) */
  maxFutureMs: number;
  /** time older than now − this ⇒ older_than_retention (default 90 days) */
  retentionMs: number;
  /** payload larger than this ⇒ payload_too_large */
  maxBytes: number;
  /** objects and arrays nested deeper than this (the envelope is level 1) ⇒ invalid_data / invalid_envelope (JSON_MAX_DEPTH) */
  maxDepth: number;
}

/** one row of the events hypertable (no raw IP, email, name or user agent) */
export interface EventRow {
  time: Date;
  tenant_id: string;
  event_id: string;
  type: EventType;
  schema_version: 1 | 2;
  source: string;
  customer_id: string | null;
  visitor_id: string | null;
  session_id: string | null;
  order_id: string | null;
  cart_id: string | null;
  item_id: string | null;
  channel: string | null;
  amount_minor: number | null;
  currency: string | null;
  quantity: number | null;
  trace_id: string | null;
  ip_prefix: string | null;
  ua_hash: string | null;
  ua_family: string | null;
  /** the rest of the v2 data, PII removed (email only as email_hash) */
  props: Record<string, unknown>;
}
