/**
 * Bearer JWT authentication (jose): HS256 with JWT_SECRET, or RS256/ES256 against a JWKS URL.
 * Claims: sub, tenant_id (uuid), roles (subset of ROLES), exp — all required.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { z } from "@hono/zod-openapi";
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, SignJWT, type JWTVerifyGetKey } from "jose";
import { LRUCache } from "lru-cache";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";

export const ROLES = ["viewer", "analyst", "pricing_manager", "admin", "ingest", "ops"] as const;
export type ApiRole = (typeof ROLES)[number];

export interface Principal {
  sub: string;
  tenantId: string;
  roles: ApiRole[];
}

const claimsSchema = z.object({
  sub: z.string().min(1).max(256),
  tenant_id: z.uuid(),
  roles: z.array(z.enum(ROLES)).max(ROLES.length),
  exp: z.number(),
  nbf: z.number().optional(),
});

/**
 * Tokens already verified, for at most VERIFIED_TTL_MS: a dashboard sends the same token with every
 * request, and a signature check is most of the cost of a cached answer. The exact token string is
 * the key; exp and nbf are checked again on every use. Cost: a key removed from the JWKS keeps
 * admitting tokens this process already verified for up to VERIFIED_TTL_MS.
 */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;

export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthError";
  }
}

export interface JwtVerifier {
  verify(token: string): Promise<Principal>;
}

export interface JwtSettings {
  secret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  clockToleranceS: number;
  /**
   * JWKS caching (jose's createRemoteJWKSet): keys are kept for cacheMaxAge (default 10 min); a token
   * whose `kid` is not in the cached set makes jose refetch the set, at most once per cooldown
   * (default 30 s), so a key rotation is picked up without a restart.
   */
  jwksCacheMaxAgeMs?: number;
  jwksCooldownMs?: number;
  jwksTimeoutMs?: number;
}

export function createJwtVerifier(s: JwtSettings): JwtVerifier {
  const hsKey = s.secret ? new TextEncoder().encode(s.secret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = s.jwksUrl
    ? createRemoteJWKSet(new URL(s.jwksUrl), {
        cacheMaxAge: s.jwksCacheMaxAgeMs ?? 600_000,
        cooldownDuration: s.jwksCooldownMs ?? 30_000,
        timeoutDuration: s.jwksTimeoutMs ?? 5_000,
      })
    : undefined;
  if (!hsKey && !jwks) throw new Error("no JWT secret or JWKS URL configured");
  const common = {
    issuer: s.issuer,
    audience: s.audience,
    clockTolerance: s.clockToleranceS,
    requiredClaims: ["exp", "sub"],
  };
  const verified = new LRUCache<string, { principal: Principal; exp: number; nbf: number | undefined }>({
    max: VERIFIED_MAX,
    ttl: VERIFIED_TTL_MS,
  });
  const tolerance = s.clockToleranceS;
  return {
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        const now = Date.now() / 1000;
        if (now > known.exp + tolerance) {
          verified.delete(token);
          throw new AuthError("token has expired");
        }
        if (known.nbf === undefined || known.nbf <= now + tolerance) return known.principal;
      }
      let payload: unknown;
      try {
        const header = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString("utf8")) as { alg?: unknown };
        if (header.alg === "HS256" && hsKey) {
          ({ payload } = await jwtVerify(token, hsKey, { ...common, algorithms: ["HS256"] }));
        } else if (jwks && (header.alg === "RS256" || header.alg === "ES256")) {
          ({ payload } = await jwtVerify(token, jwks, { ...common, algorithms: ["RS256", "ES256"] }));
        } else {
          throw new AuthError(`token algorithm ${JSON.stringify(header.alg ?? null)} is not accepted`);
        }
      } catch (err) {
        if (err instanceof AuthError) throw err;
        if (err instanceof joseErrors.JWTExpired) throw new AuthError("token has expired");
        if (err instanceof joseErrors.JWTClaimValidationFailed) throw new AuthError(`token claim ${err.claim} is invalid: ${err.reason}`);
        if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new AuthError("token signature is invalid");
        throw new AuthError("token is malformed or cannot be verified");
      }
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success) {
        const i = claims.error.issues[0];
        throw new AuthError(`token claim ${String(i?.path[0] ?? "?")} is invalid: ${i?.message ?? "invalid"}`);
      }
      const principal: Principal = Object.freeze({
        sub: claims.data.sub,
        tenantId: claims.data.tenant_id,
        roles: [...new Set(claims.data.roles)],
      });
      verified.set(token, { principal, exp: claims.data.exp, nbf: claims.data.nbf });
      return principal;
    },
  };
}

/** sign an HS256 token (development tokens and tests) */
export async function signToken(
  secret: string,
  claims: { sub: string; tenantId: string; roles: readonly ApiRole[]; expiresIn?: string | number; issuer?: string; audience?: string },
): Promise<string> {
  let jwt = new SignJWT({ tenant_id: claims.tenantId, roles: [...claims.roles] })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(claims.expiresIn ?? "1h");
  if (claims.issuer) jwt = jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt = jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

/**
 * The HS256 secret: JWT_SECRET when set; otherwise (never in production, config refuses that) a
 * random development secret kept beside the embedded data dir, so `bun run token` and the service agree.
 */
export function resolveJwtSecret(config: Config, logger?: Logger): string | undefined {
  if (config.auth.jwtSecret) return config.auth.jwtSecret;
  if (config.auth.jwksUrl || config.env === "production") return undefined;
  const file = join(dirname(resolve(config.db.embedded.dataDir)), "dev-jwt-secret");
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString("base64url"), { mode: 0o600 });
  }
  logger?.warn({ file }, "JWT_SECRET is not set: using a generated development secret (never do this in production)");
  return readFileSync(file, "utf8").trim();
}
