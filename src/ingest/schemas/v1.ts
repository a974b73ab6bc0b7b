/**
 * Version-1 (legacy) `data` schemas of events.md: the tenant is `venue_id`, amounts are decimal numbers
 * in major units (12.5 USD). upcast.ts converts them to the version-2 shape. Loose like v2: unknown
 * extra fields are kept.
 */
import { z } from "zod";
import type { EventType } from "../types.ts";
import { Channel, Currency, Email, Id, Ip, PersonName, Quantity, Referrer, Text, Url, UserAgent } from "./v2.ts";

/** a decimal amount in major units (converted exactly to minor units by the upcaster) */
export const MajorAmount = z.number().nonnegative().meta({ description: "decimal amount in major units, e.g. 12.5 for USD 12.50" });

const VenueId = z.uuid({ error: "must be a uuid (the tenant)" });

export const orderCompletedV1 = z.looseObject({
  venue_id: VenueId,
  order_id: Id,
  customer_id: Id,
  channel: Channel,
  currency: Currency,
  total: MajorAmount,
  items: z.array(z.looseObject({ item_id: Id, qty: Quantity, price: MajorAmount })).min(1, "must have at least one item"),
  email: Email.optional(),
  ip: Ip.optional(),
  user_agent: UserAgent.optional(),
});

export const orderRefundedV1 = z.looseObject({
  venue_id: VenueId,
  order_id: Id,
  amount: MajorAmount,
  currency: Currency,
  reason: Text.optional(),
});

export const pageViewedV1 = z.looseObject({
  venue_id: VenueId,
  session: Id,
  url: Url,
  referrer: Referrer.optional(),
  ip: Ip.optional(),
  ua: UserAgent.optional(),
});

export const customerRegisteredV1 = z.looseObject({
  venue_id: VenueId,
  customer_id: Id,
  email: Email.optional(),
  full_name: PersonName.optional(),
});

export const V1_SCHEMAS: Partial<Record<EventType, z.ZodType>> = {
  "order.completed": orderCompletedV1,
  "order.refunded": orderRefundedV1,
  "page.viewed": pageViewedV1,
  "customer.registered": customerRegisteredV1,
};

export type OrderCompletedV1 = z.output<typeof orderCompletedV1>;
export type OrderRefundedV1 = z.output<typeof orderRefundedV1>;
export type PageViewedV1 = z.output<typeof pageViewedV1>;
export type CustomerRegisteredV1 = z.output<typeof customerRegisteredV1>;
