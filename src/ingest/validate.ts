/**
 * validateEvent: the pure first step of ingest. Raw bytes / text / an already-parsed object → a
 * ValidEvent (data in the version-2 shape) or a Rejection with one reason code of events.md.
 * Checks, in order (the first failing one decides the reason):
 *   size → payload_too_large; JSON → malformed_json; envelope → invalid_envelope;
 *   type → unknown_type; schemaversion → unsupported_schema_version; data → invalid_data;
 *   tenant → tenant_mismatch (missing altogether ⇒ invalid_envelope); time → too_far_in_future /
 *   older_than_retention.
 * No I/O, no clock (ctx.now), schemas built once at module load.
 */
import type { z } from "zod";
import { isObject, isRejected, NOTHING_KNOWN, readInput, readKnown, type Rejected, reject, underData } from "./read-event.ts";
import { Envelope, TRACEPARENT } from "./schemas/envelope.ts";
import { upcastV1 } from "./schemas/upcast.ts";
import { V1_SCHEMAS } from "./schemas/v1.ts";
import { V2_SCHEMAS } from "./schemas/v2.ts";
import { EVENT_TYPES, type EventType, type FieldIssue, type RejectReason, type ValidationContext, type ValidationResult } from "./types.ts";

export const DEFAULT_MAX_EVENT_BYTES = 64 * 1024;
export const DEFAULT_MAX_FUTURE_MS = 5 * 60 * 1000;
export const DEFAULT_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;

const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

// ─── helpers ──────────────────────────────────────────────────────────────────────────────────────

/** RFC 3339 (already checked by the schema) → Date; fractions beyond milliseconds are truncated */
function parseTime(s: string): Date {
  const d = new Date(s);
  if (!Number.isNaN(d.getTime())) return d;
  return new Date(s.replace(/(\.\d{3})\d+/, "$1"));
}

function issuesFrom(zissues: ReadonlyArray<z.core.$ZodIssue>, prefix: string): FieldIssue[] {
  return zissues.map((i) => ({
    path: i.path.length === 0 ? prefix || "(root)" : (prefix ? `${prefix}.` : "") + i.path.map(String).join("."),
    message: i.message,
  }));
}

/** 300000 → "5 min", 7776000000 → "90 days" (messages only) */
function humanMs(ms: number): string {
  if (ms >= 86_400_000 && ms % 86_400_000 === 0) return `${ms / 86_400_000} days`;
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}

// ─── the steps (1. size and 2. JSON: read-event.ts) ──────────────────────────────────────────────

type EnvelopeOf = z.infer<typeof Envelope>;
type Fail = (reason: RejectReason, issues: FieldIssue[]) => Rejected;

/** 4. type, 5. schema version */
function checkType(e: EnvelopeOf, version: string, fail: Fail): { type: EventType; version: "1" | "2" } | Rejected {
  if (!KNOWN_TYPES.has(e.type)) {
    return fail("unknown_type", [{ path: "type", message: `unknown event type ${JSON.stringify(e.type)}; see GET /v1/schemas` }]);
  }
  const type = e.type as EventType;
  if (version !== "1" && version !== "2") {
    const message = `unsupported schemaversion ${JSON.stringify(version)}; use "2" (or "1" for legacy types)`;
    return fail("unsupported_schema_version", [{ path: "schemaversion", message }]);
  }
  if (version === "1" && !V1_SCHEMAS[type]) {
    return fail("unsupported_schema_version", [{ path: "schemaversion", message: `${type} has no version 1; send schemaversion "2"` }]);
  }
  return { type, version };
}

/** 6. data: checked against its type's schema, in the version-2 shape (version 1 is upcast) */
function readData(e: EnvelopeOf, type: EventType, version: "1" | "2", fail: Fail): Record<string, unknown> | Rejected {
  if (version === "2") {
    const r = V2_SCHEMAS[type].safeParse(e.data);
    return r.success ? (r.data as Record<string, unknown>) : fail("invalid_data", issuesFrom(r.error.issues, "data"));
  }
  const r = upcastV1(type, e.data, { id: e.id });
  return r.ok ? r.data : fail("invalid_data", r.issues);
}

