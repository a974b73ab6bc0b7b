/**
 * Page writers: what the export worker hands each answer page to (worker.ts).
 *
 * - inProcessWriter: rows.ts and the format writer on the worker's own thread (PDF, and any export of
 *   a single answer: a thread would cost more to start than it saves);
 * - threadedWriter: a list exported as CSV or XLSX. Turning pages into rows and rows into the file runs
 *   on a writer thread (writer-thread.ts) while the main thread reads the next pages: on the embedded
 *   engine one thread did both and was the bottleneck (bench:exports). At most MAX_PAGES_IN_FLIGHT
 *   pages wait for the thread (memory stays bounded); the file's bytes come back chunk by chunk into
 *   `out` (the byte counter in front of storage), each acknowledged once `out` took it, so the
 *   thread's writer feels storage's backpressure. A failure on either side rejects what waits on the
 *   other; close() stops the thread.
 */
import type { Writable } from "node:stream";
import { finished } from "./storage/storage.ts";
import type { ExportFormat, ReportMeta, ReportWriter, WriterOptions } from "./formats/writer.ts";
import type { TableLayout } from "./layout.ts";
import { rowsOf } from "./rows.ts";

/**
 * Above this resident size (the process's: both threads' heaps) a thread runs a full garbage
 * collection of its own heap between two pages, at most once a second: JavaScriptCore otherwise lets
 * the garbage of a long export (pages, rows, XML) grow to 2-3 × the live heap (measured, one thread:
 * XLSX of 200,000 rows peaks at 330 MB without, 220 MB with it; with the writer thread, 128 MB kept
 * most runs at 249-295 MB, XLSX of 1,000,000 rows twice at 300-307 MB, where 160 MB let them reach
 * 290-315 MB, at no cost in speed).
 */
const GC_ABOVE_BYTES = 128 * 1024 * 1024;
let lastGc = 0;
export function collectIfLarge(): void {
  if (typeof Bun === "undefined" || process.memoryUsage.rss() < GC_ABOVE_BYTES || Date.now() - lastGc < 1_000) return;
  lastGc = Date.now();
  Bun.gc(true);
}

export interface PageWriter {
  /** a table begins; `main`: the export's main table */
  begin(table: TableLayout, main: boolean): Promise<void>;
  /** an answer page's rows of `table`; may resolve before they are written (see rowsWritten) */
  page(table: TableLayout, body: unknown, timezone: string): Promise<void>;
  /** rows written so far */
  readonly rowsWritten: number;
  /** resolves once every page handed over is written (rowsWritten counts them all) */
  settled(): Promise<void>;
  /** the file is complete; resolves once every byte reached `out` */
  end(): Promise<void>;
  /** let go of what the writer holds (a thread); after end() or on failure */
  close(): void;
}

/** rows handed to the format writer at a time (in process: with a turn of the event loop between, so the next page's reads move on) */
export const SLICE = 500;

export function inProcessWriter(writer: ReportWriter): PageWriter {
  let rowsWritten = 0;
  return {
    begin: (table, main) => writer.begin(table, main),
    async page(table, body, timezone) {
      const rows = rowsOf(table, body, timezone);
      for (let i = 0; i < rows.length; i += SLICE) {
        await writer.rows(rows.length <= SLICE ? rows : rows.slice(i, i + SLICE));
        rowsWritten += Math.min(SLICE, rows.length - i);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    },
    get rowsWritten() {
      return rowsWritten;
    },
    settled: async () => undefined,
    end: () => writer.end(),
    close: () => undefined,
  };
}

/** the formats a writer thread writes (a PDF is laid out in process) */
export type ThreadFormat = Extract<ExportFormat, "csv" | "xlsx">;

/** main thread → writer thread */
export type ThreadRequest =
  | { t: "open"; format: ThreadFormat; meta: ReportMeta; maxRowsPerSheet?: number }
  | { t: "begin"; table: TableLayout; main: boolean }
  | { t: "page"; table: TableLayout; json: string; timezone: string }
  | { t: "end" }
  | { t: "written"; id: number };

/** writer thread → main thread */
export type ThreadReply =
  | { t: "chunk"; id: number; bytes: Uint8Array }
  | { t: "eof" }
  | { t: "ack"; rows: number }
  | { t: "ended" }
  | { t: "error"; message: string };

/** pages handed to the thread and not yet written, at most */
export const MAX_PAGES_IN_FLIGHT = 2;

export function threadedWriter(format: ThreadFormat, opts: WriterOptions): PageWriter {
  const out: Writable = opts.out;
  const thread = new Worker(new URL("./writer-thread.ts", import.meta.url).href);
  let failure: Error | undefined;
  let rowsWritten = 0;
  let inFlight = 0;
  /** callers waiting for a page's acknowledgement, or for the end */
  let waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  let ended: { resolve: () => void; reject: (err: Error) => void } | undefined;

  const fail = (err: Error) => {
    if (failure) return;
    failure = err;
    for (const w of waiters) w.reject(err);
    waiters = [];
    ended?.reject(err);
  };
  const send = (m: ThreadRequest) => {
    if (failure) throw failure;
    thread.postMessage(m);
  };
  out.once("error", (err) => fail(err));
  thread.onerror = (e) => fail(new Error(`the export writer thread failed: ${e.message}`));
  thread.onmessage = (e: MessageEvent<ThreadReply>) => {
    const m = e.data;
    switch (m.t) {
      case "chunk": {
        const written = () => {
          if (!failure) thread.postMessage({ t: "written", id: m.id } satisfies ThreadRequest);
        };
        if (out.write(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength))) written();
        else out.once("drain", written);
        return;
      }
      case "eof":
        out.end();
        return;
      case "ack": {
        rowsWritten += m.rows;
        inFlight -= 1;
        const w = waiters.shift();
        w?.resolve();
        return;
      }
      case "ended":
        ended?.resolve();
        return;
      case "error":
        fail(new Error(m.message));
        return;
    }
  };
  send({ t: "open", format, meta: opts.meta, maxRowsPerSheet: opts.maxRowsPerSheet });

  const acknowledged = () =>
    new Promise<void>((resolve, reject) => {
      if (failure) reject(failure);
      else waiters.push({ resolve, reject });
    });

  return {
    async begin(table, main) {
      send({ t: "begin", table, main });
    },
    async page(table, body, timezone) {
      // as JSON text: the main thread's busiest step was cloning the page for postMessage (measured:
      // a quarter of its time); JSON.stringify costs a fraction of that, and the thread parses it
      send({ t: "page", table, json: JSON.stringify(body), timezone });
      inFlight += 1;
      // the oldest page's acknowledgement before the next one comes: memory stays bounded
      if (inFlight >= MAX_PAGES_IN_FLIGHT) await acknowledged();
    },
    get rowsWritten() {
      return rowsWritten;
    },
    async settled() {
      while (inFlight > 0) await acknowledged();
    },
    async end() {
      const done = new Promise<void>((resolve, reject) => {
        if (failure) reject(failure);
        else ended = { resolve, reject };
      });
      send({ t: "end" });
      await done;
      await finished(out);
    },
    close() {
      thread.terminate();
    },
  };
}
