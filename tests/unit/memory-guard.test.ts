/**
 * The ingest worker's soft memory limit (src/ingest/memory-guard.ts): when it collects, how often, and
 * how it backs off when its live data alone is above the limit.
 */
import { describe, expect, test } from "bun:test";
import { MemoryGuard } from "../../src/ingest/memory-guard.ts";
import { createLogger } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics/metrics.ts";

const MB = 1_048_576;

/** a process whose resident size is `rss` and drops to `afterCollect` when collected */
function fakeProcess(rss: number, afterCollect: number) {
  const p = { rss, afterCollect, collections: 0 };
  return {
    p,
    rss: () => p.rss,
    collect: () => {
      p.collections += 1;
      p.rss = p.afterCollect;
    },
  };
}

async function counted(metrics: ReturnType<typeof createMetrics>, result: "under" | "over"): Promise<number> {
  return (await metrics.memoryCollections.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
}

function logLines() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: "info", format: "json", destination: { write: (s: string) => lines.push(JSON.parse(s)) } });
  return { logger, lines };
}

describe("memory guard", () => {
  test("above the soft limit it collects once, and not again before the interval has passed", async () => {
    const metrics = createMetrics();
    const f = fakeProcess(300 * MB, 200 * MB);
    const g = new MemoryGuard({
      softLimitBytes: 256 * MB,
      minIntervalMs: 250,
      logger: logLines().logger,
      metrics,
      rss: f.rss,
      collect: f.collect,
    });
    expect(g.check(1_000)).toBe(true);
    expect(f.p.collections).toBe(1);
    f.p.rss = 400 * MB; // garbage again at once
    const last = performance.now();
    expect(g.check(last + 100)).toBe(false);
    expect(f.p.collections).toBe(1);
    expect(g.check(last + 400)).toBe(true);
    expect(f.p.collections).toBe(2);
    expect(await counted(metrics, "under")).toBe(2);
    expect((await metrics.memoryCollectionSeconds.get()).values.find((v) => v.metricName?.endsWith("_count"))?.value).toBe(2);
  });

  test("at or below the soft limit, and with the limit 0, it never collects", () => {
    const metrics = createMetrics();
    const at = fakeProcess(256 * MB, 0);
    const guard = new MemoryGuard({ softLimitBytes: 256 * MB, logger: logLines().logger, metrics, rss: at.rss, collect: at.collect });
    expect(guard.check(10_000)).toBe(false);
    const off = fakeProcess(4_000 * MB, 0);
    const disabled = new MemoryGuard({ softLimitBytes: 0, logger: logLines().logger, metrics, rss: off.rss, collect: off.collect });
    expect(disabled.enabled).toBe(false);
    expect(disabled.check(10_000)).toBe(false);
    expect(at.p.collections + off.p.collections).toBe(0);
  });

  test("when a collection cannot get under the limit, the interval doubles (warned once) and resets after one that can", async () => {
    const metrics = createMetrics();
    const { logger, lines } = logLines();
    const f = fakeProcess(500 * MB, 400 * MB); // live data alone is above the limit
    const g = new MemoryGuard({
      softLimitBytes: 256 * MB,
      minIntervalMs: 100,
      maxIntervalMs: 350,
      logger,
      metrics,
      rss: f.rss,
      collect: f.collect,
    });
    const at = (offset: number) => g.check(performance.now() + offset);
    expect(at(0)).toBe(true); // → interval 200
    expect(at(150)).toBe(false);
    expect(at(250)).toBe(true); // → interval 350 (capped)
    expect(at(300)).toBe(false);
    expect(at(400)).toBe(true); // still 350
    expect(f.p.collections).toBe(3);
    expect(await counted(metrics, "over")).toBe(3);
    const warnings = lines.filter((l) => String(l.msg).includes("INGEST_MEMORY_SOFT_LIMIT_MB"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ rss_mb: 400, soft_limit_mb: 256, next_in_ms: 200 });
    // the live data shrinks: the next collection gets under, and the interval is the minimum again
    f.p.afterCollect = 100 * MB;
    f.p.rss = 500 * MB;
    const last = performance.now();
    expect(g.check(last + 200)).toBe(false); // the back-off (350 ms) still holds
    expect(g.check(last + 400)).toBe(true);
    f.p.rss = 300 * MB;
    const reset = performance.now();
    expect(g.check(reset + 50)).toBe(false);
    expect(g.check(reset + 150)).toBe(true); // the minimum interval (100 ms) again
    expect(await counted(metrics, "under")).toBe(2);
  });

  test("with the runtime's own collector it runs a real full collection (Bun.gc) and counts it", async () => {
    const metrics = createMetrics();
    // a limit of 1 byte: every process is above it
    const g = new MemoryGuard({ softLimitBytes: 1, logger: logLines().logger, metrics });
    expect(g.enabled).toBe(true);
    expect(g.check()).toBe(true);
    expect(await counted(metrics, "over")).toBe(1);
    const seconds = (await metrics.memoryCollectionSeconds.get()).values.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0;
    expect(seconds).toBeGreaterThan(0);
  });
});
