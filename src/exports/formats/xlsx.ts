/**
 * XLSX through exceljs's streaming WorkbookWriter (rows are committed as they come: memory stays flat).
 * One sheet per table (the main one first); typed cells: numbers as numbers (major units with the
 * currency's decimals as their number format), times as dates (the local wall-clock time in the
 * export's time zone), text neutralised against formula injection. Bold, filled header row, frozen.
 * A table longer than a sheet continues on "<name> (2)", "<name> (3)"… Last, a "parameters" sheet:
 * operation, parameters, time zone, as_of, watermark, generation time, rows per sheet.
 */
import ExcelJS from "exceljs";
import { finished } from "../storage/storage.ts";
import type { TableLayout } from "../layout.ts";
import { type Cell, MajorCell, neutralise, TimeCell } from "../rows.ts";
import { drained, type ReportWriter, type WriterOptions } from "./writer.ts";

/** Excel's rows per sheet, the header included */
export const SHEET_ROW_LIMIT = 1_048_576;
const HEADER_FILL = { type: "pattern", pattern: "solid", fgColor: { argb: "FFDCE6F1" } } as const;
const DATE_FORMAT = "yyyy-mm-dd hh:mm:ss";

function sheetName(name: string, part: number, used: Set<string>): string {
  const base = name.replace(/[[\]:*?/\\]/g, "_").slice(0, 24) || "data";
  let candidate = part === 1 ? base : `${base} (${part})`;
  for (let i = 2; used.has(candidate.toLowerCase()); i++) candidate = `${base}~${i}`;
  used.add(candidate.toLowerCase());
  return candidate;
}

const decimalsFormat = (d: number) => (d === 0 ? "0" : `0.${"0".repeat(d)}`);

/**
 * Cell styles shared by every cell that has them: exceljs recognises a style object it has seen (a
 * WeakMap by identity) and otherwise works a new style out for every cell, which was the most of its
 * time per row. Never mutated (a cell's own number format takes another shared object).
 */
const PLAIN_STYLE: Partial<ExcelJS.Style> = {};
const DATE_STYLE: Partial<ExcelJS.Style> = { numFmt: DATE_FORMAT };
const decimalsStyles = new Map<number, Partial<ExcelJS.Style>>();
function decimalsStyle(d: number): Partial<ExcelJS.Style> {
  let style = decimalsStyles.get(d);
  if (!style) {
    style = { numFmt: decimalsFormat(d) };
    decimalsStyles.set(d, style);
  }
  return style;
}
function columnStyle(kind: string): Partial<ExcelJS.Style> {
  return kind === "time" ? DATE_STYLE : kind === "major" ? decimalsStyle(2) : PLAIN_STYLE;
}

function widthOf(kind: string, key: string): number {
  if (kind === "time") return 20;
  if (kind === "text") return Math.max(14, Math.min(40, key.length + 2));
  return Math.max(10, Math.min(24, key.length + 2));
}

