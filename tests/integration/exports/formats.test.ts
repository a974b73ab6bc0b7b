/**
 * Each format parsed back and compared with the API's JSON for the same parameters:
 * - revenue timeseries, day buckets in Europe/Berlin across the end of summer time (2026-10-25 has 25 h):
 *   orders (EUR, one line each, no discount) at local noon of Oct 23, 24, 26 (1000, 2000, 4000) and on
 *   Oct 25 at 01:30 CEST and 12:00 CET (1500 + 1950):
 *     2026-10-23T00:00:00+02:00 gross 1000 → "10.00"
 *     2026-10-24T00:00:00+02:00 gross 2000 → "20.00"
 *     2026-10-25T00:00:00+02:00 gross 1500 + 1950 = 3450 → "34.50" (the 25-hour day)
 *     2026-10-26T00:00:00+01:00 gross 4000 → "40.00"
 * - customers: 1,234 scored customers (3 pages of 500), every row;
 * - items: names with formula-injection prefixes (=, +, -, @, tab, CR) and other scripts;
 * - the funnel: 3 sessions (page → item → cart: 3, 2, 1).
 * CSV is read with csv-parse, XLSX with exceljs's reader, PDF with poppler's pdftotext; a PDF page
 * is rendered to PNG with pdftoppm.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { Deps } from "../../../src/deps.ts";
import type { ExportWorker } from "../../../src/exports/worker.ts";
import { ingestAccepted, refreshAggregates } from "../../helpers/deps.ts";
import { cartItemAdded, itemUpserted, itemViewed, orderCompleted, pageViewed } from "../../helpers/events.ts";
import { apiJson, type App, exportFile, exportsApp, parseCsv, pdfPagePng, pdfText, readXlsx, sheetRows } from "./helpers.ts";

let app: App;
let deps: Deps;
let worker: ExportWorker;
const A = crypto.randomUUID();
const C = crypto.randomUUID();
const I = crypto.randomUUID();
const F = crypto.randomUUID();

const order = (t: string, time: string, total: number, item = "show-1") =>
  orderCompleted(t, { time }, { lines: [{ item_id: item, quantity: 1, unit_price_minor: total }], discount_minor: 0, total_minor: total });

const BERLIN = { from: "2026-10-23T00:00:00+02:00", to: "2026-10-27T00:00:00+01:00", bucket: "day", timezone: "Europe/Berlin" };
const INJECTIONS = ['=HYPERLINK("http://x")', "+1+2", "-3+4", "@SUM(A1)", "\tTAB", "\rCR"];
const WORLD = ["東京ドーム", "콘서트", "Ünïcode", "שלום", "ราคา", "मूल्य"];
const CUSTOMERS = 1_234;
const HOUR = 3_600_000;
const T0 = Math.floor(Date.now() / HOUR) * HOUR - 48 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
const DAY_RANGE = { from: iso(T0), to: iso(T0 + 24 * HOUR) };

/** the minor → major text, written out by hand for EUR (2 decimals) */
const eur = (minor: number) =>
  `${minor < 0 ? "-" : ""}${Math.floor(Math.abs(minor) / 100)}.${String(Math.abs(minor) % 100).padStart(2, "0")}`;
const utcText = (instant: string) => instant.replace(/\.000Z$/, "+00:00").replace(/Z$/, "+00:00");

