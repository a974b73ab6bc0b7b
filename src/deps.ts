/**
 * buildDeps(config) → everything handlers and workers need, built once; closeDeps() undoes it in order.
 */
import { bumpGeneration } from "./analytics/shared/generation.ts";
import { createCache, type Cache } from "./cache/index.ts";
import type { Config } from "./config.ts";
import type { Sql } from "./db/client.ts";
import { connectDatabase } from "./db/connect.ts";
import type { EmbeddedEngine } from "./db/embedded/manager.ts";
import { migrate, migrateSettings } from "./db/migrate.ts";
import { createExportStorage, type ExportStorage } from "./exports/storage/storage.ts";
import { meterPool } from "./db/pool-meter.ts";
import { createJwtVerifier, type JwtVerifier, resolveJwtSecret } from "./http/auth.ts";
import { JobsRunner } from "./jobs/timescale-jobs.ts";
import { createLogger, type Logger } from "./logger.ts";
import { createMetrics, type Metrics } from "./metrics/metrics.ts";
import { closeNats, connectNats, connectNatsLater, type NatsHandle, type NatsPending } from "./nats/connection.ts";
import { createPrivacy } from "./ingest/privacy/privacy.ts";
import { DbBreaker } from "./ingest/breaker.ts";
import { DedupCache } from "./ingest/dedup.ts";
import { publishDeadLetter } from "./ingest/dead-letters/publish.ts";
import { deadLetterDepth } from "./ingest/dead-letters/dead-letters.queries.ts";
import { mismatchDays } from "./recovery/reconciliation/reconciliation.queries.ts";
import { MemoryGuard } from "./ingest/memory-guard.ts";
import { IngestPipeline } from "./ingest/pipeline.ts";

export interface Deps {
  config: Config;
  logger: Logger;
  /**
   * the one pool, reads included: analytics answers are cached under the tenant's data generation, so
   * a read from a lagging replica could cache a stale answer under a new generation (there is no
   * read-replica setting)
   */
  sql: Sql;
  cache: Cache;
  /** set later when an api started while NATS did not answer (natsPending meanwhile) */
  nats: NatsHandle | undefined;
  /** NATS_URL is set and an api is still trying to connect (readiness: degraded) */
  natsPending?: NatsPending;
  engine: EmbeddedEngine | undefined;
  metrics: Metrics;
  jwt: JwtVerifier;
  jobs: JobsRunner;
  breaker: DbBreaker;
  dedup: DedupCache;
  ingest: IngestPipeline;
  /** where export files are stored (src/exports/storage/) */
  exportStorage: ExportStorage;
}

export interface BuildOptions {
  logger?: Logger;
  /** connect to NATS when NATS_URL is set (default true) */
  nats?: boolean;
  /** run due TimescaleDB jobs in the background when TIMESCALE_JOBS is service or watch (default true) */
  runJobs?: boolean;
  defaultMetrics?: boolean;
}

