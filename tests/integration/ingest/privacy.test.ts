import { beforeAll, describe, expect, test } from "bun:test";
import type { Sql } from "../../../src/db/client.ts";
import { migrate } from "../../../src/db/migrate.ts";
import { createPrivacy } from "../../../src/ingest/privacy/privacy.ts";
import { rotateTenantKey } from "../../../src/ingest/privacy/privacy.queries.ts";
import type { EventType, ValidEvent } from "../../../src/ingest/types.ts";
import { getTestDeps, testLogger } from "../../helpers/deps.ts";

const DAY = 86_400_000;
const CHROME_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

let sql: Sql;
beforeAll(async () => {
  sql = (await getTestDeps()).sql;
});

let seq = 0;
function ev(tenantId: string, type: EventType, data: Record<string, unknown>, time = new Date()): ValidEvent {
  seq += 1;
  return {
    id: `evt-${seq}`,
    source: "/test",
    type,
    time,
    tenantId,
    receivedVersion: 2,
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    subject: null,
    data,
  };
}

function order(tenantId: string, over: Record<string, unknown> = {}): ValidEvent {
  return ev(tenantId, "order.completed", {
    order_id: "o-1",
    customer_id: "c-1",
    channel: "web",
    currency: "EUR",
    lines: [
      { item_id: "i-1", quantity: 2, unit_price_minor: 1500 },
      { item_id: "i-2", quantity: 1, unit_price_minor: 700 },
    ],
    discount_minor: 200,
    total_minor: 3500,
    session_id: "s-1",
    email: "Alice.Example@Example.com",
    customer_name: "Alice Example",
    ip: "203.0.113.7",
    user_agent: CHROME_WIN,
    ...over,
  });
}

function pageView(tenantId: string, ip: string, ua: string, time = new Date()): ValidEvent {
  return ev(
    tenantId,
    "page.viewed",
    { session_id: "s-9", url: "https://shop.example/p/1", referrer: "https://search.example/", utm_source: "news", ip, user_agent: ua },
    time,
  );
}

/** a sql handle that counts the queries made through it */
function counting(inner: Sql): { sql: Sql; calls: () => number } {
  let n = 0;
  const proxy = new Proxy(inner, {
    apply(target, thisArg, args) {
      n += 1;
      return Reflect.apply(target, thisArg, args);
    },
  });
  return { sql: proxy, calls: () => n };
}

