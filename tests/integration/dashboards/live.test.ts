/**
 * GET /v1/dashboards/{id}/live: server-sent events read with fetch (the Authorization header, never a
 * token in the URL): the data at once, again when the tenant's data generation changes (an ingest
 * commit), a heartbeat when quiet, `gone` when the dashboard is deleted.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../../../src/app.ts";
import type { Deps } from "../../../src/deps.ts";
import { getTestDeps, ingestAccepted, testConfig, token } from "../../helpers/deps.ts";
import { orderCompleted } from "../../helpers/events.ts";

let app: ReturnType<typeof createApp>;
let deps: Deps;

beforeAll(async () => {
  const shared = await getTestDeps();
  deps = {
    ...shared,
    config: testConfig({ DASHBOARD_LIVE_POLL_MS: "100", DASHBOARD_LIVE_MIN_INTERVAL_MS: "0", DASHBOARD_LIVE_HEARTBEAT_MS: "1000" }),
  };
  app = createApp(deps);
});

interface Message {
  event?: string;
  id?: string;
  data?: string;
  comment?: string;
}

/** a reader of server-sent events from a fetch body */
function sse(res: Response) {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = "";
  return {
    async next(timeoutMs: number): Promise<Message> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const end = buf.indexOf("\n\n");
        if (end >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const m: Message = {};
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) m.comment = line.slice(1).trim();
            const [k, ...v] = line.split(":");
            const value = v.join(":").replace(/^ /, "");
            if (k === "event") m.event = value;
            if (k === "id") m.id = value;
            if (k === "data") m.data = m.data === undefined ? value : `${m.data}\n${value}`;
          }
          return m;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
        const chunk = await Promise.race([reader.read(), Bun.sleep(left).then(() => undefined)]);
        if (!chunk) continue;
        if (chunk.done) throw new Error("the stream ended");
        buf += dec.decode(chunk.value, { stream: true });
      }
    },
    close: () => reader.cancel(),
  };
}

async function open(tenantId: string, path: string) {
  const res = await app.request(path, { headers: { authorization: `Bearer ${await token({ tenantId, roles: ["viewer"] })}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/event-stream");
  return sse(res);
}

/**
 * An order placed now. Not a few seconds back: an earlier test file's refreshAggregates materialises the
 * 5-minute aggregate up to the start of the current bucket, and an order dated before that start, ingested
 * after the refresh, is a late event (shown after the next policy refresh), not a live one.
 */
const order = (t: string, total: number) =>
  orderCompleted(
    t,
    { time: new Date().toISOString() },
    { currency: "EUR", discount_minor: 0, total_minor: total, lines: [{ item_id: "live-1", quantity: 1, unit_price_minor: total }] },
  );

async function overviewOf(t: string) {
  const res = await app.request("/v1/dashboards", {
    headers: { authorization: `Bearer ${await token({ tenantId: t, roles: ["viewer"] })}` },
  });
  return ((await res.json()) as { data: Array<{ id: string }> }).data[0]!;
}

const realtimeOrders = (m: Message) =>
  JSON.parse(m.data!).widgets.find((w: { id: string }) => w.id === "live").body.data.totals.orders as number;

describe("GET /v1/dashboards/{id}/live", () => {
  test("sends the data at once, then again within 5 s of an ingested order, with the new order in it", async () => {
    const T = crypto.randomUUID();
    const d = await overviewOf(T);
    const stream = await open(T, `/v1/dashboards/${d.id}/live`);
    try {
      const first = await stream.next(10_000);
      expect(first.event).toBe("data");
      expect(realtimeOrders(first)).toBe(0);
      const started = Date.now();
      await ingestAccepted(deps, [order(T, 4200)]);
      let m = await stream.next(5_000);
      while (m.event !== "data") m = await stream.next(5_000 - (Date.now() - started));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(realtimeOrders(m)).toBe(1);
      expect(JSON.parse(m.data!).widgets.find((w: { id: string }) => w.id === "live").body.data.totals.revenue).toEqual([
        { currency: "EUR", gross_minor: 4200 },
      ]);
      expect(Number(m.id)).toBeGreaterThan(Number(first.id === "-" ? 0 : first.id));
    } finally {
      await stream.close();
    }
  }, 30_000);

  test("without changes it sends no data, only heartbeats", async () => {
    const T = crypto.randomUUID();
    const d = await overviewOf(T);
    const stream = await open(T, `/v1/dashboards/${d.id}/live?range=today`);
    try {
      expect((await stream.next(10_000)).event).toBe("data");
      const quiet = [await stream.next(3_000), await stream.next(3_000)];
      expect(quiet.map((m) => [m.event, m.comment])).toEqual([
        [undefined, "heartbeat"],
        [undefined, "heartbeat"],
      ]);
    } finally {
      await stream.close();
    }
  }, 30_000);

  test("a deleted dashboard ends the stream with `gone` at the next change", async () => {
    const T = crypto.randomUUID();
    const editor = { authorization: `Bearer ${await token({ tenantId: T, roles: ["analyst"] })}`, "content-type": "application/json" };
    const created = await app.request("/v1/dashboards", {
      method: "POST",
      headers: editor,
      body: JSON.stringify({
        name: "short-lived",
        widgets: [{ id: "rt", title: "Now", operation: "getRealtimeMetrics", params: {}, viz: "kpi", position: 0 }],
      }),
    });
    const d = (await created.json()) as { id: string };
    const stream = await open(T, `/v1/dashboards/${d.id}/live`);
    try {
      expect((await stream.next(10_000)).event).toBe("data");
      expect((await app.request(`/v1/dashboards/${d.id}`, { method: "DELETE", headers: { ...editor, "if-match": '"1"' } })).status).toBe(
        204,
      );
      await ingestAccepted(deps, [order(T, 100)]);
      let m = await stream.next(5_000);
      while (m.comment === "heartbeat") m = await stream.next(5_000);
      expect(m.event).toBe("gone");
    } finally {
      await stream.close().catch(() => undefined);
    }
  }, 30_000);

  test("no token: 401 problem+json, not a stream", async () => {
    const res = await app.request(`/v1/dashboards/${crypto.randomUUID()}/live`);
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });
});
