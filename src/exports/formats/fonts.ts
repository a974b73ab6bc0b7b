/**
 * The PDF fonts, embedded (pdfkit subsets them): DejaVu Sans (regular and bold: Latin, Greek,
 * Cyrillic, Armenian, Georgian, Hebrew, Arabic…) from the dejavu-fonts-ttf package, and GNU
 * UnifontEX (@fontsource/unifontex: nearly every code point of the Basic Multilingual Plane, CJK,
 * Hangul, Thai and Indic scripts included) for the characters DejaVu Sans lacks. drawText splits a
 * string into runs by which font has the glyph, so a name in any script renders; it never wraps:
 * text wider than its box is cut with an ellipsis.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as fontkit from "fontkit";

const require = createRequire(import.meta.url);
const DEJAVU = dirname(require.resolve("dejavu-fonts-ttf/package.json"));
const PATHS = {
  main: join(DEJAVU, "ttf", "DejaVuSans.ttf"),
  bold: join(DEJAVU, "ttf", "DejaVuSans-Bold.ttf"),
  wide: require.resolve("@fontsource/unifontex/files/unifontex-latin-400-normal.woff"),
};
export const FONT_MAIN = "pulse-main";
export const FONT_BOLD = "pulse-bold";
const FONT_WIDE = "pulse-wide";

let coverage: fontkit.Font | undefined;

export function registerFonts(doc: PDFKit.PDFDocument): void {
  doc.registerFont(FONT_MAIN, PATHS.main);
  doc.registerFont(FONT_BOLD, PATHS.bold);
  doc.registerFont(FONT_WIDE, PATHS.wide);
  doc.font(FONT_MAIN);
}

/** runs of text, each with the font that has its glyphs */
export function fontRuns(text: string, bold = false): Array<{ font: string; text: string }> {
  coverage ??= fontkit.openSync(PATHS.main);
  const base = bold ? FONT_BOLD : FONT_MAIN;
  const runs: Array<{ font: string; text: string }> = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    // controls never render; DejaVu lacks a glyph ⇒ Unifont
    const font = cp < 0x20 ? base : coverage.hasGlyphForCodePoint(cp) ? base : FONT_WIDE;
    const c = cp < 0x20 ? " " : ch;
    const last = runs[runs.length - 1];
    if (last && last.font === font) last.text += c;
    else runs.push({ font, text: c });
  }
  return runs;
}

function widthOf(doc: PDFKit.PDFDocument, runs: Array<{ font: string; text: string }>, size: number): number {
  let w = 0;
  for (const r of runs) w += doc.font(r.font).fontSize(size).widthOfString(r.text);
  return w;
}

/** one line of text at (x, y) in a box `width` wide, cut with "…" when it does not fit */
export function drawText(
  doc: PDFKit.PDFDocument,
  text: string,
  x: number,
  y: number,
  o: { width: number; size: number; bold?: boolean; align?: "left" | "right" },
): void {
  let runs = fontRuns(text, o.bold);
  let w = widthOf(doc, runs, o.size);
  if (w > o.width) {
    const chars = [...text];
    let lo = 0;
    let hi = chars.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (widthOf(doc, fontRuns(`${chars.slice(0, mid).join("")}…`, o.bold), o.size) <= o.width) lo = mid;
      else hi = mid - 1;
    }
    runs = fontRuns(`${chars.slice(0, lo).join("")}…`, o.bold);
    w = widthOf(doc, runs, o.size);
  }
  let cx = o.align === "right" ? x + Math.max(0, o.width - w) : x;
  const savedX = doc.x;
  const savedY = doc.y;
  for (const r of runs) {
    doc.font(r.font).fontSize(o.size).text(r.text, cx, y, { lineBreak: false });
    cx += doc.widthOfString(r.text);
  }
  doc.x = savedX;
  doc.y = savedY;
}
