/**
 * Rate limits: budgets per (tenant, subject) and per client IP, 429 with Retry-After and RateLimit-*
 * headers, header tricks that must not reset a budget, and the three backends (memory, the local
 * Redis through Bun's client, Upstash REST through the REST-compatible endpoint over that Redis).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { createApp } from "../../src/app.ts";
import type { Config } from "../../src/config.ts";
import { createMetrics } from "../../src/metrics/metrics.ts";
import {
  createBunRedisEvalClient,
  createLibraryRateLimiter,
  createMemoryRateLimiter,
  createRateLimiter,
  hashKey,
  portableScript,
  type RateLimiter,
} from "../../src/http/ratelimit.ts";
import type { Budget } from "../../src/http/roles.ts";
import { getTestDeps, testConfig, token } from "../helpers/deps.ts";
import { pageViewed } from "../helpers/events.ts";
import { startRedisServer } from "../helpers/servers.ts";
import { startUpstashCompatServer, type UpstashCompatServer } from "../helpers/upstash-server.ts";

const REDIS_URL = "redis://127.0.0.1:6379";

/** budgets are fixed one-minute windows: never start a burst in the last 3 s of one */
async function awayFromWindowEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 3_000) await Bun.sleep(left + 50);
}
beforeEach(awayFromWindowEdge);

async function appWith(env: Record<string, string>) {
  const deps = await getTestDeps();
  const config = testConfig(env);
  return createApp({ ...deps, config });
}

/** a Bun server env as Hono sees it: the socket peer of the request */
const peer = (address: string) => ({ requestIP: () => ({ address, family: "IPv4", port: 40000 }) });

describe("per-token budgets on /v1", () => {
  let app: ReturnType<typeof createApp>;
  const tenantId = crypto.randomUUID();
  beforeAll(async () => {
    app = await appWith({ RATE_LIMIT_READ_PER_MIN: "3", RATE_LIMIT_INGEST_PER_MIN: "2" });
  });

  test("every response carries RateLimit-Limit/Remaining/Reset, and the request past the budget is 429 problem+json with Retry-After", async () => {
    const auth = { authorization: `Bearer ${await token({ tenantId, sub: "burst" })}` };
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.request("/v1/me", { headers: auth });
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit-limit")).toBe("3");
      const reset = Number(res.headers.get("ratelimit-reset"));
      expect(reset).toBeGreaterThanOrEqual(0);
      expect(reset).toBeLessThanOrEqual(60);
      remaining.push(res.headers.get("ratelimit-remaining")!);
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const limited = await app.request("/v1/me", { headers: auth });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("content-type")).toBe("application/problem+json");
    const retry = Number(limited.headers.get("retry-after"));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(limited.headers.get("ratelimit-remaining")).toBe("0");
    expect(limited.headers.get("ratelimit-limit")).toBe("3");
    const body = (await limited.json()) as { status: number; title: string; detail: string };
    expect(body).toMatchObject({ status: 429, title: "Too many requests" });
    expect(body.detail).toContain("3 requests per minute");
  });

  test("X-Forwarded-For, X-Real-IP, Forwarded and a fresh request id do not reset a spent budget", async () => {
    const t = await token({ tenantId, sub: "spoofer" });
    for (let i = 0; i < 3; i++) expect((await app.request("/v1/me", { headers: { authorization: `Bearer ${t}` } })).status).toBe(200);
    const tricks: Array<Record<string, string>> = [
      { "x-forwarded-for": "198.51.100.1" },
      { "x-real-ip": "198.51.100.2" },
      { forwarded: "for=198.51.100.3" },
      { "x-forwarded-for": "10.0.0.1, 198.51.100.4", "x-real-ip": "10.0.0.2" },
      { "x-request-id": "fresh-id-1" },
    ];
    for (const extra of tricks) {
      const res = await app.request(
        "/v1/me",
        { headers: { authorization: `Bearer ${t}`, ...extra } },
        peer(`203.0.113.${Math.floor(Math.random() * 200) + 1}`),
      );
      expect(res.status).toBe(429);
    }
  });

  test("a new token for the same subject and tenant does not get a new budget", async () => {
    for (let i = 0; i < 3; i++)
      await app.request("/v1/me", { headers: { authorization: `Bearer ${await token({ tenantId, sub: "re-minted" })}` } });
    const res = await app.request("/v1/me", {
      headers: { authorization: `Bearer ${await token({ tenantId, sub: "re-minted", roles: ["admin"] })}` },
    });
    expect(res.status).toBe(429);
  });

  test("another subject of the same tenant, and the same subject in another tenant, have budgets of their own", async () => {
    const sub = "neighbour";
    for (let i = 0; i < 4; i++) await app.request("/v1/me", { headers: { authorization: `Bearer ${await token({ tenantId, sub })}` } });
    expect(
      (await app.request("/v1/me", { headers: { authorization: `Bearer ${await token({ tenantId, sub: "other-user" })}` } })).status,
    ).toBe(200);
    expect(
      (await app.request("/v1/me", { headers: { authorization: `Bearer ${await token({ tenantId: crypto.randomUUID(), sub })}` } })).status,
    ).toBe(200);
  });

  test("the ingest budget is separate from the read budget", async () => {
    const sub = "publisher";
    const reader = await token({ tenantId, sub, roles: ["ingest", "viewer"] });
    for (let i = 0; i < 4; i++) await app.request("/v1/me", { headers: { authorization: `Bearer ${reader}` } });
    expect((await app.request("/v1/me", { headers: { authorization: `Bearer ${reader}` } })).status).toBe(429);
    const post = () =>
      app.request("/v1/events", {
        method: "POST",
        headers: { authorization: `Bearer ${reader}`, "content-type": "application/cloudevents-batch+json" },
        body: JSON.stringify([pageViewed(tenantId)]),
      });
    const first = await post();
    expect(first.status).toBe(202);
    expect(first.headers.get("ratelimit-limit")).toBe("2");
    expect((await post()).status).toBe(202);
    expect((await post()).status).toBe(429);
  });

  test("a request refused for its role still spends the budget (probing is throttled too)", async () => {
    const t = await token({ tenantId, sub: "prober", roles: ["viewer"] });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await app.request("/v1/admin/dead-letters", { headers: { authorization: `Bearer ${t}` } })).status);
    expect(statuses).toEqual([403, 403, 403, 429]);
  });

  test("without a valid token nothing is counted and the answer stays 401", async () => {
    for (let i = 0; i < 5; i++) expect((await app.request("/v1/me")).status).toBe(401);
  });
});

