/**
 * ROLE=api|worker|all. Starts what the role needs; SIGTERM/SIGINT → stop taking work, drain, close,
 * within SHUTDOWN_TIMEOUT_MS (then exit anyway, non-zero).
 */
import { createApp } from "./app.ts";
import { loadConfigOrExit } from "./config.ts";
import { buildDeps, buildIngest, closeDeps } from "./deps.ts";
import { ExportSweep } from "./exports/sweep.ts";
import { ExportWorker } from "./exports/worker.ts";
import { IngestConsumer } from "./ingest/consumer.ts";
import { ReplayRunner } from "./recovery/replay/replay.runner.ts";
import { createLogger, fatalLine } from "./logger.ts";
import { PricingWorker } from "./pricing/outbox.ts";
import { onShutdown } from "./shutdown.ts";
import { webBundle } from "./web/build.ts";

async function main(): Promise<void> {
  const config = loadConfigOrExit(fatalLine, (code) => process.exit(code));
  const logger = createLogger(config.log);
  const started = performance.now();
  const deps = await buildDeps(config, { logger, defaultMetrics: true });

  let consumer: IngestConsumer | undefined;
  let replays: ReplayRunner | undefined;
  if (config.role !== "api" && deps.nats) {
    consumer = new IngestConsumer({
      nats: deps.nats,
      pipeline: deps.ingest,
      cfg: config.ingest,
      logger: logger.child({ component: "consumer" }),
      metrics: deps.metrics,
    });
    await consumer.start();
    // replay jobs (POST /v1/admin/replays): the same pipeline, without republishing dead letters
    const replayIngest = buildIngest({ ...deps, nats: undefined, share: { breaker: deps.breaker } });
    replays = new ReplayRunner({
      sql: deps.sql,
      nats: deps.nats,
      pipeline: replayIngest.ingest,
      recovery: config.recovery,
      maxFutureMs: config.ingest.maxFutureMs,
      liveConsumer: config.ingest.consumer,
      logger: logger.child({ component: "replay" }),
    });
    replays.start();
  } else if (config.role !== "api") {
    logger.warn("NATS_URL is not set: no JetStream ingest (POST /v1/events still works)");
  }

  // exports: the database queue's worker and the expiry sweep run where work is done (worker, all)
  let exportWorker: ExportWorker | undefined;
  let exportSweep: ExportSweep | undefined;
  if (config.role !== "api") {
    exportWorker = new ExportWorker(deps);
    exportWorker.start();
    exportSweep = new ExportSweep(deps);
    exportSweep.start();
  }

  // approved price changes out (outbox → NATS), arrived prices applied, stale proposals expired
  let pricing: PricingWorker | undefined;
  if (config.role !== "api") {
    pricing = new PricingWorker({
      sql: deps.sql,
      nats: deps.nats,
      cache: deps.cache,
      logger: logger.child({ component: "pricing" }),
      metrics: deps.metrics,
      pricing: config.pricing,
      natsConfig: config.nats,
    });
    await pricing.start();
  }

  // every role serves HTTP: api/all serve the API; a worker serves health and metrics on the same port
  const app = createApp(deps);
  const server = Bun.serve({ port: config.port, hostname: config.host, fetch: app.fetch, idleTimeout: 60 });
  // the web app's bundle, built now rather than on the first /app request
  if (config.role !== "worker")
    webBundle().then(
      (b) => logger.info({ build_ms: b.ms }, "web app built"),
      (err: unknown) => logger.error({ err }, "the web app did not build"),
    );
  logger.info(
    {
      port: server.port,
      role: config.role,
      embedded: Boolean(deps.engine),
      jobs: config.jobs.mode,
      startup_ms: Math.round(performance.now() - started),
    },
    "pulse is listening",
  );

  onShutdown({
    logger,
    budgetMs: config.shutdownTimeoutMs,
    steps: async () => {
      await replays?.stop(); // a replay in progress stops after its batch, released for another runner
      await consumer?.stop(); // stop fetching; flush, commit and ack what was fetched
      await exportWorker?.stop(); // the export in hand goes back to the queue
      await exportSweep?.stop();
      await pricing?.stop(); // finish the round in progress
      await server.stop(false); // finish in-flight requests, accept no new ones
      await closeDeps(deps);
    },
    exit: (code) => process.exit(code),
    listen: (signal, handler) => process.on(signal, handler),
  });
}

main().catch((err) => {
  createLogger({ level: "fatal", format: "json" }).fatal({ err }, `pulse failed to start: ${(err as Error).message}`);
  process.exit(1);
});