beforeAll(async () => {
  ({ app, deps, worker } = await exportsApp());
  await ingestAccepted(deps, [
    order(A, "2026-10-23T10:00:00Z", 1000),
    order(A, "2026-10-24T10:00:00Z", 2000),
    order(A, "2026-10-24T23:30:00Z", 1500), // 01:30 CEST on Oct 25
    order(A, "2026-10-25T11:00:00Z", 1950), // 12:00 CET
    order(A, "2026-10-26T11:00:00Z", 4000),
  ]);
  await refreshAggregates(deps.sql, new Date("2026-10-20T00:00:00Z"), new Date("2026-10-30T00:00:00Z"));

  // 1,234 scored customers, straight into the scores table (what the scoring job writes)
  await deps.sql`
    insert into customer_scores (tenant_id, customer_id, currency, first_order_at, last_order_at,
                                 archived_orders, archived_net_minor, r_score, f_score, m_score, segment)
    select ${C}::uuid, 'cust-' || lpad(g::text, 5, '0'), case when g % 3 = 0 then 'JPY' else 'EUR' end,
           now() - make_interval(days => 20 + g % 150), now() - make_interval(days => g % 150),
           1 + g % 7, g * 37 - 5000, 1 + g % 5, 1 + (g / 5) % 5, 1 + (g / 25) % 5, customer_segment(1 + g % 5, 1 + (g / 5) % 5)
      from generate_series(1, ${CUSTOMERS}) g`;

  const now = Date.now() - 600_000;
  await ingestAccepted(deps, [
    ...INJECTIONS.map((name, i) =>
      itemUpserted(
        I,
        `inj-${i}`,
        { time: iso(now) },
        { name, category: i % 2 ? "=cat" : "plain", kind: "product", capacity: undefined, starts_at: undefined },
      ),
    ),
    ...WORLD.map((name, i) => itemUpserted(I, `world-${i}`, { time: iso(now) }, { name, category: "concert" })),
    order(I, iso(T0 + HOUR), 2500, "inj-0"),
    order(I, iso(T0 + 2 * HOUR), 700, "world-0"),
  ]);
  // an earlier test file may have moved the aggregates' watermark past these times (helpers/deps.ts)
  await refreshAggregates(deps.sql, new Date(T0 - HOUR), new Date(T0 + 25 * HOUR));

  const sessions = ["s1", "s2", "s3"];
  await ingestAccepted(deps, [
    ...sessions.map((s, i) => pageViewed(F, { time: iso(T0 + HOUR + i * 60_000) }, { session_id: s })),
    ...sessions.slice(0, 2).map((s, i) => itemViewed(F, s, "show-1", { time: iso(T0 + 2 * HOUR + i * 60_000) })),
    cartItemAdded(F, "s1", "show-1", { time: iso(T0 + 3 * HOUR) }),
  ]);
}, 120_000);

