/**
 * One contract, three drivers: memory, Redis (Bun's RedisClient) and Upstash REST
 * (the real @upstash/redis client against tests/helpers/upstash-server.ts, backed by the local Redis).
 * Needs a Redis on 127.0.0.1:6379.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Cache } from "../../../src/cache/cache.ts";
import { createCache } from "../../../src/cache/index.ts";
import { createMemoryCache } from "../../../src/cache/memory.ts";
import { createRedisCache } from "../../../src/cache/redis.ts";
import { createUpstashCache } from "../../../src/cache/upstash.ts";
import { startUpstashCompatServer, type UpstashCompatServer } from "../../helpers/upstash-server.ts";

const REDIS_URL = "redis://127.0.0.1:6379";
const TOKEN = `test-token-${crypto.randomUUID()}`;

let upstashServer: UpstashCompatServer | undefined;
const opened: Cache[] = [];
function track(c: Cache): Cache {
  opened.push(c);
  return c;
}

beforeAll(async () => {
  upstashServer = await startUpstashCompatServer({ redisUrl: REDIS_URL, token: TOKEN });
});

afterAll(async () => {
  // incr keys never expire: remove everything this run wrote to the shared Redis
  const janitor = createRedisCache(REDIS_URL);
  await Promise.allSettled([...written].map((key) => janitor.del(key)));
  await janitor.close();
  await Promise.allSettled(opened.map((c) => c.close()));
  await upstashServer?.stop();
});

function server(): UpstashCompatServer {
  if (!upstashServer) throw new Error("upstash compat server not started");
  return upstashServer;
}

const written = new Set<string>();
/** a fresh key namespace per test so runs (and drivers sharing one Redis) never collide */
function keys(): (name: string) => string {
  const prefix = `pulse:test:cache:${crypto.randomUUID()}:`;
  return (name) => {
    written.add(prefix + name);
    return prefix + name;
  };
}

function cacheContract(name: string, make: () => Cache): void {
  describe(`cache contract: ${name}`, () => {
    let cache: Cache;
    beforeAll(() => {
      cache = track(make());
    });

    test("reports its driver name", () => {
      expect(cache.driver).toBe(name as Cache["driver"]);
    });

    test("get returns null for a missing key", async () => {
      const k = keys();
      expect(await cache.get(k("missing"))).toBeNull();
    });

    test("set then get returns the value", async () => {
      const k = keys();
      await cache.set(k("a"), "hello", 60);
      expect(await cache.get(k("a"))).toBe("hello");
    });

    test("set overwrites an existing value", async () => {
      const k = keys();
      await cache.set(k("a"), "first", 60);
      await cache.set(k("a"), "second", 60);
      expect(await cache.get(k("a"))).toBe("second");
    });

    test("a value expires after its ttl", async () => {
      const k = keys();
      await cache.set(k("short"), "soon gone", 1);
      await cache.set(k("long"), "stays", 60);
      expect(await cache.get(k("short"))).toBe("soon gone");
      await Bun.sleep(1300);
      expect(await cache.get(k("short"))).toBeNull();
      expect(await cache.get(k("long"))).toBe("stays");
    });

    test("getWithTtl: null for a missing key; the value with the TTL left (ms) for one set with a TTL; null TTL for a counter without one", async () => {
      const k = keys();
      expect(await cache.getWithTtl(k("missing"))).toBeNull();
      await cache.set(k("a"), "hello", 10);
      await Bun.sleep(300);
      const got = await cache.getWithTtl(k("a"));
      expect(got?.value).toBe("hello");
      // 10 s set, ≥ 0.3 s ago: between 5 s (a slow machine) and 9.7 s left
      expect(got?.ttlMs).toBeGreaterThan(5_000);
      expect(got?.ttlMs).toBeLessThanOrEqual(9_700);
      await cache.incr(k("n"));
      expect(await cache.getWithTtl(k("n"))).toEqual({ value: "1", ttlMs: null });
    });

    test("getWithTtl: null once the value has expired", async () => {
      const k = keys();
      await cache.set(k("short"), "soon gone", 1);
      await Bun.sleep(1300);
      expect(await cache.getWithTtl(k("short"))).toBeNull();
    });

    test("del removes a value", async () => {
      const k = keys();
      await cache.set(k("a"), "x", 60);
      await cache.del(k("a"));
      expect(await cache.get(k("a"))).toBeNull();
    });

    test("del of a missing key resolves", async () => {
      const k = keys();
      await cache.del(k("never-set"));
      expect(await cache.get(k("never-set"))).toBeNull();
    });

    test("incr counts from 1 on a missing key and is atomic under 50 concurrent calls", async () => {
      const k = keys();
      expect(await cache.incr(k("first"))).toBe(1);
      expect(await cache.incr(k("first"))).toBe(2);

      const results = await Promise.all(Array.from({ length: 50 }, () => cache.incr(k("gen"))));
      expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(await cache.get(k("gen"))).toBe("50");
    });

    test("incr continues from a numeric value that was set", async () => {
      const k = keys();
      await cache.set(k("n"), "41", 60);
      expect(await cache.incr(k("n"))).toBe(42);
      expect(await cache.get(k("n"))).toBe("42");
    });

    test("incr keeps the ttl of a value that was set with one", async () => {
      const k = keys();
      await cache.set(k("n"), "5", 1);
      expect(await cache.incr(k("n"))).toBe(6);
      await Bun.sleep(1300);
      expect(await cache.get(k("n"))).toBeNull();
    });

    test("values round-trip unicode and JSON text unchanged", async () => {
      const k = keys();
      const samples = [
        "Zürich — 東京 — مرحبا — 🚀👩‍👩‍👧",
        JSON.stringify({ tenant: "t1", total: 12.5, items: [1, "two", null], nested: { ok: true } }),
        '"a quoted string"',
        "123",
        "true",
        "null",
        "OK",
        "",
        "line1\nline2\ttab\\backslash",
        "x".repeat(100_000),
      ];
      for (const [i, v] of samples.entries()) await cache.set(k(`v${i}`), v, 60);
      for (const [i, v] of samples.entries()) expect(await cache.get(k(`v${i}`))).toBe(v);
    });

    test("ping resolves", async () => {
      await expect(cache.ping()).resolves.toBeUndefined();
    });
  });
}

