/**
 * The only reader of process.env. One zod parse; a bad value becomes a ConfigError whose message
 * names the variable and says why, and main.ts turns that into one log line and exit code 1.
 */
import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const schema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    PORT: int(0, 65535).default(3010),
    HOST: z.string().min(1).default("0.0.0.0"),
    ROLE: z.enum(["api", "worker", "all"]).default("all"),

    DATABASE_URL: optionalString.pipe(z.url({ protocol: /^postgres(ql)?$/ }).optional()),
    DATABASE_READ_URL: optionalString.pipe(z.url({ protocol: /^postgres(ql)?$/ }).optional()),
    EMBEDDED_DATA_DIR: z.string().min(1).default("./data/timescaledb"),
    EMBEDDED_PORT: int(0, 65535).default(0),
    // memory a sort or hash of the embedded engine may use before spilling to disk (funnels sort every
    // event of the range); PostgreSQL's size syntax
    EMBEDDED_WORK_MEM: z
      .string()
      .regex(/^[1-9][0-9]*(kB|MB|GB)$/, "a size such as 32MB (kB, MB or GB)")
      .default("32MB"),
    DB_POOL_MAX: int(1, 200).default(10),
    DB_STATEMENT_TIMEOUT_MS: int(100, 3_600_000).default(30_000),
    MIGRATE_ON_START: bool.default(true),

    TIMESCALE_JOBS: z.enum(["scheduler", "service", "watch"]).optional(),
    JOBS_POLL_INTERVAL_MS: int(1_000, 3_600_000).default(15_000),
    JOBS_OVERDUE_GRACE_MS: int(0, 86_400_000).default(300_000),

    NATS_URL: optionalString.pipe(z.url({ protocol: /^(nats|tls|wss?)$/ }).optional()),
    NATS_STREAM: z.string().regex(/^[A-Za-z0-9_-]+$/).default("ANALYTICS"),
    NATS_SUBJECT_PREFIX: z.string().regex(/^[a-z0-9_-]+$/, "lowercase letters, digits, _ and - only").default("analytics"),
    NATS_DUPLICATE_WINDOW_MS: int(1_000, 86_400_000).default(120_000),
    NATS_STREAM_MAX_AGE_MS: int(0, 365 * 86_400_000).default(7 * 86_400_000),
    NATS_STREAM_MAX_BYTES: z.coerce.number().int().min(-1).default(-1),
    NATS_STREAM_REPLICAS: int(1, 5).default(1),

    NATS_CONSUMER: z.string().regex(/^[A-Za-z0-9_-]+$/).default("pulse-ingest"),
    NATS_ACK_WAIT_MS: int(1_000, 600_000).default(30_000),
    NATS_MAX_DELIVER: int(1, 1_000).default(10),

    INGEST_BATCH_SIZE: int(1, 10_000).default(500),
    INGEST_FLUSH_MS: int(10, 60_000).default(200),
    INGEST_PIPELINE_DEPTH: int(1, 8).default(2),
    INGEST_DEDUP_SIZE: int(0, 10_000_000).default(200_000),
    INGEST_DEDUP_TTL_MS: int(1_000, 86_400_000).default(600_000),
    INGEST_MEMORY_SOFT_LIMIT_MB: int(0, 1_048_576).default(256),
    INGEST_MAX_EVENT_BYTES: int(1_024, 1024 * 1024).default(64 * 1024),
    INGEST_MAX_FUTURE_MS: int(0, 86_400_000).default(300_000),
    INGEST_HTTP_MAX_EVENTS: int(1, 10_000).default(1_000),
    RETENTION_DAYS: int(1, 36_500).default(90),
    COMPRESS_AFTER_DAYS: int(1, 3_650).default(7),
    BREAKER_FAILURES: int(1, 1_000).default(5),
    BREAKER_HALF_OPEN_MS: int(100, 3_600_000).default(30_000),

    REDIS_URL: optionalString.pipe(z.url({ protocol: /^rediss?$/ }).optional()),
    UPSTASH_REDIS_REST_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    UPSTASH_REDIS_REST_TOKEN: optionalString,
    CACHE_TTL_SECONDS: int(1, 86_400).default(60),
    ANALYTICS_CACHE_TTL_SECONDS: int(1, 86_400).default(60),
    ANALYTICS_MAX_SPAN_DAYS: int(1, 3_650).default(400),
    ANALYTICS_GENERATION_REUSE_MS: int(0, 60_000).default(1_000),
    ANALYTICS_LOCAL_CACHE_MB: int(0, 4_096).default(64),
    REALTIME_STREAM_INTERVAL_MS: int(100, 600_000).default(5_000),

    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    LOG_FORMAT: z.enum(["json", "pretty"]).optional(),

    JWT_SECRET: optionalString.pipe(z.string().min(32, "must be at least 32 characters").optional()),
    JWT_JWKS_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    JWT_ISSUER: optionalString,
    JWT_AUDIENCE: optionalString,
    JWT_CLOCK_TOLERANCE_S: int(0, 300).default(30),

    HEALTH_PROBE_TIMEOUT_MS: int(100, 5_000).default(2_000),
    SHUTDOWN_TIMEOUT_MS: int(1_000, 120_000).default(10_000),
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
    TRUSTED_PROXY: optionalString.pipe(
      z
        .string()
        .transform((v) => v.split(",").map((x) => x.trim()).filter(Boolean))
        .pipe(z.array(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], { error: "each entry must be an IP address or a CIDR range" })))
        .optional(),
    ),
    CORS_ORIGINS: optionalString.pipe(
      z
        .string()
        .transform((v) => v.split(",").map((x) => x.trim().replace(/\/$/, "")).filter(Boolean))
        .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s,*]+$/, "each entry must be an origin like https://app.example.com")))
        .optional(),
    ),
  })
  .superRefine((env, ctx) => {
    if (env.UPSTASH_REDIS_REST_URL && !env.UPSTASH_REDIS_REST_TOKEN) {
      ctx.addIssue({ code: "custom", path: ["UPSTASH_REDIS_REST_TOKEN"], message: "required when UPSTASH_REDIS_REST_URL is set" });
    }
    if (env.NODE_ENV === "production" && !env.JWT_SECRET && !env.JWT_JWKS_URL) {
      ctx.addIssue({ code: "custom", path: ["JWT_SECRET"], message: "JWT_SECRET or JWT_JWKS_URL is required in production" });
    }
    if (!env.DATABASE_URL && env.TIMESCALE_JOBS && env.TIMESCALE_JOBS !== "service") {
      ctx.addIssue({
        code: "custom",
        path: ["TIMESCALE_JOBS"],
        message: "the embedded engine has no job scheduler; only 'service' is possible without DATABASE_URL",
      });
    }
  });

