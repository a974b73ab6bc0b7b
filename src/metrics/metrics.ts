/**
 * Prometheus metrics (prom-client), one registry per app instance so tests can build many apps. The
 * gauges of `scrape` are read from the database when /metrics is scraped (buildDeps sets the readers).
 * Over 300 lines on purpose: every metric of the service is declared here, in one place, so its name,
 * help and labels have one home (the alert rules in deploy/k8s/ and tests/alerts/ read them).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { readContainerMemory } from "./memory.ts";

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  httpDuration: Histogram<"method" | "route" | "status">;
  cacheRequests: Counter<"result">;
  cacheRefreshAhead: Counter<"result">;
  cacheDegraded: Gauge;
  analyticsQuerySeconds: Histogram<"operation" | "result">;
  timescaleJobFailed: Gauge<"job_id" | "proc_name">;
  timescaleJobRuns: Counter<"proc_name" | "result" | "runner">;
  embeddedRestarts: Gauge;
  ingestEvents: Counter<"transport" | "outcome">;
  deadLetters: Counter<"reason">;
  ingestBatchSeconds: Histogram<"transport">;
  dedupLookups: Counter<"result">;
  breakerOpen: Gauge;
  consumerPending: Gauge;
  consumerLagSeconds: Gauge;
  dbPoolMax: Gauge;
  dbPoolInUse: Gauge;
  dbPoolWaiting: Gauge;
  dbPoolBusySeconds: Counter;
  memoryWorkingSetBytes: Gauge;
  memoryLimitBytes: Gauge;
  /** run before each scrape (the pool meter adds the busy time since its last change) */
  beforeScrape: Set<() => void>;
  memoryCollections: Counter<"result">;
  memoryCollectionSeconds: Histogram;
  /** rate-limit decisions by budget and result (allowed, limited, error: the backend failed, let through) */
  rateLimit: Counter<"budget" | "result">;
  /** export jobs per status, over every tenant (set by the export sweep) */
  exportJobs: Gauge<"status">;
  /** bytes of the stored export files, over every tenant (set by the export sweep) */
  exportStorageBytes: Gauge;
  /** export runs finished by this process, by format and result (succeeded, failed, lost, released) */
  exportRuns: Counter<"format" | "result">;
  /** price.change_approved publishes from the pricing outbox, by result (published, duplicate, failed) */
  pricingOutboxPublishes: Counter<"result">;
  /** unpublished pricing outbox rows, and the age of the oldest (seconds) */
  pricingOutboxBacklog: Gauge;
  pricingOutboxOldestSeconds: Gauge;
  /** price changes moved by the pricing worker, by transition (applied, expired) */
  pricingTransitions: Counter<"to">;
  /** per tenant (bounded: the worst RECONCILIATION_METRIC_TENANTS, the rest as "other"), read at scrape time */
  reconciliationMismatchDays: Gauge<"tenant">;
  /** pending dead letters per reason, read at scrape time */
  deadLetterDepth: Gauge<"reason">;
  /** where the scrape-time gauges read from; unset ⇒ the gauge is empty */
  scrape: ScrapeReaders;
}

/** database reads behind scrape-time gauges (each bounded by SCRAPE_READ_TIMEOUT_MS; on failure the last values stay) */
export interface ScrapeReaders {
  reconciliationMismatchDays?: () => Promise<Array<{ tenant: string; days: number }>>;
  deadLetterDepth?: () => Promise<Array<{ reason: string; depth: number }>>;
}

const SCRAPE_READ_TIMEOUT_MS = 2_000;

