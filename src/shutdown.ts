/**
 * Graceful shutdown shared by the Bun and Deno entries: run the steps in order (stop taking work,
 * drain, close), within a time budget; exit 0 when they finished, 1 when they failed or overran.
 */
import type { Logger } from "./logger.ts";

export function onShutdown(opts: {
  logger: Logger;
  budgetMs: number;
  steps: () => Promise<void>;
  exit: (code: number) => void;
  listen: (signal: "SIGTERM" | "SIGINT", handler: () => void) => void;
}): void {
  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    opts.logger.info({ signal, budget_ms: opts.budgetMs }, "shutting down");
    const budget = setTimeout(() => {
      opts.logger.error("shutdown budget exceeded; exiting now");
      opts.exit(1);
    }, opts.budgetMs);
    try {
      await opts.steps();
      clearTimeout(budget);
      opts.logger.info("stopped cleanly");
      opts.exit(0);
    } catch (err) {
      opts.logger.error({ err }, "error during shutdown");
      opts.exit(1);
    }
  };
  opts.listen("SIGTERM", () => void shutdown("SIGTERM"));
  opts.listen("SIGINT", () => void shutdown("SIGINT"));
}
