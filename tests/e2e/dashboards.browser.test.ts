/**
 * The web app (/app) in a real Chromium (Debian's /usr/bin/chromium, driven by playwright-core,
 * headless, fresh profile): sign in, the default dashboard's figures equal the API's answers, a filter
 * change refetches, an order posted to /v1/events shows in the live panel within 5 s, a dashboard named
 * with markup renders as text, a stale edit gets the 412 message, a screenshot, phone width.
 *
 * Fixture (tenant T, UTC, EUR, no discounts or refunds), D0 = today's UTC midnight:
 *   today     o1 show-1 2 × 2500 = 5000 (web), with its session's page view, cart and checkout
 *   D0 − 3 d  o2 tee-1  1 × 1500 = 1500 (box_office)
 * So the sales widget's net revenue is 6500 over 7 days and 5000 for today.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { createApp } from "../../src/app.ts";
import type { Deps } from "../../src/deps.ts";
import { getTestDeps, ingestAccepted, refreshAggregates, testConfig, token } from "../helpers/deps.ts";
import { cartItemAdded, checkoutStarted, itemUpserted, orderCompleted, pageViewed } from "../helpers/events.ts";
import { tempDir } from "../helpers/tmp.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

const T = crypto.randomUUID();
const DAY = 86_400_000;
const D0 = Math.floor(Date.now() / DAY) * DAY;
const iso = (ms: number) => new Date(ms).toISOString();
let deps: Deps;
let server: ReturnType<typeof Bun.serve>;
let base: string;
let context: BrowserContext;
let page: Page;
let bearer: string;
const dir = tempDir("browser");
const consoleErrors: string[] = [];

async function api(path: string, init: RequestInit = {}, auth = bearer) {
  const res = await fetch(base + path, {
    ...init,
    headers: { authorization: `Bearer ${auth}`, "content-type": "application/json", ...(init.headers as Record<string, string>) },
  });
  const text = await res.text();
  return { res, body: text ? JSON.parse(text) : undefined };
}

const at = (body: unknown, path: string) =>
  path.split(".").reduce<unknown>((v, k) => (v === null || v === undefined ? undefined : (v as Record<string, unknown>)[k]), body);

/** every widget of the open dashboard drawn (no widget loading, every chart drawn) */
async function drawn(p: Page) {
  await p.waitForFunction(
    () => {
      const ws = [...document.querySelectorAll(".widget")];
      return (
        ws.length > 0 &&
        ws.every((w) => w.getAttribute("data-status") !== "loading") &&
        [...document.querySelectorAll(".chart")].every((c) => c.getAttribute("data-drawn") === "yes")
      );
    },
    undefined,
    { timeout: 20_000 },
  );
}

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} (Debian's chromium; .ci/run installs it)`).toBe(true);
  const shared = await getTestDeps();
  deps = { ...shared, config: testConfig({ DASHBOARD_LIVE_POLL_MS: "200", DASHBOARD_LIVE_MIN_INTERVAL_MS: "0" }) };
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: createApp(deps).fetch, idleTimeout: 60 });
  base = `http://127.0.0.1:${server.port}`;
  bearer = await token({ tenantId: T, roles: ["analyst"], sub: "browser-user", expiresIn: "30m" });
  const today = Math.max(D0 + 60_000, Date.now() - 20 * 60_000);
  await ingestAccepted(deps, [
    itemUpserted(T, "show-1", { time: iso(D0 - 20 * DAY) }, { name: "Late show", category: "concert" }),
    pageViewed(T, { time: iso(today - 30_000) }, { session_id: "s-1" }),
    cartItemAdded(T, "s-1", "show-1", { time: iso(today - 20_000) }),
    checkoutStarted(T, "s-1", { time: iso(today - 10_000) }),
    orderCompleted(
      T,
      { time: iso(today) },
      {
        session_id: "s-1",
        channel: "web",
        currency: "EUR",
        discount_minor: 0,
        total_minor: 5000,
        lines: [{ item_id: "show-1", quantity: 2, unit_price_minor: 2500 }],
      },
    ),
    orderCompleted(
      T,
      { time: iso(D0 - 3 * DAY + 3_600_000) },
      {
        channel: "box_office",
        currency: "EUR",
        discount_minor: 0,
        total_minor: 1500,
        lines: [{ item_id: "tee-1", quantity: 1, unit_price_minor: 1500 }],
      },
    ),
  ]);
  await refreshAggregates(deps.sql, new Date(D0 - 21 * DAY), new Date(D0 + DAY));
  context = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
}, 60_000);

afterAll(async () => {
  await context?.close();
  server?.stop(true);
});

