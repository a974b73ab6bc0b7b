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
import { z } from "zod";
import { firstString, nestingProblem } from "../lib/json-bounds.ts";
import { Envelope, TRACEPARENT, UUID } from "./schemas/envelope.ts";
import { upcastV1 } from "./schemas/upcast.ts";
import { V1_SCHEMAS } from "./schemas/v1.ts";
import { V2_SCHEMAS } from "./schemas/v2.ts";
import {
  EVENT_TYPES,
  type EventType,
  type FieldIssue,
  type Rejection,
  type RejectReason,
  type ValidationContext,
  type ValidationResult,
} from "./types.ts";

export const DEFAULT_MAX_EVENT_BYTES = 64 * 1024;
export const DEFAULT_MAX_FUTURE_MS = 5 * 60 * 1000;
export const DEFAULT_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;
const EXCERPT_CHARS = 512;

const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

// ─── helpers ──────────────────────────────────────────────────────────────────────────────────────

/** UTF-8 byte length of a string without allocating */
function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** true when the UTF-8 encoding of s is longer than max (cheap bounds first) */
function tooLong(s: string, max: number): boolean {
  if (s.length > max) return true;
  if (s.length * 3 <= max) return false;
  return utf8Length(s) > max;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const lenientDecoder = new TextDecoder("utf-8");

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

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

/**
 * The first string (value or key) PostgreSQL text and jsonb cannot store: one holding U+0000, or a
 * lone UTF-16 surrogate (JSON can write one as an escape, `\ud800`, which JSON.parse accepts). Such
 * an event would fail every insert of its batch (a poison message).
 */
function findUnstorable(root: unknown): FieldIssue | null {
  const found = firstString(root, unstorable);
  return found === undefined ? null : { path: found.path, message: found.message };
}

function unstorable(s: string): string | undefined {
  if (s.includes("\u0000")) return "must not contain the NUL character (U+0000)";
  if (!s.isWellFormed()) return "must not contain a lone UTF-16 surrogate (an unpaired \\uD800-\\uDFFF escape)";
  return undefined;
}

/**
 * Whether a JSON text can hold a string PostgreSQL cannot store (then the parsed value is searched):
 * as an escape, or (`raw`: a JS string input, not decoded UTF-8, which cannot hold one) as a lone
 * surrogate itself.
 */
function mayHoldUnstorable(json: string, raw: boolean): boolean {
  return json.includes("\\u0000") || SURROGATE_ESCAPE.test(json) || (raw && !json.isWellFormed());
}

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

interface Known {
  tenantId: string | null;
  eventId: string | null;
  type: string | null;
  source: string | null;
  schemaVersion: string | null;
}

const NOTHING_KNOWN: Known = { tenantId: null, eventId: null, type: null, source: null, schemaVersion: null };

/** whatever can be read from a (possibly invalid) envelope, for the dead-letter row */
function readKnown(o: Record<string, unknown>): Known {
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  const uuid = (v: unknown) => (typeof v === "string" && UUID.test(v) ? v.toLowerCase() : null);
  const data = o.data;
  const sv = o.schemaversion;
  return {
    tenantId: uuid(o.tenantid) ?? (isObject(data) ? uuid(data.venue_id) : null),
    eventId: str(o.id),
    type: str(o.type),
    source: str(o.source),
    schemaVersion: sv === undefined ? "2" : str(sv),
  };
}

function reject(
  reason: RejectReason,
  issues: FieldIssue[],
  known: Known,
  payload: unknown,
  excerpt: string | null = null,
): ValidationResult {
  return { ok: false, rejection: { reason, issues, ...known, payload, excerpt } satisfies Rejection };
}

/**
 * The rejection of an event nested deeper than ctx.maxDepth, or null: with an excerpt of its JSON text
 * and no payload (the dead letter could not store it either); a path under data is the data's fault,
 * any other the envelope's. The embedded engine's WebAssembly stack gives out between 500 and 2,000
 * levels of jsonb: before this bound such an event from NATS crashed the engine on insert, and again
 * on every redelivery (an HTTP body was already bounded by hardening.ts).
 */
function rejectTooDeep(parsed: unknown, json: string | undefined, maxDepth: number): ValidationResult | null {
  const issue = nestingProblem(parsed, maxDepth);
  if (issue === undefined) return null;
  const reason = issue.path === "data" || issue.path.startsWith("data.") ? "invalid_data" : "invalid_envelope";
  return reject(reason, [issue], isObject(parsed) ? readKnown(parsed) : NOTHING_KNOWN, undefined, json?.slice(0, EXCERPT_CHARS) ?? null);
}

// ─── the check ────────────────────────────────────────────────────────────────────────────────────

/**
 * Validate one event. `input` is the raw message (bytes or text) or an already-parsed JSON value.
 * Never throws for bad input: every problem becomes a Rejection.
 */
export function validateEvent(input: Uint8Array | string | unknown, ctx: ValidationContext): ValidationResult {
  // 1. size, 2. JSON
  let parsed: unknown;
  /** a string PostgreSQL cannot store (searched for only when the JSON text can hold one) */
  let unstorableAt: FieldIssue | null = null;
  if (input instanceof Uint8Array || typeof input === "string") {
    let text: string;
    if (typeof input === "string") {
      if (tooLong(input, ctx.maxBytes)) {
        return reject("payload_too_large", [{ path: "(root)", message: `the event exceeds ${ctx.maxBytes} bytes` }], NOTHING_KNOWN, undefined, input.slice(0, EXCERPT_CHARS));
      }
      text = input;
    } else {
      if (input.byteLength > ctx.maxBytes) {
        const excerpt = lenientDecoder.decode(input.subarray(0, EXCERPT_CHARS * 4)).slice(0, EXCERPT_CHARS);
        return reject("payload_too_large", [{ path: "(root)", message: `the event is ${input.byteLength} bytes; the limit is ${ctx.maxBytes}` }], NOTHING_KNOWN, undefined, excerpt);
      }
      try {
        text = decoder.decode(input);
      } catch {
        const excerpt = lenientDecoder.decode(input.subarray(0, EXCERPT_CHARS * 4)).slice(0, EXCERPT_CHARS);
        return reject("malformed_json", [{ path: "(root)", message: "the payload is not valid UTF-8" }], NOTHING_KNOWN, undefined, excerpt);
      }
    }
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      const message = err instanceof Error ? err.message : "not valid JSON";
      return reject("malformed_json", [{ path: "(root)", message: `not valid JSON: ${message}` }], NOTHING_KNOWN, undefined, text.slice(0, EXCERPT_CHARS));
    }
    const deep = rejectTooDeep(parsed, text, ctx.maxDepth);
    if (deep) return deep;
    // JSON can only carry U+0000 as the escape \u0000 (a raw NUL byte is a JSON.parse error), and a lone
    // surrogate as an escape (or raw, in a string input: UTF-8 bytes cannot hold one)
    if (mayHoldUnstorable(text, typeof input === "string")) unstorableAt = findUnstorable(parsed);
  } else {
    parsed = input;
    let json: string | undefined;
    try {
      json = JSON.stringify(input);
    } catch (err) {
      const message = err instanceof Error ? err.message : "not serialisable";
      return reject("malformed_json", [{ path: "(root)", message: `not a JSON value: ${message}` }], NOTHING_KNOWN, undefined, null);
    }
    // before the size: a too-large rejection keeps the payload, which must be storable
    const deep = rejectTooDeep(parsed, json, ctx.maxDepth);
    if (deep) return deep;
    if (json !== undefined && tooLong(json, ctx.maxBytes)) {
      return reject("payload_too_large", [{ path: "(root)", message: `the event exceeds ${ctx.maxBytes} bytes` }], isObject(input) ? readKnown(input) : NOTHING_KNOWN, input, json.slice(0, EXCERPT_CHARS));
    }
    // JSON.stringify writes a lone surrogate as its escape
    if (json !== undefined && mayHoldUnstorable(json, false)) unstorableAt = findUnstorable(parsed);
  }

  // 3. envelope
  if (!isObject(parsed)) {
    return reject("invalid_envelope", [{ path: "(root)", message: "the event must be a JSON object (a CloudEvents envelope)" }], NOTHING_KNOWN, parsed);
  }
  const known = readKnown(parsed);
  const env = Envelope.safeParse(parsed);
  if (!env.success) return reject("invalid_envelope", issuesFrom(env.error.issues, ""), known, parsed);
  if (unstorableAt !== null && unstorableAt.path !== "data" && !unstorableAt.path.startsWith("data.")) {
    return reject("invalid_envelope", [unstorableAt], known, parsed);
  }
  const e = env.data;
  const version = e.schemaversion ?? "2";
  if (version !== "1" && e.tenantid === undefined) {
    return reject("invalid_envelope", [{ path: "tenantid", message: "is required (the uuid of the venue / shop)" }], known, parsed);
  }

  // 4. type
  if (!KNOWN_TYPES.has(e.type)) {
    return reject("unknown_type", [{ path: "type", message: `unknown event type ${JSON.stringify(e.type)}; see GET /v1/schemas` }], known, parsed);
  }
  const type = e.type as EventType;

  // 5. schema version
  if (version !== "1" && version !== "2") {
    return reject("unsupported_schema_version", [{ path: "schemaversion", message: `unsupported schemaversion ${JSON.stringify(version)}; use "2" (or "1" for legacy types)` }], known, parsed);
  }
  if (version === "1" && !V1_SCHEMAS[type]) {
    return reject("unsupported_schema_version", [{ path: "schemaversion", message: `${type} has no version 1; send schemaversion "2"` }], known, parsed);
  }

  // 6. data
  let data: Record<string, unknown>;
  if (version === "2") {
    const r = V2_SCHEMAS[type].safeParse(e.data);
    if (!r.success) return reject("invalid_data", issuesFrom(r.error.issues, "data"), known, parsed);
    data = r.data as Record<string, unknown>;
  } else {
    const r = upcastV1(type, e.data, { id: e.id });
    if (!r.ok) return reject("invalid_data", r.issues, known, parsed);
    data = r.data;
  }

  if (unstorableAt !== null) return reject("invalid_data", [unstorableAt], known, parsed);

  // 7. tenant
  let tenantId: string;
  let tenantPath: string;
  if (version === "1") {
    const venue = (e.data.venue_id as string).toLowerCase();
    if (e.tenantid !== undefined && e.tenantid.toLowerCase() !== venue) {
      return reject("tenant_mismatch", [{ path: "data.venue_id", message: `must equal tenantid (${e.tenantid})` }], known, parsed);
    }
    tenantId = venue;
    tenantPath = e.tenantid !== undefined ? "tenantid" : "data.venue_id";
  } else {
    tenantId = (e.tenantid as string).toLowerCase();
    tenantPath = "tenantid";
  }
  if (ctx.expectedTenant !== null && ctx.expectedTenant.toLowerCase() !== tenantId) {
    return reject("tenant_mismatch", [{ path: tenantPath, message: "does not match the tenant of the subject / token the event arrived with" }], known, parsed);
  }

  // 8. time bounds
  const time = parseTime(e.time);
  const now = ctx.now.getTime();
  if (time.getTime() > now + ctx.maxFutureMs) {
    return reject("too_far_in_future", [{ path: "time", message: `is more than ${humanMs(ctx.maxFutureMs)} in the future` }], known, parsed);
  }
  if (time.getTime() < now - ctx.retentionMs) {
    return reject("older_than_retention", [{ path: "time", message: `is older than the retention window (${humanMs(ctx.retentionMs)})` }], known, parsed);
  }

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
