import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/env.ts";
import { publicProblemResponses } from "../http/problem.ts";
import { readiness } from "./health.ts";

const CheckSchema = z.object({
  status: z.enum(["up", "down"]),
  required: z.boolean(),
  latency_ms: z.number().int(),
  error: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

const JobSchema = z
  .object({
    job_id: z.number().int(),
    name: z.string(),
    proc: z.string(),
    hypertable: z.string().nullable(),
    schedule_interval_s: z.number(),
    scheduled: z.boolean(),
    last_run_status: z.enum(["Success", "Failed"]).nullable(),
    last_run_at: z.string().nullable(),
    last_success_at: z.string().nullable(),
    next_start: z.string().nullable(),
    last_error: z.string().nullable(),
    failed: z.boolean().openapi({ description: "the last run (by the scheduler or the service) failed" }),
    overdue: z.boolean().openapi({ description: "next_start is further in the past than JOBS_OVERDUE_GRACE_MS" }),
  })
  .openapi("TimescaleJob");

const ReadinessSchema = z
  .object({
    status: z.enum(["ok", "degraded", "down"]),
    role: z.enum(["api", "worker", "all"]).openapi({ description: "the process's ROLE: which checks are required depends on it" }),
    reasons: z
      .array(z.string())
      .openapi({ description: "one line per check that is down or job that is failing: why the status is not `ok`" }),
    timestamp: z.string(),
    checks: z.record(z.string(), CheckSchema),
    jobs: z.object({
      mode: z.string(),
      items: z.array(JobSchema),
      failing: z.number().int(),
      error: z.string().optional(),
    }),
  })
  .openapi("Readiness");

const LivenessSchema = z.object({ status: z.literal("ok"), timestamp: z.string(), uptime_s: z.number() }).openapi("Liveness");

const liveRoute = createRoute({
  method: "get",
  path: "/health/live",
  operationId: "getLiveness",
  tags: ["health"],
  summary: "Liveness: the process is up (no dependency is checked)",
  security: [],
  responses: {
    200: { description: "alive", content: { "application/json": { schema: LivenessSchema } } },
    ...publicProblemResponses,
  },
});

const readyRoute = createRoute({
  method: "get",
  path: "/health/ready",
  operationId: "getReadiness",
  tags: ["health"],
  summary: "Readiness: can this role serve? Database, NATS, ingest breaker and cache checks, and the state of TimescaleDB jobs",
  description:
    "200 when every dependency the process's role needs answers within its probe timeout (status `ok`, or `degraded` with `reasons` " +
    "when an optional dependency is down or a TimescaleDB job failed or is overdue); 503 (`down`) when a required one does not. " +
    "The database is required for every role; NATS and the ingest circuit breaker are required for `worker` only (`api` and `all` " +
    "answer reads without them: degraded); the cache is never required. Each check has status, required, latency_ms and error.",
  security: [],
  responses: {
    200: { description: "ready", content: { "application/json": { schema: ReadinessSchema } } },
    503: { description: "a required dependency is down", content: { "application/json": { schema: ReadinessSchema } } },
    ...publicProblemResponses,
  },
});

export const healthRoutes = new OpenAPIHono<AppEnv>()
  .openapi(liveRoute, (c) =>
    c.json({ status: "ok" as const, timestamp: new Date().toISOString(), uptime_s: Math.round(process.uptime()) }, 200),
  )
  .openapi(readyRoute, async (c) => {
    const body = await readiness(c.get("deps"));
    return c.json(body, body.status === "down" ? 503 : 200);
  });