export type Role = "api" | "worker" | "all";
export type JobsMode = "scheduler" | "service" | "watch";

export interface Config {
  env: "development" | "production" | "test";
  port: number;
  host: string;
  role: Role;
  db: {
    /** undefined ⇒ embedded TimescaleDB */
    url: string | undefined;
    readUrl: string | undefined;
    embedded: { dataDir: string; port: number; workMem: string };
    poolMax: number;
    statementTimeoutMs: number;
    migrateOnStart: boolean;
  };
  jobs: { mode: JobsMode; pollIntervalMs: number; overdueGraceMs: number };
  nats: {
    url: string | undefined;
    stream: string;
    /** subjects are <prefix>.<tenantid>.<type>; dead letters go to <prefix>.dlq.<reason> */
    subjectPrefix: string;
    duplicateWindowMs: number;
    maxAgeMs: number;
    maxBytes: number;
    replicas: number;
  };
  ingest: {
    consumer: string;
    ackWaitMs: number;
    maxDeliver: number;
    batchSize: number;
    flushMs: number;
    /** batches written at once by a consumer (their statements queue on the embedded engine's one connection) */
    pipelineDepth: number;
    dedupSize: number;
    dedupTtlMs: number;
    /** bytes; above it after a batch, a full garbage collection (src/ingest/memory-guard.ts); 0: off */
    memorySoftLimitBytes: number;
    maxEventBytes: number;
    maxFutureMs: number;
    httpMaxEvents: number;
    breakerFailures: number;
    breakerHalfOpenMs: number;
  };
  storage: { retentionDays: number; compressAfterDays: number };
  cache: {
    redisUrl: string | undefined;
    upstash: { url: string; token: string } | undefined;
    ttlSeconds: number;
  };
  /**
   * analytics reads: cache TTL (± 10 % jitter), the widest [from, to) accepted, how long a tenant's
   * data generation read from the shared cache is reused in this process (the cross-replica
   * read-after-write bound), and the size of the in-process answer cache in front of the shared one
   */
  analytics: { cacheTtlSeconds: number; maxSpanDays: number; generationReuseMs: number; localCacheBytes: number };
  /** GET /v1/realtime/stream: ms between two server-sent updates */
  realtime: { streamIntervalMs: number };
  log: { level: string; format: "json" | "pretty" };
  auth: {
    jwtSecret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    clockToleranceS: number;
  };
  health: { probeTimeoutMs: number };
  shutdownTimeoutMs: number;
  /** largest body of POST /v1/events (and the cap of every /v1 body) */
  bodyLimitBytes: number;
  security: {
    /** largest body of every other /v1 route (never above bodyLimitBytes) */
    bodyLimitSmallBytes: number;
    jsonMaxDepth: number;
    jsonMaxStringLength: number;
    rateLimit: { enabled: boolean; readPerMin: number; exportPerMin: number; ingestPerMin: number; publicPerMin: number };
    /** proxies (IPs or CIDR ranges) whose X-Forwarded-For / X-Real-IP are believed; empty ⇒ none */
    trustedProxies: string[];
    /** origins allowed by CORS; empty ⇒ no CORS headers at all */
    corsOrigins: string[];
  };
}

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly variables: string[],
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Parse an environment (process.env by default). Throws ConfigError naming every bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? "?"), message: i.message }));
    const message = problems.map((p) => `${p.variable}: ${p.message}`).join("; ");
    throw new ConfigError(`invalid configuration: ${message}`, problems.map((p) => p.variable));
  }
  const e = parsed.data;
  const embedded = !e.DATABASE_URL;
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    role: e.ROLE,
    db: {
      url: e.DATABASE_URL,
      readUrl: e.DATABASE_READ_URL,
      embedded: { dataDir: e.EMBEDDED_DATA_DIR, port: e.EMBEDDED_PORT, workMem: e.EMBEDDED_WORK_MEM },
      // the embedded socket serves one connection at a time: a larger pool only times out
      poolMax: embedded ? 1 : e.DB_POOL_MAX,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
      migrateOnStart: e.MIGRATE_ON_START,
    },
    jobs: {
      mode: embedded ? "service" : (e.TIMESCALE_JOBS ?? "scheduler"),
      pollIntervalMs: e.JOBS_POLL_INTERVAL_MS,
      overdueGraceMs: e.JOBS_OVERDUE_GRACE_MS,
    },
    nats: {
      url: e.NATS_URL,
      stream: e.NATS_STREAM,
      subjectPrefix: e.NATS_SUBJECT_PREFIX,
      duplicateWindowMs: e.NATS_DUPLICATE_WINDOW_MS,
      maxAgeMs: e.NATS_STREAM_MAX_AGE_MS,
      maxBytes: e.NATS_STREAM_MAX_BYTES,
      replicas: e.NATS_STREAM_REPLICAS,
    },
    ingest: {
      consumer: e.NATS_CONSUMER,
      ackWaitMs: e.NATS_ACK_WAIT_MS,
      maxDeliver: e.NATS_MAX_DELIVER,
      batchSize: e.INGEST_BATCH_SIZE,
      flushMs: e.INGEST_FLUSH_MS,
      pipelineDepth: e.INGEST_PIPELINE_DEPTH,
      dedupSize: e.INGEST_DEDUP_SIZE,
      dedupTtlMs: e.INGEST_DEDUP_TTL_MS,
      memorySoftLimitBytes: e.INGEST_MEMORY_SOFT_LIMIT_MB * 1_048_576,
      maxEventBytes: e.INGEST_MAX_EVENT_BYTES,
      maxFutureMs: e.INGEST_MAX_FUTURE_MS,
      httpMaxEvents: e.INGEST_HTTP_MAX_EVENTS,
      breakerFailures: e.BREAKER_FAILURES,
      breakerHalfOpenMs: e.BREAKER_HALF_OPEN_MS,
    },
    storage: { retentionDays: e.RETENTION_DAYS, compressAfterDays: e.COMPRESS_AFTER_DAYS },
    cache: {
      redisUrl: e.REDIS_URL,
      upstash:
        e.UPSTASH_REDIS_REST_URL && e.UPSTASH_REDIS_REST_TOKEN
          ? { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN }
          : undefined,
      ttlSeconds: e.CACHE_TTL_SECONDS,
    },
    analytics: {
      cacheTtlSeconds: e.ANALYTICS_CACHE_TTL_SECONDS,
      maxSpanDays: e.ANALYTICS_MAX_SPAN_DAYS,
      generationReuseMs: e.ANALYTICS_GENERATION_REUSE_MS,
      localCacheBytes: e.ANALYTICS_LOCAL_CACHE_MB * 1024 * 1024,
    },
    realtime: { streamIntervalMs: e.REALTIME_STREAM_INTERVAL_MS },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT ?? (e.NODE_ENV === "development" ? "pretty" : "json") },
    auth: {
      jwtSecret: e.JWT_SECRET,
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      clockToleranceS: e.JWT_CLOCK_TOLERANCE_S,
    },
    health: { probeTimeoutMs: e.HEALTH_PROBE_TIMEOUT_MS },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    security: {
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
      trustedProxies: e.TRUSTED_PROXY ?? [],
      corsOrigins: e.CORS_ORIGINS ?? [],
    },
  };
}

/** The process environment, for code that must hand it on to a child process (the only other use). */
export function processEnv(): Record<string, string | undefined> {
  return { ...process.env };
}

/** loadConfig for entry points: a ConfigError becomes one fatal line (via `report`) and exit code 1 */
export function loadConfigOrExit(report: (fields: Record<string, unknown>, message: string) => void, exit: (code: number) => never): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      report({ variables: err.variables }, err.message);
      return exit(1);
    }
    throw err;
  }
}
