/**
 * The event catalog: every (type, schema version) Pulse accepts, and for each the JSON Schema of a
 * whole event (CloudEvents envelope with `data` = that type's schema), for publishers; and the events
 * Pulse itself publishes (emitted.ts), for consumers.
 */
import { z } from "zod";
import { EVENT_TYPES, type EventType } from "../types.ts";
import { EMITTED, EMITTED_TYPES, type EmittedType } from "./emitted.ts";
import { ENVELOPE_FIELDS } from "./envelope.ts";
import { V1_SCHEMAS } from "./v1.ts";
import { DESCRIPTIONS, V2_SCHEMAS } from "./v2.ts";

export const SCHEMA_VERSIONS = ["1", "2"] as const;
export type SchemaVersion = (typeof SCHEMA_VERSIONS)[number];

export interface CatalogEntry {
  type: EventType | EmittedType;
  version: SchemaVersion;
  description: string;
  /** accepted: publishers send it to Pulse; emitted: Pulse publishes it */
  direction: "accepted" | "emitted";
  /** the NATS subject pattern */
  subject: string;
}

function emittedSchema(type: string, version: string): z.ZodType | undefined {
  if (!(EMITTED_TYPES as readonly string[]).includes(type)) return undefined;
  const e = EMITTED[type as EmittedType];
  return e.version === version ? e.data : undefined;
}

function dataSchema(type: string, version: string): z.ZodType | undefined {
  if (!(EVENT_TYPES as readonly string[]).includes(type)) return undefined;
  const t = type as EventType;
  if (version === "2") return V2_SCHEMAS[t];
  if (version === "1") return V1_SCHEMAS[t];
  return undefined;
}

const entries: CatalogEntry[] = [];
for (const type of EVENT_TYPES) {
  const accepted = { direction: "accepted" as const, subject: `<NATS_SUBJECT_PREFIX>.<tenantid>.${type}` };
  entries.push({ type, version: "2", description: DESCRIPTIONS[type], ...accepted });
  if (V1_SCHEMAS[type]) {
    const description = `${DESCRIPTIONS[type]} Legacy shape (venue_id, amounts in major units), upcast to version 2 on ingest.`;
    entries.push({ type, version: "1", description, ...accepted });
  }
}
for (const type of EMITTED_TYPES) {
  const e = EMITTED[type];
  entries.push({ type, version: e.version, description: e.description, direction: "emitted", subject: e.subject });
}

/**
 * every (type, version) pair Pulse accepts (version 2 of every type, version 1 of the legacy types),
 * then the events it publishes
 */
export function catalog(): readonly CatalogEntry[] {
  return entries;
}

const cache = new Map<string, Record<string, unknown>>();

/**
 * The JSON Schema (draft 2020-12, input side: defaults are optional) of a whole event of this type and
 * version, or null when Pulse does not accept that pair. Cross-field rules (total = Σ lines − discount,
 * min ≤ base ≤ max) cannot be expressed in JSON Schema; they are stated in the description.
 */
export function jsonSchemaFor(type: string, version: string): Record<string, unknown> | null {
  const key = `${type}@${version}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const emitted = emittedSchema(type, version);
  const data = emitted ?? dataSchema(type, version);
  if (!data) return null;
  const entry = entries.find((e) => e.type === type && e.version === version);

  const event = z.looseObject({
    specversion: ENVELOPE_FIELDS.specversion,
    id: ENVELOPE_FIELDS.id,
    source: ENVELOPE_FIELDS.source,
    type: z.literal(type),
    time: ENVELOPE_FIELDS.time,
    tenantid: version === "2" || emitted ? ENVELOPE_FIELDS.tenantid : ENVELOPE_FIELDS.tenantid.optional(),
    schemaversion: emitted ? z.literal(version) : version === "2" ? z.literal("2").optional() : z.literal("1"),
    traceparent: ENVELOPE_FIELDS.traceparent.optional(),
    subject: ENVELOPE_FIELDS.subject.optional(),
    datacontenttype: ENVELOPE_FIELDS.datacontenttype.optional(),
    dataschema: ENVELOPE_FIELDS.dataschema.optional(),
    data,
  });

  const rules: string[] = [];
  if (type === "order.completed") {
    rules.push(
      version === "2"
        ? "total_minor must equal Σ quantity × unit_price_minor − discount_minor."
        : "total must equal Σ qty × price; amounts may not have more fraction digits than the currency allows.",
    );
  }
  if (type === "item.upserted") rules.push("min_price_minor ≤ base_price_minor ≤ max_price_minor when given.");
  if (version === "1" && !emitted) rules.push("venue_id is the tenant; it must equal tenantid when that is present.");
  if (type === "order.refunded" && version === "1") rules.push("v1 has no refund id: the event id is used.");

  const schema = z.toJSONSchema(event, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  const doc: Record<string, unknown> = {
    $schema: schema.$schema,
    $id: `/v1/schemas/${type}/${version}`,
    title: `${type} (schema version ${version})`,
    description: [entry?.description ?? "", ...rules].filter(Boolean).join(" "),
    ...schema,
  };
  cache.set(key, doc);
  return doc;
}
