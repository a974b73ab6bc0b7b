import { describe, expect, test } from "bun:test";
import { MessageFramer, splitAtReadBoundaries } from "../../src/db/embedded/wire.ts";

function startup(): Buffer {
  const body = Buffer.from("\0\x03\0\0user\0postgres\0\0", "latin1");
  const b = Buffer.alloc(4 + body.length);
  b.writeInt32BE(4 + body.length, 0);
  body.copy(b, 4);
  return b;
}
function sslRequest(): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(8, 0);
  b.writeInt32BE(80877103, 4);
  return b;
}
function typed(type: string, payload: Buffer): Buffer {
  const b = Buffer.alloc(5 + payload.length);
  b.write(type, 0, "latin1");
  b.writeInt32BE(4 + payload.length, 1);
  payload.copy(b, 5);
  return b;
}

describe("wire MessageFramer", () => {
  test("holds back a typed message until every byte of it has arrived, then releases it whole", () => {
    const f = new MessageFramer();
    f.push(startup());
    expect(f.takeStartup()).toEqual(startup());
    const query = typed("Q", Buffer.from(`${"x".repeat(200_000)}\0`));
    // delivered in 64 KB reads, as TCP does
    for (let i = 0; i < query.length; i += 65_536) {
      f.push(query.subarray(i, Math.min(query.length, i + 65_536)));
      if (i + 65_536 < query.length) expect(f.take()).toBeUndefined();
    }
    expect(f.take()).toEqual(query);
    expect(f.take()).toBeUndefined();
  });

  test("holds an extended-protocol group cut before its Sync until the Sync arrives (PGlite answers a group only at Sync)", () => {
    const f = new MessageFramer();
    f.push(startup());
    f.takeStartup();
    const parse = typed("P", Buffer.from("\0select 1\0\0\0"));
    const bind = typed("B", Buffer.from("\0\0\0\0\0\0\0\0"));
    const execute = typed("E", Buffer.from("\0\0\0\0\0"));
    const sync = typed("S", Buffer.alloc(0));
    f.push(Buffer.concat([parse, bind, execute]));
    expect(f.take()).toBeUndefined();
    f.push(sync);
    expect(f.take()).toEqual(Buffer.concat([parse, bind, execute, sync]));
  });

  test("releases every complete message of a read together and keeps the incomplete tail", () => {
    const f = new MessageFramer();
    f.push(startup());
    f.takeStartup();
    const parse = typed("P", Buffer.from("\0select 1\0\0\0"));
    const sync = typed("S", Buffer.alloc(0));
    const next = typed("Q", Buffer.from("select 2\0"));
    f.push(Buffer.concat([parse, sync, next.subarray(0, 3)]));
    expect(f.take()).toEqual(Buffer.concat([parse, sync]));
    f.push(next.subarray(3));
    expect(f.take()).toEqual(next);
  });

  test("treats an SSL request as a startup-phase packet and the following startup packet too", () => {
    const f = new MessageFramer();
    const s = startup();
    f.push(Buffer.concat([sslRequest(), s.subarray(0, 5)]));
    expect(f.takeStartup()).toEqual(sslRequest());
    expect(f.inStartup).toBe(true);
    expect(f.takeStartup()).toBeUndefined();
    f.push(s.subarray(5));
    expect(f.takeStartup()).toEqual(s);
    expect(f.inStartup).toBe(false);
  });

  test("rejects a length below the 4-byte minimum instead of waiting forever", () => {
    const f = new MessageFramer();
    f.push(startup());
    f.takeStartup();
    const bad = Buffer.from([0x51, 0, 0, 0, 2]);
    f.push(bad);
    expect(() => f.take()).toThrow(/bad message length 2/);
  });
});

describe("splitAtReadBoundaries", () => {
  test("cuts a group after every message that ends on a multiple of 8192 bytes of its call, and nowhere else", () => {
    const bind = typed("B", Buffer.alloc(16_384 - 5));
    const execute = typed("E", Buffer.alloc(5));
    const sync = typed("S", Buffer.alloc(0));
    expect(splitAtReadBoundaries(Buffer.concat([bind, execute, sync]))).toEqual([bind, Buffer.concat([execute, sync])]);
    // offsets count from each call's start: after a cut at 8192, the next cut is 8192 bytes later
    const a = typed("B", Buffer.alloc(8_192 - 5));
    const b = typed("B", Buffer.alloc(8_192 - 5));
    expect(splitAtReadBoundaries(Buffer.concat([a, b, sync]))).toEqual([a, b, sync]);
    // a group ending on the boundary is not cut; nor is one whose boundaries miss it
    expect(splitAtReadBoundaries(bind)).toEqual([bind]);
    const small = Buffer.concat([typed("B", Buffer.alloc(100)), execute, sync]);
    expect(splitAtReadBoundaries(small)).toEqual([small]);
  });
});

describe("wire server", () => {
  test("drops the client's connection when the engine fails on a message, instead of leaving it waiting for an answer", async () => {
    const { WireServer } = await import("../../src/db/embedded/wire.ts");
    const errors: unknown[] = [];
    let calls = 0;
    const server = new WireServer({
      // an engine that answers the startup packet, then fails (as PGlite does on an internal error)
      db: {
        execProtocolRaw: async () => {
          calls += 1;
          if (calls === 1) return new Uint8Array([0x5a, 0, 0, 0, 5, 0x49]); // ReadyForQuery (idle)
          throw new Error("engine failed");
        },
        exec: async () => undefined,
      },
      host: "127.0.0.1",
      port: 0,
      queueTimeoutMs: 1_000,
      onError: (err) => errors.push(err),
    });
    await server.start();
    try {
      const { connect } = await import("node:net");
      const socket = connect(server.port, "127.0.0.1");
      const closed = new Promise<string>((resolve) => socket.on("close", () => resolve("closed")));
      const replies: Buffer[] = [];
      socket.on("data", (d) => replies.push(d));
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      socket.write(startup());
      await Bun.sleep(50);
      socket.write(typed("Q", Buffer.from("select 1\0")));
      const outcome = await Promise.race([closed, Bun.sleep(2_000).then(() => "still open")]);
      expect(outcome).toBe("closed");
      expect(Buffer.concat(replies)).toEqual(Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
      expect(String(errors[0])).toContain("engine failed");
    } finally {
      await server.stop();
    }
  });
});
