/**
 * Test preload (bunfig.toml): starts ONE embedded TimescaleDB for the whole run in a fresh temp data
 * dir, migrates it, and stops it at the end. Tests reach it through tests/helpers/deps.ts.
 */
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedEngine } from "../../src/db/embedded/manager.ts";
import { createLogger } from "../../src/logger.ts";

const dir = mkdtempSync(join(tmpdir(), "pulse-test-"));
const engine = new EmbeddedEngine({ dataDir: join(dir, "db"), port: 0, logger: createLogger({ level: "warn", format: "json" }) });
await engine.start();
globalThis.__pulseTest = { engine, dir };

afterAll(async () => {
  const { closeTestDeps } = await import("./deps.ts");
  await closeTestDeps();
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
});

declare global {
  var __pulseTest: { engine: EmbeddedEngine; dir: string };
}