describe("privacy: ValidEvent → EventRow", () => {
  test("an order.completed keeps no raw email, IP, user agent or name anywhere in the row", async () => {
    const tenant = crypto.randomUUID();
    const e = order(tenant);
    const toRow = await createPrivacy(sql, testLogger).prepare([e], new Date());
    const row = toRow(e);
    const text = JSON.stringify(row);
    for (const raw of [
      "Alice.Example@Example.com",
      "alice.example@example.com",
      "Alice Example",
      "203.0.113.7",
      CHROME_WIN,
      "Chrome/124",
    ]) {
      expect(text).not.toContain(raw);
    }
    expect(row).toMatchObject({
      tenant_id: tenant,
      event_id: e.id,
      type: "order.completed",
      schema_version: 2,
      source: "/test",
      customer_id: "c-1",
      visitor_id: null, // a known customer keeps customer_id
      session_id: "s-1",
      order_id: "o-1",
      cart_id: null,
      item_id: null,
      channel: "web",
      amount_minor: 3500,
      currency: "EUR",
      quantity: 3,
      trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
      ip_prefix: "203.0.113.0/24",
      ua_family: "chrome/windows/desktop",
    });
    expect(row.ua_hash).toMatch(/^[0-9a-f]{32}$/);
    expect(row.props.email_hash).toMatch(/^v1:[0-9a-f]{64}$/);
    expect(Object.keys(row.props).sort()).toEqual(["discount_minor", "email_hash", "lines", "total_minor"]);
    expect(row.time).toBe(e.time);
  });

  test("PII nested in unknown extra fields is removed from props too", async () => {
    const tenant = crypto.randomUUID();
    const e = order(tenant, {
      lines: [{ item_id: "i-1", quantity: 1, unit_price_minor: 3700, name: "Alice Example", email: "a@example.com" }],
      extra: { full_name: "Alice Example", ua: CHROME_WIN, deep: [{ ip: "198.51.100.1" }] },
    });
    const row = (await createPrivacy(sql, testLogger).prepare([e], new Date()))(e);
    const text = JSON.stringify(row.props);
    for (const k of ['"ip"', '"user_agent"', '"ua"', '"email"', '"name"', '"customer_name"', '"full_name"']) expect(text).not.toContain(k);
    expect(row.props.lines).toEqual([{ item_id: "i-1", quantity: 1, unit_price_minor: 3700 }]);
    expect(row.props.extra).toEqual({ deep: [{}] });
  });

  test("amount and quantity columns follow the event type; item.upserted keeps its item name", async () => {
    const t = crypto.randomUUID();
    const cart = ev(t, "cart.item_added", {
      session_id: "s",
      cart_id: "k",
      item_id: "i",
      quantity: 3,
      unit_price_minor: 1250,
      currency: "USD",
    });
    const refund = ev(t, "order.refunded", { order_id: "o", refund_id: "r", amount_minor: 999, currency: "USD", reason: "damaged" });
    const item = ev(t, "item.upserted", {
      item_id: "i",
      name: "Summer Gala",
      category: "concert",
      kind: "ticketed_event",
      currency: "USD",
      base_price_minor: 5000,
      min_price_minor: 4000,
      max_price_minor: 8000,
      capacity: 300,
      starts_at: "2026-07-01T19:00:00Z",
    });
    const recon = ev(t, "reconciliation.expected", {
      date: "2026-06-30",
      timezone: "Europe/Berlin",
      orders: 42,
      gross_minor: 123456,
      currency: "EUR",
    });
    const reg = ev(t, "customer.registered", { customer_id: "c-7", email: "x@example.com", name: "Xavier Example" });
    const toRow = await createPrivacy(sql, testLogger).prepare([cart, refund, item, recon, reg], new Date());
    expect(toRow(cart)).toMatchObject({
      amount_minor: 3750,
      quantity: 3,
      cart_id: "k",
      item_id: "i",
      currency: "USD",
      props: { unit_price_minor: 1250 },
    });
    expect(toRow(refund)).toMatchObject({ amount_minor: 999, quantity: null, props: { refund_id: "r", reason: "damaged" } });
    expect(toRow(item)).toMatchObject({
      amount_minor: 5000,
      quantity: null,
      props: {
        name: "Summer Gala",
        category: "concert",
        kind: "ticketed_event",
        min_price_minor: 4000,
        max_price_minor: 8000,
        capacity: 300,
      },
    });
    expect(toRow(recon)).toMatchObject({
      amount_minor: 123456,
      quantity: 42,
      props: { date: "2026-06-30", timezone: "Europe/Berlin", orders: 42 },
    });
    const r = toRow(reg);
    expect(r.customer_id).toBe("c-7");
    expect(r.props.name).toBeUndefined();
    expect(r.props.email_hash).toMatch(/^v1:/);
    expect(JSON.stringify(r)).not.toContain("Xavier");
  });

  test("two tenants' hashes of the same email differ, one tenant's are stable", async () => {
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    const ea = order(a);
    const eb = order(b);
    const privacy = createPrivacy(sql, testLogger);
    const toRow = await privacy.prepare([ea, eb], new Date());
    const ha = toRow(ea).props.email_hash;
    expect(ha).not.toBe(toRow(eb).props.email_hash);
    // another replica (fresh caches) hashes the same email of the same tenant to the same value
    const again = order(a, { email: "  alice.example@EXAMPLE.com " });
    expect((await createPrivacy(sql, testLogger).prepare([again], new Date()))(again).props.email_hash).toBe(ha);
  });

  test("a batch costs at most two queries, and none once keys and salts are cached", async () => {
    const { sql: counted, calls } = counting(sql);
    const privacy = createPrivacy(counted, testLogger);
    const tenants = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const batch = tenants.flatMap((t, i) => [
      order(t),
      pageView(t, `198.51.100.${i}`, SAFARI_IPHONE),
      pageView(t, "198.51.100.9", CHROME_WIN, new Date(Date.now() - DAY)),
    ]);
    await privacy.prepare(batch, new Date());
    expect(calls()).toBe(2);
    await privacy.prepare(batch, new Date());
    expect(calls()).toBe(2);
  });
});