describe("per-IP budget outside /v1", () => {
  test("health, metrics, docs and the spec share a per-IP budget; spoofed forwarding headers do not reset it", async () => {
    const app = await appWith({ RATE_LIMIT_PUBLIC_PER_MIN: "3" });
    const ip = peer("192.0.2.50");
    expect((await app.request("/health/live", {}, ip)).status).toBe(200);
    expect((await app.request("/openapi.json", {}, ip)).status).toBe(200);
    const third = await app.request("/metrics", {}, ip);
    expect(third.status).toBe(200);
    expect(third.headers.get("ratelimit-remaining")).toBe("0");
    const limited = await app.request("/docs", { headers: { "x-forwarded-for": "198.51.100.9", "x-real-ip": "198.51.100.10" } }, ip);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // another client is not affected
    expect((await app.request("/health/live", {}, peer("192.0.2.51"))).status).toBe(200);
  });

  test("IPv4-mapped IPv6 peers count as the IPv4 address", async () => {
    const app = await appWith({ RATE_LIMIT_PUBLIC_PER_MIN: "1" });
    expect((await app.request("/health/live", {}, peer("192.0.2.60"))).status).toBe(200);
    expect((await app.request("/health/live", {}, peer("::ffff:192.0.2.60"))).status).toBe(429);
  });

  test("behind a trusted proxy the client is the right-most untrusted X-Forwarded-For hop", async () => {
    const app = await appWith({ RATE_LIMIT_PUBLIC_PER_MIN: "1", TRUSTED_PROXY: "10.0.0.0/8" });
    const proxy = peer("10.1.2.3");
    expect((await app.request("/health/live", { headers: { "x-forwarded-for": "198.51.100.20" } }, proxy)).status).toBe(200);
    // a client prepending a fake hop is still itself: the proxy appended the real address last
    expect((await app.request("/health/live", { headers: { "x-forwarded-for": "1.2.3.4, 198.51.100.20" } }, proxy)).status).toBe(429);
    expect((await app.request("/health/live", { headers: { "x-forwarded-for": "198.51.100.21, 10.9.9.9" } }, proxy)).status).toBe(200);
    expect((await app.request("/health/live", { headers: { "x-real-ip": "198.51.100.22" } }, proxy)).status).toBe(200);
    // the same headers from a peer that is not a trusted proxy are ignored
    const direct = peer("192.0.2.70");
    expect((await app.request("/health/live", { headers: { "x-forwarded-for": "198.51.100.30" } }, direct)).status).toBe(200);
    expect((await app.request("/health/live", { headers: { "x-forwarded-for": "198.51.100.31" } }, direct)).status).toBe(429);
  });
});