describe("revenue timeseries (Europe/Berlin, across the end of summer time)", () => {
  const HEAD = [
    "bucket_start",
    "currency",
    "gross_minor",
    "gross_major",
    "refunds_minor",
    "refunds_major",
    "net_minor",
    "net_major",
    "orders",
    "units",
  ];
  const EXPECTED = [
    ["2026-10-23T00:00:00+02:00", 1000],
    ["2026-10-24T00:00:00+02:00", 2000],
    ["2026-10-25T00:00:00+02:00", 3450],
    ["2026-10-26T00:00:00+01:00", 4000],
  ] as const;

  test("CSV: a header row, then the API's rows with local times at their offset and major units", async () => {
    const json = await apiJson(app, A, "/v1/revenue/timeseries", BERLIN);
    const { res, bytes, job } = await exportFile({ app, worker }, A, "getRevenueTimeseries", BERLIN, "csv");
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="getRevenueTimeseries-\d{8}-\d{4}\.csv"/);
    expect(job).toMatchObject({
      status: "succeeded",
      progress: { rows_written: 4, rows_total: 4, percent: 100 },
      size_bytes: bytes.length,
    });
    const [head, ...rows] = parseCsv(bytes);
    expect(head).toEqual(HEAD);
    expect(rows.map((r) => [r[0], Number(r[2])])).toEqual(EXPECTED.map(([t, g]) => [t, g]));
    // every cell equals the JSON answer: the same instant, the same integers, the major text by hand
    expect(rows.length).toBe(json.data.length);
    json.data.forEach((d: any, i: number) => {
      const r = rows[i]!;
      expect(Date.parse(r[0]!)).toBe(Date.parse(d.bucket_start));
      expect(r.slice(1)).toEqual([
        d.currency,
        String(d.gross_minor),
        eur(d.gross_minor),
        String(d.refunds_minor),
        eur(d.refunds_minor),
        String(d.net_minor),
        eur(d.net_minor),
        String(d.orders),
        String(d.units),
      ]);
    });
    expect(rows.map((r) => r[3])).toEqual(["10.00", "20.00", "34.50", "40.00"]);
  });

  test("XLSX: typed cells (local dates, numbers), frozen bold header, and a parameters sheet with as_of and watermark", async () => {
    const json = await apiJson(app, A, "/v1/revenue/timeseries", BERLIN);
    const { bytes, res } = await exportFile({ app, worker }, A, "getRevenueTimeseries", BERLIN, "xlsx");
    expect(res.headers.get("content-type")).toBe("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    const wb = await readXlsx(bytes);
    expect(wb.worksheets.map((w) => w.name)).toEqual(["data", "parameters"]);
    const ws = wb.getWorksheet("data")!;
    expect(ws.views[0]).toMatchObject({ state: "frozen", ySplit: 1 });
    expect(ws.getRow(1).font?.bold).toBe(true);
    const [head, ...rows] = sheetRows(ws);
    expect(head).toEqual(HEAD);
    // a local date is the wall-clock time in Berlin: its UTC fields are the local ones
    expect(rows.map((r) => (r[0] as Date).toISOString())).toEqual([
      "2026-10-23T00:00:00.000Z",
      "2026-10-24T00:00:00.000Z",
      "2026-10-25T00:00:00.000Z",
      "2026-10-26T00:00:00.000Z",
    ]);
    expect(ws.getCell("A2").numFmt).toBe("yyyy-mm-dd hh:mm:ss");
    expect(ws.getCell("D2").numFmt).toBe("0.00");
    json.data.forEach((d: any, i: number) => {
      expect(rows[i]!.slice(1)).toEqual([
        d.currency,
        d.gross_minor,
        d.gross_minor / 100,
        d.refunds_minor,
        d.refunds_minor / 100,
        d.net_minor,
        d.net_minor / 100,
        d.orders,
        d.units,
      ]);
    });
    const params = Object.fromEntries(sheetRows(wb.getWorksheet("parameters")!).slice(1) as Array<[string, string]>);
    expect(params).toMatchObject({
      operation: "getRevenueTimeseries",
      tenant: A,
      "params.timezone": "Europe/Berlin",
      "params.bucket": "day",
      timezone: "Europe/Berlin",
      as_of: json.as_of,
      watermark: json.watermark,
      "rows.data": "4",
    });
    expect(json.watermark).toBe("2026-10-26T11:00:00.000Z");
  });

  test("PDF: title, tenant, range and time zone, the chart, every row, page numbers; page 1 renders to PNG", async () => {
    const json = await apiJson(app, A, "/v1/revenue/timeseries", BERLIN);
    const { bytes, res } = await exportFile({ app, worker }, A, "getRevenueTimeseries", BERLIN, "pdf");
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(Buffer.from(bytes.subarray(0, 5)).toString()).toBe("%PDF-");
    const text = pdfText(bytes);
    expect(text).toContain("Revenue");
    expect(text).toContain(`Tenant: ${A}`);
    expect(text).toContain("Range: 2026-10-23T00:00:00+02:00 – 2026-10-27T00:00:00+01:00");
    expect(text).toContain("Time zone: Europe/Berlin");
    expect(text).toContain(`As of: ${json.as_of}`);
    expect(text).toContain("net_minor per bucket_start (EUR)");
    expect(text).toMatch(/page 1 of 1/);
    const lines = text.split("\n");
    for (const [t, g] of EXPECTED) {
      const line = lines.find((l) => l.trimStart().startsWith(t));
      expect(line, t).toBeDefined();
      expect(line!.split(/\s+/).filter(Boolean)).toEqual([
        t,
        "EUR",
        String(g),
        eur(g),
        "0",
        "0.00",
        String(g),
        eur(g),
        String(t === EXPECTED[2][0] ? 2 : 1),
        String(t === EXPECTED[2][0] ? 2 : 1),
      ]);
    }
    const png = pdfPagePng(bytes);
    expect(Buffer.from(png.subarray(1, 4)).toString()).toBe("PNG");
    const view = new DataView(png.buffer, png.byteOffset);
    // A4 landscape at 50 dpi: 842 × 595 pt → 585 × 413 px (± 1)
    expect(Math.abs(view.getUint32(16) - 585)).toBeLessThanOrEqual(1);
    expect(Math.abs(view.getUint32(20) - 413)).toBeLessThanOrEqual(1);
  });
});