describe("privacy: anonymous visitor ids", () => {
  test("a page.viewed without customer gets a 32-hex visitor id, stable within the day, new the next day", async () => {
    const tenant = crypto.randomUUID();
    const now = new Date();
    const today = pageView(tenant, "198.51.100.23", SAFARI_IPHONE, now);
    const todayAgain = pageView(tenant, "198.51.100.23", SAFARI_IPHONE, new Date(now.getTime() - 1000));
    const neighbour = pageView(tenant, "198.51.100.24", SAFARI_IPHONE, now);
    const yesterday = pageView(tenant, "198.51.100.23", SAFARI_IPHONE, new Date(now.getTime() - DAY));
    const old = pageView(tenant, "198.51.100.23", SAFARI_IPHONE, new Date(now.getTime() - 3 * DAY));
    const toRow = await createPrivacy(sql, testLogger).prepare([today, todayAgain, neighbour, yesterday, old], now);

    const id = toRow(today).visitor_id;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(toRow(todayAgain).visitor_id).toBe(id);
    expect(toRow(neighbour).visitor_id).not.toBe(id); // same /24, different visitor
    expect(toRow(neighbour).ip_prefix).toBe("198.51.100.0/24");
    const y = toRow(yesterday).visitor_id;
    expect(y).toMatch(/^[0-9a-f]{32}$/);
    expect(y).not.toBe(id);
    expect(toRow(old).visitor_id).toBeNull();
    expect(toRow(old).ip_prefix).toBe("198.51.100.0/24");
    expect(toRow(today)).toMatchObject({ customer_id: null, ua_family: "safari/ios/mobile", session_id: "s-9" });
    expect(toRow(today).props).toEqual({ url: "https://shop.example/p/1", referrer: "https://search.example/", utm_source: "news" });

    // another replica (fresh caches) computes the same id from the same day's salt
    const again = pageView(tenant, "198.51.100.23", SAFARI_IPHONE, now);
    expect((await createPrivacy(sql, testLogger).prepare([again], now))(again).visitor_id).toBe(id);
    // no salt was made for the old day
    const oldDay = new Date(now.getTime() - 3 * DAY).toISOString().slice(0, 10);
    expect(await sql`select 1 from visitor_salts where day = ${oldDay}::date`).toHaveLength(0);
  });

  test("a known customer's page.viewed has no visitor id", async () => {
    const tenant = crypto.randomUUID();
    const e = ev(tenant, "page.viewed", {
      session_id: "s",
      url: "https://x.example/",
      customer_id: "c-1",
      ip: "203.0.113.7",
      user_agent: CHROME_WIN,
    });
    const row = (await createPrivacy(sql, testLogger).prepare([e], new Date()))(e);
    expect(row.visitor_id).toBeNull();
    expect(row.customer_id).toBe("c-1");
    expect(row.ip_prefix).toBe("203.0.113.0/24");
  });

  test("rotate_visitor_salts keeps yesterday's, today's and tomorrow's salts and destroys older ones", async () => {
    await sql`insert into visitor_salts (day, salt)
              values ((now() at time zone 'UTC')::date - 5, '\\x00'::bytea), ((now() at time zone 'UTC')::date - 2, '\\x01'::bytea)
              on conflict (day) do nothing`;
    await sql`call rotate_visitor_salts(0, '{}')`;
    const rows = await sql<Array<{ offset: number; len: number }>>`
      select (day - (now() at time zone 'UTC')::date) as offset, length(salt) as len from visitor_salts order by day`;
    expect(rows.every((r) => r.offset >= -1)).toBe(true);
    const offsets = rows.map((r) => r.offset);
    expect(offsets).toContain(0);
    expect(offsets).toContain(1);
    expect(rows.filter((r) => r.offset >= 0).every((r) => r.len === 32)).toBe(true);
  });

  test("the salt rotation is registered once as an hourly TimescaleDB job owned by pulse_owner, and runs", async () => {
    const find = () => sql<Array<{ job_id: number; owner: string; every: string; scheduled: boolean }>>`
      select job_id, owner::text as owner, extract(epoch from schedule_interval)::int::text as every, scheduled
        from timescaledb_information.jobs where proc_name = 'rotate_visitor_salts'`;
    const jobs = await find();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ owner: "pulse_owner", every: "3600", scheduled: true });
    await migrate(sql, { logger: testLogger }); // repeatable files re-applied: still one job
    expect(await find()).toHaveLength(1);
    await sql`call run_job(${jobs[0]!.job_id})`;
    const [row] = await sql`select count(*)::int as n from visitor_salts where day < (now() at time zone 'UTC')::date - 1`;
    expect(row?.n).toBe(0);
  });
});

