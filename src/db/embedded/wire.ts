/**
 * A Postgres wire-protocol front for one PGlite instance, with message framing.
 *
 * Why not @electric-sql/pglite-socket 0.0.19 (the version that fits this PGlite build): it hands
 * every TCP read to PGlite as if it held whole protocol messages. A message larger than one read
 * (about 64 KB, e.g. a 500-row unnest insert) arrives in pieces and crashes the engine
 * ("Unreachable code"; upstream pglite PR #775, fixed later by #873 for PGlite 0.4+). It also runs
 * the reads of one socket concurrently. Here each connection buffers its bytes, cuts them into
 * complete messages (the untyped startup packet first, then 1-byte type + int32 length), and feeds
 * PGlite whole messages, one call at a time, answering in order.
 *
 * PGlite is one backend session, so one client connection is served at a time; others wait in a
 * queue (up to `queueTimeoutMs`). When a client goes away its session state is cleaned (an open
 * transaction rolled back, settings and prepared statements discarded) before the next one.
 */
import { createServer, type Server, type Socket } from "node:net";

export interface ProtocolEngine {
  execProtocolRaw(message: Uint8Array): Promise<Uint8Array>;
  exec(sql: string): Promise<unknown>;
}

export interface WireServerOptions {
  db: ProtocolEngine;
  host: string;
  port: number;
  queueTimeoutMs: number;
  /** a connection-level failure the parent should hear about (never a client's SQL error) */
  onError?: (err: unknown) => void;
  /**
   * SET statements that give each client its session defaults, run once before the first client and
   * again after every client's DISCARD ALL (which resets settings to the engine's own boot values)
   */
  sessionDefaults?: string;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
/** message types after which the backend answers: Sync, Query, Flush, Terminate, Password, CopyDone, CopyFail */
const ANSWERED = new Set([..."SQHXpcf"].map((c) => c.charCodeAt(0)));

/**
 * Cuts a byte stream into complete protocol messages. `take()` returns every complete message
 * buffered so far (concatenated, as PGlite accepts several in one call) or undefined.
 */
export class MessageFramer {
  private buf: Buffer = Buffer.alloc(0);
  private startup = true;

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** the next complete untyped startup-phase packet, or undefined */
  takeStartup(): Buffer | undefined {
    if (!this.startup || this.buf.length < 4) return undefined;
    const len = this.buf.readInt32BE(0);
    if (len < 4) throw new Error(`bad startup packet length ${len}`);
    if (this.buf.length < len) return undefined;
    const packet = this.buf.subarray(0, len);
    this.buf = this.buf.subarray(len);
    const code = len >= 8 ? packet.readInt32BE(4) : 0;
    // SSL/GSS negotiation and cancel requests come before (or instead of) the real startup packet
    if (code !== SSL_REQUEST && code !== GSSENC_REQUEST && code !== CANCEL_REQUEST) this.startup = false;
    return packet;
  }

  /**
   * The complete typed messages buffered, up to and including the last one after which the backend
   * answers (Sync, Query, Flush, Terminate, a password, the end of a COPY), or undefined: a client's
   * pipeline (Parse/Bind/Describe/Execute/Sync) goes to PGlite in one call however TCP cut it.
   */
  take(): Buffer | undefined {
    if (this.startup) return undefined;
    let end = 0;
    let cut = 0;
    while (this.buf.length - end >= 5) {
      const len = this.buf.readInt32BE(end + 1);
      if (len < 4) throw new Error(`bad message length ${len}`);
      if (this.buf.length - end < 1 + len) break;
      const type = this.buf[end]!;
      end += 1 + len;
      if (ANSWERED.has(type)) cut = end;
    }
    if (cut === 0) return undefined;
    const out = this.buf.subarray(0, cut);
    this.buf = this.buf.subarray(cut);
    return out;
  }

