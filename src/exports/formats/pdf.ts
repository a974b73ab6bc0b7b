/**
 * PDF through pdfkit: a heading (title, tenant, range, time zone, as_of, watermark), a chart for time
 * series (bars of the main table's net money column per bucket, first currency) and funnels (a bar
 * per step), then every table with its header repeated on each page, and "page i of n" on every page.
 * A4 landscape. Text is drawn in DejaVu Sans and, for characters it lacks (CJK, Thai, Indic…), in
 * GNU UnifontEX (fonts.ts), both embedded (subset), so names in any script render.
 * A PDF holds at most EXPORT_PDF_MAX_ROWS rows (checked before: see exports.queries.ts and worker.ts),
 * so the writer keeps the rows until end() and lays the document out then.
 */
import PDFDocument from "pdfkit";
import { finished } from "../storage/storage.ts";
import type { Column, TableLayout } from "../layout.ts";
import { type Cell, cellText, zonedTime } from "../rows.ts";
import { drawText, registerFonts } from "./fonts.ts";
import type { ReportMeta, ReportWriter, WriterOptions } from "./writer.ts";

const MARGIN = 36;
const ROW_H = 11;
const CELL_SIZE = 7;

interface Buffered {
  table: TableLayout;
  rows: Cell[][];
}

export function pdfWriter(opts: WriterOptions): ReportWriter {
  const tables: Buffered[] = [];
  return {
    async begin(table) {
      tables.push({ table, rows: [] });
    },
    async rows(rows) {
      tables[tables.length - 1]!.rows.push(...rows);
    },
    async end() {
      const doc = new PDFDocument({
        size: "A4",
        layout: "landscape",
        margin: MARGIN,
        bufferPages: true,
        info: { Title: opts.meta.title, Creator: "Pulse" },
      });
      doc.pipe(opts.out);
      registerFonts(doc);
      heading(doc, opts.meta);
      const main = tables[0];
      if (main) chart(doc, opts.meta.operation, main);
      for (const t of tables) table(doc, t);
      pageNumbers(doc);
      doc.end();
      await finished(opts.out);
    },
  };
}

function heading(doc: PDFKit.PDFDocument, m: ReportMeta): void {
  const width = doc.page.width - 2 * MARGIN;
  drawText(doc, m.title, MARGIN, MARGIN, { width, size: 15, bold: true });
  const range =
    m.params.from && m.params.to ? `${zonedTime(m.params.from, m.timezone).text} – ${zonedTime(m.params.to, m.timezone).text}` : "—";
  const lines = [
    `Operation: ${m.operation}    Tenant: ${m.tenantId}`,
    `Range: ${range}    Time zone: ${m.timezone}`,
    `As of: ${m.asOf ?? "—"}    Watermark: ${m.watermark ?? "—"}${m.scoredAt ? `    Scored at: ${m.scoredAt}` : ""}    Generated: ` +
      `${m.generatedAt}`,
    `Parameters: ${
      Object.entries(m.params)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ") || "—"
    }`,
  ];
  let y = MARGIN + 22;
  for (const line of lines) {
    drawText(doc, line, MARGIN, y, { width, size: 8.5 });
    y += 12;
  }
  doc.y = y + 6;
}

const isNumber = (c: Cell): c is number => typeof c === "number";

