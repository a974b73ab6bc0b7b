/**
 * Keyed hashes of the privacy step: an email → "v<key version>:" + HMAC under the tenant's key, a user
 * agent → a truncated HMAC under the tenant's key, an anonymous visitor → a truncated HMAC under the
 * day's salt (keys.ts loads keys and salts).
 */
import { createHmac } from "node:crypto";

/**
 * hex HMAC-SHA-256 of a text. Bun's native hasher where the runtime has one: about 1.1 µs a call
 * against 2.0 for node:crypto's createHmac (up to three calls an event on the ingest path); the
 * same digest (tests/unit/anonymise.test.ts pins the values). node:crypto elsewhere (Deno).
 */
const BunHasher = typeof Bun !== "undefined" ? Bun.CryptoHasher : undefined;
function hmacHex(key: Uint8Array, text: string): string {
  return BunHasher ? new BunHasher("sha256", key).update(text).digest("hex") : createHmac("sha256", key).update(text).digest("hex");
}

/** "v<version>:" + hex HMAC-SHA-256(tenant key, trimmed lower-cased email) */
export function emailHash(tenantKey: Uint8Array, version: number, email: string): string {
  return `v${version}:${hmacHex(tenantKey, email.trim().toLowerCase())}`;
}

/** hex HMAC-SHA-256(tenant key, user agent), first 32 hex chars (128 bits) */
export function uaHash(tenantKey: Uint8Array, ua: string): string {
  return hmacHex(tenantKey, ua).slice(0, 32);
}

/** hex HMAC-SHA-256(daily salt, "tenant|ip|ua"), first 32 hex chars; pass the RAW ip (never stored) */
export function visitorId(salt: Uint8Array, tenantId: string, ip: string, ua: string): string {
  return hmacHex(salt, `${tenantId}|${ip}|${ua}`).slice(0, 32);
}
