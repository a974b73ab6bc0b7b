/**
 * Replays (role `ops`): POST /v1/admin/replays (createReplay), GET /v1/admin/replays (listReplays),
 * GET /v1/admin/replays/{id} (getReplay), POST /v1/admin/replays/{id}/cancel (cancelReplay). A replay is a
 * job (replay_jobs) run by a worker replica's ReplayRunner (replay.runner.ts: how it reads, stores and is
 * paced). Operators' rows, read as the service's connection role outside withTenant.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { HttpProblem, problemResponses } from "../../http/problem.ts";
import { decodeCursor, encodeCursor } from "../../http/query.ts";
import { getReplayJob, insertReplayJob, listReplayJobs, requestCancel } from "./replay.queries.ts";
import { CreateReplayRequest, ReplayCursor, ReplayIdParam, ReplayJobSchema, replayJson, ReplayListQuery } from "./replay.schemas.ts";
import { readWindow } from "./replay.stream.ts";

const jobContent = { "application/json": { schema: ReplayJobSchema } };
const problem422 = {
  description: "The range starts before what the stream keeps (`errors` names `from` and what is available)",
  content: problemResponses[400].content,
};
const problem404 = { description: "No replay job with this id", content: problemResponses[400].content };

const createRoute_ = createRoute({
  method: "post",
  path: "/v1/admin/replays",
  operationId: "createReplay",
  tags: ["recovery"],
  summary: "Replay [from, to) of one tenant (or every tenant) from the JetStream stream, as a job",
  description:
    "Role `ops`. Re-reads the stream (an ephemeral ordered consumer starting at `from` minus INGEST_MAX_FUTURE_MS) up to its " +
    "last message at the time the job starts, and passes every event whose time is in [from, to) (and whose type is in " +
    "`types`) through the ingest pipeline as it is: the same validation, anonymisation and exactly-once storage, so events " +
    "already stored count as duplicates and nothing is stored twice; invalid ones already have their dead letter. Pacing, " +
    "so live ingest keeps its throughput: at most REPLAY_RATE_PER_SEC messages read per second per replica (default 2,000) " +
    "in batches of REPLAY_BATCH_SIZE (default 250), and none while the live consumer has more than REPLAY_YIELD_PENDING " +
    "messages waiting (default 10,000). 202 with the job (status queued); follow it with getReplay, stop it with " +
    "cancelReplay. When it succeeds, reconciliation runs again for its tenant and days. A `from` before what the stream " +
    "keeps (NATS_STREAM_MAX_AGE_MS, or messages already removed) ⇒ 422 naming the earliest time available. 503 without NATS.",
  request: { body: { required: true, content: { "application/json": { schema: CreateReplayRequest } } } },
  responses: { 202: { description: "the job, queued", content: jobContent }, 422: problem422, ...problemResponses },
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/replays",
  operationId: "listReplays",
  tags: ["recovery"],
  summary: "Replay jobs, newest first",
  description: "Role `ops`. Every replay job with its status and progress.",
  request: { query: ReplayListQuery },
  responses: {
    200: {
      description: "a page of jobs",
      content: { "application/json": { schema: z.object({ data: z.array(ReplayJobSchema), next_cursor: z.string().nullable() }) } },
    },
    ...problemResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/replays/{id}",
  operationId: "getReplay",
  tags: ["recovery"],
  summary: "One replay job: status and progress (read, in range, stored, duplicates, dead-lettered)",
  description: "Role `ops`. Progress is saved after every batch.",
  request: { params: ReplayIdParam },
  responses: { 200: { description: "the job", content: jobContent }, 404: problem404, ...problemResponses },
});

const cancelRoute = createRoute({
  method: "post",
  path: "/v1/admin/replays/{id}/cancel",
  operationId: "cancelReplay",
  tags: ["recovery"],
  summary: "Cancel a replay job: a queued one at once, a running one after its current batch",
  description:
    "Role `ops`. What a running job stored before it stops stays stored (every batch is its own transaction). Cancelling a " +
    "cancelled job changes nothing; a succeeded or failed one ⇒ 409.",
  request: { params: ReplayIdParam },
  responses: {
    200: { description: "the job, cancelled or asked to stop", content: jobContent },
    404: problem404,
    409: { description: "The job has already finished", content: problemResponses[400].content },
    ...problemResponses,
  },
});

const notFound = (id: string) => new HttpProblem(404, `no replay job ${id}`);

export const replayRoutes = new OpenAPIHono<AppEnv>()
  .openapi(createRoute_, async (c) => {
    const b = c.req.valid("json");
    const deps = c.get("deps");
    if (!deps.nats) throw new HttpProblem(503, "NATS_URL is not set: there is no stream to replay from");
    const window = await readWindow(deps.nats).catch((err: Error) => {
      throw new HttpProblem(503, `NATS is unavailable (${err.message}): the stream cannot be read now; retry later`);
    });
    if (window.earliest && Date.parse(b.from) < window.earliest.getTime()) {
      const why = window.removed
        ? "older messages were removed (age or size limits, or a purge)"
        : `it keeps ${window.maxAgeMs} ms (NATS_STREAM_MAX_AGE_MS)`;
      const message = `the stream ${window.stream} holds events from ${window.earliest.toISOString()} on: ${why}`;
      throw new HttpProblem(422, `from is before what the stream keeps: ${message}`, { errors: [{ path: "from", message }] });
    }
    const job = await insertReplayJob(deps.sql, {
      id: crypto.randomUUID(),
      tenantId: b.tenant_id ?? null,
      from: b.from,
      to: b.to,
      types: b.types ?? null,
      requestedBy: c.get("principal").sub,
      stream: window.stream,
    });
    c.get("logger").info(
      { operator: c.get("principal").sub, replay: job.id, tenant_id: job.tenant_id, from: b.from, to: b.to },
      "replay requested",
    );
    return c.json(replayJson(job), 202, { Location: `/v1/admin/replays/${job.id}` });
  })
  .openapi(listRoute, async (c) => {
    const q = c.req.valid("query");
    let after: { created_at: string; id: string } | undefined;
    if (q.cursor) {
      const cur = decodeCursor(q.cursor, ReplayCursor);
      if (!cur) throw new HttpProblem(400, "cursor is not valid", { errors: [{ path: "cursor", message: "not a cursor from this API" }] });
      after = { created_at: cur.c, id: cur.i };
    }
    const rows = await listReplayJobs(c.get("deps").sql, { status: q.status, limit: q.limit, after });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next_cursor = rows.length > q.limit && last ? encodeCursor({ c: last.created_at.toISOString(), i: last.id }) : null;
    return c.json({ data: page.map(replayJson), next_cursor }, 200);
  })
  .openapi(getRoute, async (c) => {
    const { id } = c.req.valid("param");
    const job = await getReplayJob(c.get("deps").sql, id);
    if (!job) throw notFound(id);
    return c.json(replayJson(job), 200);
  })
  .openapi(cancelRoute, async (c) => {
    const { id } = c.req.valid("param");
    const job = await requestCancel(c.get("deps").sql, id);
    if (!job) throw notFound(id);
    if (job.status === "succeeded" || job.status === "failed") throw new HttpProblem(409, `the replay job ${id} has already ${job.status}`);
    c.get("logger").info({ operator: c.get("principal").sub, replay: id }, "replay cancel requested");
    return c.json(replayJson(job), 200);
  });
