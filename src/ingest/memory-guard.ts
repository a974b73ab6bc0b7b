/**
 * A soft memory limit for the ingest worker, checked after each batch.
 *
 * JavaScriptCore collects when its heap has grown by a factor since the last collection, not when the
 * process is large: at ~9,000 events/s the worker's garbage (parsed payloads, statement parameters,
 * results) piles up to 2-3 times its live data before a full collection, and the resident size follows
 * (measured: live heap 60 MB, RSS peaks 320-360 MB). Above INGEST_MEMORY_SOFT_LIMIT_MB the guard runs a
 * synchronous full collection (Bun.gc(true), 50-100 ms with a 60 MB live heap), at most once per
 * interval. The write of the batch before runs on meanwhile: the engine never waits for it.
 *
 * When a collection leaves the process above the limit (its live data alone is larger: a big dedup LRU,
 * an `all` process serving the API too), collecting again soon would only burn CPU: the interval
 * doubles after each such collection, up to a minute, and one warning says so; it is back to the
 * minimum as soon as a collection gets under the limit.
 */
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics/metrics.ts";

export interface MemoryGuardOptions {
  /** bytes; 0 turns the guard off */
  softLimitBytes: number;
  logger: Logger;
  metrics: Metrics;
  /** shortest time between two collections (default 250 ms) */
  minIntervalMs?: number;
  /** longest back-off while collections cannot get under the limit (default 60 s) */
  maxIntervalMs?: number;
  /** the resident set size now, bytes (default: the process's) */
  rss?: () => number;
  /** a synchronous full collection (default: Bun's; absent on other runtimes, which turns the guard off) */
  collect?: () => void;
}

export class MemoryGuard {
  private readonly limit: number;
  private readonly minInterval: number;
  private readonly maxInterval: number;
  private readonly rss: () => number;
  private readonly collect: (() => void) | undefined;
  private interval: number;
  private last = Number.NEGATIVE_INFINITY;
  private warned = false;

  constructor(private readonly o: MemoryGuardOptions) {
    this.limit = o.softLimitBytes;
    this.minInterval = o.minIntervalMs ?? 250;
    this.maxInterval = o.maxIntervalMs ?? 60_000;
    this.interval = this.minInterval;
    this.rss = o.rss ?? (() => process.memoryUsage.rss());
    const bun = (globalThis as { Bun?: { gc(force: boolean): unknown } }).Bun;
    this.collect = o.collect ?? (bun ? () => void bun.gc(true) : undefined);
  }

  get enabled(): boolean {
    return this.limit > 0 && this.collect !== undefined;
  }

  /** collect when the process is above the limit and the interval has passed; true when it collected */
  check(now = performance.now()): boolean {
    if (!this.enabled || now - this.last < this.interval) return false;
    const before = this.rss();
    if (before <= this.limit) return false;
    const started = performance.now();
    this.collect!();
    const seconds = (performance.now() - started) / 1000;
    this.last = performance.now();
    const after = this.rss();
    const under = after <= this.limit;
    this.o.metrics.memoryCollections.inc({ result: under ? "under" : "over" });
    this.o.metrics.memoryCollectionSeconds.observe(seconds);
    if (under) {
      this.interval = this.minInterval;
      this.warned = false;
    } else {
      this.interval = Math.min(this.interval * 2, this.maxInterval);
      if (!this.warned) {
        this.warned = true;
        this.o.logger.warn(
          { rss_mb: Math.round(after / 1048576), soft_limit_mb: Math.round(this.limit / 1048576), next_in_ms: this.interval },
          "a full collection left the process above INGEST_MEMORY_SOFT_LIMIT_MB (its live data is larger); collecting less often",
        );
      }
    }
    return true;
  }
}
