/**
 * Steps 1 and 2 of validateEvent (validate.ts): the raw message (bytes or text) or an already-parsed value
 * → a JSON value within the size and nesting bounds, and the first string in it PostgreSQL cannot store.
 * Also the rejection helpers every step uses (what can be read of a bad envelope for its dead letter).
 */
import { firstString, nestingProblem } from "../lib/json-bounds.ts";
import { UUID } from "./schemas/envelope.ts";
import type { FieldIssue, Rejection, RejectReason, ValidationContext, ValidationResult } from "./types.ts";

const EXCERPT_CHARS = 512;

/** 1. size, 2. JSON */
export function readInput(input: Uint8Array | string | unknown, ctx: ValidationContext): Parsed | Rejected {
  return input instanceof Uint8Array || typeof input === "string" ? readRaw(input, ctx) : readValue(input, ctx);
}

/** a JSON value read from the input, and the first string in it PostgreSQL cannot store (if searched) */
export interface Parsed {
  parsed: unknown;
  /** searched for only when the JSON text can hold one */
  unstorableAt: FieldIssue | null;
}

/** 1. size, 2. JSON: the raw message (bytes or text) → its JSON value */
function readRaw(input: Uint8Array | string, ctx: ValidationContext): Parsed | Rejected {
  const text = typeof input === "string" ? checkTextSize(input, ctx) : decodeBytes(input, ctx);
  if (isRejected(text)) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : "not valid JSON";
    return rejectRaw("malformed_json", `not valid JSON: ${message}`, text.slice(0, EXCERPT_CHARS));
  }
  const deep = rejectTooDeep(parsed, text, ctx.maxDepth);
  if (deep) return deep;
  // JSON can only carry U+0000 as the escape \u0000 (a raw NUL byte is a JSON.parse error), and a lone
  // surrogate as an escape (or raw, in a string input: UTF-8 bytes cannot hold one)
  return { parsed, unstorableAt: mayHoldUnstorable(text, typeof input === "string") ? findUnstorable(parsed) : null };
}

/** the text's UTF-8 size against the limit */
function checkTextSize(input: string, ctx: ValidationContext): string | Rejected {
  if (!tooLong(input, ctx.maxBytes)) return input;
  return rejectRaw("payload_too_large", `the event exceeds ${ctx.maxBytes} bytes`, input.slice(0, EXCERPT_CHARS));
}

/** the bytes' size against the limit, then their UTF-8 text */
function decodeBytes(input: Uint8Array, ctx: ValidationContext): string | Rejected {
  if (input.byteLength > ctx.maxBytes) {
    return rejectRaw("payload_too_large", `the event is ${input.byteLength} bytes; the limit is ${ctx.maxBytes}`, bytesExcerpt(input));
  }
  try {
    return decoder.decode(input);
  } catch {
    return rejectRaw("malformed_json", "the payload is not valid UTF-8", bytesExcerpt(input));
  }
}

function bytesExcerpt(input: Uint8Array): string {
  return lenientDecoder.decode(input.subarray(0, EXCERPT_CHARS * 4)).slice(0, EXCERPT_CHARS);
}

/** 1. size, 2. JSON of an already-parsed value (its JSON text is measured) */
function readValue(input: unknown, ctx: ValidationContext): Parsed | Rejected {
  let json: string | undefined;
  try {
    json = JSON.stringify(input);
  } catch (err) {
    const message = err instanceof Error ? err.message : "not serialisable";
    return rejectRaw("malformed_json", `not a JSON value: ${message}`, null);
  }
  // before the size: a too-large rejection keeps the payload, which must be storable
  const deep = rejectTooDeep(input, json, ctx.maxDepth);
  if (deep) return deep;
  if (json !== undefined && tooLong(json, ctx.maxBytes)) {
    const issues = [{ path: "(root)", message: `the event exceeds ${ctx.maxBytes} bytes` }];
    return reject("payload_too_large", issues, isObject(input) ? readKnown(input) : NOTHING_KNOWN, input, json.slice(0, EXCERPT_CHARS));
  }
  // JSON.stringify writes a lone surrogate as its escape
  return { parsed: input, unstorableAt: json !== undefined && mayHoldUnstorable(json, false) ? findUnstorable(input) : null };
}

// ─── helpers ──────────────────────────────────────────────────────────────────────────────────────

/** what could be read from the envelope (null when unknown) */
export type Known = Pick<Rejection, "tenantId" | "eventId" | "type" | "source" | "schemaVersion">;

export const NOTHING_KNOWN: Known = { tenantId: null, eventId: null, type: null, source: null, schemaVersion: null };

/** whatever can be read from a (possibly invalid) envelope, for the dead-letter row */
export function readKnown(o: Record<string, unknown>): Known {
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

export type Rejected = Extract<ValidationResult, { ok: false }>;

export function reject(
  reason: RejectReason,
  issues: FieldIssue[],
  known: Known,
  payload: unknown,
  excerpt: string | null = null,
): Rejected {
  return { ok: false, rejection: { reason, issues, ...known, payload, excerpt } satisfies Rejection };
}

export function isRejected(v: unknown): v is Rejected {
  return typeof v === "object" && v !== null && (v as { ok?: unknown }).ok === false && "rejection" in v;
}

/** a rejection with nothing known of the envelope and no payload (too large, not UTF-8, not JSON) */
function rejectRaw(reason: RejectReason, message: string, excerpt: string | null): Rejected {
  return reject(reason, [{ path: "(root)", message }], NOTHING_KNOWN, undefined, excerpt);
}

/** a path under `data`: the data's fault (invalid_data), any other the envelope's */
export function underData(path: string): boolean {
  return path === "data" || path.startsWith("data.");
}

/**
 * The rejection of an event nested deeper than ctx.maxDepth, or null: with an excerpt of its JSON text
 * and no payload (the dead letter could not store it either); a path under data is the data's fault,
 * any other the envelope's. The embedded engine's WebAssembly stack gives out between 500 and 2,000
 * levels of jsonb: before this bound such an event from NATS crashed the engine on insert, and again
 * on every redelivery (an HTTP body was already bounded by hardening.ts).
 */
function rejectTooDeep(parsed: unknown, json: string | undefined, maxDepth: number): Rejected | null {
  const issue = nestingProblem(parsed, maxDepth);
  if (issue === undefined) return null;
  const reason = underData(issue.path) ? "invalid_data" : "invalid_envelope";
  return reject(reason, [issue], isObject(parsed) ? readKnown(parsed) : NOTHING_KNOWN, undefined, json?.slice(0, EXCERPT_CHARS) ?? null);
}

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

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
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