/** 7. tenant: tenantid (version 1: data.venue_id, equal to tenantid when both are given), as the transport vouches */
function readTenant(e: EnvelopeOf, version: "1" | "2", ctx: ValidationContext, fail: Fail): string | Rejected {
  let tenantId: string;
  let tenantPath: string;
  if (version === "1") {
    const venue = (e.data.venue_id as string).toLowerCase();
    if (e.tenantid !== undefined && e.tenantid.toLowerCase() !== venue) {
      return fail("tenant_mismatch", [{ path: "data.venue_id", message: `must equal tenantid (${e.tenantid})` }]);
    }
    tenantId = venue;
    tenantPath = e.tenantid !== undefined ? "tenantid" : "data.venue_id";
  } else {
    tenantId = (e.tenantid as string).toLowerCase();
    tenantPath = "tenantid";
  }
  if (ctx.expectedTenant !== null && ctx.expectedTenant.toLowerCase() !== tenantId) {
    const message = "does not match the tenant of the subject / token the event arrived with";
    return fail("tenant_mismatch", [{ path: tenantPath, message }]);
  }
  return tenantId;
}

/** 8. time bounds: not too far in the future, not older than the retention window */
function readTime(e: EnvelopeOf, ctx: ValidationContext, fail: Fail): Date | Rejected {
  const time = parseTime(e.time);
  const now = ctx.now.getTime();
  if (time.getTime() > now + ctx.maxFutureMs) {
    return fail("too_far_in_future", [{ path: "time", message: `is more than ${humanMs(ctx.maxFutureMs)} in the future` }]);
  }
  if (time.getTime() < now - ctx.retentionMs) {
    return fail("older_than_retention", [{ path: "time", message: `is older than the retention window (${humanMs(ctx.retentionMs)})` }]);
  }
  return time;
}

// ─── the check ────────────────────────────────────────────────────────────────────────────────────

/**
 * Validate one event. `input` is the raw message (bytes or text) or an already-parsed JSON value.
 * Never throws for bad input: every problem becomes a Rejection.
 */
export function validateEvent(input: Uint8Array | string | unknown, ctx: ValidationContext): ValidationResult {
  // 1. size, 2. JSON
  const read = readInput(input, ctx);
  if (isRejected(read)) return read;
  const { parsed, unstorableAt } = read;

  // 3. envelope
  if (!isObject(parsed)) {
    const issues = [{ path: "(root)", message: "the event must be a JSON object (a CloudEvents envelope)" }];
    return reject("invalid_envelope", issues, NOTHING_KNOWN, parsed);
  }
  const known = readKnown(parsed);
  const fail: Fail = (reason, issues) => reject(reason, issues, known, parsed);
  const env = Envelope.safeParse(parsed);
  if (!env.success) return fail("invalid_envelope", issuesFrom(env.error.issues, ""));
  if (unstorableAt !== null && !underData(unstorableAt.path)) return fail("invalid_envelope", [unstorableAt]);
  const e = env.data;
  const received = e.schemaversion ?? "2";
  if (received !== "1" && e.tenantid === undefined) {
    return fail("invalid_envelope", [{ path: "tenantid", message: "is required (the uuid of the venue / shop)" }]);
  }

  const checked = checkType(e, received, fail); // 4. type, 5. schema version
  if (isRejected(checked)) return checked;
  const { type, version } = checked;
  const data = readData(e, type, version, fail); // 6. data
  if (isRejected(data)) return data;
  if (unstorableAt !== null) return fail("invalid_data", [unstorableAt]);
  const tenantId = readTenant(e, version, ctx, fail); // 7. tenant
  if (isRejected(tenantId)) return tenantId;
  const time = readTime(e, ctx, fail); // 8. time bounds
  if (isRejected(time)) return time;

  const trace = e.traceparent !== undefined ? TRACEPARENT.exec(e.traceparent) : null;
  return {
    ok: true,
    event: {
      id: e.id,
      source: e.source,
      type,
      time,
      tenantId,
      receivedVersion: version === "1" ? 1 : 2,
      traceId: trace?.[1] ?? null,
      subject: e.subject ?? null,
      data,
    },
  };
}
