/**
 * The writer thread (src/exports/threaded.ts + writer-thread.ts) that turns a list's pages into CSV or
 * XLSX while the worker's main thread reads the next pages: the same file as the in-process writer,
 * storage's backpressure reaching it, and a failing storage stream failing the export.
 */
import { describe, expect, test } from "bun:test";
import { PassThrough, Writable } from "node:stream";
import { csvWriter } from "../../../src/exports/formats/csv.ts";
import { xlsxWriter } from "../../../src/exports/formats/xlsx.ts";
import { layoutOf } from "../../../src/exports/layout.ts";
import { inProcessWriter, type PageWriter, threadedWriter } from "../../../src/exports/threaded.ts";
import { parseCsv, readXlsx, sheetRows } from "./helpers.ts";

const META = {
  operation: "listCustomers",
  title: "Customers",
  tenantId: "t",
  params: {},
  timezone: "Europe/Berlin",
  asOf: "2026-12-04T00:00:00.000Z",
  watermark: null,
  scoredAt: null,
  generatedAt: "2026-12-04T00:00:00.000Z",
};

/** a listCustomers page of `n` rows from row `k` (one name is a formula, one in another script) */
function page(k: number, n: number) {
  return {
    as_of: META.asOf,
    watermark: null,
    scored_at: null,
    next_cursor: null,
    data: Array.from({ length: n }, (_, i) => {
      const g = k + i;
      return {
        customer_id: g === 3 ? "=HYPERLINK(1)" : g === 4 ? "عميل-٤" : `c-${g}`,
        currency: g % 2 ? "EUR" : "JPY",
        first_order_at: new Date(Date.UTC(2026, 9, 24) + g * 3_600_000).toISOString(),
        last_order_at: new Date(Date.UTC(2026, 9, 25) + g * 3_600_000).toISOString(),
        days_since_last_order: g % 40,
        orders: 1 + (g % 7),
        net_minor: g * 101 - 500,
        r_score: 1 + (g % 5),
        f_score: 2,
        m_score: null,
        segment: g % 3 ? "new" : null,
        churn_tier: "low",
        clv_minor: g % 4 ? g * 7 : null,
      };
    }),
  };
}
const PAGES = [page(0, 700), page(700, 700), page(1400, 333)];
const LAYOUT = layoutOf("listCustomers", PAGES[0], PAGES[0]!.data);
const TABLE = LAYOUT.tables[LAYOUT.main]!;

/** storage that takes 16 KB at a time and asks to wait after each write (backpressure all the way) */
function slowSink(): { out: Writable; bytes: () => Uint8Array } {
  const chunks: Buffer[] = [];
  const out = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      setTimeout(cb, 1);
    },
  });
  return { out, bytes: () => new Uint8Array(Buffer.concat(chunks)) };
}

async function writeAll(w: PageWriter): Promise<void> {
  await w.begin(TABLE, true);
  for (const p of PAGES) await w.page(TABLE, p, META.timezone);
  await w.settled();
  expect(w.rowsWritten).toBe(1733);
  await w.end();
  w.close();
}

describe("the export writer thread", () => {
  test("writes a list's pages into the same CSV as the in-process writer, through a slow storage stream", async () => {
    const threaded = slowSink();
    await writeAll(threadedWriter("csv", { out: threaded.out, meta: META }));
    const local = new PassThrough();
    const chunks: Buffer[] = [];
    local.on("data", (c: Buffer) => chunks.push(c));
    await writeAll(inProcessWriter(csvWriter({ out: local, meta: META })));
    expect(threaded.bytes()).toEqual(new Uint8Array(Buffer.concat(chunks)));
    const rows = parseCsv(threaded.bytes());
    expect(rows).toHaveLength(1 + 1733);
    expect(rows[4]![0]).toBe("'=HYPERLINK(1)"); // neutralised on the thread as in process
    expect(rows[5]![0]).toBe("عميل-٤");
    expect(rows[1]![2]).toBe("2026-10-24T02:00:00+02:00"); // Berlin summer time, then winter time later on
    expect(rows[1733]![2]).toBe("2027-01-04T05:00:00+01:00"); // 1,732 h = 72 days 4 h later, UTC+1
  });

  test("writes the same XLSX rows (typed cells) as the in-process writer", async () => {
    const threaded = slowSink();
    await writeAll(threadedWriter("xlsx", { out: threaded.out, meta: META }));
    const local = slowSink();
    await writeAll(inProcessWriter(xlsxWriter({ out: local.out, meta: META })));
    const a = sheetRows((await readXlsx(threaded.bytes())).getWorksheet("data")!);
    const b = sheetRows((await readXlsx(local.bytes())).getWorksheet("data")!);
    expect(a).toHaveLength(1 + 1733);
    expect(a).toEqual(b);
  });

  test("a storage stream that fails mid-file fails the export's writing with its error", async () => {
    let taken = 0;
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        taken += chunk.length;
        cb(taken > 40_000 ? new Error("disk full") : null);
      },
    });
    const w = threadedWriter("csv", { out, meta: META });
    const run = (async () => {
      await w.begin(TABLE, true);
      for (const p of PAGES) await w.page(TABLE, p, META.timezone);
      await w.settled();
      await w.end();
    })();
    await expect(run).rejects.toThrow("disk full");
    w.close();
  });
});
