/**
 * Deno 2 entry: the HTTP app only. No worker, no NATS consumer, no background jobs and no embedded
 * engine (it is a Bun child process), so DATABASE_URL is required here. Run it with
 * `bun run start:deno` (see package.json for the exact deno flags).
 * SIGTERM/SIGINT → stop accepting, finish in-flight requests, close deps, within SHUTDOWN_TIMEOUT_MS.
 */
import { createApp } from "./app.ts";
import { loadConfigOrExit } from "./config.ts";
import { buildDeps, closeDeps } from "./deps.ts";
import { onShutdown } from "./shutdown.ts";
import { createLogger, fatalLine } from "./logger.ts";

/** the part of the Deno namespace this file uses (the project typechecks against Bun's types) */
declare const Deno: {
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; finished: Promise<void> };
  addSignalListener(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
  exit(code?: number): never;
  version: { deno: string };
};

async function main(): Promise<void> {
  const config = loadConfigOrExit(fatalLine, (code) => Deno.exit(code));
  const logger = createLogger(config.log);
  if (!config.db.url) {
    logger.fatal(
      { variables: ["DATABASE_URL"] },
      "DATABASE_URL is required under Deno: the embedded TimescaleDB runs only under Bun (bun src/main.ts)",
    );
    Deno.exit(1);
  }

  const started = performance.now();
  const deps = await buildDeps(config, { logger, nats: false, runJobs: false });
  const app = createApp(deps);
  const server = Deno.serve(
    {
      port: config.port,
      hostname: config.host,
      // replaces Deno's own "Listening on …" console line
      onListen: ({ port }) =>
        logger.info(
          { port, runtime: `deno ${Deno.version.deno}`, role: "api", startup_ms: Math.round(performance.now() - started) },
          "pulse is listening",
        ),
    },
    app.fetch,
  );

  onShutdown({
    logger,
    budgetMs: config.shutdownTimeoutMs,
    steps: async () => {
      await server.shutdown(); // finish in-flight requests, accept no new ones
      await closeDeps(deps);
    },
    exit: (code) => Deno.exit(code),
    listen: (signal, handler) => Deno.addSignalListener(signal, handler),
  });
}

main().catch((err) => {
  createLogger({ level: "fatal", format: "json" }).fatal({ err }, `pulse failed to start under Deno: ${(err as Error).message}`);
  Deno.exit(1);
});
