/** Builders of realistic CloudEvents (events.md) for tests and benchmarks. */

export interface CloudEvent {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  time: string;
  tenantid?: string;
  schemaversion?: "1" | "2";
  traceparent?: string;
  data: Record<string, unknown>;
}

let counter = 0;
export function eventId(prefix = "evt"): string {
  counter += 1;
  return `${prefix}-${crypto.randomUUID()}-${counter}`;
}

export function envelope(tenantId: string, type: string, data: Record<string, unknown>, over: Partial<CloudEvent> = {}): CloudEvent {
  return {
    specversion: "1.0",
    id: eventId(),
    source: "/test-publisher",
    type,
    time: new Date(Date.now() - 60_000).toISOString(),
    tenantid: tenantId,
    schemaversion: "2",
    data,
    ...over,
  };
}

export function orderCompleted(tenantId: string, over: Partial<CloudEvent> = {}, data: Record<string, unknown> = {}): CloudEvent {
  return envelope(
    tenantId,
    "order.completed",
    {
      order_id: `o-${crypto.randomUUID().slice(0, 8)}`,
      customer_id: "c-1",
      channel: "web",
      currency: "EUR",
      lines: [
        { item_id: "show-1", quantity: 2, unit_price_minor: 2500 },
        { item_id: "tee-1", quantity: 1, unit_price_minor: 1999 },
      ],
      discount_minor: 499,
      total_minor: 6500,
      email: "alice@example.com",
      customer_name: "Alice Liddell",
      ip: "203.0.113.77",
      user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
      ...data,
    },
    over,
  );
}

export function pageViewed(tenantId: string, over: Partial<CloudEvent> = {}, data: Record<string, unknown> = {}): CloudEvent {
  return envelope(
    tenantId,
    "page.viewed",
    {
      session_id: `s-${crypto.randomUUID().slice(0, 8)}`,
      url: "https://shop.example/shows",
      referrer: "https://search.example/",
      utm_source: "newsletter",
      ip: "198.51.100.23",
      user_agent:
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
      ...data,
    },
    over,
  );
}

export function itemUpserted(
  tenantId: string,
  itemId: string,
  over: Partial<CloudEvent> = {},
  data: Record<string, unknown> = {},
): CloudEvent {
  return envelope(
    tenantId,
    "item.upserted",
    {
      item_id: itemId,
      name: "Late show",
      category: "concert",
      kind: "ticketed_event",
      currency: "EUR",
      base_price_minor: 2500,
      min_price_minor: 2000,
      max_price_minor: 4000,
      capacity: 300,
      starts_at: "2026-12-24T20:00:00Z",
      ...data,
    },
    over,
  );
}

export function customerRegistered(
  tenantId: string,
  customerId: string,
  over: Partial<CloudEvent> = {},
  data: Record<string, unknown> = {},
): CloudEvent {
  return envelope(
    tenantId,
    "customer.registered",
    { customer_id: customerId, email: "Bob@Example.com", name: "Bob Builder", ip: "192.0.2.10", ...data },
    over,
  );
}

/** the v1 (legacy) shape of the same order fact as orderCompleted(..., {lines: one line}) */
export function legacyOrder(tenantId: string, id: string, time: string): CloudEvent {
  return {
    specversion: "1.0",
    id,
    source: "/legacy-orders",
    type: "order.completed",
    time,
    schemaversion: "1",
    data: {
      venue_id: tenantId,
      order_id: "o-legacy",
      customer_id: "c-9",
      channel: "box_office",
      currency: "USD",
      total: 37.5,
      items: [{ item_id: "show-9", qty: 3, price: 12.5 }],
    },
  };
}

// ─── funnel steps (analytics.funnel / analytics.realtime tests) ─────────────────────────────────────

export function itemViewed(
  tenantId: string,
  sessionId: string,
  itemId: string,
  over: Partial<CloudEvent> = {},
  data: Record<string, unknown> = {},
): CloudEvent {
  return envelope(tenantId, "item.viewed", { session_id: sessionId, item_id: itemId, ...data }, over);
}

export function cartItemAdded(
  tenantId: string,
  sessionId: string,
  itemId: string,
  over: Partial<CloudEvent> = {},
  data: Record<string, unknown> = {},
): CloudEvent {
  return envelope(
    tenantId,
    "cart.item_added",
    { session_id: sessionId, cart_id: `cart-${sessionId}`, item_id: itemId, quantity: 1, unit_price_minor: 2500, currency: "EUR", ...data },
    over,
  );
}

export function checkoutStarted(
  tenantId: string,
  sessionId: string,
  over: Partial<CloudEvent> = {},
  data: Record<string, unknown> = {},
): CloudEvent {
  return envelope(tenantId, "checkout.started", { session_id: sessionId, cart_id: `cart-${sessionId}`, ...data }, over);
}

export function orderFulfilled(tenantId: string, orderId: string, over: Partial<CloudEvent> = {}): CloudEvent {
  return envelope(tenantId, "order.fulfilled", { order_id: orderId }, over);
}

export function orderRefunded(
  tenantId: string,
  orderId: string,
  amountMinor: number,
  over: Partial<CloudEvent> = {},
  data: Record<string, unknown> = {},
): CloudEvent {
  return envelope(
    tenantId,
    "order.refunded",
    { order_id: orderId, refund_id: `rf-${crypto.randomUUID().slice(0, 8)}`, amount_minor: amountMinor, currency: "EUR", ...data },
    over,
  );
}

export function shipmentDispatched(
  tenantId: string,
  orderId: string,
  shipmentId: string,
  carrier: string,
  over: Partial<CloudEvent> = {},
  data: Record<string, unknown> = {},
): CloudEvent {
  return envelope(tenantId, "shipment.dispatched", { order_id: orderId, shipment_id: shipmentId, carrier, ...data }, over);
}

export function shipmentDelivered(
  tenantId: string,
  orderId: string,
  shipmentId: string,
  carrier: string,
  over: Partial<CloudEvent> = {},
): CloudEvent {
  return envelope(tenantId, "shipment.delivered", { order_id: orderId, shipment_id: shipmentId, carrier }, over);
}

export function campaignTouched(
  tenantId: string,
  sessionId: string,
  utmSource: string,
  over: Partial<CloudEvent> = {},
  data: Record<string, unknown> = {},
): CloudEvent {
  return envelope(tenantId, "campaign.touched", { session_id: sessionId, utm_source: utmSource, ...data }, over);
}
