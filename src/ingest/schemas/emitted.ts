/**
 * Events Pulse itself PUBLISHES (never accepted on ingest): their data schemas and subjects, listed in
 * the catalog beside the accepted ones so consumers find the contract where publishers find theirs.
 *
 * price.change_approved (schema version 1): a pricing manager approved a price change (src/pricing/);
 * the upstream catalog applies it and answers with an item.upserted carrying the new price. Published
 * on `<PRICING_SUBJECT_PREFIX>.<tenantid>.price.change_approved` (default prefix `pricing`, stream
 * PRICING_NATS_STREAM, default PRICING) through an outbox, at least once, with Nats-Msg-Id = the
 * CloudEvent id = the change id: a republish inside the stream's duplicate window is dropped by
 * JetStream, and a consumer dedups on the id beyond it.
 */
import { z } from "zod";
import { Currency, Id, Minor, Text, Timestamp } from "./v2.ts";

export const EMITTED_TYPES = ["price.change_approved"] as const;
export type EmittedType = (typeof EMITTED_TYPES)[number];

export const PriceChangeApprovedData = z.object({
  change_id: z.uuid().meta({ description: "the price change (also the event id and Nats-Msg-Id)" }),
  item_id: Id,
  currency: Currency,
  previous_price_minor: Minor.meta({ description: "the catalog price when the change was proposed" }),
  new_price_minor: Minor.positive().meta({ description: "the approved price, to apply as the item's base_price_minor" }),
  approved_at: Timestamp,
  reason: Text.nullable().meta({ description: "the proposer's reason" }),
});
export type PriceChangeApproved = z.infer<typeof PriceChangeApprovedData>;

export interface EmittedEntry {
  version: "1";
  /** the subject pattern */
  subject: string;
  description: string;
  data: z.ZodType;
}

export const EMITTED: Record<EmittedType, EmittedEntry> = {
  "price.change_approved": {
    version: "1",
    subject: "<PRICING_SUBJECT_PREFIX>.<tenantid>.price.change_approved",
    description:
      "Published by Pulse (not accepted on ingest): a price change was approved by a second person; apply it to the catalog " +
      "and publish an item.upserted with the new base_price_minor, which marks the change applied. Subject " +
      "<PRICING_SUBJECT_PREFIX>.<tenantid>.price.change_approved (default prefix pricing, stream PRICING); at least once, " +
      "Nats-Msg-Id = id = change_id (dedup on it).",
    data: PriceChangeApprovedData,
  },
};

export const PRICING_EVENT_SOURCE = "/pulse/pricing";
