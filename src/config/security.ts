/** HTTP hardening: body and JSON bounds, rate-limit budgets, trusted proxies, CORS origins. */
import { z } from "zod";
import { bool, int, list, section } from "./section.ts";

export const security = section({
  vars: {
    BODY_LIMIT_BYTES: int(1_024, 64 * 1024 * 1024).default(1024 * 1024),
    BODY_LIMIT_SMALL_BYTES: int(1_024, 64 * 1024 * 1024).default(64 * 1024),
    // at most 256: the embedded engine's WebAssembly stack gives out on jsonb nested 500-2,000 deep
    JSON_MAX_DEPTH: int(2, 256).default(32),
    JSON_MAX_STRING_LENGTH: int(16, 16 * 1024 * 1024).default(16 * 1024),
    RATE_LIMIT_ENABLED: bool.default(true),
    RATE_LIMIT_READ_PER_MIN: int(1, 10_000_000).default(600),
    RATE_LIMIT_EXPORT_PER_MIN: int(1, 10_000_000).default(20),
    RATE_LIMIT_INGEST_PER_MIN: int(1, 10_000_000).default(1_200),
    RATE_LIMIT_PUBLIC_PER_MIN: int(1, 10_000_000).default(600),
    TRUSTED_PROXY: list(
      z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], { error: "each entry must be an IP address or a CIDR range" }),
    ),
    CORS_ORIGINS: list(z.string().regex(/^https?:\/\/[^/\s,*]+$/, "each entry must be an origin like https://app.example.com"), (v) =>
      v.replace(/\/$/, ""),
    ),
  },
  read: (e) => ({
    /** largest body of POST /v1/events (and the cap of every /v1 body) */
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    security: {
      /** largest body of every other /v1 route (never above bodyLimitBytes) */
      bodyLimitSmallBytes: Math.min(e.BODY_LIMIT_SMALL_BYTES, e.BODY_LIMIT_BYTES),
      jsonMaxDepth: e.JSON_MAX_DEPTH,
      jsonMaxStringLength: e.JSON_MAX_STRING_LENGTH,
      rateLimit: {
        enabled: e.RATE_LIMIT_ENABLED,
        readPerMin: e.RATE_LIMIT_READ_PER_MIN,
        exportPerMin: e.RATE_LIMIT_EXPORT_PER_MIN,
        ingestPerMin: e.RATE_LIMIT_INGEST_PER_MIN,
        publicPerMin: e.RATE_LIMIT_PUBLIC_PER_MIN,
      },
      /** proxies (IPs or CIDR ranges) whose X-Forwarded-For / X-Real-IP are believed; empty ⇒ none */
      trustedProxies: e.TRUSTED_PROXY ?? [],
      /** origins allowed by CORS; empty ⇒ no CORS headers at all */
      corsOrigins: e.CORS_ORIGINS ?? [],
    },
  }),
});
