/**
 * The whole loop against the real NATS on 4222 (a stream and subject prefix of this file's own):
 * score → recommendation → proposal → approval by another user → the pricing worker publishes the
 * outbox row (Nats-Msg-Id = change id) → an item.upserted with the new price arrives → applied, with
 * the tenant's data generation bumped; then the at-least-once republish (dropped by JetStream's
 * duplicate window), expiry by the worker, a worker without NATS, and outcomes on a hand-made history.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readGeneration } from "../../../src/analytics/shared/generation.ts";
import { createApp } from "../../../src/app.ts";
import type { Config } from "../../../src/config.ts";
import type { Deps } from "../../../src/deps.ts";
import type { ApiRole } from "../../../src/http/auth.ts";
import { PriceChangeApprovedData } from "../../../src/ingest/schemas/emitted.ts";
import type { NatsHandle } from "../../../src/nats/connection.ts";
import { PricingWorker } from "../../../src/pricing/outbox.ts";
import { getTestDeps, ingestAccepted, testLogger, token } from "../../helpers/deps.ts";
import { itemUpserted } from "../../helpers/events.ts";
import { privateNats } from "../../helpers/nats.ts";
import { DAY, fixtures, seedFastShow } from "../../helpers/pricing.ts";

const S = new Date(Math.floor((Date.now() - 120_000) / 1000) * 1000);
const suffix = crypto.randomUUID().slice(0, 8);
let deps: Deps;
let app: ReturnType<typeof createApp>;
let nats: NatsHandle;
let config: Config;
let cleanup: () => Promise<void>;
let worker: PricingWorker;

beforeAll(async () => {
  ({ nats, config, cleanup } = await privateNats({
    PRICING_NATS_STREAM: `PULSE_P_${suffix.toUpperCase()}`,
    PRICING_SUBJECT_PREFIX: `p${suffix}`,
    // the test drives the rounds itself (tick)
    PRICING_OUTBOX_POLL_MS: "600000",
  }));
  deps = { ...(await getTestDeps()), nats, config };
  app = createApp(deps);
  worker = new PricingWorker({
    sql: deps.sql,
    nats,
    cache: deps.cache,
    logger: testLogger,
    metrics: deps.metrics,
    pricing: config.pricing,
    natsConfig: config.nats,
  });
  await worker.start();
});

afterAll(async () => {
  await worker.stop();
  await nats.jsm.streams.delete(config.pricing.natsStream).catch(() => undefined);
  await cleanup();
});

async function call(
  method: string,
  path: string,
  tenant: string,
  sub: string,
  roles: ApiRole[],
  o: { body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { authorization: `Bearer ${await token({ tenantId: tenant, roles, sub })}`, ...o.headers };
  if (o.body !== undefined) headers["content-type"] = "application/json";
  const res = await app.request(path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  return { res, status: res.status, body: (await res.json()) as any };
}

async function approved(t: string, body: unknown = { item_id: "fast-show" }) {
  const p = await call("POST", "/v1/pricing/changes", t, "ana", ["analyst"], { body });
  expect(p.status).toBe(201);
  const a = await call("POST", `/v1/pricing/changes/${p.body.id}/approve`, t, "max", ["pricing_manager"], {
    headers: { "if-match": p.body.etag },
  });
  expect(a.status).toBe(200);
  return a.body;
}

describe("score → propose → approve → publish → item.upserted ⇒ applied", () => {
  test("the approval is published on NATS with Nats-Msg-Id = change id; the change is applied when the new price arrives", async () => {
    const t = crypto.randomUUID();
    await seedFastShow(deps, t, S);
    const rec = await call("GET", "/v1/pricing/items/fast-show/demand", t, "v", ["viewer"]);
    expect(rec.body.data[0].recommendation).toMatchObject({ action: "raise", recommended_price_minor: 5250 });
    const change = await approved(t);
    expect(change).toMatchObject({ status: "approved", new_price_minor: 5250, published_at: null });

    const round1 = await worker.tick();
    expect(round1.published).toBeGreaterThanOrEqual(1);
    const subject = `p${suffix}.${t}.price.change_approved`;
    const msg = await nats.jsm.streams.getMessage(config.pricing.natsStream, { last_by_subj: subject });
    expect(msg.header.get("Nats-Msg-Id")).toBe(change.id);
    const event = msg.json<any>();
    expect(event).toMatchObject({
      specversion: "1.0",
      id: change.id,
      type: "price.change_approved",
      tenantid: t,
      schemaversion: "1",
      subject: "fast-show",
    });
    expect(PriceChangeApprovedData.parse(event.data)).toEqual({
      change_id: change.id,
      item_id: "fast-show",
      currency: "EUR",
      previous_price_minor: 5000,
      new_price_minor: 5250,
      approved_at: change.decided_at,
      reason: null,
    });
    const published = await call("GET", `/v1/pricing/changes/${change.id}`, t, "v", ["viewer"]);
    expect(published.body).toMatchObject({ status: "approved", version: 2 });
    expect(published.body.published_at).not.toBeNull();

    // the upstream catalog applies the price
    const upsertTime = new Date(Date.now() - 1_000).toISOString();
    await ingestAccepted(deps, [
      itemUpserted(
        t,
        "fast-show",
        { time: upsertTime },
        {
          capacity: 200,
          starts_at: new Date(S.getTime() + 2 * DAY).toISOString(),
          base_price_minor: 5250,
          min_price_minor: 4000,
          max_price_minor: 6000,
        },
      ),
    ]);
    const generation = await readGeneration(deps.cache, t);
    const round2 = await worker.tick();
    expect(round2.applied).toBeGreaterThanOrEqual(1);
    expect(Number(await readGeneration(deps.cache, t))).toBeGreaterThan(Number(generation));
    const applied = await call("GET", `/v1/pricing/changes/${change.id}`, t, "v", ["viewer"]);
    expect(applied.body).toMatchObject({ status: "applied", version: 3 });
    // applied_at = the item.upserted's time (after the approval, not in the future)
    expect(applied.body.applied_at).toBe(new Date(Math.max(Date.parse(upsertTime), Date.parse(change.decided_at))).toISOString());
    expect(applied.body.history.map((h: any) => [h.from_status, h.to_status, h.actor])).toEqual([
      [null, "pending", "ana"],
      ["pending", "approved", "max"],
      ["approved", "applied", "system"],
    ]);
  }, 30_000);

  test("a republish after a crash between publish and mark is dropped by JetStream: one message in the stream", async () => {
    const t = crypto.randomUUID();
    await seedFastShow(deps, t, S);
    const change = await approved(t);
    await worker.tick();
    const subject = `p${suffix}.${t}.price.change_approved`;
    const count = async () =>
      (await nats.jsm.streams.info(config.pricing.natsStream, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
    expect(await count()).toBe(1);
    // the worker died after publishing, before marking the row: the row is unpublished again
    await deps.sql`update pricing_outbox set published_at = null, claimed_until = null where change_id = ${change.id}`;
    const round = await worker.tick();
    expect(round.duplicates).toBe(1);
    expect(await count()).toBe(1);
    const [row] = await deps.sql`select published_at, attempts from pricing_outbox where change_id = ${change.id}`;
    expect(row!.published_at).not.toBeNull();
    expect(row!.attempts).toBe(2);
  }, 30_000);

  test("the worker expires pending changes past PRICING_PENDING_TTL_HOURS", async () => {
    const t = crypto.randomUUID();
    await seedFastShow(deps, t, S);
    const p = await call("POST", "/v1/pricing/changes", t, "ana", ["analyst"], { body: { item_id: "fast-show" } });
    await deps.sql`update price_changes set expires_at = now() - interval '1 minute' where id = ${p.body.id}`;
    expect((await worker.tick()).expired).toBeGreaterThanOrEqual(1);
    const got = await call("GET", `/v1/pricing/changes/${p.body.id}`, t, "v", ["viewer"]);
    expect(got.body.status).toBe("expired");
  });

  test("without NATS the approval waits in the outbox, and is published once NATS is there", async () => {
    const t = crypto.randomUUID();
    await seedFastShow(deps, t, S);
    const change = await approved(t);
    const offline = new PricingWorker({
      sql: deps.sql,
      nats: undefined,
      cache: deps.cache,
      logger: testLogger,
      metrics: deps.metrics,
      pricing: config.pricing,
      natsConfig: config.nats,
    });
    expect((await offline.tick()).published).toBe(0);
    const [waiting] = await deps.sql`select published_at from pricing_outbox where change_id = ${change.id}`;
    expect(waiting!.published_at).toBeNull();
    await worker.tick();
    const [sent] = await deps.sql`select published_at from pricing_outbox where change_id = ${change.id}`;
    expect(sent!.published_at).not.toBeNull();
  });
});

describe("GET /v1/pricing/outcomes", () => {
  /**
   * A product at 2000 lowered to 1800 (−10 %), applied at A = S − 10 d (the applied_at is set by hand:
   * a change applied ten days ago). Before [A − 7 d, A): 7 orders × 2 = 14 units (2/day), 20 views ⇒
   * conversion 7/20 = 0.35. After [A, A + 7 d): 7 orders × 3 = 21 units (3/day), 14 views ⇒ 0.5.
   * units_per_day_change_pct = (3 − 2)/2 = +50 %; elasticity = 50 / −10 = −5; status complete.
   */
  test("units per day and conversion before vs after an applied change, and the observed elasticity", async () => {
    const t = crypto.randomUUID();
    const f = fixtures(S);
    await ingestAccepted(deps, [
      f.product(t, "tee"),
      ...f.orders(t, "tee", 7, 2, 2000, 13),
      ...f.views(t, "tee", 20, 13),
      ...f.orders(t, "tee", 7, 3, 1800, 6),
      ...f.views(t, "tee", 14, 6),
    ]);
    const change = await approved(t, { item_id: "tee", price_minor: 1800 });
    await ingestAccepted(
      deps,
      [f.product(t, "tee", { base_price_minor: 1800 })].map((e) => ({ ...e, time: new Date(Date.now() - 1_000).toISOString() })),
    );
    await worker.tick();
    const A = new Date(S.getTime() - 10 * DAY);
    await deps.sql`update price_changes set applied_at = ${A} where id = ${change.id}`;
    const { status, body } = await call("GET", "/v1/pricing/outcomes?item_id=tee", t, "v", ["viewer"]);
    expect(status).toBe(200);
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).toEqual({
      id: change.id,
      item_id: "tee",
      currency: "EUR",
      old_price_minor: 2000,
      new_price_minor: 1800,
      price_change_pct: -10,
      applied_at: A.toISOString(),
      before: {
        from: new Date(A.getTime() - 7 * DAY).toISOString(),
        to: A.toISOString(),
        days: 7,
        units: 14,
        units_per_day: 2,
        orders: 7,
        views: 20,
        conversion: 0.35,
      },
      after: {
        from: A.toISOString(),
        to: new Date(A.getTime() + 7 * DAY).toISOString(),
        days: 7,
        units: 21,
        units_per_day: 3,
        orders: 7,
        views: 14,
        conversion: 0.5,
      },
      units_per_day_change_pct: 50,
      elasticity: -5,
      status: "complete",
    });
  }, 30_000);
});