describe("customers: every page", () => {
  test("CSV holds all 1,234 rows, equal to the API's pages (limit 500 → 3 pages) in order", async () => {
    const pages: any[] = [];
    let cursor: string | undefined;
    do {
      const body = await apiJson(app, C, "/v1/customers", { limit: "500", ...(cursor ? { cursor } : {}) });
      pages.push(body);
      cursor = body.next_cursor ?? undefined;
    } while (cursor);
    expect(pages.length).toBe(3);
    const { bytes, job } = await exportFile({ app, worker }, C, "listCustomers", { limit: "7" }, "csv");
    expect(job.progress).toEqual({ rows_written: CUSTOMERS, rows_total: CUSTOMERS, percent: 100 });
    const [head, ...rows] = parseCsv(bytes);
    expect(head).toEqual([
      "customer_id",
      "currency",
      "first_order_at",
      "last_order_at",
      "days_since_last_order",
      "orders",
      "net_minor",
      "net_major",
      "r_score",
      "f_score",
      "m_score",
      "segment",
      "churn_tier",
      "clv_minor",
      "clv_major",
    ]);
    const api = pages.flatMap((p) => p.data);
    expect(rows.length).toBe(CUSTOMERS);
    expect(api.length).toBe(CUSTOMERS);
    const major = (minor: number, currency: string) => (currency === "JPY" ? String(minor) : eur(minor)); // JPY has no minor digits
    const cell = (v: unknown) => (v === null ? "" : String(v));
    api.forEach((d, i) => {
      expect(rows[i]).toEqual([
        d.customer_id,
        d.currency,
        utcText(d.first_order_at),
        utcText(d.last_order_at),
        cell(d.days_since_last_order),
        cell(d.orders),
        cell(d.net_minor),
        major(d.net_minor, d.currency),
        cell(d.r_score),
        cell(d.f_score),
        cell(d.m_score),
        cell(d.segment),
        d.churn_tier,
        cell(d.clv_minor),
        d.clv_minor === null ? "" : major(d.clv_minor, d.currency),
      ]);
    });
    // g = 3: JPY, net 3 × 37 − 5000 = −4889 (JPY: "−4889"); g = 1: EUR, net 37 − 5000 = −4963 → "-49.63"
    expect(rows.find((r) => r[0] === "cust-00003")!.slice(6, 8)).toEqual(["-4889", "-4889"]);
    expect(rows.find((r) => r[0] === "cust-00001")!.slice(6, 8)).toEqual(["-4963", "-49.63"]);
  });

  test("XLSX holds the same rows, numbers as numbers", async () => {
    const { bytes } = await exportFile({ app, worker }, C, "listCustomers", {}, "xlsx");
    const rows = sheetRows((await readXlsx(bytes)).getWorksheet("data")!).slice(1);
    expect(rows.length).toBe(CUSTOMERS);
    expect(rows[0]!.slice(0, 2)).toEqual(["cust-00001", "EUR"]);
    expect(rows[0]![6]).toBe(-4963);
    expect(rows[0]![7]).toBe(-49.63);
  });
});

