/**
 * The price-change workflow through the API: proposing (recommendation or manual price within the
 * bounds, Idempotency-Key), four eyes, If-Match (428 / 412), 409 on decided changes, supersession,
 * expiry, 50 concurrent decisions, cross-tenant ids, history and the outbox row of an approval.
 * Each test has tenants of its own; the fast show (tests/helpers/pricing.ts) recommends 5000 ⇒ 5250;
 * its bounds are [4000, 6000] and the step ±15 % ⇒ manual prices within [4250, 5750].
 */
import { describe, expect, test, beforeAll } from "bun:test";
import type { ApiRole } from "../../../src/http/auth.ts";
import type { Deps } from "../../../src/deps.ts";
import { testApp, token } from "../../helpers/deps.ts";
import { seedFastShow } from "../../helpers/pricing.ts";

let app: Awaited<ReturnType<typeof testApp>>["app"];
let deps: Deps;
const S = new Date(Math.floor((Date.now() - 120_000) / 1000) * 1000);

beforeAll(async () => {
  ({ app, deps } = await testApp());
});

async function call(
  method: string,
  path: string,
  o: { tenant: string; sub: string; roles: ApiRole[]; body?: unknown; headers?: Record<string, string> },
) {
  const headers: Record<string, string> = {
    authorization: `Bearer ${await token({ tenantId: o.tenant, roles: o.roles, sub: o.sub })}`,
    ...o.headers,
  };
  if (o.body !== undefined) headers["content-type"] = "application/json";
  const res = await app.request(path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  return { res, status: res.status, body: (await res.json()) as any };
}
const analyst = (tenant: string) => ({ tenant, sub: "ana", roles: ["analyst"] as ApiRole[] });
const manager = (tenant: string, sub = "max") => ({ tenant, sub, roles: ["pricing_manager"] as ApiRole[] });
const propose = (tenant: string, body: unknown, who = analyst(tenant), headers?: Record<string, string>) =>
  call("POST", "/v1/pricing/changes", { ...who, body, headers });
const decide = (
  tenant: string,
  id: string,
  action: "approve" | "reject",
  etag: string | undefined,
  who = manager(tenant),
  body?: unknown,
) => call("POST", `/v1/pricing/changes/${id}/${action}`, { ...who, body, headers: etag === undefined ? {} : { "if-match": etag } });

async function seeded() {
  const t = crypto.randomUUID();
  await seedFastShow(deps, t, S);
  return t;
}

describe("POST /v1/pricing/changes (proposePriceChange)", () => {
  test('proposes the recommendation: 201 pending at 5250 with ETag "1", Location, the snapshot and one history row', async () => {
    const t = await seeded();
    const { res, status, body } = await propose(t, { item_id: "fast-show", reason: "selling fast" });
    expect(status).toBe(201);
    expect(res.headers.get("etag")).toBe('"1"');
    expect(res.headers.get("location")).toBe(`/v1/pricing/changes/${body.id}`);
    expect(body).toMatchObject({
      status: "pending",
      version: 1,
      etag: '"1"',
      source: "recommendation",
      old_price_minor: 5000,
      new_price_minor: 5250,
      change_pct: 5,
      proposed_by: "ana",
      reason: "selling fast",
      decided_by: null,
      published_at: null,
    });
    expect(body.recommendation).toMatchObject({
      item_id: "fast-show",
      score: 59.5,
      confidence: 0.5,
      recommendation: { action: "raise", recommended_price_minor: 5250 },
    });
    // expires PRICING_PENDING_TTL_HOURS (72) after the proposal
    expect(Date.parse(body.expires_at) - Date.parse(body.proposed_at)).toBe(72 * 3_600_000);
    const got = await call("GET", `/v1/pricing/changes/${body.id}`, { tenant: t, sub: "v", roles: ["viewer"] });
    expect(got.status).toBe(200);
    expect(got.res.headers.get("etag")).toBe('"1"');
    expect(
      got.body.history.map((h: any) => [h.version, h.from_status, h.to_status, h.actor, h.old_price_minor, h.new_price_minor]),
    ).toEqual([[1, null, "pending", "ana", 5000, 5250]]);
  });

  test("a manual price inside the bounds is accepted; outside them 422 names price_minor", async () => {
    const t = await seeded();
    expect((await propose(t, { item_id: "fast-show", price_minor: 5750 })).body).toMatchObject({ source: "manual", new_price_minor: 5750 });
    for (const [price, words] of [
      [6100, "above max_price_minor 6000"],
      [3900, "below min_price_minor 4000"],
      [5800, "allowed 4250–5750"],
      [4200, "allowed 4250–5750"],
      [5000, "equals the current price"],
    ] as const) {
      const { status, body } = await propose(t, { item_id: "fast-show", price_minor: price });
      expect(status, String(price)).toBe(422);
      expect(body.errors).toEqual([{ path: "price_minor", message: expect.stringContaining(words) }]);
      expect(body.type).toBe("https://pulse.dev/problems/unprocessable");
    }
  });

  test("without price_minor, an item whose recommendation holds (or that has no score) answers 422 naming price_minor", async () => {
    const t = await seeded();
    await deps.sql`update demand_scores set confidence = 0.1 where tenant_id = ${t}`;
    const low = await propose(t, { item_id: "fast-show" });
    expect(low.status).toBe(422);
    expect(low.body.errors[0]).toEqual({
      path: "price_minor",
      message: "the recommendation is to hold (low_confidence): give a manual price_minor",
    });
    await deps.sql`delete from demand_scores where tenant_id = ${t}`;
    expect((await propose(t, { item_id: "fast-show" })).body.errors[0].message).toContain("no demand score yet");
  });

  test("an unknown item, or another tenant's, answers 404 naming item_id", async () => {
    const t = await seeded();
    const other = crypto.randomUUID();
    const { status, body } = await propose(other, { item_id: "fast-show", price_minor: 5100 });
    expect(status).toBe(404);
    expect(body.errors[0].path).toBe("item_id");
    expect((await propose(t, { item_id: "nope", price_minor: 5100 })).status).toBe(404);
  });

  test("viewers cannot propose; analysts cannot approve (403)", async () => {
    const t = await seeded();
    expect((await propose(t, { item_id: "fast-show" }, { tenant: t, sub: "v", roles: ["viewer"] })).status).toBe(403);
    const p = await propose(t, { item_id: "fast-show" });
    expect((await decide(t, p.body.id, "approve", '"1"', { tenant: t, sub: "other-analyst", roles: ["analyst"] })).status).toBe(403);
  });

  test("a new proposal supersedes the item's pending one (history: pending → superseded, with superseded_by)", async () => {
    const t = await seeded();
    const first = await propose(t, { item_id: "fast-show", price_minor: 5100 });
    const second = await propose(t, { item_id: "fast-show", price_minor: 5200 });
    const old = await call("GET", `/v1/pricing/changes/${first.body.id}`, { tenant: t, sub: "v", roles: ["viewer"] });
    expect(old.body).toMatchObject({ status: "superseded", version: 2, superseded_by: second.body.id });
    expect(old.body.history.map((h: any) => h.to_status)).toEqual(["pending", "superseded"]);
    // the superseded change can no longer be decided (its ETag moved: 412; with the new one: 409)
    expect((await decide(t, first.body.id, "approve", '"1"')).status).toBe(412);
    expect((await decide(t, first.body.id, "approve", '"2"')).status).toBe(409);
  });
});

describe("Idempotency-Key", () => {
  test("the same key and body answer the first answer again; another body with the key answers 422", async () => {
    const t = await seeded();
    const key = { "idempotency-key": `k-${crypto.randomUUID()}` };
    const a = await propose(t, { item_id: "fast-show", price_minor: 5100 }, analyst(t), key);
    const b = await propose(t, { item_id: "fast-show", price_minor: 5100 }, analyst(t), key);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.body).toEqual(a.body);
    expect(b.res.headers.get("idempotent-replayed")).toBe("true");
    const list = await call("GET", "/v1/pricing/changes", { tenant: t, sub: "v", roles: ["viewer"] });
    expect(list.body.data.length).toBe(1);
    const c = await propose(t, { item_id: "fast-show", price_minor: 5200 }, analyst(t), key);
    expect(c.status).toBe(422);
    expect(c.body.errors[0].path).toBe("Idempotency-Key");
    // another subject's key is its own
    const d = await propose(t, { item_id: "fast-show", price_minor: 5200 }, { tenant: t, sub: "ana-2", roles: ["analyst"] }, key);
    expect(d.status).toBe(201);
    expect(d.body.id).not.toBe(a.body.id);
  });

  test("a failed proposal stores nothing under its key: the retry runs again", async () => {
    const t = await seeded();
    const key = { "idempotency-key": `k-${crypto.randomUUID()}` };
    expect((await propose(t, { item_id: "fast-show", price_minor: 9999 }, analyst(t), key)).status).toBe(422);
    await deps.sql`update items set max_price_minor = 10000 where tenant_id = ${t}`;
    await deps.sql`update items set base_price_minor = 9000 where tenant_id = ${t}`;
    expect((await propose(t, { item_id: "fast-show", price_minor: 9999 }, analyst(t), key)).status).toBe(201);
  });
});