describe("the web app in Chromium", () => {
  test("/app is served under a strict CSP with no cookie, and signing in with a pasted token shows the dashboards", async () => {
    const res = await page.goto(`${base}/app`);
    expect(res!.status()).toBe(200);
    const csp = (await res!.allHeaders())["content-security-policy"]!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe");
    expect((await res!.allHeaders())["set-cookie"]).toBeUndefined();
    await page.fill("#token", bearer);
    await page.click("button[type=submit]");
    await page.waitForSelector("a.dashboard-link");
    expect(await page.textContent("a.dashboard-link")).toBe("Overview");
    expect(await page.evaluate(() => sessionStorage.getItem("pulse.token"))).toBe(bearer);
    expect(await context.cookies()).toEqual([]);
  }, 30_000);

  test("the default dashboard renders every widget, and every figure equals the API's answer", async () => {
    await page.click("a.dashboard-link");
    await drawn(page);
    const widgets = await page.$$eval(".widget", (ws) =>
      ws.map((w) => ({
        id: w.getAttribute("data-widget-id")!,
        status: w.getAttribute("data-status")!,
        href: w.getAttribute("data-href")!,
        figures: [...w.querySelectorAll("[data-path]")].map((f) => ({
          path: f.getAttribute("data-path")!,
          value: f.getAttribute("data-value")!,
          text: f.textContent ?? "",
        })),
      })),
    );
    expect(widgets.map((w) => [w.id, w.status])).toEqual(
      ["sales", "live", "revenue", "channels", "funnel", "items", "customers"].map((id) => [id, "ok"]),
    );
    let compared = 0;
    for (const w of widgets) {
      const { body } = await api(w.href);
      expect(w.figures.length, `${w.id} shows figures`).toBeGreaterThan(0);
      for (const f of w.figures) {
        expect(f.value, `${w.id} ${f.path}`).toBe(String(at(body, f.path) ?? "null"));
        expect(f.text.length).toBeGreaterThan(0);
        compared += 1;
      }
    }
    expect(compared).toBeGreaterThan(20);
    // the hand-computed figure: net revenue of the last 7 days = 5000 + 1500
    expect(await page.getAttribute('.widget[data-widget-id="sales"] [data-path="data.totals.0.current.net_minor"]', "data-value")).toBe(
      "6500",
    );
    expect(await page.textContent('.widget[data-widget-id="sales"] [data-path="data.totals.0.current.net_minor"]')).toBe("€65.00");
    // every control is labelled
    expect(
      await page.$$eval(
        "input, select, textarea",
        (els) => els.filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute("aria-label")).length,
      ),
    ).toBe(0);
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  test("a range change refetches the data and changes the figures", async () => {
    const loads = Number(await page.getAttribute("#app", "data-loads"));
    const refetch = page.waitForResponse((r) => r.url().includes("/data?") && r.url().includes("range=today"));
    await page.focus("#range");
    await page.selectOption("#range", "today");
    expect((await refetch).status()).toBe(200);
    await page.waitForFunction((n) => Number(document.getElementById("app")!.dataset.loads) > n, loads);
    await drawn(page);
    expect(await page.getAttribute('.widget[data-widget-id="sales"] [data-path="data.totals.0.current.net_minor"]', "data-value")).toBe(
      "5000",
    );
  }, 30_000);

  test("an order posted to /v1/events shows in the live panel within 5 s", async () => {
    await page.waitForSelector('.live-state[data-state="open"]', { timeout: 10_000 });
    const before = Number(await page.getAttribute(".live .live-orders", "data-value"));
    const ingest = await token({ tenantId: T, roles: ["ingest"], sub: "shop" });
    const started = Date.now();
    const posted = await api(
      "/v1/events",
      {
        method: "POST",
        body: JSON.stringify([
          orderCompleted(
            T,
            // now, not earlier: beforeAll's refresh materialised the 5-minute aggregate up to the current
            // bucket's start, and an order dated before it would be a late event, not a live one
            { time: iso(Date.now()) },
            {
              channel: "web",
              currency: "EUR",
              discount_minor: 0,
              total_minor: 777,
              lines: [{ item_id: "show-1", quantity: 1, unit_price_minor: 777 }],
            },
          ),
        ]),
      },
      ingest,
    );
    expect(posted.res.status).toBe(202);
    await page.waitForFunction((n) => Number(document.querySelector(".live .live-orders")?.getAttribute("data-value")) === n + 1, before, {
      timeout: 5_000,
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 30_000);

  test("a screenshot of the dashboard is saved under the test's temp dir", async () => {
    await drawn(page);
    const file = join(dir, "dashboard.png");
    await page.screenshot({ path: file, fullPage: true });
    expect(statSync(file).size).toBeGreaterThan(20_000);
  }, 30_000);

  test("at phone width (390 px) the dashboard fits without sideways scrolling", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await drawn(page);
    // charts follow their box on the next resize observation
    await page.waitForFunction(() => document.documentElement.scrollWidth <= 390, undefined, { timeout: 3_000 }).catch(() => undefined);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 30_000);

  test("a dashboard named <img src=x onerror=alert(1)> renders as text and no dialog fires", async () => {
    const name = "<img src=x onerror=alert(1)>";
    const created = await api("/v1/dashboards", {
      method: "POST",
      body: JSON.stringify({
        name,
        widgets: [{ id: "t", title: name, operation: "getRevenueSummary", params: {}, viz: "kpi", position: 0 }],
      }),
    });
    expect(created.res.status).toBe(201);
    let dialogs = 0;
    page.on("dialog", (d) => {
      dialogs += 1;
      void d.dismiss();
    });
    await page.goto(`${base}/app#/`);
    await page.waitForSelector(`a[href="#/d/${created.body.id}"]`);
    expect(await page.textContent(`a[href="#/d/${created.body.id}"]`)).toBe(name);
    await page.click(`a[href="#/d/${created.body.id}"]`);
    await drawn(page);
    expect(await page.textContent("h1.dashboard-name")).toBe(name);
    expect(await page.textContent(".widget h2")).toBe(name);
    expect(await page.$$("main img")).toHaveLength(0);
    await page.waitForTimeout(300);
    expect(dialogs).toBe(0);
  }, 30_000);

  test("saving an edit of a dashboard someone else changed meanwhile shows the 412 message and keeps their change", async () => {
    const created = await api("/v1/dashboards", {
      method: "POST",
      body: JSON.stringify({
        name: "Shared board",
        widgets: [{ id: "a", title: "Revenue", operation: "getRevenueSummary", params: {}, viz: "kpi", position: 0 }],
      }),
    });
    await page.goto(`${base}/app#/d/${created.body.id}/edit`);
    await page.waitForSelector("#title-0");
    // a colleague saves first
    const theirs = await api(`/v1/dashboards/${created.body.id}`, {
      method: "PUT",
      headers: { "if-match": '"1"' },
      body: JSON.stringify({ name: "Colleague's board", widgets: created.body.widgets }),
    });
    expect(theirs.res.status).toBe(200);
    await page.fill("#title-0", "My title");
    const save = page.waitForResponse((r) => r.request().method() === "PUT");
    await page.click("button[type=submit]");
    expect((await save).status()).toBe(412);
    await page.waitForSelector(".message .stale");
    expect(await page.textContent(".message .stale")).toContain("Someone else changed this dashboard");
    expect((await api(`/v1/dashboards/${created.body.id}`)).body.name).toBe("Colleague's board");
  }, 30_000);

  test("edit mode adds, reorders and removes widgets, and the dashboard shows the result", async () => {
    const created = await api("/v1/dashboards", {
      method: "POST",
      body: JSON.stringify({
        name: "Editable",
        widgets: [
          { id: "a", title: "First", operation: "getRevenueSummary", params: {}, viz: "kpi", position: 0 },
          { id: "b", title: "Second", operation: "getRevenueByChannel", params: {}, viz: "bar", position: 1 },
        ],
      }),
    });
    await page.goto(`${base}/app#/d/${created.body.id}/edit`);
    await page.waitForSelector("#title-1");
    await page.click('button[aria-label="Move Second up"]');
    await page.click("text=Add widget");
    await page.fill("#title-2", "Funnel");
    await page.selectOption("#op-2", "getConversionFunnel");
    await page.selectOption("#viz-2", "funnel");
    await page.click('button[aria-label="Remove First"]');
    await page.click("button[type=submit]");
    await page.waitForSelector("h1.dashboard-name");
    await drawn(page);
    expect(await page.$$eval(".widget h2", (hs) => hs.map((x) => x.textContent))).toEqual(["Second", "Funnel"]);
    const saved = (await api(`/v1/dashboards/${created.body.id}`)).body;
    expect(saved.version).toBe(2);
    expect(saved.widgets.map((w: { title: string; position: number }) => [w.title, w.position])).toEqual([
      ["Second", 0],
      ["Funnel", 1],
    ]);
    // the browser logs the refused request of the stale edit itself; nothing else may be logged
    expect(consoleErrors.filter((e) => !e.includes("status of 412"))).toEqual([]);
  }, 30_000);

  test("/docs renders the API reference with every request to this origin (no CDN, works offline)", async () => {
    const requests: string[] = [];
    const onRequest = (r: { url(): string }) => requests.push(r.url());
    page.on("request", onRequest);
    await page.goto(`${base}/docs`);
    await page.waitForSelector(".swagger-ui .info .title", { timeout: 20_000 });
    expect(await page.textContent(".swagger-ui .info .title")).toContain("Pulse analytics API");
    await page.waitForSelector("text=listDashboards", { timeout: 10_000 }).catch(() => undefined);
    page.off("request", onRequest);
    expect(requests.filter((u) => !u.startsWith(base) && !u.startsWith("data:"))).toEqual([]);
    expect(consoleErrors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
  }, 30_000);
});
