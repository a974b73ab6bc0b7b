/** Analytics reads: the answer cache, the widest range, generation reuse, and the real-time stream's interval. */
import { int, section } from "./section.ts";

export const analytics = section({
  vars: {
    ANALYTICS_CACHE_TTL_SECONDS: int(1, 86_400).default(60),
    ANALYTICS_MAX_SPAN_DAYS: int(1, 3_650).default(400),
    ANALYTICS_GENERATION_REUSE_MS: int(0, 60_000).default(1_000),
    ANALYTICS_LOCAL_CACHE_MB: int(0, 4_096).default(64),
    REALTIME_STREAM_INTERVAL_MS: int(100, 600_000).default(5_000),
  },
  read: (e) => ({
    /**
     * analytics reads: cache TTL (± 10 % jitter), the widest [from, to) accepted, how long a tenant's
     * data generation read from the shared cache is reused in this process (the cross-replica
     * read-after-write bound), and the size of the in-process answer cache in front of the shared one
     */
    analytics: {
      cacheTtlSeconds: e.ANALYTICS_CACHE_TTL_SECONDS,
      maxSpanDays: e.ANALYTICS_MAX_SPAN_DAYS,
      generationReuseMs: e.ANALYTICS_GENERATION_REUSE_MS,
      localCacheBytes: e.ANALYTICS_LOCAL_CACHE_MB * 1024 * 1024,
    },
    /** GET /v1/realtime/stream: ms between two server-sent updates */
    realtime: { streamIntervalMs: e.REALTIME_STREAM_INTERVAL_MS },
  }),
});