/** a gauge's values replaced by a fresh read; a failed or slow read leaves the previous values */
async function refresh<L extends string>(gauge: Gauge<L>, read: (() => Promise<Array<[Partial<Record<L, string>>, number]>>) | undefined) {
  if (!read) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const values = await Promise.race([
      read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), SCRAPE_READ_TIMEOUT_MS);
      }),
    ]);
    gauge.reset();
    for (const [labels, v] of values) gauge.set(labels, v);
  } catch {
    // the database is slow or down: readiness says so; the gauge keeps what it last read
  } finally {
    clearTimeout(timer);
  }
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "pulse_" });
  const scrape: ScrapeReaders = {};
  const beforeScrape = new Set<() => void>();
  return {
    registry,
    scrape,
    beforeScrape,
    exportJobs: new Gauge({
      name: "pulse_export_jobs",
      help: "Export jobs per status over every tenant (set by the export sweep; aggregate replicas with max)",
      labelNames: ["status"],
      registers: [registry],
    }),
    exportStorageBytes: new Gauge({
      name: "pulse_export_storage_bytes",
      help: "Bytes of the stored export files over every tenant (local directory or bucket; set by the export sweep)",
      registers: [registry],
    }),
    exportRuns: new Counter({
      name: "pulse_export_runs_total",
      help: "Export runs finished by this process by format and result: succeeded, failed, lost (deleted or lease taken), released",
      labelNames: ["format", "result"],
      registers: [registry],
    }),
    reconciliationMismatchDays: new Gauge({
      name: "pulse_reconciliation_mismatch_days",
      help:
        "Days of the reconciliation window reported missing or surplus against upstream, per tenant " +
        '(the worst RECONCILIATION_METRIC_TENANTS by name, the rest as tenant="other")',
      labelNames: ["tenant"],
      registers: [registry],
      async collect() {
        const read = scrape.reconciliationMismatchDays;
        await refresh(
          this,
          read && (async () => (await read()).map((r) => [{ tenant: r.tenant }, r.days] as [{ tenant: string }, number])),
        );
      },
    }),
    deadLetterDepth: new Gauge({
      name: "pulse_dead_letter_depth",
      help: "Dead letters waiting (status pending: not redriven), per reason",
      labelNames: ["reason"],
      registers: [registry],
      async collect() {
        const read = scrape.deadLetterDepth;
        await refresh(
          this,
          read && (async () => (await read()).map((r) => [{ reason: r.reason }, r.depth] as [{ reason: string }, number])),
        );
      },
    }),
    rateLimit: new Counter({
      name: "pulse_rate_limit_decisions_total",
      help: "Rate-limit decisions by budget and result (allowed, limited, error)",
      labelNames: ["budget", "result"],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests by method, route pattern and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration by method, route pattern and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    cacheRequests: new Counter({
      name: "pulse_cache_requests_total",
      help: "Cache look-ups by result (hit, miss, error; analytics also bypass and coalesced)",
      labelNames: ["result"],
      registers: [registry],
    }),
    cacheRefreshAhead: new Counter({
      name: "pulse_cache_refresh_ahead_total",
      help: "Analytics answers recomputed in the background because a hit found them close to their TTL, by result (ok, error)",
      labelNames: ["result"],
      registers: [registry],
    }),
    cacheDegraded: new Gauge({
      name: "pulse_cache_degraded",
      help: "1 while analytics reads bypass the cache because it failed, else 0",
      registers: [registry],
    }),
    analyticsQuerySeconds: new Histogram({
      name: "pulse_analytics_query_seconds",
      help: "Database time of analytics reads (cache misses) by operation and result (ok, timeout, error)",
      labelNames: ["operation", "result"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    timescaleJobFailed: new Gauge({
      name: "pulse_timescale_job_failed",
      help: "1 when a TimescaleDB job's last run failed or it is overdue, else 0",
      labelNames: ["job_id", "proc_name"],
      registers: [registry],
    }),
    timescaleJobRuns: new Counter({
      name: "pulse_timescale_job_runs_total",
      help: "TimescaleDB job runs made by the service",
      labelNames: ["proc_name", "result", "runner"],
      registers: [registry],
    }),
    embeddedRestarts: new Gauge({
      name: "pulse_embedded_engine_restarts",
      help: "How many times the embedded TimescaleDB child was restarted",
      registers: [registry],
    }),
    ingestEvents: new Counter({
      name: "pulse_ingest_events_total",
      help: "Events ingested by transport and outcome (accepted, duplicate, rejected)",
      labelNames: ["transport", "outcome"],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: "pulse_ingest_dead_letters_total",
      help: "Events rejected into the dead-letter store, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    ingestBatchSeconds: new Histogram({
      name: "pulse_ingest_batch_seconds",
      help: "Time to validate, anonymise and commit one batch",
      labelNames: ["transport"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    dedupLookups: new Counter({
      name: "pulse_ingest_dedup_lookups_total",
      help: "Look-ups in the recent-event-id LRU (hit = duplicate caught before the database)",
      labelNames: ["result"],
      registers: [registry],
    }),
    breakerOpen: new Gauge({
      name: "pulse_ingest_breaker_open",
      help: "1 while the database-write circuit breaker is open",
      registers: [registry],
    }),
    consumerPending: new Gauge({
      name: "pulse_ingest_consumer_pending",
      help: "Messages in the stream not yet delivered to the ingest consumer",
      registers: [registry],
    }),
    consumerLagSeconds: new Gauge({
      name: "pulse_ingest_consumer_lag_seconds",
      help: "Age of the oldest message in the stream the ingest consumer has not acknowledged yet (0 when none is pending)",
      registers: [registry],
    }),
    dbPoolMax: new Gauge({
      name: "pulse_db_pool_max",
      help: "Size of the database connection pool (DB_POOL_MAX; 1 on the embedded engine)",
      registers: [registry],
    }),
    dbPoolInUse: new Gauge({
      name: "pulse_db_pool_in_use",
      help: "Database connections held now by a transaction, a reserved connection or a running statement",
      registers: [registry],
    }),
    dbPoolWaiting: new Gauge({
      name: "pulse_db_pool_waiting",
      help: "Transactions and statements waiting for a database connection now",
      registers: [registry],
    }),
    dbPoolBusySeconds: new Counter({
      name: "pulse_db_pool_busy_seconds_total",
      help: "Connection-seconds the database pool was in use: rate(...) / pulse_db_pool_max is its mean use",
      registers: [registry],
      collect() {
        for (const f of beforeScrape) f();
      },
    }),
    memoryWorkingSetBytes: new Gauge({
      name: "pulse_memory_working_set_bytes",
      help: "The container's memory working set (cgroup usage minus inactive file cache; the process's RSS outside a cgroup)",
      registers: [registry],
      collect() {
        this.set(readContainerMemory().workingSetBytes);
      },
    }),
    memoryLimitBytes: new Gauge({
      name: "pulse_memory_limit_bytes",
      help: "The container's memory limit (cgroup memory.max / memory.limit_in_bytes; +Inf when there is none)",
      registers: [registry],
      collect() {
        this.set(readContainerMemory().limitBytes);
      },
    }),
    memoryCollections: new Counter({
      name: "pulse_ingest_memory_collections_total",
      help:
        "Full garbage collections run because the process was above INGEST_MEMORY_SOFT_LIMIT_MB, by result (under, " +
        "over: still above it)",
      labelNames: ["result"],
      registers: [registry],
    }),
    pricingOutboxPublishes: new Counter({
      name: "pulse_pricing_outbox_publishes_total",
      help: "price.change_approved publishes from the pricing outbox by result (published; duplicate: dropped by JetStream; failed)",
      labelNames: ["result"],
      registers: [registry],
    }),
    pricingOutboxBacklog: new Gauge({
      name: "pulse_pricing_outbox_backlog",
      help: "Approved price changes not yet published on NATS",
      registers: [registry],
    }),
    pricingOutboxOldestSeconds: new Gauge({
      name: "pulse_pricing_outbox_oldest_seconds",
      help: "Age of the oldest unpublished approved price change (0 when none)",
      registers: [registry],
    }),
    pricingTransitions: new Counter({
      name: "pulse_pricing_transitions_total",
      help: "Price changes moved by the pricing worker, by new state (applied, expired)",
      labelNames: ["to"],
      registers: [registry],
    }),
    memoryCollectionSeconds: new Histogram({
      name: "pulse_ingest_memory_collection_seconds",
      help: "Duration of the full garbage collections run for INGEST_MEMORY_SOFT_LIMIT_MB",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
  };
}