export async function buildDeps(config: Config, opts: BuildOptions = {}): Promise<Deps> {
  const logger = opts.logger ?? createLogger(config.log);
  const metrics = createMetrics({ defaultMetrics: opts.defaultMetrics ?? false });
  const secret = resolveJwtSecret(config, logger);
  const jwt = createJwtVerifier({
    secret,
    jwksUrl: config.auth.jwksUrl,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    clockToleranceS: config.auth.clockToleranceS,
  });

  const db = await connectDatabase(config.db, logger, { max: config.db.poolMax });
  const { engine } = db;
  // the same pool, measured for pulse_db_pool_* (src/db/pool-meter.ts)
  const sql = meterPool(db.sql, metrics);
  // gauges read at scrape time (src/metrics/metrics.ts)
  metrics.scrape.deadLetterDepth = () => deadLetterDepth(sql);
  metrics.scrape.reconciliationMismatchDays = () =>
    mismatchDays(sql, {
      lookbackDays: config.recovery.reconciliationLookbackDays,
      maxTenants: config.recovery.reconciliationMetricTenants,
    });

  const closeSoFar = async () => {
    await sql.end({ timeout: 5 }).catch(() => undefined);
    await engine?.stop();
  };

  try {
    if (config.db.migrateOnStart) await migrate(sql, { logger, settings: migrateSettings(config) });
  } catch (err) {
    await closeSoFar();
    throw err;
  }

  const cache = await createCache({ redisUrl: config.cache.redisUrl, upstash: config.cache.upstash, logger });
  const exportStorage = await createExportStorage(config.exports.storage);
  let nats: NatsHandle | undefined;
  let natsLater: NatsPending | undefined;
  if (config.nats.url && opts.nats !== false) {
    try {
      nats = await connectNats(config.nats, logger);
    } catch (err) {
      // an api serves without NATS (it only copies HTTP ingest's dead letters there): it starts, and
      // connects when NATS answers; a worker (or all) needs it for its consumer, so its start fails
      if (config.role === "api") {
        logger.warn({ err: (err as Error).message }, "NATS does not answer: the api starts without it and keeps trying");
        natsLater = connectNatsLater(config.nats, logger, err, (h) => {
          nats = h;
          deps.nats = h;
          deps.natsPending = undefined;
        });
      } else {
        await cache.close().catch(() => undefined);
        await closeSoFar();
        throw err;
      }
    }
  }

  const jobs = new JobsRunner(sql, {
    mode: config.jobs.mode,
    pollIntervalMs: config.jobs.pollIntervalMs,
    overdueGraceMs: config.jobs.overdueGraceMs,
    logger: logger.child({ component: "timescale-jobs" }),
    metrics,
  });
  if (opts.runJobs ?? true) jobs.start();

  const { breaker, dedup, ingest } = buildIngest({ config, logger, sql, metrics, nats: natsLater ? () => nats : nats, cache });
  const deps: Deps = { config, logger, sql, cache, nats, engine, metrics, jwt, jobs, breaker, dedup, ingest, exportStorage };
  if (natsLater) deps.natsPending = natsLater;
  return deps;
}

/**
 * The ingest pipeline over a database handle (also used by tests with their own engine). `share`: a
 * second pipeline over the same database (replays) uses the live one's breaker and NO recent-id cache:
 * it tells duplicates by the table's key alone (a replay restores events deleted after they were last
 * seen, which the live cache would call duplicates). Without `nats` it publishes no dead letters.
 */
export function buildIngest(d: {
  config: Config;
  logger: Logger;
  sql: Sql;
  metrics: Metrics;
  /** the connection, or how to get it when it comes later (an api that started without NATS) */
  nats: NatsHandle | undefined | (() => NatsHandle | undefined);
  cache?: Cache;
  share?: { breaker: DbBreaker };
}) {
  const breaker =
    d.share?.breaker ??
    new DbBreaker({
      failures: d.config.ingest.breakerFailures,
      halfOpenMs: d.config.ingest.breakerHalfOpenMs,
      logger: d.logger.child({ component: "ingest" }),
      metrics: d.metrics,
    });
  const dedup = new DedupCache({ size: d.share ? 0 : d.config.ingest.dedupSize, ttlMs: d.config.ingest.dedupTtlMs }, d.metrics);
  const nats = d.nats;
  const cache = d.cache;
  const ingest = new IngestPipeline({
    sql: d.sql,
    logger: d.logger.child({ component: "ingest" }),
    metrics: d.metrics,
    privacy: createPrivacy(d.sql, d.logger),
    dedup,
    breaker,
    limits: {
      maxFutureMs: d.config.ingest.maxFutureMs,
      retentionMs: d.config.storage.retentionDays * 86_400_000,
      maxEventBytes: d.config.ingest.maxEventBytes,
      maxDepth: d.config.security.jsonMaxDepth,
    },
    publishDeadLetter: nats
      ? (row) => {
          const h = typeof nats === "function" ? nats() : nats;
          if (h) return publishDeadLetter(h, row);
          return Promise.reject(new Error("NATS is not connected yet: the dead letter is stored, not copied to NATS"));
        }
      : undefined,
    // new events make the tenants' cached analytics answers unreachable (src/analytics/shared/generation.ts)
    onCommitted: cache ? (tenantIds) => bumpGeneration(cache, tenantIds, { logger: d.logger }) : undefined,
    memoryGuard: new MemoryGuard({
      softLimitBytes: d.config.ingest.memorySoftLimitBytes,
      logger: d.logger.child({ component: "ingest" }),
      metrics: d.metrics,
    }),
  });
  return { breaker, dedup, ingest };
}

export async function closeDeps(deps: Deps): Promise<void> {
  deps.natsPending?.stop();
  await deps.jobs.stop();
  if (deps.nats) await closeNats(deps.nats);
  await deps.cache.close().catch(() => undefined);
  await deps.sql.end({ timeout: 5 }).catch(() => undefined);
  await deps.engine?.stop();
}
