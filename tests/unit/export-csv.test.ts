/**
 * src/exports/formats/csv.ts: the exact bytes of a CSV export (RFC 4180): a byte-order mark, the
 * header, CRLF after every record, a field quoted when it holds a delimiter, a quote (doubled), CR or
 * LF, or starts or ends with a space; every other field as it is. Read back with csv-parse (another
 * library than the writer's), the fields are the cells.
 */
import { describe, expect, test } from "bun:test";
import { PassThrough } from "node:stream";
import { csvWriter } from "../../src/exports/formats/csv.ts";
import type { TableLayout } from "../../src/exports/layout.ts";
import { parseCsv } from "../integration/exports/helpers.ts";

const META = {
  operation: "getItemPerformance",
  title: "Items",
  tenantId: "t",
  params: {},
  timezone: "UTC",
  asOf: null,
  watermark: null,
  scoredAt: null,
  generatedAt: "2026-12-04T00:00:00.000Z",
};

const TABLE: TableLayout = {
  name: "data",
  levels: [],
  columns: [
    { key: "item_id", kind: "text", level: 0, path: ["item_id"] },
    { key: "name", kind: "text", level: 0, path: ["name"] },
  ],
};

async function csvOf(pages: string[][][]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const w = csvWriter({ out, meta: META });
  await w.begin(TABLE, true);
  for (const rows of pages) await w.rows(rows);
  await w.end();
  return Buffer.concat(chunks);
}

describe("CSV bytes", () => {
  test("BOM, header, CRLF records; quotes only where a field needs them, inner quotes doubled", async () => {
    const first = [
      ["a-1", "plain"],
      ["a-2", "Smith, Jane"],
      ["a-3", 'the "big" show'],
      ["a-4", "two\r\nlines"],
      ["a-5", "line\nfeed"],
      ["a-6", " padded "],
    ];
    const second = [["b-1", "東京ドーム"]];
    const bytes = await csvOf([first, second]);
    expect(bytes.toString("utf8")).toBe(
      "\ufeffitem_id,name\r\n" +
        "a-1,plain\r\n" +
        'a-2,"Smith, Jane"\r\n' +
        'a-3,"the ""big"" show"\r\n' +
        'a-4,"two\r\nlines"\r\n' +
        'a-5,"line\nfeed"\r\n' +
        'a-6," padded "\r\n' +
        "b-1,東京ドーム\r\n",
    );
    expect(parseCsv(bytes)).toEqual([["item_id", "name"], ...first, ...second]);
  });

  test("a formula-like text cell is written with its ' prefix (neutralised), an empty page writes nothing", async () => {
    const bytes = await csvOf([[["=1+1", "@SUM(A1)"]], []]);
    expect(bytes.toString("utf8")).toBe("\ufeffitem_id,name\r\n'=1+1,'@SUM(A1)\r\n");
  });
});
