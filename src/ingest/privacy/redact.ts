/**
 * The redaction of dead-letter payloads and excerpts: the same PII a valid event loses (rows.ts) is
 * replaced, dropped or masked before a rejected event is stored or republished.
 */
import { isIP } from "node:net";
import { ipPrefix } from "./ip.ts";
import { uaFamily } from "./user-agent.ts";

const DROP = Symbol("drop");

/** the dead-letter form of one field: PII replaced or dropped (DROP), anything else redacted within */
function redactField(k: string, x: unknown, maskText: boolean, keepName: boolean): unknown {
  switch (k) {
    case "email":
      return "[redacted-email]";
    case "ip":
      return (typeof x === "string" ? ipPrefix(x) : null) ?? "[redacted-ip]";
    case "user_agent":
    case "ua":
      return typeof x === "string" ? uaFamily(x) : "[redacted-ua]";
    case "customer_name":
    case "full_name":
      return DROP;
    case "name":
      return keepName && typeof x === "string" ? x : DROP;
    default:
      return redact(x, maskText);
  }
}

/** PII keys replaced at any depth; with maskText, e-mail/IP literals in other strings are masked too */
function redact(v: unknown, maskText: boolean, keepTopName = false): unknown {
  if (Array.isArray(v)) return v.map((x) => redact(x, maskText));
  if (v === null || typeof v !== "object") return maskText && typeof v === "string" ? redactText(v) : v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const r = redactField(k, x, maskText, keepTopName);
    if (r !== DROP) out[k] = r;
  }
  return out;
}

/**
 * A deep copy of a (possibly invalid) event payload fit for the dead-letter table: in `data`, at any
 * depth, ip → its prefix, email → "[redacted-email]", user_agent/ua → its family, names removed
 * (item.upserted keeps its top-level item `name`), and e-mail/IP literals in other strings masked.
 * The same keys are redacted outside `data` too (a publisher that forgot to nest its data under
 * `data` is a typical invalid envelope), without masking envelope strings such as ids.
 */
export function redactPayload(payload: unknown): unknown {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return redact(payload, false);
  const p = payload as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(p)) {
    const r = k === "data" ? redact(x, true, p.type === "item.upserted") : redactField(k, x, false, false);
    if (r !== DROP) out[k] = r;
  }
  return out;
}

const EMAIL_RE = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]*/g;
const IPV6_RE = /[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?:%[0-9A-Za-z]+)?/g;
const IPV4_RE = /(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])/g;
const PII_FIELD_RE = /("(?:name|customer_name|full_name|user_agent|ua)"\s*:\s*")((?:[^"\\]|\\.)*)("?)/g;

/**
 * Masks contact data in a text excerpt that could not be parsed: e-mail addresses (also a truncated
 * "alice@exa"), IPv4 and IPv6 literals, and the string values of JSON-looking name / user-agent fields.
 */
export function redactText(text: string): string {
  return text
    .replace(PII_FIELD_RE, (_m, open: string, _v: string, close: string) => `${open}[redacted]${close}`)
    .replace(EMAIL_RE, "[redacted-email]")
    .replace(IPV6_RE, (m) => (isIP(m) === 6 || isIP(m.replace(/[:.]+$/, "")) === 6 ? "[redacted-ip]" : m))
    .replace(IPV4_RE, (m) => (isIP(m) === 4 ? "[redacted-ip]" : m));
}