  get inStartup(): boolean {
    return this.startup;
  }
}

/**
 * PGlite's input buffer is read 8 KB at a time (PQ_RECV_BUFFER_SIZE): when a message ends exactly at
 * a multiple of 8192 bytes of one call's input and more messages follow, PGlite stops there and the
 * rest of the call's messages are never processed (a 253,952-byte Bind followed by Execute and Sync
 * got only BindComplete back, and the client waited forever). So a group is cut into calls at every
 * such boundary: each call then ends where PGlite stops.
 */
export function splitAtReadBoundaries(group: Buffer, readSize = 8192): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  let at = 0;
  while (at + 5 <= group.length) {
    at += 1 + group.readInt32BE(at + 1);
    if (at < group.length && (at - start) % readSize === 0) {
      parts.push(group.subarray(start, at));
      start = at;
    }
  }
  parts.push(group.subarray(start));
  return parts;
}

export class WireServer {
  private server: Server | undefined;
  private active: Socket | undefined;
  private readonly queue: Array<{ socket: Socket; timer: ReturnType<typeof setTimeout> }> = [];
  private stopped = false;
  private boundPort = 0;

  constructor(private readonly opts: WireServerOptions) {}

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    if (this.opts.sessionDefaults) await this.opts.db.exec(this.opts.sessionDefaults);
    const server = createServer((socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off("error", reject);
        const addr = server.address();
        this.boundPort = typeof addr === "object" && addr ? addr.port : this.opts.port;
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const q of this.queue.splice(0)) {
      clearTimeout(q.timer);
      q.socket.destroy();
    }
    this.active?.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onConnection(socket: Socket): void {
    socket.setNoDelay(true);
    if (this.stopped) {
      socket.destroy();
      return;
    }
    if (this.active) {
      const timer = setTimeout(() => {
        const i = this.queue.findIndex((q) => q.socket === socket);
        if (i >= 0) this.queue.splice(i, 1);
        socket.destroy();
      }, this.opts.queueTimeoutMs);
      this.queue.push({ socket, timer });
      // a queued client that gives up leaves the queue
      socket.once("close", () => {
        const i = this.queue.findIndex((q) => q.socket === socket);
        if (i >= 0) {
          clearTimeout(this.queue[i]!.timer);
          this.queue.splice(i, 1);
        }
      });
      socket.pause();
      return;
    }
    this.serve(socket);
  }

  private serve(socket: Socket): void {
    this.active = socket;
    const framer = new MessageFramer();
    let chain: Promise<void> = Promise.resolve();
    let closed = false;

    const run = (message: Buffer) => {
      chain = chain
        .then(async () => {
          if (closed) return;
          const reply = await this.opts.db.execProtocolRaw(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
          // a copy: PGlite answers in a view of its receive buffer, which its next call overwrites,
          // possibly before the socket has sent these bytes
          if (!closed && reply.length > 0) socket.write(Buffer.from(reply));
        })
        .catch((err) => {
          // the engine failed on this message: the client can no longer trust the session, so it is
          // dropped (the client sees a connection error and reconnects) instead of waiting forever
          this.opts.onError?.(err);
          socket.destroy();
        });
    };

    socket.on("data", (chunk: Buffer) => {
      try {
        framer.push(chunk);
        for (let p = framer.takeStartup(); p; p = framer.takeStartup()) run(Buffer.from(p));
        const messages = framer.take();
        if (messages) for (const part of splitAtReadBoundaries(Buffer.from(messages))) run(part);
      } catch (err) {
        this.opts.onError?.(err);
        socket.destroy();
      }
    });
    socket.on("error", () => socket.destroy());
    socket.once("close", () => {
      closed = true;
      // clean the session for the next client, after whatever this one had in flight
      const done = chain
        .catch((err) => this.opts.onError?.(err))
        // two calls: a multi-statement string is one implicit transaction, where DISCARD ALL cannot run
        .then(() => this.opts.db.exec("ROLLBACK"))
        .then(() => this.opts.db.exec("DISCARD ALL"))
        .then(() => (this.opts.sessionDefaults ? this.opts.db.exec(this.opts.sessionDefaults) : undefined))
        .catch((err) => this.opts.onError?.(err));
      void done.then(() => {
        if (this.active === socket) this.active = undefined;
        this.next();
      });
    });
    socket.resume();
  }

  private next(): void {
    while (!this.stopped && !this.active && this.queue.length > 0) {
      const q = this.queue.shift()!;
      clearTimeout(q.timer);
      if (q.socket.destroyed) continue;
      this.serve(q.socket);
    }
  }
}
