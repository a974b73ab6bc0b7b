/**
 * An answer's JSON → table rows of typed cells, for the format writers (formats/):
 * - money: the integer minor units as they are, plus the formatted major-unit value in the row's
 *   currency (lib/currency.ts exponent: EUR 2 ⇒ 1234 → "12.34", JPY 0, KWD 3);
 * - times: ISO-8601 with the requested time zone's offset at that instant
 *   ("2026-03-29T03:00:00+02:00" in Europe/Berlin), and the local wall-clock time for typed
 *   spreadsheet dates;
 * - text from event data is neutralised for spreadsheets by the writers (neutralise()).
 */
import { utcOffsetMs } from "../lib/zones.ts";
import { isCurrency, minorExponent } from "../lib/currency.ts";
import type { Column, TableLayout } from "./layout.ts";

/** an instant: its ISO-8601 text with the zone's offset, and the local wall-clock time (as a Date whose UTC fields are local) */
export class TimeCell {
  constructor(
    readonly text: string,
    /** the local wall-clock time as ms since the epoch (what `local` holds) */
    readonly localMs: number,
  ) {}

  /** made when asked for (XLSX's typed dates): CSV and PDF need only the text */
  get local(): Date {
    return new Date(this.localMs);
  }
}

/** a major-unit amount: its exact decimal text and its value with the currency's decimals */
export class MajorCell {
  constructor(
    readonly text: string,
    readonly value: number,
    readonly decimals: number,
  ) {}
}

export type Cell = string | number | boolean | null | TimeCell | MajorCell;

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, "0");

/** the zone's UTC offset in minutes at an instant, from Intl (the slow part: see offsetAt) */
function intlOffset(tz: string, ms: number): number {
  return Math.round(utcOffsetMs(tz, ms) / 60_000);
}

/** offsets per zone and quarter hour (zones change their offset on quarter hours at the finest) */
const offsets = new Map<string, Map<number, number>>();
const QUARTER_MS = 900_000;

function offsetAt(tz: string, ms: number): number {
  if (tz === "UTC") return 0;
  let m = offsets.get(tz);
  if (!m) {
    m = new Map();
    offsets.set(tz, m);
  }
  const slot = Math.floor(ms / QUARTER_MS);
  let off = m.get(slot);
  if (off === undefined) {
    if (m.size > 50_000) m.clear();
    off = intlOffset(tz, slot * QUARTER_MS);
    m.set(slot, off);
  }
  return off;
}

/** an instant in a time zone: "2026-10-25T02:30:00+01:00" (milliseconds only when not zero) */
export function zonedTime(instant: string | Date, tz: string): TimeCell {
  return typeof instant === "string" ? zonedText(instant, Date.parse(instant), tz) : zonedAt(instant.getTime(), tz);
}

/** an instant given as ISO-8601 text (`ms` its Date.parse): in UTC, a canonical "…T…​.sssZ" text is rewritten without a Date */
function zonedText(iso: string, ms: number, tz: string): TimeCell {
  if (tz === "UTC" && iso.length === 24 && iso[10] === "T" && iso[19] === "." && iso[23] === "Z") {
    return new TimeCell(`${iso.slice(0, 19)}${iso.startsWith(".000", 19) ? "" : iso.slice(19, 23)}+00:00`, ms);
  }
  return zonedAt(ms, tz);
}

function zonedAt(ms: number, tz: string): TimeCell {
  const offsetMin = offsetAt(tz, ms);
  const localMs = ms + offsetMin * 60_000;
  const iso = new Date(localMs).toISOString(); // "YYYY-MM-DDTHH:mm:ss.sssZ" of the wall-clock time
  const sign = offsetMin < 0 ? "-" : "+";
  const millis = iso.startsWith(".000", 19) ? "" : iso.slice(19, 23);
  const text = `${iso.slice(0, 19)}${millis}${sign}${pad(Math.trunc(offsetMin / 60))}:${pad(offsetMin % 60)}`;
  return new TimeCell(text, localMs);
}

/** minor units → the major-unit decimal ("-12.05" for -1205 EUR); undefined for an unknown currency */
export function majorAmount(minor: number, currency: unknown): MajorCell | undefined {
  if (!isCurrency(currency)) return undefined;
  const e = minorExponent(currency);
  if (!Number.isInteger(minor)) {
    const text = (minor / 10 ** e).toFixed(e);
    return new MajorCell(text, Number(text), e);
  }
  const digits = String(Math.abs(minor)).padStart(e + 1, "0");
  const text = `${minor < 0 ? "-" : ""}${e === 0 ? digits : `${digits.slice(0, -e)}.${digits.slice(-e)}`}`;
  return new MajorCell(text, Number(text), e);
}

/** OWASP CSV injection: a text cell starting with = + - @ tab or CR is prefixed with ' so no spreadsheet evaluates it */
export function neutralise(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

function at(value: unknown, path: readonly string[]): unknown {
  let cur = value;
  for (const k of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function cellOf(c: Column, value: unknown, tz: string): Cell {
  if (value === undefined || value === null) return null;
  switch (c.kind) {
    case "time": {
      const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
      return Number.isFinite(ms) ? zonedText(value as string, ms, tz) : String(value);
    }
    case "integer":
    case "number":
      return typeof value === "number" ? value : Number(value);
    case "boolean":
      return Boolean(value);
    case "list":
      return Array.isArray(value) ? value.map(String).join(", ") : String(value);
    default:
      return typeof value === "string" ? value : JSON.stringify(value);
  }
}

/**
 * The rows of a table in an answer body, cells in column order. Levels are walked as nested loops
 * (an unrolled list with no element still gives its parent's row, with its own cells empty).
 */
export function rowsOf(table: TableLayout, body: unknown, tz: string): Cell[][] {
  const out: Cell[][] = [];
  const index = new Map(table.columns.map((c, i) => [c.key, i]));
  const elements: unknown[] = new Array(table.levels.length);
  const emit = () => {
    const row: Cell[] = table.columns.map((c) => (c.kind === "major" ? null : cellOf(c, at(elements[c.level], c.path), tz)));
    table.columns.forEach((c, i) => {
      if (c.kind !== "major") return;
      const minor = row[index.get(c.minorKey!)!];
      const currency = row[index.get(c.currencyKey!)!];
      row[i] = typeof minor === "number" ? (majorAmount(minor, currency) ?? null) : null;
    });
    out.push(row);
  };
  const walk = (depth: number, from: unknown) => {
    if (depth === table.levels.length) return emit();
    const level = table.levels[depth]!;
    const value = at(from, level.path);
    if (!level.array) {
      if (value === undefined || value === null) return;
      elements[depth] = value;
      return walk(depth + 1, value);
    }
    const list = Array.isArray(value) ? value : [];
    if (list.length === 0 && level.outer) {
      elements[depth] = undefined;
      return walk(depth + 1, undefined);
    }
    for (const item of list) {
      elements[depth] = item;
      walk(depth + 1, item);
    }
  };
  walk(0, body);
  return out;
}

/** the text of a cell (CSV, PDF) */
export function cellText(cell: Cell): string {
  if (cell === null) return "";
  if (cell instanceof TimeCell || cell instanceof MajorCell) return cell.text;
  return String(cell);
}