describe("deciding: four eyes, If-Match and state", () => {
  test("the proposer cannot decide their own change (403), even as pricing_manager", async () => {
    const t = await seeded();
    const p = await propose(t, { item_id: "fast-show" }, manager(t, "max"));
    const own = await decide(t, p.body.id, "approve", '"1"', manager(t, "max"));
    expect(own.status).toBe(403);
    expect(own.body.detail).toContain("four eyes");
  });

  test("without If-Match 428, with a stale one 412 (with the current ETag), then approve 200 and a second decision 409", async () => {
    const t = await seeded();
    const p = await propose(t, { item_id: "fast-show" });
    const missing = await decide(t, p.body.id, "approve", undefined);
    expect(missing.status).toBe(428);
    expect(missing.body.errors[0].path).toBe("If-Match");
    expect((await decide(t, p.body.id, "approve", "*")).status).toBe(428);
    const stale = await decide(t, p.body.id, "approve", '"7"');
    expect(stale.status).toBe(412);
    expect(stale.res.headers.get("etag")).toBe('"1"');
    const ok = await decide(t, p.body.id, "approve", '"1"', manager(t), { reason: "go" });
    expect(ok.status).toBe(200);
    expect(ok.res.headers.get("etag")).toBe('"2"');
    expect(ok.body).toMatchObject({ status: "approved", version: 2, decided_by: "max", decision_reason: "go" });
    const again = await decide(t, p.body.id, "reject", '"2"', manager(t, "mia"));
    expect(again.status).toBe(409);
    // the approval's CloudEvent waits in the outbox (same transaction)
    const [row] = await deps.sql`select event, published_at from pricing_outbox where change_id = ${p.body.id}`;
    expect(row!.published_at).toBeNull();
    expect(row!.event).toMatchObject({
      id: p.body.id,
      type: "price.change_approved",
      tenantid: t,
      schemaversion: "1",
      subject: "fast-show",
      source: "/pulse/pricing",
    });
    expect(row!.event.data).toEqual({
      change_id: p.body.id,
      item_id: "fast-show",
      currency: "EUR",
      previous_price_minor: 5000,
      new_price_minor: 5250,
      approved_at: ok.body.decided_at,
      reason: null,
    });
  });

  test("reject: 200 rejected, no outbox row; history pending → rejected with who and why", async () => {
    const t = await seeded();
    const p = await propose(t, { item_id: "fast-show" });
    const r = await decide(t, p.body.id, "reject", p.res.headers.get("etag")!, manager(t), { reason: "too early" });
    expect(r.body).toMatchObject({ status: "rejected", decided_by: "max", decision_reason: "too early" });
    expect(await deps.sql`select 1 from pricing_outbox where change_id = ${p.body.id}`).toHaveLength(0);
    const h = await call("GET", "/v1/pricing/items/fast-show/history", { tenant: t, sub: "v", roles: ["viewer"] });
    expect(h.body.data.map((x: any) => [x.from_status, x.to_status, x.actor, x.reason])).toEqual([
      ["pending", "rejected", "max", "too early"],
      [null, "pending", "ana", null],
    ]);
  });

  test("a pending change past its expiry answers 409 and becomes expired", async () => {
    const t = await seeded();
    const p = await propose(t, { item_id: "fast-show" });
    await deps.sql`update price_changes set expires_at = now() - interval '1 second' where id = ${p.body.id}`;
    const r = await decide(t, p.body.id, "approve", '"1"');
    expect(r.status).toBe(409);
    expect(r.body.detail).toContain("expired");
    const got = await call("GET", `/v1/pricing/changes/${p.body.id}`, { tenant: t, sub: "v", roles: ["viewer"] });
    expect(got.body).toMatchObject({ status: "expired", version: 2 });
    expect(got.body.history.at(-1)).toMatchObject({ from_status: "pending", to_status: "expired", actor: "system" });
  });

  test("50 concurrent approve/reject calls on one change: exactly one succeeds and the history shows one decision", async () => {
    const t = await seeded();
    const p = await propose(t, { item_id: "fast-show" });
    const calls = Array.from({ length: 50 }, (_, i) => decide(t, p.body.id, i % 2 ? "approve" : "reject", '"1"', manager(t, `m-${i}`)));
    const statuses = (await Promise.all(calls)).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 200).every((s) => s === 412 || s === 409)).toBe(true);
    const got = await call("GET", `/v1/pricing/changes/${p.body.id}`, { tenant: t, sub: "v", roles: ["viewer"] });
    expect(got.body.history.filter((h: any) => h.from_status === "pending")).toHaveLength(1);
    expect(got.body.version).toBe(2);
  });

  test("another tenant's change id answers 404 to get, approve and reject, and changes nothing", async () => {
    const t = await seeded();
    const p = await propose(t, { item_id: "fast-show" });
    const b = crypto.randomUUID();
    expect((await call("GET", `/v1/pricing/changes/${p.body.id}`, { tenant: b, sub: "v", roles: ["viewer"] })).status).toBe(404);
    expect((await decide(b, p.body.id, "approve", '"1"')).status).toBe(404);
    expect((await decide(b, p.body.id, "reject", '"1"')).status).toBe(404);
    const [row] = await deps.sql`select status, version from price_changes where id = ${p.body.id}`;
    expect(row).toEqual({ status: "pending", version: 1 });
  });

  test("a change id that is not a uuid answers 400 naming change_id", async () => {
    const t = await seeded();
    const r = await decide(t, "not-a-uuid", "approve", '"1"');
    expect(r.status).toBe(400);
    expect(r.body.errors[0].path).toBe("change_id");
  });
});

