/**
 * CSV (RFC 4180): UTF-8 with a byte-order mark (so spreadsheets read it as UTF-8), a header row, CRLF
 * line ends, fields quoted when needed; streamed through csv-stringify. Only the main table.
 * Times: ISO-8601 with the time zone's offset; money: minor units, then the major-unit decimal.
 * Each page of rows is stringified at once (csv-stringify's sync API: far fewer calls per row than its
 * stream) and written with backpressure.
 * Text cells are neutralised against formula injection (rows.ts neutralise).
 */
import { stringify } from "csv-stringify/sync";
import { finished } from "../storage/storage.ts";
import { type Cell, cellText, neutralise } from "../rows.ts";
import { drained, type ReportWriter, type WriterOptions } from "./writer.ts";

function csvField(cell: Cell): string {
  return typeof cell === "string" ? neutralise(cell) : cellText(cell);
}

const OPTIONS = { record_delimiter: "windows" } as const;

export function csvWriter(opts: WriterOptions): ReportWriter {
  const out = opts.out;
  let active = false;
  let started = false;
  const write = (text: string) => drained(out, out.write(text));
  return {
    async begin(table, main) {
      active = main;
      if (!main || started) return;
      started = true;
      await write(stringify([table.columns.map((c) => c.key)], { ...OPTIONS, bom: true }));
    },
    async rows(rows) {
      if (!active || rows.length === 0) return;
      await write(
        stringify(
          rows.map((r) => r.map(csvField)),
          OPTIONS,
        ),
      );
    },
    async end() {
      out.end();
      await finished(out);
    },
  };
}
