/** Bearer tokens: an HS256 secret or a JWKS URL, the expected issuer and audience, clock tolerance. */
import { z } from "zod";
import { int, optionalString, section } from "./section.ts";

export const auth = section({
  vars: {
    JWT_SECRET: optionalString.pipe(z.string().min(32, "must be at least 32 characters").optional()),
    JWT_JWKS_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    JWT_ISSUER: optionalString,
    JWT_AUDIENCE: optionalString,
    JWT_CLOCK_TOLERANCE_S: int(0, 300).default(30),
  },
  read: (e) => ({
    auth: {
      jwtSecret: e.JWT_SECRET,
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      clockToleranceS: e.JWT_CLOCK_TOLERANCE_S,
    },
  }),
  check: (e, base, ctx) => {
    if (base.nodeEnv === "production" && !e.JWT_SECRET && !e.JWT_JWKS_URL) {
      ctx.addIssue({ code: "custom", path: ["JWT_SECRET"], message: "JWT_SECRET or JWT_JWKS_URL is required in production" });
    }
  },
});