describe("GET /v1/pricing/changes and the item's history", () => {
  test("lists newest first with filters and a cursor; the history of an unknown item is 404", async () => {
    const t = await seeded();
    const ids: string[] = [];
    for (const price of [5100, 5200, 5300]) ids.push((await propose(t, { item_id: "fast-show", price_minor: price })).body.id);
    const page1 = await call("GET", "/v1/pricing/changes?limit=2", { tenant: t, sub: "v", roles: ["viewer"] });
    expect(page1.body.data.map((c: any) => c.id)).toEqual([ids[2], ids[1]]);
    const page2 = await call("GET", `/v1/pricing/changes?limit=2&cursor=${page1.body.next_cursor}`, {
      tenant: t,
      sub: "v",
      roles: ["viewer"],
    });
    expect(page2.body.data.map((c: any) => c.id)).toEqual([ids[0]]);
    expect(page2.body.next_cursor).toBeNull();
    const pending = await call("GET", "/v1/pricing/changes?status=pending", { tenant: t, sub: "v", roles: ["viewer"] });
    expect(pending.body.data.map((c: any) => c.id)).toEqual([ids[2]]);
    expect((await call("GET", "/v1/pricing/items/nope/history", { tenant: t, sub: "v", roles: ["viewer"] })).status).toBe(404);
    // the item's history: 3 proposals and 2 supersessions = 5 transitions, newest first, in pages of 2
    const seen: string[] = [];
    let cursor = "";
    for (let page = 0; page < 3; page++) {
      const h = await call("GET", `/v1/pricing/items/fast-show/history?limit=2${cursor}`, { tenant: t, sub: "v", roles: ["viewer"] });
      seen.push(...h.body.data.map((x: any) => `${x.id}@${x.version}`));
      cursor = h.body.next_cursor ? `&cursor=${h.body.next_cursor}` : "";
    }
    expect(cursor).toBe("");
    expect(seen.sort()).toEqual([`${ids[0]}@1`, `${ids[0]}@2`, `${ids[1]}@1`, `${ids[1]}@2`, `${ids[2]}@1`].sort());
  });
});
