/**
 * The PDF fonts, embedded (pdfkit subsets them): DejaVu Sans (regular and bold: Latin, Greek,
 * Cyrillic, Armenian, Georgian, Hebrew, Arabic…) from the dejavu-fonts-ttf package, and GNU
 * UnifontEX (@fontsource/unifontex: nearly every code point of the Basic Multilingual Plane, CJK,
 * Hangul, Thai and Indic scripts included) for the characters DejaVu Sans lacks. drawText splits a
 * string into runs by which font has the glyph, so a name in any script renders; it never wraps:
 * text wider than its box is cut with an ellipsis.
 *
 * UnifontEX ships as WOFF; fontkit inflates a WOFF table every time it reads a glyph from it (seconds
 * per string with this 65,000-glyph font), so it is converted to a plain TrueType buffer once per
 * process (woffToSfnt) and handed to pdfkit as that.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { inflateSync } from "node:zlib";
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
let wide: Buffer | undefined;

/** a WOFF 1.0 font as the TrueType/OpenType file it wraps (tables inflated, 4-byte aligned) */
export function woffToSfnt(woff: Buffer): Buffer {
  if (woff.toString("latin1", 0, 4) !== "wOFF") throw new Error("not a WOFF 1.0 font");
  const flavor = woff.readUInt32BE(4);
  const numTables = woff.readUInt16BE(12);
  const tables: Array<{ tag: number; checksum: number; data: Buffer }> = [];
  for (let i = 0; i < numTables; i++) {
    const e = 44 + i * 20;
    const offset = woff.readUInt32BE(e + 4);
    const compLength = woff.readUInt32BE(e + 8);
    const origLength = woff.readUInt32BE(e + 12);
    const raw = woff.subarray(offset, offset + compLength);
    tables.push({
      tag: woff.readUInt32BE(e),
      checksum: woff.readUInt32BE(e + 16),
      data: compLength < origLength ? inflateSync(raw) : Buffer.from(raw),
    });
  }
  const pow2 = 2 ** Math.floor(Math.log2(numTables));
  let offset = 12 + 16 * numTables;
  const parts: Buffer[] = [];
  const head = Buffer.alloc(offset);
  head.writeUInt32BE(flavor, 0);
  head.writeUInt16BE(numTables, 4);
  head.writeUInt16BE(pow2 * 16, 6);
  head.writeUInt16BE(Math.log2(pow2), 8);
  head.writeUInt16BE(numTables * 16 - pow2 * 16, 10);
  tables.forEach((t, i) => {
    const r = 12 + 16 * i;
    head.writeUInt32BE(t.tag, r);
    head.writeUInt32BE(t.checksum, r + 4);
    head.writeUInt32BE(offset, r + 8);
    head.writeUInt32BE(t.data.length, r + 12);
    const padded = Buffer.alloc((t.data.length + 3) & ~3);
    t.data.copy(padded);
    parts.push(padded);
    offset += padded.length;
  });
  return Buffer.concat([head, ...parts]);
}

export function registerFonts(doc: PDFKit.PDFDocument): void {
  wide ??= woffToSfnt(readFileSync(PATHS.wide));
  doc.registerFont(FONT_MAIN, PATHS.main);
  doc.registerFont(FONT_BOLD, PATHS.bold);
  doc.registerFont(FONT_WIDE, wide);
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

/** advance widths per font and character at size 1 (measuring by characters: cutting text needs no shaping) */
const advances = new WeakMap<PDFKit.PDFDocument, Map<string, number>>();

function widthOf(doc: PDFKit.PDFDocument, runs: Array<{ font: string; text: string }>, size: number): number {
  let cache = advances.get(doc);
  if (!cache) {
    cache = new Map();
    advances.set(doc, cache);
  }
  let w = 0;
  for (const r of runs) {
    for (const ch of r.text) {
      const key = `${r.font}\u0000${ch}`;
      let a = cache.get(key);
      if (a === undefined) {
        a = doc.font(r.font).fontSize(1).widthOfString(ch);
        cache.set(key, a);
      }
      w += a * size;
    }
  }
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