/** the bars of a time series (net money column of the first currency) or a funnel (count per step) */
function chart(doc: PDFKit.PDFDocument, operation: string, t: Buffered): void {
  const cols = t.table.columns;
  let points: Array<{ label: string; value: number }> = [];
  let title = "";
  if (operation === "getConversionFunnel") {
    const label = cols.findIndex((c) => c.key === "type");
    const value = cols.findIndex((c) => c.key === "count");
    if (label < 0 || value < 0) return;
    points = t.rows.map((r) => ({ label: cellText(r[label]!), value: isNumber(r[value]!) ? (r[value] as number) : 0 }));
    title = "Funnel: count per step";
  } else if (cols[0]?.kind === "time") {
    const value = pick(cols);
    if (value < 0) return;
    const currency = cols.findIndex((c) => c.key === "currency");
    const first = currency >= 0 ? t.rows.find((r) => r[currency] !== null)?.[currency] : undefined;
    const rows = currency >= 0 ? t.rows.filter((r) => r[currency] === first) : t.rows;
    points = rows.map((r) => ({ label: cellText(r[0]!).slice(0, 16), value: isNumber(r[value]!) ? (r[value] as number) : 0 }));
    title = `${cols[value]!.key} per ${cols[0]!.key}${first ? ` (${String(first)})` : ""}`;
  }
  if (points.length === 0) return;
  const x0 = MARGIN;
  const width = doc.page.width - 2 * MARGIN;
  const height = 150;
  const y0 = doc.y;
  drawText(doc, title, x0, y0, { width, size: 9, bold: true });
  const top = y0 + 14;
  const max = Math.max(1, ...points.map((p) => Math.abs(p.value)));
  doc.save().lineWidth(0.5).strokeColor("#888888");
  doc
    .moveTo(x0, top + height)
    .lineTo(x0 + width, top + height)
    .stroke();
  doc.restore();
  if (operation === "getConversionFunnel") {
    const barH = Math.min(22, (height - 4) / points.length - 4);
    points.forEach((p, i) => {
      const y = top + i * (barH + 4);
      const w = Math.max(1, ((width - 160) * Math.abs(p.value)) / max);
      doc
        .save()
        .fillColor("#4F81BD")
        .rect(x0 + 150, y, w, barH)
        .fill()
        .restore();
      drawText(doc, p.label, x0, y + barH / 2 - 4, { width: 145, size: 8 });
      drawText(doc, String(p.value), x0 + 154 + w, y + barH / 2 - 4, { width: 80, size: 8 });
    });
  } else {
    const slot = width / points.length;
    const barW = Math.max(0.5, slot * 0.8);
    points.forEach((p, i) => {
      const h = (height * Math.abs(p.value)) / max;
      doc
        .save()
        .fillColor(p.value < 0 ? "#C0504D" : "#4F81BD")
        .rect(x0 + i * slot + (slot - barW) / 2, top + height - h, barW, h)
        .fill()
        .restore();
    });
    drawText(doc, `max ${max}`, x0, top - 2, { width: 200, size: 7 });
    drawText(doc, points[0]!.label, x0, top + height + 2, { width: 150, size: 7 });
    drawText(doc, points[points.length - 1]!.label, x0 + width - 150, top + height + 2, { width: 150, size: 7, align: "right" });
  }
  doc.y = top + height + 18;
}

/** the money column to chart: net_minor, else the first *_minor, else the first integer */
function pick(cols: Column[]): number {
  const net = cols.findIndex((c) => c.key === "net_minor");
  if (net >= 0) return net;
  const minor = cols.findIndex((c) => c.key.endsWith("_minor"));
  if (minor >= 0) return minor;
  return cols.findIndex((c) => c.kind === "integer" || c.kind === "number");
}

const WEIGHT: Record<string, number> = { text: 2, time: 3, list: 2, integer: 1.1, number: 1.1, major: 1.1, boolean: 0.8 };

function table(doc: PDFKit.PDFDocument, t: Buffered): void {
  const width = doc.page.width - 2 * MARGIN;
  const bottom = doc.page.height - MARGIN - 14;
  const weights = t.table.columns.map((c) => WEIGHT[c.kind] ?? 1);
  const total = weights.reduce((a, b) => a + b, 0);
  const widths = weights.map((w) => (width * w) / total);
  const right = t.table.columns.map((c) => c.kind === "integer" || c.kind === "number" || c.kind === "major");
  const header = () => {
    doc.save().fillColor("#DCE6F1").rect(MARGIN, doc.y, width, ROW_H).fill().restore();
    let x = MARGIN;
    t.table.columns.forEach((c, i) => {
      drawText(doc, c.key, x + 1, doc.y + 2, { width: widths[i]! - 2, size: CELL_SIZE, bold: true, align: right[i] ? "right" : "left" });
      x += widths[i]!;
    });
    doc.y += ROW_H;
  };
  if (doc.y + 3 * ROW_H + 16 > bottom) doc.addPage();
  drawText(doc, `${t.table.name} (${t.rows.length} rows)`, MARGIN, doc.y + 4, { width, size: 10, bold: true });
  doc.y += 18;
  header();
  for (const row of t.rows) {
    if (doc.y + ROW_H > bottom) {
      doc.addPage();
      doc.y = MARGIN;
      header();
    }
    let x = MARGIN;
    row.forEach((cell, i) => {
      drawText(doc, cellText(cell), x + 1, doc.y + 2, { width: widths[i]! - 2, size: CELL_SIZE, align: right[i] ? "right" : "left" });
      x += widths[i]!;
    });
    doc.y += ROW_H;
  }
  doc.y += 10;
}

function pageNumbers(doc: PDFKit.PDFDocument): void {
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0; // writing in the margin must not start a new page
    drawText(doc, `page ${i + 1 - range.start} of ${range.count}`, MARGIN, doc.page.height - MARGIN + 8, {
      width: doc.page.width - 2 * MARGIN,
      size: 7,
      align: "right",
    });
    doc.page.margins.bottom = bottom;
  }
}