describe("configuration", () => {
  test("RATE_LIMIT_ENABLED=false: no limit and no RateLimit headers", async () => {
    const app = await appWith({ RATE_LIMIT_ENABLED: "false", RATE_LIMIT_READ_PER_MIN: "1" });
    const auth = { authorization: `Bearer ${await token()}` };
    for (let i = 0; i < 3; i++) {
      const res = await app.request("/v1/me", { headers: auth });
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit-limit")).toBeNull();
    }
  });

  test("the driver follows the cache configuration: memory, redis, upstash", () => {
    const base = testConfig();
    expect(createRateLimiter(base).driver).toBe("memory");
    const redis: Config = { ...base, cache: { ...base.cache, redisUrl: REDIS_URL } };
    const r = createRateLimiter(redis);
    expect(r.driver).toBe("redis");
    void r.close();
    const upstash: Config = { ...base, cache: { ...base.cache, upstash: { url: "http://127.0.0.1:1", token: "t" } } };
    expect(createRateLimiter(upstash).driver).toBe("upstash");
  });
});

const budgets = (n: number): Record<Budget, number> => ({ read: n, export: n, ingest: n, public: n });

async function spend(l: RateLimiter, budget: Budget, key: string, times: number) {
  const out: Array<boolean | undefined> = [];
  for (let i = 0; i < times; i++) out.push((await l.limit(budget, key))?.success);
  return out;
}

