/** the part of fontkit (pdfkit's font engine, pinned in package.json) that fonts.ts uses */
declare module "fontkit" {
  export interface Font {
    hasGlyphForCodePoint(codePoint: number): boolean;
  }
  export function openSync(path: string): Font;
}
