/**
 * CSV (RFC 4180): UTF-8 with a byte-order mark (so spreadsheets read it as UTF-8), a header row, CRLF
 * line ends, fields quoted when needed; streamed through csv-stringify. Only the main table.
 * Times: ISO-8601 with the time zone's offset; money: minor units, then the major-unit decimal.
 * Text cells are neutralised against formula injection (rows.ts neutralise).
 */
import { stringify } from "csv-stringify";
import { finished } from "../storage/storage.ts";
import { type Cell, cellText, neutralise } from "../rows.ts";
import { drained, type ReportWriter, type WriterOptions } from "./writer.ts";

function csvField(cell: Cell): string {
  return typeof cell === "string" ? neutralise(cell) : cellText(cell);
}

export function csvWriter(opts: WriterOptions): ReportWriter {
  const csv = stringify({ bom: true, record_delimiter: "windows" });
  csv.pipe(opts.out);
  let active = false;
  return {
    async begin(table, main) {
      active = main;
      if (main) await drained(csv, csv.write(table.columns.map((c) => c.key)));
    },
    async rows(rows) {
      if (!active) return;
      for (const row of rows) {
        const ok = csv.write(row.map(csvField));
        if (!ok) await drained(csv, ok);
      }
    },
    async end() {
      csv.end();
      await finished(opts.out);
    },
  };
}
