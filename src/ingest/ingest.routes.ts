/**
 * POST /v1/events (ingestEvents), GET /v1/ingest/stats (getIngestStats). The tenant always comes from
 * the token. With GET /v1/dead-letters (dead-letters/dead-letters.routes.ts), mounted here.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { withTenant } from "../db/tenant.ts";
import type { AppEnv } from "../http/env.ts";
import { type FieldError, problem, problemResponses } from "../http/problem.ts";
import { TimeRangeQuery } from "../http/query.ts";
import { DatabaseUnavailableError } from "./breaker.ts";
import { deadLetterRoutes } from "./dead-letters/dead-letters.routes.ts";
import { ingestStats } from "./ingest.queries.ts";
import { BATCH, CloudEventSchema, IngestResultSchema, IngestStatsSchema, SINGLE } from "./ingest.schemas.ts";
import type { IncomingMessage } from "./pipeline.ts";

const ingestRoute = createRoute({
  method: "post",
  path: "/v1/events",
  operationId: "ingestEvents",
  tags: ["ingest"],
  summary: "Ingest one CloudEvent or a batch (up to 1,000 events, 1 MiB)",
  description:
    "Role `ingest`. `application/cloudevents+json` (one event) or `application/cloudevents-batch+json` (a JSON array). " +
    "Each event is validated fail-closed: invalid ones are stored in the dead-letter store with a reason (never in events) " +
    "and listed in `rejected`; a redelivered event is a duplicate, not an error. 202 after the batch's transaction " +
    "committed. 503 with Retry-After while database writes are paused (circuit breaker). A batch body that is not a JSON " +
    "array is a 400 and nothing is stored.",
  request: {
    body: {
      required: true,
      content: { [SINGLE]: { schema: CloudEventSchema }, [BATCH]: { schema: z.array(CloudEventSchema).max(1000) } },
    },
  },
  responses: {
    202: { description: "per-event outcomes", content: { "application/json": { schema: IngestResultSchema } } },
    415: { description: "unsupported content type", content: problemResponses[400].content },
    ...problemResponses,
  },
});

const statsRoute = createRoute({
  method: "get",
  path: "/v1/ingest/stats",
  operationId: "getIngestStats",
  tags: ["ingest"],
  summary: "What ingest did for your tenant in [from, to): accepted, duplicates, rejected by reason, out of order",
  description:
    "By time of receipt. accepted, duplicates and out_of_order are kept per hour (a range is widened to whole hours); " +
    "rejected counts dead letters exactly; last_event_time is the newest event time stored.",
  request: { query: TimeRangeQuery },
  responses: {
    200: { description: "ingest statistics", content: { "application/json": { schema: IngestStatsSchema } } },
    ...problemResponses,
  },
});

export const ingestRoutes = new OpenAPIHono<AppEnv>().route("/", deadLetterRoutes).openapi(statsRoute, async (c) => {
  const { from, to } = c.req.valid("query");
  const s = await withTenant(c.get("deps").sql, c.get("principal").tenantId, (tx) => ingestStats(tx, from, to));
  return c.json(
    {
      from,
      to,
      accepted: Number(s.counters.accepted),
      duplicates: Number(s.counters.duplicates),
      rejected: Object.fromEntries(s.rejected.map((r) => [r.reason, Number(r.n)])),
      out_of_order: Number(s.counters.out_of_order),
      last_event_time: s.lastEventTime?.toISOString() ?? null,
    },
    200,
  );
});

/** the events of a body, each still raw (a text, or a parsed value of a batch), or why the body is a 400 */
function eventsOf(contentType: string, text: string): unknown[] | { detail: string; errors: FieldError[] } {
  if (contentType === SINGLE) return [text];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    if (contentType === BATCH) {
      return { detail: "the batch body is not valid JSON", errors: [{ path: "(body)", message: "malformed JSON" }] };
    }
    parsed = undefined;
  }
  // application/json: an array is a batch, anything else one event (a malformed one is a dead letter)
  if (contentType === "application/json" && !Array.isArray(parsed)) return [text];
  if (!Array.isArray(parsed)) {
    return { detail: "a batch must be a JSON array of CloudEvents", errors: [{ path: "(body)", message: "expected an array" }] };
  }
  return parsed;
}

// POST /v1/events reads its body raw (a malformed single event is a dead letter, not a 400), so it
// is documented through the registry and handled without the JSON validator.
ingestRoutes.openAPIRegistry.registerPath(ingestRoute);
// who may call it: the role matrix (src/http/roles.ts), enforced by authorize for every operation
ingestRoutes.post("/v1/events", async (c) => {
  const deps = c.get("deps");
  const contentType = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (contentType !== SINGLE && contentType !== BATCH && contentType !== "application/json") {
    return problem(c, 415, `content type must be ${SINGLE} (one event) or ${BATCH} (a JSON array)`);
  }
  if (deps.breaker.open) {
    const s = Math.ceil(Math.max(1_000, deps.breaker.retryAfterMs()) / 1000);
    return problem(c, 503, "event ingestion is paused: the database is unavailable", { headers: { "Retry-After": String(s) } });
  }
  const text = await c.req.text();
  const tenantId = c.get("principal").tenantId;
  const inputs = eventsOf(contentType, text);
  if (!Array.isArray(inputs)) return problem(c, 400, inputs.detail, { errors: inputs.errors });
  if (inputs.length === 0) return problem(c, 400, "the batch is empty", { errors: [{ path: "(body)", message: "at least one event" }] });
  if (inputs.length > deps.config.ingest.httpMaxEvents) {
    return problem(c, 413, `a batch holds at most ${deps.config.ingest.httpMaxEvents} events (got ${inputs.length})`);
  }
  const msgs: IncomingMessage[] = inputs.map((input) => ({
    input,
    expectedTenant: tenantId,
    transport: "http",
    subject: null,
    stream: null,
    streamSequence: null,
  }));
  try {
    const outcomes = await deps.ingest.process(msgs);
    return c.json(
      {
        accepted: outcomes.filter((o) => o.status === "accepted").length,
        duplicates: outcomes.filter((o) => o.status === "duplicate").length,
        rejected: outcomes.flatMap((o) => (o.status === "rejected" ? [{ id: o.id, reason: o.reason, issues: o.issues }] : [])),
      },
      202,
    );
  } catch (err) {
    if (err instanceof DatabaseUnavailableError) {
      return problem(c, 503, "event ingestion is paused: the database is unavailable", {
        headers: { "Retry-After": String(Math.ceil(err.retryAfterMs / 1000)) },
      });
    }
    throw err;
  }
});