describe("items and formula injection", () => {
  test("CSV and XLSX: text cells starting with = + - @ tab or CR are prefixed with ', other scripts kept as they are", async () => {
    const json = await apiJson(app, I, "/v1/items/performance", { ...DAY_RANGE, limit: "500" });
    const csv = parseCsv((await exportFile({ app, worker }, I, "getItemPerformance", DAY_RANGE, "csv")).bytes);
    const [head, ...rows] = csv;
    expect(head!.slice(0, 3)).toEqual(["item_id", "name", "category"]);
    expect(head!.slice(-3)).toEqual(["revenue.currency", "revenue.net_minor", "revenue.net_major"]);
    // one row per item (each sold in one currency at most): 6 injection items + 6 names in other scripts
    expect(rows.length).toBe(12);
    expect(json.data.length).toBe(12);
    const byId = new Map(rows.map((r) => [r[0], r]));
    INJECTIONS.forEach((name, i) => {
      expect(byId.get(`inj-${i}`)![1]).toBe(`'${name}`);
      expect(byId.get(`inj-${i}`)![2]).toBe(i % 2 ? "'=cat" : "plain");
    });
    WORLD.forEach((name, i) => {
      expect(byId.get(`world-${i}`)![1]).toBe(name);
    });
    // inj-0 sold 2500 EUR, world-0 700; the others nothing (their revenue cells are empty)
    expect(byId.get("inj-0")!.slice(-3)).toEqual(["EUR", "2500", "25.00"]);
    expect(byId.get("world-0")!.slice(-3)).toEqual(["EUR", "700", "7.00"]);
    expect(byId.get("inj-1")!.slice(-3)).toEqual(["", "", ""]);

    const wb = await readXlsx((await exportFile({ app, worker }, I, "getItemPerformance", DAY_RANGE, "xlsx")).bytes);
    const xrows = sheetRows(wb.getWorksheet("data")!).slice(1);
    const xById = new Map(xrows.map((r) => [r[0], r]));
    // (an XML reader turns a stored CR into LF: the prefix is what matters)
    INJECTIONS.forEach((name, i) => {
      expect(xById.get(`inj-${i}`)![1]).toBe(`'${name.replace("\r", "\n")}`);
    });
    WORLD.forEach((name, i) => {
      expect(xById.get(`world-${i}`)![1]).toBe(name);
    });
  });

  test("PDF: names in other scripts are embedded and extracted as text", async () => {
    const { bytes } = await exportFile({ app, worker }, I, "getItemPerformance", DAY_RANGE, "pdf");
    const text = pdfText(bytes);
    // Latin, Hangul, CJK and Thai come back as text (pdftotext reorders right-to-left and combining scripts)
    for (const word of ["東京ドーム", "콘서트", "Ünïcode", "ราคา"]) expect(text).toContain(word);
    expect(pdfPagePng(bytes).length).toBeGreaterThan(1_000);
  });
});

describe("the funnel", () => {
  test("CSV is the steps table; XLSX adds the summary sheet; PDF has the funnel chart and the counts 3, 2, 1", async () => {
    const json = await apiJson(app, F, "/v1/funnel", DAY_RANGE);
    const [head, ...rows] = parseCsv((await exportFile({ app, worker }, F, "getConversionFunnel", DAY_RANGE, "csv")).bytes);
    expect(head).toEqual(["type", "count", "conversion_from_previous", "conversion_from_start"]);
    const cell = (v: unknown) => (v === null ? "" : String(v));
    expect(rows).toEqual(
      json.data.steps.map((s: any) => [s.type, cell(s.count), cell(s.conversion_from_previous), cell(s.conversion_from_start)]),
    );
    expect(rows.slice(0, 3).map((r) => r[1])).toEqual(["3", "2", "1"]);

    const wb = await readXlsx((await exportFile({ app, worker }, F, "getConversionFunnel", DAY_RANGE, "xlsx")).bytes);
    expect(wb.worksheets.map((w) => w.name)).toEqual(["steps", "summary", "parameters"]);
    expect(sheetRows(wb.getWorksheet("summary")!)).toEqual([
      ["unit", "window_seconds"],
      [json.data.unit, json.data.window_seconds],
    ]);

    const text = pdfText((await exportFile({ app, worker }, F, "getConversionFunnel", DAY_RANGE, "pdf")).bytes);
    expect(text).toContain("Funnel: count per step");
    for (const s of json.data.steps) expect(text).toContain(s.type);
  });
});