describe("privacy: tenant key rotation", () => {
  test("after rotateTenantKey, new email hashes start with v2: and differ from v1", async () => {
    const tenant = crypto.randomUUID();
    const e1 = order(tenant);
    const h1 = (await createPrivacy(sql, testLogger).prepare([e1], new Date()))(e1).props.email_hash as string;
    expect(h1.startsWith("v1:")).toBe(true);
    const k = await rotateTenantKey(sql, tenant);
    expect(k.version).toBe(2);
    const e2 = order(tenant);
    const h2 = (await createPrivacy(sql, testLogger).prepare([e2], new Date()))(e2).props.email_hash as string;
    expect(h2.startsWith("v2:")).toBe(true);
    expect(h2.slice(3)).not.toBe(h1.slice(3));
    const [n] = await sql`select count(*)::int as n from tenant_keys where tenant_id = ${tenant}::uuid`;
    expect(n?.n).toBe(2);
  });

  test("tenant keys and salts are not readable by pulse_app", async () => {
    const [row] = await sql`select has_table_privilege('pulse_app', 'tenant_keys', 'select') as keys,
                                   has_table_privilege('pulse_app', 'visitor_salts', 'select') as salts`;
    expect(row).toEqual({ keys: false, salts: false });
  });
});

describe("privacy: throughput", () => {
  test("prepares and maps 10,000 mixed events in well under a second", async () => {
    const tenants = Array.from({ length: 20 }, () => crypto.randomUUID());
    const uas = [CHROME_WIN, SAFARI_IPHONE, "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"];
    const now = new Date();
    const events: ValidEvent[] = [];
    for (let i = 0; i < 10_000; i++) {
      const t = tenants[i % tenants.length]!;
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      const ua = `${uas[i % uas.length]!} r${i % 200}`;
      const kind = i % 4;
      if (kind === 0) events.push(order(t, { ip, user_agent: ua, email: `user${i}@example.com` }));
      else if (kind === 1) events.push(pageView(t, ip, ua, new Date(now.getTime() - (i % 2) * DAY)));
      else if (kind === 2) events.push(ev(t, "item.viewed", { session_id: `s${i}`, item_id: "i-1", ip, user_agent: ua }));
      else
        events.push(
          ev(t, "cart.item_added", {
            session_id: `s${i}`,
            cart_id: "k",
            item_id: "i",
            quantity: 2,
            unit_price_minor: 500,
            currency: "EUR",
          }),
        );
    }
    const privacy = createPrivacy(sql, testLogger);
    await privacy.prepare(events.slice(0, 1), now); // warm-up (JIT), not the cache of the batch
    const started = performance.now();
    const toRow = await privacy.prepare(events, now);
    const rows = events.map(toRow);
    const ms = performance.now() - started;
    process.stdout.write(`privacy prepare+map: 10000 events in ${ms.toFixed(0)} ms (${Math.round(10_000 / (ms / 1000))} events/s)\n`);
    expect(rows).toHaveLength(10_000);
    expect(rows.filter((r) => r.visitor_id !== null).length).toBe(5_000);
    expect(ms).toBeLessThan(1_500);
  });
});
