/**
 * The CloudEvents envelope of every event (all but `data`): validation checks it (validate.ts) and the
 * catalog's JSON Schemas describe it (catalog.ts).
 */
import { z } from "zod";
import { Timestamp } from "./v2.ts";

export const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** the CloudEvents attributes (without data), shared with the JSON Schemas the catalog serves */
export const ENVELOPE_FIELDS = {
  specversion: z.literal("1.0", { error: 'must be "1.0"' }),
  id: z.string().min(1).max(128).meta({ description: "unique per source; the dedup key (also sent as Nats-Msg-Id)" }),
  source: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[^\s\u0000-\u001f\u007f]+$/, "must be a URI-reference (no spaces or control characters)")
    .meta({ description: "URI-reference of the publisher, e.g. /orders-service" }),
  type: z.string().min(1).max(128),
  time: Timestamp.meta({ description: "RFC 3339 time of the fact (not of publishing)" }),
  tenantid: z
    .uuid({ error: "must be a uuid" })
    .meta({ description: "the venue / shop; equals the subject token analytics.<tenantid>.<type>" }),
  schemaversion: z.string({ error: 'must be the string "1" or "2"' }),
  traceparent: z
    .string()
    .regex(TRACEPARENT, "must be a W3C traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>")
    .refine((t) => !t.startsWith("ff-") && t.slice(3, 35) !== "0".repeat(32), "must not have version ff or an all-zero trace id")
    .meta({ description: "W3C trace context; its trace id is stored" }),
  subject: z.string().max(1024),
  datacontenttype: z.string().max(255),
  dataschema: z.string().max(2048),
} as const;

const DataObject = z.custom<Record<string, unknown>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), "must be an object");

export const Envelope = z.looseObject({
  specversion: ENVELOPE_FIELDS.specversion,
  id: ENVELOPE_FIELDS.id,
  source: ENVELOPE_FIELDS.source,
  type: ENVELOPE_FIELDS.type,
  time: ENVELOPE_FIELDS.time,
  tenantid: ENVELOPE_FIELDS.tenantid.optional(),
  schemaversion: ENVELOPE_FIELDS.schemaversion.optional(),
  traceparent: ENVELOPE_FIELDS.traceparent.optional(),
  subject: ENVELOPE_FIELDS.subject.optional(),
  datacontenttype: ENVELOPE_FIELDS.datacontenttype.optional(),
  dataschema: ENVELOPE_FIELDS.dataschema.optional(),
  data: DataObject,
});
