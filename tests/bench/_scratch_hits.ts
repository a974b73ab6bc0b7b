import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { buildDeps } from "../../src/deps.ts";
import { signToken } from "../../src/http/auth.ts";
import { createLogger } from "../../src/logger.ts";
const SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const dir = mkdtempSync(join(tmpdir(), "scr-"));
const config = loadConfig({ NODE_ENV: "production", EMBEDDED_DATA_DIR: join(dir, "db"), JWT_SECRET: SECRET, LOG_LEVEL: "warn", RATE_LIMIT_ENABLED: "false", REDIS_URL: "redis://127.0.0.1:6379" });
const deps = await buildDeps(config, { logger: createLogger({ level: "warn", format: "json" }), nats: false, runJobs: false });
const app = createApp(deps);
const t = crypto.randomUUID();
const auth = `Bearer ${await signToken(SECRET, { sub: "b", tenantId: t, roles: ["viewer"] })}`;
const url = "/v1/revenue/summary?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z";
await (await app.request(url, { headers: { authorization: auth } })).text();
const N = 30000;
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const r = await app.request(url, { headers: { authorization: auth } });
  await r.arrayBuffer();
}
console.log(((performance.now() - t0) * 1000 / N).toFixed(0), "µs/request sequential");
process.exit(0);
