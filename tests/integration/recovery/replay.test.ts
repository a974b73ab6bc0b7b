import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Config } from "../../../src/config.ts";
import { buildIngest, type Deps } from "../../../src/deps.ts";
import { IngestConsumer } from "../../../src/ingest/consumer.ts";
import type { NatsHandle } from "../../../src/nats/connection.ts";
import { runReconciliation } from "../../../src/recovery/reconciliation/reconciliation.queries.ts";
import { ReplayRunner } from "../../../src/recovery/replay/replay.runner.ts";
import { testApp, testConfig, testLogger, token } from "../../helpers/deps.ts";
import { type CloudEvent, envelope, orderCompleted, pageViewed } from "../../helpers/events.ts";
import { privateNats, until } from "../../helpers/nats.ts";

type App = Awaited<ReturnType<typeof testApp>>["app"];
const enc = new TextEncoder();
const DAY_MS = 86_400_000;
/** D: the UTC day two days ago; the replayed range is [D 00:00Z, D+1 00:00Z) */
const D = new Date(Date.now() - 2 * DAY_MS).toISOString().slice(0, 10);
const D1 = new Date(Date.parse(`${D}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
const RANGE = { from: `${D}T00:00:00.000Z`, to: `${D1}T00:00:00.000Z` };
const hour = (h: number, day = D) => `${day}T${String(h).padStart(2, "0")}:00:00.000Z`;
const oneLine = (minor: number) => ({
  lines: [{ item_id: "show-1", quantity: 1, unit_price_minor: minor }],
  discount_minor: 0,
  total_minor: minor,
});

describe("replays of a range from the JetStream stream", () => {
  let app: App;
  let deps: Deps;
  let nats: NatsHandle;
  let config: Config;
  let cleanup: () => Promise<void>;
  let consumer: IngestConsumer;
  const runners: ReplayRunner[] = [];
  const T = crypto.randomUUID();
  const U = crypto.randomUUID();
  // T on D: 10 orders of 100, 200, …, 1000 (Σ 5500) and 3 page views; one invalid order; 2 orders on D+1; the expectation
  const orders = Array.from({ length: 10 }, (_, i) => orderCompleted(T, { time: hour(i + 1) }, oneLine((i + 1) * 100)));
  const views = Array.from({ length: 3 }, (_, i) => pageViewed(T, { time: hour(i + 12) }));
  const invalid = orderCompleted(T, { time: hour(20) }, { total_minor: 1 });
  const later = [orderCompleted(T, { time: hour(3, D1) }), orderCompleted(T, { time: hour(4, D1) })];
  const expected = envelope(
    T,
    "reconciliation.expected",
    { date: D, timezone: "UTC", orders: 10, gross_minor: 5500, currency: "EUR" },
    { time: hour(1, D1) },
  );
  const other = orderCompleted(U, { time: hour(5) });
  // deleted below: orders of 300, 500, 700 and 900 (Σ 2400) and the second page view
  const deleted = [orders[2]!, orders[4]!, orders[6]!, orders[8]!, views[1]!];

  const publish = (e: CloudEvent) =>
    nats.js.publish(`${nats.subjectPrefix}.${e.tenantid}.${e.type}`, enc.encode(JSON.stringify(e)), { msgID: e.id });
  const stored = async (t: string) => Number((await deps.sql`select count(*)::int as n from events where tenant_id = ${t}`)[0]!.n);
  const ids = async (t: string) => (await deps.sql`select event_id from events where tenant_id = ${t}`).map((r) => r.event_id as string);
  const ops = () => token({ tenantId: crypto.randomUUID(), roles: ["ops"], sub: "operator" });
  async function call(method: string, path: string, body?: unknown) {
    const res = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${await ops()}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as any, headers: res.headers };
  }
  function runner(recovery: Config["recovery"] = config.recovery) {
    const pipeline = buildIngest({
      config,
      logger: testLogger,
      sql: deps.sql,
      metrics: deps.metrics,
      nats: undefined,
      share: { breaker: deps.breaker },
    }).ingest;
    const r = new ReplayRunner({
      sql: deps.sql,
      nats,
      pipeline,
      recovery,
      maxFutureMs: config.ingest.maxFutureMs,
      liveConsumer: config.ingest.consumer,
      logger: testLogger,
    });
    runners.push(r);
    return r;
  }
  async function remove(events: CloudEvent[]) {
    const gone = events.map((e) => e.id);
    await deps.sql`delete from order_lines where tenant_id = ${T} and event_id = any(${gone})`;
    await deps.sql`delete from events where tenant_id = ${T} and event_id = any(${gone})`;
  }
  async function report() {
    await runReconciliation(deps.sql, { tenantId: T });
    const [r] = await deps.sql`select status, stored_orders, stored_gross_minor::int as gross, missing_orders
                             from reconciliation_reports where tenant_id = ${T} and day = ${D}`;
    return r;
  }

  beforeAll(async () => {
    ({ nats, config, cleanup } = await privateNats({
      INGEST_FLUSH_MS: "50",
      REPLAY_BATCH_SIZE: "4",
      REPLAY_RATE_PER_SEC: "100000",
      REPLAY_POLL_MS: "100",
    }));
    const shared = (await testApp()).deps;
    const ingest = buildIngest({ config, logger: testLogger, sql: shared.sql, metrics: shared.metrics, nats });
    ({ deps, app } = await testApp({ nats, ...ingest }));
    consumer = new IngestConsumer({ nats, pipeline: deps.ingest, cfg: config.ingest, logger: testLogger, metrics: deps.metrics });
    await consumer.start();
    for (const e of [...orders, ...views, invalid, ...later, expected, other]) await publish(e);
    // 10 + 3 + 2 + 1 of T stored, the invalid one dead-lettered
    expect(await until(async () => (await stored(T)) === 16 && (await stored(U)) === 1, 15_000)).toBe(true);
    expect(await until(async () => (await deps.sql`select 1 from dead_letter_events where tenant_id = ${T}`).length === 1, 5_000)).toBe(
      true,
    );
  }, 60_000);

  afterAll(async () => {
    for (const r of runners) await r.stop();
    await consumer.stop();
    await cleanup();
  });

  test("a replay stores exactly the deleted events back, counts the rest as duplicates, and reconciliation turns back to ok", async () => {
    expect(await report()).toEqual({ status: "ok", stored_orders: 10, gross: 5500, missing_orders: 0 });
    await remove(deleted);
    // 6 orders left: 5500 − 2400 = 3100
    expect(await report()).toEqual({ status: "missing", stored_orders: 6, gross: 3100, missing_orders: 4 });

    const created = await call("POST", "/v1/admin/replays", { tenant_id: T, ...RANGE });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ status: "queued", tenant_id: T, from: RANGE.from, to: RANGE.to, requested_by: "operator" });
    expect(created.headers.get("location")).toBe(`/v1/admin/replays/${created.body.id}`);

    expect(await runner().runOnce()).toBe(created.body.id);
    const job = await call("GET", `/v1/admin/replays/${created.body.id}`);
    // read: every message of T (17); in range: 10 orders + 3 views + the invalid one (14); stored: the 5 deleted;
    // duplicates: 14 − 5 − 1 = 8; dead-lettered: the invalid one (its dead letter was filed when first ingested)
    expect(job.body).toMatchObject({
      status: "succeeded",
      progress: { read: 17, in_range: 14, stored: 5, duplicates: 8, dead_lettered: 1 },
    });
    expect(await stored(T)).toBe(16);
    expect(await ids(T)).toEqual(expect.arrayContaining(deleted.map((e) => e.id)));
    const [lines] =
      await deps.sql`select count(*)::int as n from order_lines where tenant_id = ${T} and event_id = any(${deleted.map((e) => e.id)})`;
    expect(lines!.n).toBe(4);
    // the runner re-ran reconciliation for the replayed days
    const [r] = await deps.sql`select status, stored_orders, stored_gross_minor::int as gross
                             from reconciliation_reports where tenant_id = ${T} and day = ${D}`;
    expect(r).toEqual({ status: "ok", stored_orders: 10, gross: 5500 });
  }, 30_000);

  test("a second replay of the same range stores nothing and files no second dead letter", async () => {
    const created = await call("POST", "/v1/admin/replays", { tenant_id: T, ...RANGE });
    await runner().runOnce();
    const job = await call("GET", `/v1/admin/replays/${created.body.id}`);
    expect(job.body.progress).toEqual({ read: 17, in_range: 14, stored: 0, duplicates: 13, dead_lettered: 1 });
    expect(await stored(T)).toBe(16);
    expect((await deps.sql`select 1 from dead_letter_events where tenant_id = ${T}`).length).toBe(1);
  }, 30_000);

  test("types narrow a replay; another tenant's events are never read for a tenant's replay", async () => {
    await remove([orders[0]!, views[0]!]);
    const created = await call("POST", "/v1/admin/replays", { tenant_id: T, ...RANGE, types: ["page.viewed"] });
    await runner().runOnce();
    const job = await call("GET", `/v1/admin/replays/${created.body.id}`);
    expect(job.body.progress).toMatchObject({ read: 17, in_range: 3, stored: 1, duplicates: 2, dead_lettered: 0 });
    const now = await ids(T);
    expect(now).toContain(views[0]!.id);
    expect(now).not.toContain(orders[0]!.id);
    // every tenant: U's one order and T's missing order come back through the same job. Read: T's 17, U's 1 and
    // the dead letter republished on <prefix>.dlq.invalid_data (skipped) = 19; in range: T's 10 orders + the invalid
    // one + U's order = 12; stored 2; duplicates 12 − 2 − 1 = 9
    await deps.sql`delete from events where tenant_id = ${U}`;
    const all = await call("POST", "/v1/admin/replays", { tenant_id: null, ...RANGE, types: ["order.completed"] });
    expect(all.body.tenant_id).toBeNull();
    await runner().runOnce();
    expect((await call("GET", `/v1/admin/replays/${all.body.id}`)).body.progress).toEqual({
      read: 19,
      in_range: 12,
      stored: 2,
      duplicates: 9,
      dead_lettered: 1,
    });
    expect(await stored(U)).toBe(1);
    expect(await ids(T)).toContain(orders[0]!.id);
  }, 30_000);

  test("a range older than the stream keeps ⇒ 422 naming from and what is available; a bad range ⇒ 400", async () => {
    const old = new Date(Date.now() - 8 * DAY_MS).toISOString();
    const r = await call("POST", "/v1/admin/replays", { tenant_id: T, from: old, to: RANGE.to });
    expect(r.status).toBe(422);
    expect(r.body.errors.map((e: { path: string }) => e.path)).toEqual(["from"]);
    // NATS_STREAM_MAX_AGE_MS is 7 days: the stream holds events from about now − 7 days on
    const earliest = /holds events from (\S+) on/.exec(r.body.detail)![1]!;
    expect(Math.abs(Date.parse(earliest) - (Date.now() - 7 * DAY_MS))).toBeLessThan(60_000);
    const backwards = await call("POST", "/v1/admin/replays", { tenant_id: T, from: RANGE.to, to: RANGE.from });
    expect(backwards.status).toBe(400);
    expect(backwards.body.errors.map((e: { path: string }) => e.path)).toEqual(["from"]);
    // a stream whose oldest messages were removed (a purge here; age or size limits alike): nothing before its first message
    const small = await privateNats();
    try {
      const { app: other } = await testApp({ nats: small.nats });
      for (const e of [pageViewed(T), pageViewed(T), pageViewed(T)]) {
        await small.nats.js.publish(`${small.nats.subjectPrefix}.${T}.page.viewed`, enc.encode(JSON.stringify(e)), { msgID: e.id });
      }
      await small.nats.jsm.streams.purge(small.config.nats.stream, { keep: 1 });
      const info = await small.nats.jsm.streams.info(small.config.nats.stream);
      expect(info.state.first_seq).toBe(3);
      const res = await other.request("/v1/admin/replays", {
        method: "POST",
        headers: { authorization: `Bearer ${await ops()}`, "content-type": "application/json" },
        body: JSON.stringify({ tenant_id: T, ...RANGE }),
      });
      expect(res.status).toBe(422);
      const body = (await res.json()) as { detail: string };
      expect(body.detail).toContain(`holds events from ${new Date(Date.parse(info.state.first_ts)).toISOString()} on`);
      expect(body.detail).toContain("older messages were removed");
    } finally {
      await small.cleanup();
    }
    const viewer = await app.request("/v1/admin/replays", {
      method: "POST",
      headers: { authorization: `Bearer ${await token({ tenantId: T, roles: ["admin"] })}`, "content-type": "application/json" },
      body: JSON.stringify({ tenant_id: T, ...RANGE }),
    });
    expect(viewer.status).toBe(403);
  });

  test("cancel: a queued job at once, a finished one ⇒ 409, an unknown one ⇒ 404; the list pages newest first", async () => {
    const created = await call("POST", "/v1/admin/replays", { tenant_id: T, ...RANGE });
    const cancelled = await call("POST", `/v1/admin/replays/${created.body.id}/cancel`);
    expect(cancelled.body).toMatchObject({ status: "cancelled", cancel_requested: true });
    expect(await runner().runOnce()).toBeUndefined();
    const done = (await call("GET", "/v1/admin/replays?status=succeeded&limit=1")).body;
    expect(done.data[0].status).toBe("succeeded");
    expect((await call("POST", `/v1/admin/replays/${done.data[0].id}/cancel`)).status).toBe(409);
    expect((await call("GET", `/v1/admin/replays/${crypto.randomUUID()}`)).status).toBe(404);
    const page1 = (await call("GET", "/v1/admin/replays?limit=2")).body;
    expect(page1.data[0].id).toBe(created.body.id);
    const page2 = (await call("GET", `/v1/admin/replays?limit=2&cursor=${page1.next_cursor}`)).body;
    const seen = [...page1.data, ...page2.data].map((j: { id: string }) => j.id);
    expect(new Set(seen).size).toBe(4);
  });

  test("paced: a running job is cancelled at its next batch, and a job left by a stopped runner is finished by another", async () => {
    await remove(deleted);
    // 2 messages per batch at 4 messages/s: each batch takes at least 500 ms
    const slow = testConfig({ REPLAY_BATCH_SIZE: "2", REPLAY_RATE_PER_SEC: "4", REPLAY_POLL_MS: "100" }).recovery;
    const first = await call("POST", "/v1/admin/replays", { tenant_id: T, ...RANGE });
    const a = runner(slow);
    const started = Date.now();
    a.start();
    const progress = async () => (await call("GET", `/v1/admin/replays/${first.body.id}`)).body;
    expect(await until(async () => (await progress()).progress.read >= 4, 10_000)).toBe(true);
    // 4 messages read in 2 batches: the first batch's pause of ≥ 500 ms lies between them
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    await a.stop(); // released after its batch: still running, with its last sequence kept
    const left = await progress();
    expect(left.status).toBe("running");
    expect(Number(left.resume_seq)).toBeGreaterThan(0);
    expect(left.progress.read).toBeLessThan(17);

    await runner().runOnce(); // takes the released job over and goes on after resume_seq
    const finished = await progress();
    // across both runners: every message of T read once, the 5 deleted stored once
    expect(finished).toMatchObject({
      status: "succeeded",
      progress: { read: 17, in_range: 14, stored: 5, duplicates: 8, dead_lettered: 1 },
    });

    await remove(deleted);
    const second = await call("POST", "/v1/admin/replays", { tenant_id: T, ...RANGE });
    const b = runner(slow);
    b.start();
    expect(await until(async () => (await call("GET", `/v1/admin/replays/${second.body.id}`)).body.progress.read >= 2, 10_000)).toBe(true);
    expect((await call("POST", `/v1/admin/replays/${second.body.id}/cancel`)).body.cancel_requested).toBe(true);
    expect(await until(async () => (await call("GET", `/v1/admin/replays/${second.body.id}`)).body.status === "cancelled", 10_000)).toBe(
      true,
    );
    const cancelled = (await call("GET", `/v1/admin/replays/${second.body.id}`)).body;
    expect(cancelled.progress.read).toBeLessThan(17);
    expect(cancelled.finished_at).toBeString();
    await b.stop();
  }, 60_000);
});