describe("backends", () => {
  test("memory: the fixed window allows exactly the budget, per budget and key", async () => {
    const l = createMemoryRateLimiter(budgets(2));
    expect(await spend(l, "read", "k1", 3)).toEqual([true, true, false]);
    expect(await spend(l, "export", "k1", 1)).toEqual([true]);
    expect(await spend(l, "read", "k2", 1)).toEqual([true]);
  });

  test("memory: a new window starts with a fresh budget", async () => {
    const l = createMemoryRateLimiter(budgets(1), {}, 1_000);
    expect(await spend(l, "read", "k", 2)).toEqual([true, false]);
    await Bun.sleep(1_100);
    expect(await spend(l, "read", "k", 1)).toEqual([true]);
  });

  test("redis: @upstash/ratelimit runs on Bun's RedisClient (script loaded after NOSCRIPT), and two replicas share one budget", async () => {
    const admin = new RedisClient(REDIS_URL);
    await admin.connect();
    await admin.send("SCRIPT", ["FLUSH"]); // the first call must take the NOSCRIPT → EVAL path
    const prefix = `pulse-test:rl:${crypto.randomUUID()}`;
    const c1 = createBunRedisEvalClient(REDIS_URL);
    const c2 = createBunRedisEvalClient(REDIS_URL);
    const metrics = createMetrics();
    const replica1 = createLibraryRateLimiter("redis", c1, budgets(3), { prefix, metrics });
    const replica2 = createLibraryRateLimiter("redis", c2, budgets(3), { prefix });
    try {
      const key = hashKey(["tenant", "sub"]);
      const d = await replica1.limit("read", key);
      expect(d).toMatchObject({ success: true, limit: 3, remaining: 2 });
      expect(d!.reset % 60_000).toBe(0);
      expect(await spend(replica2, "read", key, 2)).toEqual([true, true]);
      expect(await spend(replica1, "read", key, 1)).toEqual([false]);
      expect(await spend(replica2, "read", key, 1)).toEqual([false]);
      expect(await spend(replica1, "ingest", key, 1)).toEqual([true]);
      // the counters live in Redis under the hashed key, with a window expiry
      const keys = (await admin.send("KEYS", [`${prefix}:read:*`])) as string[];
      expect(keys.length).toBe(1);
      expect(keys[0]).toContain(key);
      const ttl = Number(await admin.send("PTTL", [keys[0]!]));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/pulse_rate_limit_decisions_total\{budget="read",result="allowed"\} 1/);
      expect(text).toMatch(/pulse_rate_limit_decisions_total\{budget="read",result="limited"\} 1/);
    } finally {
      c1.close();
      c2.close();
      admin.close();
    }
  });

  test("redis down: requests are let through and counted as errors (fail open)", async () => {
    const metrics = createMetrics();
    const l = createLibraryRateLimiter("redis", createBunRedisEvalClient("redis://127.0.0.1:1", { commandTimeoutMs: 500 }), budgets(1), {
      metrics,
      timeoutMs: 800,
    });
    const started = performance.now();
    expect(await l.limit("read", "k")).toBeUndefined();
    expect(await l.limit("read", "k")).toBeUndefined(); // paused: no second wait
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(await metrics.registry.metrics()).toMatch(/pulse_rate_limit_decisions_total\{budget="read",result="error"\} 2/);
    await l.close();
  });

  test("redis stopped, then started: after the first failure no request waits on it, and a background probe resumes limiting once it answers", async () => {
    const redis = await startRedisServer();
    const metrics = createMetrics();
    const client = createBunRedisEvalClient(redis.url, { commandTimeoutMs: 1_000 });
    const l = createLibraryRateLimiter("redis", client, budgets(1_000), { metrics, pauseMs: 300 });
    try {
      expect(await l.limit("read", "k")).toMatchObject({ success: true });
      await redis.stop();
      expect(await l.limit("read", "k")).toBeUndefined(); // the failure (it waits on the dead server)
      // 1.5 s of requests, five pauses: each request passes at once (a wait on the dead server is ~355 ms)
      let slowest = 0;
      for (const until = Date.now() + 1_500; Date.now() < until; ) {
        const started = performance.now();
        expect(await l.limit("read", "k")).toBeUndefined();
        slowest = Math.max(slowest, performance.now() - started);
        await Bun.sleep(10);
      }
      expect(slowest).toBeLessThan(100);
      await redis.start();
      let decided: unknown;
      for (const until = Date.now() + 5_000; Date.now() < until && !decided; await Bun.sleep(50)) decided = await l.limit("read", "k");
      expect(decided).toMatchObject({ success: true, limit: 1_000 });
    } finally {
      await l.close();
      await redis.close();
    }
  });

  describe("upstash", () => {
    let srv: UpstashCompatServer;
    let front: ReturnType<typeof Bun.serve>;
    beforeAll(async () => {
      srv = await startUpstashCompatServer({ redisUrl: REDIS_URL, token: "rl-token" });
      // Upstash accepts the library's `allow-key-locking` script flag; the local Redis 7.0 behind the
      // REST-compatible endpoint does not, so this front drops it as the Redis adapter does
      const hashes = new Map<string, string>();
      const sha1 = (x: string) => new Bun.CryptoHasher("sha1").update(x).digest("hex");
      const fix = (cmd: unknown): unknown => {
        if (!Array.isArray(cmd) || typeof cmd[0] !== "string") return cmd;
        const name = cmd[0].toUpperCase();
        if (name === "EVAL" && typeof cmd[1] === "string") {
          const sent = portableScript(cmd[1]);
          hashes.set(sha1(cmd[1]), sha1(sent));
          return [cmd[0], sent, ...cmd.slice(2)];
        }
        if (name === "EVALSHA" && typeof cmd[1] === "string") return [cmd[0], hashes.get(cmd[1]) ?? cmd[1], ...cmd.slice(2)];
        return cmd;
      };
      front = Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        fetch: async (req) => {
          const url = new URL(req.url);
          const body = (await req.json()) as unknown[];
          const fixed = url.pathname === "/" ? fix(body) : body.map(fix);
          const headers = new Headers(req.headers);
          headers.delete("content-length");
          return fetch(`${srv.url.replace(/\/$/, "")}${url.pathname}`, { method: "POST", headers, body: JSON.stringify(fixed) });
        },
      });
    });
    afterAll(async () => {
      front?.stop(true);
      await srv?.stop();
    });

    test("the Upstash driver limits through the REST API, and the app answers 429 with it", async () => {
      const base = testConfig({ RATE_LIMIT_READ_PER_MIN: "2" });
      const config: Config = { ...base, cache: { ...base.cache, upstash: { url: `http://127.0.0.1:${front.port}`, token: srv.token } } };
      const limiter = createRateLimiter(config);
      expect(limiter.driver).toBe("upstash");
      const deps = await getTestDeps();
      const app = createApp({ ...deps, config }, { rateLimiter: limiter });
      const auth = { authorization: `Bearer ${await token({ sub: `upstash-${crypto.randomUUID()}` })}` };
      expect((await app.request("/v1/me", { headers: auth })).status).toBe(200);
      const second = await app.request("/v1/me", { headers: auth });
      expect(second.status).toBe(200);
      expect(second.headers.get("ratelimit-remaining")).toBe("0");
      const third = await app.request("/v1/me", { headers: auth });
      expect(third.status).toBe(429);
      expect(third.headers.get("retry-after")).not.toBeNull();
    });
  });
});
