/**
 * A small Upstash-REST-compatible endpoint backed by a real Redis, so the unmodified
 * `@upstash/redis` client can be exercised in tests.
 *
 * What @upstash/redis 1.x sends and expects (see its pkg/http.ts):
 * - POST {base}/            body ["SET","k","v","px",1000]  → {"result": ...}
 * - POST {base}/pipeline    body [[cmd...], ...]            → [{"result": ...} | {"error": "..."}, ...]
 *   (auto-pipelining is on by default, so concurrent calls arrive here)
 * - POST {base}/multi-exec  same shape, executed as MULTI/EXEC
 * - `Authorization: Bearer <token>`; a non-2xx reply must carry a JSON body with `error`
 * - header `Upstash-Encoding: base64` (the default `responseEncoding`): every string in the
 *   result, at any depth, must be base64 of its UTF-8 bytes. The client special-cases a
 *   top-level "OK" (kept as is), but inside arrays it base64-decodes every string, so a raw
 *   "OK" there would come back as garbage: only the top-level status "OK" is sent raw.
 * - args may be JSON numbers/booleans (the client's serializer passes numbers through).
 */
import { RedisClient } from "bun";

export interface UpstashCompatServer {
  url: string;
  token: string;
  stop(): Promise<void>;
}

type Reply = { result: unknown } | { error: string };

function toRedisArg(a: unknown): string {
  if (typeof a === "string") return a;
  if (typeof a === "number" || typeof a === "boolean" || typeof a === "bigint") return String(a);
  return JSON.stringify(a);
}

function parseCommand(raw: unknown): { cmd: string; args: string[] } {
  if (!Array.isArray(raw) || raw.length === 0) throw new Error("ERR a command must be a non-empty array");
  const [head, ...rest] = raw as unknown[];
  return { cmd: toRedisArg(head).toUpperCase(), args: rest.map(toRedisArg) };
}

/** Bun's client speaks RESP3; Upstash answers with RESP2 shapes. */
function toResp2(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(toResp2);
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (typeof v === "object") return Object.entries(v).flatMap(([k, x]) => [k, toResp2(x)]);
  return v;
}

function b64(s: string): string {
  return Buffer.from(s, "utf8").toString("base64");
}

function encodeDeep(v: unknown): unknown {
  if (typeof v === "string") return b64(v);
  if (Array.isArray(v)) return v.map(encodeDeep);
  return v;
}

function encodeResult(v: unknown, base64: boolean): unknown {
  const r = toResp2(v);
  if (!base64) return r;
  if (r === "OK") return r;
  return encodeDeep(r);
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

export async function startUpstashCompatServer(opts: { redisUrl: string; token: string }): Promise<UpstashCompatServer> {
  const redis = new RedisClient(opts.redisUrl, { connectionTimeout: 2000, maxRetries: 3 });
  await redis.connect();

  async function single(body: unknown, base64: boolean): Promise<Response> {
    let parsed: { cmd: string; args: string[] };
    try {
      parsed = parseCommand(body);
    } catch (e) {
      return json({ error: errorMessage(e) }, 400);
    }
    try {
      return json({ result: encodeResult(await redis.send(parsed.cmd, parsed.args), base64) });
    } catch (e) {
      return json({ error: errorMessage(e) }, 400);
    }
  }

  async function pipeline(body: unknown, base64: boolean): Promise<Response> {
    if (!Array.isArray(body) || body.length === 0) return json({ error: "ERR pipeline must be a non-empty array of commands" }, 400);
    // sent back to back on one connection: Redis runs them in order (not atomically)
    const settled = await Promise.allSettled(
      body.map(async (raw: unknown) => {
        const { cmd, args } = parseCommand(raw); // a bad entry fails alone, as {error}
        return redis.send(cmd, args);
      }),
    );
    const replies: Reply[] = settled.map((s) =>
      s.status === "fulfilled" ? { result: encodeResult(s.value, base64) } : { error: errorMessage(s.reason) },
    );
    return json(replies);
  }

  async function multiExec(body: unknown, base64: boolean): Promise<Response> {
    if (!Array.isArray(body) || body.length === 0) return json({ error: "ERR transaction must be a non-empty array of commands" }, 400);
    let commands: { cmd: string; args: string[] }[];
    try {
      commands = body.map(parseCommand);
    } catch (e) {
      return json({ error: errorMessage(e) }, 400);
    }
    // MULTI/EXEC state lives on the connection: use one of our own
    const tx = new RedisClient(opts.redisUrl, { connectionTimeout: 2000, autoReconnect: false });
    try {
      await tx.connect();
      await tx.send("MULTI", []);
      for (const { cmd, args } of commands) await tx.send(cmd, args).catch(() => undefined); // EXEC reports it
      const results: unknown = await tx.send("EXEC", []);
      if (!Array.isArray(results)) return json({ error: "ERR transaction aborted" }, 400);
      const replies: Reply[] = results.map((r: unknown) =>
        r instanceof Error ? { error: r.message } : { result: encodeResult(r, base64) },
      );
      return json(replies);
    } catch (e) {
      return json({ error: errorMessage(e) }, 400);
    } finally {
      tx.close();
    }
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      if (req.headers.get("authorization") !== `Bearer ${opts.token}`) {
        return json({ error: "Unauthorized" }, 401);
      }
      if (req.method !== "POST") return json({ error: "ERR only POST is supported" }, 405);
      let body: unknown;
      try {
        body = await req.json();
      } catch {
        return json({ error: "ERR request body is not JSON" }, 400);
      }
      const base64 = req.headers.get("upstash-encoding")?.toLowerCase() === "base64";
      const path = new URL(req.url).pathname.replace(/\/+$/, "");
      switch (path) {
        case "":
          return single(body, base64);
        case "/pipeline":
          return pipeline(body, base64);
        case "/multi-exec":
          return multiExec(body, base64);
        default:
          return json({ error: `ERR unsupported path ${path}` }, 404);
      }
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    token: opts.token,
    async stop() {
      await server.stop(true);
      redis.close();
    },
  };
}
