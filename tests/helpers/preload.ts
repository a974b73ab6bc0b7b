/**
 * Test preload (bunfig.toml): starts ONE embedded TimescaleDB for the whole run in a fresh temp data
 * dir, migrates it, and stops it at the end. Tests reach it through tests/helpers/deps.ts.
 */
import { afterAll, expect } from "bun:test";
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
  const { removeTempDirs } = await import("./tmp.ts");
  removeTempDirs();
});

// secrets and PII never logged: every line the test logger captured during the whole run (after
// the cleanup above, so a finding never leaves the engine running); a finding fails the run
afterAll(async () => {
  const { capturedLogs, mintedTokens } = await import("./deps.ts");
  const { scanLogs } = await import("./log-scan.ts");
  expect(scanLogs(capturedLogs, mintedTokens)).toEqual([]);
});

declare global {
  var __pulseTest: { engine: EmbeddedEngine; dir: string };
}
