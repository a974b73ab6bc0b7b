import { beforeAll, describe, expect, test } from "bun:test";
import { withTenant } from "../../../src/db/tenant.ts";
import { buildIngest, type Deps } from "../../../src/deps.ts";
import type { ApiRole } from "../../../src/http/auth.ts";
import { claimDeadLetters, releaseClaims } from "../../../src/ingest/dead-letters/dead-letters.queries.ts";
import type { IncomingMessage } from "../../../src/ingest/pipeline.ts";
import { testApp, testConfig, testLogger, token } from "../../helpers/deps.ts";
import { type CloudEvent, customerRegistered, envelope, orderCompleted, pageViewed } from "../../helpers/events.ts";

type App = Awaited<ReturnType<typeof testApp>>["app"];

const http = (e: unknown, tenant: string): IncomingMessage => ({
  input: typeof e === "string" ? e : JSON.stringify(e),
  expectedTenant: tenant,
  transport: "http",
  subject: null,
  stream: null,
  streamSequence: null,
});

describe("POST /v1/dead-letters/redrive", () => {
  let app: App;
  let deps: Deps;
  /** the publisher's bound before "the fix": events more than 1 minute ahead were dead-lettered */
  let strict: ReturnType<typeof buildIngest>["ingest"];
  const T = crypto.randomUUID();
  const soon = () => new Date(Date.now() + 3 * 60_000).toISOString();
  let a: CloudEvent; // anonymous page view: IP + user agent
  let b: CloudEvent; // order with e-mail, name, IP, user agent
  let c: CloudEvent; // customer registration with e-mail
  let d: CloudEvent; // unknown type: stays dead
  let e: CloudEvent; // total ≠ lines: stays dead
  let g: CloudEvent; // dead-lettered, then stored by a later delivery

  async function post(body: unknown, roles: ApiRole[] = ["admin"], tenantId = T) {
    const res = await app.request("/v1/dead-letters/redrive", {
      method: "POST",
      headers: { authorization: `Bearer ${await token({ tenantId, roles, sub: "redriver" })}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  }
  const letters = (status?: string) =>
    deps.sql`select id::text, event_id, reason, status, attempts, redriven_event_id, issues from dead_letter_events
              where tenant_id = ${T} ${status ? deps.sql`and status = ${status}` : deps.sql``} order by id`;
  const depth = async (reason: string) => {
    const text = await (await app.request("/metrics")).text();
    const m = new RegExp(`pulse_dead_letter_depth\\{reason="${reason}"\\} (\\d+)`).exec(text);
    return m ? Number(m[1]) : 0;
  };

  beforeAll(async () => {
    ({ app, deps } = await testApp());
    strict = buildIngest({
      config: testConfig({ INGEST_MAX_FUTURE_MS: "60000" }),
      logger: testLogger,
      sql: deps.sql,
      metrics: deps.metrics,
      nats: undefined,
    }).ingest;
    a = pageViewed(T, { time: soon() });
    b = orderCompleted(T, { time: soon() });
    c = customerRegistered(T, `cust-${crypto.randomUUID().slice(0, 6)}`, { time: soon() });
    d = envelope(T, "nope.unknown", { x: 1 });
    e = orderCompleted(T, {}, { total_minor: 1 });
    g = pageViewed(T, { time: soon() });
    const out = await strict.process([a, b, c, d, e, g].map((x) => http(x, T)));
    expect(out.map((o) => (o.status === "rejected" ? o.reason : o.status))).toEqual([
      "too_far_in_future",
      "too_far_in_future",
      "too_far_in_future",
      "unknown_type",
      "invalid_data",
      "too_far_in_future",
    ]);
    // g arrives again once the publisher's clock is fixed (same id and time): stored by live ingest
    expect((await deps.ingest.process([http(g, T)]))[0]!.status).toBe("accepted");
  });

  test("an admin may not redrive another tenant; a viewer may not redrive at all", async () => {
    const other = await post({ tenant_id: crypto.randomUUID() });
    expect(other.status).toBe(403);
    expect(other.body.errors.map((x: { path: string }) => x.path)).toEqual(["tenant_id"]);
    expect((await post({}, ["viewer"])).status).toBe(403);
    expect((await letters("redriven")).length).toBe(0);
  });

  test("filters: only the given reason, and a limit hands back where to go on", async () => {
    const unknown = await post({ reason: "unknown_type" });
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatchObject({ attempted: 1, stored: 0, still_rejected: 1, next_after_id: null });
    expect(unknown.body.results[0]).toMatchObject({ outcome: "rejected", event_id: d.id, reason: "unknown_type" });
    const one = await post({ reason: "invalid_data", limit: 1 });
    expect(one.body.attempted).toBe(1);
    expect(one.body.next_after_id).toBe(one.body.results[0].id);
    const after = await post({ reason: "invalid_data", after_id: one.body.next_after_id });
    expect(after.body.attempted).toBe(0);
  });

  test("now-valid payloads are stored once, an already stored one is a duplicate, the rest stay with attempts + 1", async () => {
    const before = await depth("too_far_in_future");
    const r = await post({});
    expect(r.status).toBe(200);
    // a, b, c stored; g already stored; d and e still invalid
    expect(r.body).toMatchObject({ tenant_id: T, attempted: 6, stored: 3, duplicates: 1, still_rejected: 2, without_payload: 0 });
    const byEvent = Object.fromEntries(r.body.results.map((x: { event_id: string; outcome: string }) => [x.event_id, x.outcome]));
    expect(byEvent).toEqual({
      [a.id]: "stored",
      [b.id]: "stored",
      [c.id]: "stored",
      [g.id]: "duplicate",
      [d.id]: "rejected",
      [e.id]: "rejected",
    });
    const rows = await letters();
    const state = Object.fromEntries(rows.map((x) => [x.event_id, [x.status, x.attempts, x.redriven_event_id]]));
    // d: tried by the reason filter, then here; e: by the first invalid_data call (limit 1), then here
    expect(state).toEqual({
      [a.id]: ["redriven", 1, a.id],
      [b.id]: ["redriven", 1, b.id],
      [c.id]: ["redriven", 1, c.id],
      [g.id]: ["redriven", 1, g.id],
      [d.id]: ["pending", 2, null],
      [e.id]: ["pending", 2, null],
    });
    const stillE = rows.find((x) => x.event_id === e.id)!;
    expect(stillE.reason).toBe("invalid_data");
    expect(JSON.stringify(stillE.issues)).toContain("total_minor");
    // exactly once: one row per event id
    const [n] = await deps.sql`select count(*)::int as n, count(distinct event_id)::int as ids from events where tenant_id = ${T}`;
    expect(n).toEqual({ n: 4, ids: 4 });
    // four too_far_in_future dead letters of T are no longer pending
    expect(before - (await depth("too_far_in_future"))).toBe(4);
  });

  test("a second redrive stores nothing and takes only what is still pending", async () => {
    const r = await post({});
    expect(r.body).toMatchObject({ attempted: 2, stored: 0, duplicates: 0, still_rejected: 2 });
    const again = await letters("pending");
    expect(again.map((x) => x.attempts)).toEqual([3, 3]);
  });

  test("what a redriven event loses: visitor id, IP prefix, user-agent family and hash, e-mail hash; the rest is intact", async () => {
    // twins of a, b and c ingested directly (no dead letter in between), for comparison
    const ta = { ...a, id: `${a.id}-twin`, time: new Date(Date.now() - 60_000).toISOString() };
    const tb = { ...b, id: `${b.id}-twin`, time: ta.time };
    await deps.ingest.process([http(ta, T), http(tb, T)]);
    const ev = async (id: string) => (await deps.sql`select * from events where tenant_id = ${T} and event_id = ${id}`)[0]!;
    const [ra, rta, rb, rtb] = [await ev(a.id), await ev(ta.id), await ev(b.id), await ev(tb.id)];
    expect([rta.visitor_id !== null, rta.ip_prefix, rta.ua_family !== null, rta.ua_hash !== null]).toEqual([
      true,
      "198.51.100.0/24",
      true,
      true,
    ]);
    expect([ra.visitor_id, ra.ip_prefix, ra.ua_family, ra.ua_hash]).toEqual([null, null, null, null]);
    expect(ra.session_id).toBe(rta.session_id);
    expect(ra.props).toEqual(rta.props); // url, referrer, utm_source
    expect(typeof rtb.props.email_hash).toBe("string");
    expect(rb.props.email_hash).toBeUndefined();
    const { email_hash: _h, ...twinProps } = rtb.props;
    expect(rb.props).toEqual(twinProps); // lines, discount, total: as published
    expect([rb.customer_id, rb.amount_minor, rb.currency, rb.channel, rb.quantity]).toEqual(["c-1", "6500", "EUR", "web", 3]);
    const lines = await deps.sql`select line_no, item_id, quantity, net_line_minor::int as net from order_lines
                               where tenant_id = ${T} and event_id = ${b.id} order by line_no`;
    // lines 2 × 2500 = 5000 and 1 × 1999; discount 499 shared by line value over 6999: 499·5000/6999 = 356 r 3356,
    // 499·1999/6999 = 142 r 3643; the one unit left goes to the larger remainder ⇒ 356 and 143 ⇒ nets 4644 and 1856 (Σ 6500)
    expect(lines.map((l) => [l.line_no, l.item_id, l.quantity, l.net])).toEqual([
      [1, "show-1", 2, 4644],
      [2, "tee-1", 1, 1856],
    ]);
    const [customer] = await deps.sql`select email_hash, registered_at from customers
                                  where tenant_id = ${T} and customer_id = ${c.data.customer_id as string}`;
    expect(customer!.email_hash).toBeNull();
    expect(customer!.registered_at.toISOString()).toBe(new Date(c.time).toISOString());
  });

  test("GET /v1/dead-letters filters on status and shows the redrive's outcome", async () => {
    const get = async (q: string) =>
      (await (
        await app.request(`/v1/dead-letters?${q}`, {
          headers: { authorization: `Bearer ${await token({ tenantId: T, roles: ["viewer"] })}` },
        })
      ).json()) as any;
    const redriven = await get("status=redriven");
    expect(redriven.data.map((x: { event_id: string }) => x.event_id).sort()).toEqual([a.id, b.id, c.id, g.id].sort());
    for (const x of redriven.data) {
      expect(x.redriven_event_id).toBe(x.event_id);
      expect(x.redriven_at).toBeString();
    }
    const pending = await get("status=pending");
    expect(pending.data.map((x: { event_id: string; attempts: number }) => [x.event_id, x.attempts]).sort()).toEqual(
      [
        [d.id, 3],
        [e.id, 3],
      ].sort(),
    );
    expect((await get("status=nope")).errors.map((x: { path: string }) => x.path)).toEqual(["status"]);
  });

  test("ops redrives any tenant's dead letters; one without a payload cannot be redriven and is counted", async () => {
    const U = crypto.randomUUID();
    // nested deeper than JSON_MAX_DEPTH (32): the dead letter keeps an excerpt, no payload
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { x: deep };
    const late = pageViewed(U, { time: new Date(Date.now() + 3 * 60_000).toISOString() });
    await strict.process([http({ ...envelope(U, "page.viewed", { session_id: "s", url: "https://x.example/", deep }) }, U), http(late, U)]);
    const r = await post({ tenant_id: U }, ["ops"], crypto.randomUUID());
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tenant_id: U, attempted: 1, stored: 1, without_payload: 1 });
    const [row] = await deps.sql`select count(*)::int as n from events where tenant_id = ${U} and event_id = ${late.id}`;
    expect(row!.n).toBe(1);
  });

  test("a redrive skips dead letters another redrive holds; they are free again once released", async () => {
    const V = crypto.randomUUID();
    const late = Array.from({ length: 6 }, () => pageViewed(V, { time: soon() }));
    await strict.process(late.map((x) => http(x, V)));
    // a redrive in flight holds the 4 oldest
    const held = await withTenant(deps.sql, V, (tx) => claimDeadLetters(tx, {}, 4, 300));
    expect(held.length).toBe(4);
    const first = await post({}, ["admin"], V);
    expect(first.body).toMatchObject({ attempted: 2, stored: 2 });
    expect(first.body.results.map((x: { id: string }) => x.id)).not.toContain(held[0]!.id);
    await withTenant(deps.sql, V, (tx) =>
      releaseClaims(
        tx,
        held.map((h) => h.id),
      ),
    );
    const second = await post({}, ["admin"], V);
    expect(second.body).toMatchObject({ attempted: 4, stored: 4 });
    const rows = await deps.sql`select attempts, status from dead_letter_events where tenant_id = ${V}`;
    expect(rows.map((x) => [x.status, x.attempts])).toEqual(late.map(() => ["redriven", 1]));
  });

  test("a body that is not valid JSON is a 400 for every caller, even one without the role", async () => {
    for (const roles of [["admin"], ["viewer"]] as ApiRole[][]) {
      const res = await app.request("/v1/dead-letters/redrive", {
        method: "POST",
        headers: { authorization: `Bearer ${await token({ tenantId: T, roles })}`, "content-type": "application/json" },
        body: '{"reason":',
      });
      expect(res.status).toBe(400);
    }
  });
});
