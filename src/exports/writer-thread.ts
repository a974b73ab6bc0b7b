/**
 * The export writer thread (a Worker started by threaded.ts): turns answer pages into rows (rows.ts)
 * and rows into CSV or XLSX (formats/), so that the worker's main thread only reads pages. The bytes
 * go back to the main thread chunk by chunk, each one acknowledged once the main thread's stream took
 * it: backpressure from storage reaches this thread's writer. Messages are handled one at a time, in
 * order; the protocol (ThreadRequest / ThreadReply) is in threaded.ts.
 */
import { Writable } from "node:stream";
import { loadWriter, type ReportWriter } from "./formats/writer.ts";
import { rowsOf } from "./rows.ts";
import { collectIfLarge, SLICE, type ThreadReply, type ThreadRequest } from "./threaded.ts";

declare const self: {
  postMessage(message: ThreadReply, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ThreadRequest>) => void) | null;
};

const post = (message: ThreadReply, transfer?: Transferable[]) => self.postMessage(message, transfer);
let writer: ReportWriter | undefined;
/** chunks sent to the main thread and not yet taken by its stream: their write callbacks */
const sent = new Map<number, (err?: Error | null) => void>();
let nextChunk = 0;

function output(): Writable {
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _enc, cb) {
      const id = nextChunk++;
      sent.set(id, cb);
      const bytes = new Uint8Array(chunk); // a copy of its own, transferred (a Buffer may be a view of a shared pool)
      post({ t: "chunk", id, bytes }, [bytes.buffer]);
    },
    final(cb) {
      post({ t: "eof" });
      cb();
    },
  });
}

async function handle(m: ThreadRequest): Promise<void> {
  switch (m.t) {
    case "open":
      writer = (await loadWriter(m.format))({ out: output(), meta: m.meta, maxRowsPerSheet: m.maxRowsPerSheet });
      return;
    case "begin":
      await writer!.begin(m.table, m.main);
      return;
    case "page": {
      const rows = rowsOf(m.table, JSON.parse(m.json), m.timezone);
      for (let i = 0; i < rows.length; i += SLICE) await writer!.rows(rows.length <= SLICE ? rows : rows.slice(i, i + SLICE));
      post({ t: "ack", rows: rows.length });
      collectIfLarge();
      return;
    }
    case "end":
      await writer!.end();
      post({ t: "ended" });
      return;
    case "written":
      return; // handled at once, see onmessage
  }
}

let chain: Promise<void> = Promise.resolve();
let failed = false;
self.onmessage = (event) => {
  const m = event.data;
  if (m.t === "written") {
    // a chunk's acknowledgement must not wait behind the page whose write is waiting for it
    const cb = sent.get(m.id);
    sent.delete(m.id);
    cb?.();
    return;
  }
  chain = chain.then(async () => {
    if (failed) return;
    try {
      await handle(m);
    } catch (err) {
      failed = true;
      post({ t: "error", message: err instanceof Error ? err.message : String(err) });
    }
  });
};
