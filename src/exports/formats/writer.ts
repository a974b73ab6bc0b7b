/**
 * What every format writer does: tables in, one file out (streamed into `out`). The main table comes
 * first, its rows page by page; the other tables of the answer follow (CSV keeps only the main one).
 */
import type { Writable } from "node:stream";
import type { TableLayout } from "../layout.ts";
import type { Cell } from "../rows.ts";

export type ExportFormat = "csv" | "xlsx" | "pdf";
export const FORMATS = ["csv", "xlsx", "pdf"] as const satisfies readonly ExportFormat[];

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: "text/csv; charset=utf-8",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  pdf: "application/pdf",
};

/** what the file says about itself (XLSX: the parameters sheet; PDF: the heading) */
export interface ReportMeta {
  operation: string;
  /** the operation's summary: the report's title */
  title: string;
  tenantId: string;
  params: Record<string, string>;
  timezone: string;
  asOf: string | null;
  watermark: string | null;
  scoredAt: string | null;
  generatedAt: string;
}

export interface ReportWriter {
  /** a table begins; `main`: the export's main table */
  begin(table: TableLayout, main: boolean): Promise<void>;
  /** rows of the current table, in column order */
  rows(rows: Cell[][]): Promise<void>;
  /** the file is complete (every table written); resolves once all bytes reached `out` */
  end(): Promise<void>;
}

export interface WriterOptions {
  out: Writable;
  meta: ReportMeta;
  /** XLSX: rows per sheet before the next sheet (default: Excel's limit, 1,048,576 with the header) */
  maxRowsPerSheet?: number;
}

/** resolves once `stream` may take more (or at once) */
export function drained(stream: Writable, ok: boolean): Promise<void> {
  if (ok) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      stream.off("error", onError);
      resolve();
    };
    const onError = (err: Error) => {
      stream.off("drain", onDrain);
      reject(err);
    };
    stream.once("drain", onDrain);
    stream.once("error", onError);
  });
}

/**
 * A format's writer, its module loaded on first use, so that a process or thread loads only the
 * libraries of the formats it writes: pdfkit with fontkit costs ~45 MB resident, exceljs ~35 MB
 * (measured one by one in a fresh Bun process), which a CSV export then does not carry.
 */
export async function loadWriter(format: ExportFormat): Promise<(opts: WriterOptions) => ReportWriter> {
  switch (format) {
    case "csv":
      return (await import("./csv.ts")).csvWriter;
    case "xlsx":
      return (await import("./xlsx.ts")).xlsxWriter;
    case "pdf":
      return (await import("./pdf.ts")).pdfWriter;
  }
}
