/** The shared cache: Redis (REDIS_URL), Upstash over REST, or in process when neither is set. */
import { z } from "zod";
import { int, optionalString, section } from "./section.ts";

export const cache = section({
  vars: {
    REDIS_URL: optionalString.pipe(z.url({ protocol: /^rediss?$/ }).optional()),
    UPSTASH_REDIS_REST_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    UPSTASH_REDIS_REST_TOKEN: optionalString,
    CACHE_TTL_SECONDS: int(1, 86_400).default(60),
  },
  read: (e) => ({
    cache: {
      redisUrl: e.REDIS_URL,
      upstash:
        e.UPSTASH_REDIS_REST_URL && e.UPSTASH_REDIS_REST_TOKEN
          ? { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN }
          : undefined,
      ttlSeconds: e.CACHE_TTL_SECONDS,
    },
  }),
  check: (e, _base, ctx) => {
    if (e.UPSTASH_REDIS_REST_URL && !e.UPSTASH_REDIS_REST_TOKEN) {
      ctx.addIssue({ code: "custom", path: ["UPSTASH_REDIS_REST_TOKEN"], message: "required when UPSTASH_REDIS_REST_URL is set" });
    }
  },
});