cacheContract("memory", () => createMemoryCache());
cacheContract("redis", () => createRedisCache(REDIS_URL));
cacheContract("upstash", () => createUpstashCache({ url: server().url, token: server().token }));

describe("cache drivers when the backend is down", () => {
  test("redis driver: ping rejects within 2.5 s when the server port is closed", async () => {
    const cache = track(createRedisCache("redis://127.0.0.1:1"));
    const started = performance.now();
    await expect(cache.ping()).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2500);
  });

  test("upstash driver: ping rejects within 2.5 s when the endpoint port is closed", async () => {
    const cache = track(createUpstashCache({ url: "http://127.0.0.1:1", token: "whatever" }));
    const started = performance.now();
    await expect(cache.ping()).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2500);
  });

  test("upstash driver: a wrong token is rejected", async () => {
    const cache = track(createUpstashCache({ url: server().url, token: "not-the-token" }));
    await expect(cache.ping()).rejects.toThrow(/Unauthorized/);
  });
});

describe("upstash compat server (test helper)", () => {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(server().url + path, {
      method: "POST",
      headers: { authorization: `Bearer ${server().token}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });

  test("answers string results in base64 only when the client asks with Upstash-Encoding", async () => {
    const k = keys();
    expect(await (await post("/", ["SET", k("a"), "ü", "EX", 60])).json()).toEqual({ result: "OK" });
    expect(await (await post("/", ["GET", k("a")])).json()).toEqual({ result: "ü" });
    expect(await (await post("/", ["GET", k("a")], { "Upstash-Encoding": "base64" })).json()).toEqual({
      result: Buffer.from("ü").toString("base64"),
    });
  });

  test("pipeline returns one result or error per command; redis errors on / are 400 {error}", async () => {
    const k = keys();
    await post("/", ["SET", k("s"), "text", "EX", 60]);
    const res = await post("/pipeline", [
      ["INCR", k("n")],
      ["INCR", k("s")],
      ["GET", k("n")],
    ]);
    const body = (await res.json()) as { result?: unknown; error?: string }[];
    expect(body[0]).toEqual({ result: 1 });
    expect(body[1]?.error).toMatch(/not an integer/);
    expect(body[2]).toEqual({ result: "1" });
    await post("/", ["DEL", k("n")]);
    const bad = await post("/", ["INCR", k("s")]);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error?: string }).error).toMatch(/not an integer/);
  });

  test("multi-exec runs the commands as one transaction", async () => {
    const k = keys();
    const res = await post("/multi-exec", [
      ["SET", k("m"), "1", "EX", 60],
      ["INCR", k("m")],
      ["GET", k("m")],
    ]);
    expect(await res.json()).toEqual([{ result: "OK" }, { result: 2 }, { result: "2" }]);
  });

  test("rejects a missing or wrong bearer token with 401 {error}", async () => {
    const res = await fetch(`${server().url}/`, { method: "POST", body: JSON.stringify(["PING"]) });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "Unauthorized" });
  });
});

describe("createCache", () => {
  test("uses the memory driver when nothing is configured", async () => {
    const cache = track(await createCache({}));
    expect(cache.driver).toBe("memory");
  });

  test("uses the redis driver for a redis URL", async () => {
    const cache = track(await createCache({ redisUrl: REDIS_URL }));
    expect(cache.driver).toBe("redis");
    await cache.ping();
  });

  test("uses the upstash driver when the REST settings are given, even with a redis URL", async () => {
    const cache = track(await createCache({ redisUrl: REDIS_URL, upstash: { url: server().url, token: server().token } }));
    expect(cache.driver).toBe("upstash");
    await cache.ping();
  });
});
