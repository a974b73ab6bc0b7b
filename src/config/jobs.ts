/** TimescaleDB background jobs: who runs them (the server's scheduler, or this service: src/jobs/) and how often. */
import { z } from "zod";
import { int, section } from "./section.ts";

export type JobsMode = "scheduler" | "service" | "watch";

export const jobs = section({
  vars: {
    TIMESCALE_JOBS: z.enum(["scheduler", "service", "watch"]).optional(),
    JOBS_POLL_INTERVAL_MS: int(1_000, 3_600_000).default(15_000),
    JOBS_OVERDUE_GRACE_MS: int(0, 86_400_000).default(300_000),
  },
  read: (e, base) => ({
    jobs: {
      mode: (base.embedded ? "service" : (e.TIMESCALE_JOBS ?? "scheduler")) as JobsMode,
      pollIntervalMs: e.JOBS_POLL_INTERVAL_MS,
      overdueGraceMs: e.JOBS_OVERDUE_GRACE_MS,
    },
  }),
  check: (e, base, ctx) => {
    if (base.embedded && e.TIMESCALE_JOBS && e.TIMESCALE_JOBS !== "service") {
      ctx.addIssue({
        code: "custom",
        path: ["TIMESCALE_JOBS"],
        message: "the embedded engine has no job scheduler; only 'service' is possible without DATABASE_URL",
      });
    }
  },
});