export function xlsxWriter(opts: WriterOptions): ReportWriter {
  const limit = opts.maxRowsPerSheet ?? SHEET_ROW_LIMIT;
  // deflate level 1: the zip step is most of the time at higher levels (files ~15 % larger)
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: opts.out,
    useStyles: true,
    useSharedStrings: false,
    zip: { zlib: { level: 1 } },
  } as unknown as ExcelJS.stream.xlsx.WorkbookStreamWriterOptions);
  wb.creator = "Pulse";
  const used = new Set<string>();
  const counts: Array<[string, number]> = [];
  let table: TableLayout | undefined;
  let styles: Array<Partial<ExcelJS.Style>> = [];
  let sheet: ExcelJS.Worksheet | undefined;
  let part = 0;
  let inSheet = 0;

  const openSheet = () => {
    part += 1;
    const name = sheetName(table!.name, part, used);
    sheet = wb.addWorksheet(name, { views: [{ state: "frozen", ySplit: 1 }] });
    // number formats by column: time columns are dates, major columns have 2 decimals (a cell carries its
    // own only when its currency has other decimals), so most cells need no style look-up of their own
    sheet.columns = table!.columns.map((c) => ({
      key: c.key,
      width: widthOf(c.kind, c.key),
      ...(c.kind === "time" || c.kind === "major" ? { style: columnStyle(c.kind) } : {}),
    }));
    const header = sheet.addRow(table!.columns.map((c) => c.key));
    header.font = { bold: true };
    header.eachCell((cell) => {
      cell.fill = HEADER_FILL;
    });
    header.commit();
    inSheet = 1;
    counts.push([name, 0]);
  };
  const closeSheet = () => {
    sheet?.commit();
    sheet = undefined;
  };

  return {
    async begin(t) {
      closeSheet();
      table = t;
      styles = t.columns.map((c) => columnStyle(c.kind));
      part = 0;
      openSheet();
    },
    async rows(rows) {
      for (const cells of rows) {
        if (inSheet >= limit) {
          closeSheet();
          openSheet();
        }
        const row = sheet!.addRow(cells.map(cellValue));
        for (let i = 0; i < cells.length; i++) {
          const cell = cells[i];
          row.getCell(i + 1).style = cell instanceof MajorCell && cell.decimals !== 2 ? decimalsStyle(cell.decimals) : styles[i]!;
        }
        row.commit();
        inSheet += 1;
        counts[counts.length - 1]![1] += 1;
      }
      await zipCaughtUp(sheet);
      if (opts.out.writableNeedDrain) await drained(opts.out, false);
    },
    async end() {
      closeSheet();
      const p = wb.addWorksheet(sheetName("parameters", 1, used));
      p.columns = [
        { key: "k", width: 24 },
        { key: "v", width: 60 },
      ];
      const m = opts.meta;
      const head = p.addRow(["parameter", "value"]);
      head.font = { bold: true };
      head.commit();
      const lines: Array<[string, string]> = [
        ["operation", m.operation],
        ["title", m.title],
        ["tenant", m.tenantId],
        ...Object.entries(m.params).map(([k, v]) => [`params.${k}`, v] as [string, string]),
        ["timezone", m.timezone],
        ["as_of", m.asOf ?? ""],
        ["watermark", m.watermark ?? ""],
        ...(m.scoredAt !== null ? [["scored_at", m.scoredAt] as [string, string]] : []),
        ["generated_at", m.generatedAt],
        ...counts.map(([name, n]) => [`rows.${name}`, String(n)] as [string, string]),
      ];
      for (const [k, v] of lines) p.addRow([k, neutralise(v)]).commit();
      p.commit();
      await wb.commit();
      await finished(opts.out);
    },
  };
}

/**
 * Backpressure for exceljs's streaming writer, which has none: a sheet's XML goes into a buffer that
 * ignores write()'s answer (exceljs StreamBuf), piped into the zip entry's stream; when deflate is
 * slower than the rows come (a busy machine), that stream's buffer grows without bound (measured: 786
 * MB peak for 1,000,000 rows). So after each page, while more than BACKLOG_BYTES wait for it to drain
 * (at most 5 s a time, so a sheet the zip has not reached yet never blocks us). Reads internals of
 * exceljs 4.4 (`worksheet.stream.pipes`: archiver's readable-stream PassThrough, `_writableState`):
 * without them it only yields to the event loop.
 */
const BACKLOG_BYTES = 4 * 1024 * 1024;
async function zipCaughtUp(sheet: ExcelJS.Worksheet | undefined): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  type Pipe = NodeJS.EventEmitter & { _writableState?: { length?: number } };
  const pipe = (sheet as unknown as { stream?: { pipes?: Pipe[] } } | undefined)?.stream?.pipes?.[0];
  if (!pipe || (pipe._writableState?.length ?? 0) < BACKLOG_BYTES) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    new Promise((resolve) => pipe.once("drain", resolve)),
    new Promise((resolve) => {
      timer = setTimeout(resolve, 5_000);
    }),
  ]);
  clearTimeout(timer);
}

function cellValue(cell: Cell): ExcelJS.CellValue {
  if (cell instanceof TimeCell) return cell.local;
  if (cell instanceof MajorCell) return cell.value;
  if (typeof cell === "string") return neutralise(cell);
  return cell;
}
