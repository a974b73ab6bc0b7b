/**
 * A bounded LRU of recently committed event keys (tenant, id, time): catches redeliveries before
 * they reach the database. Only keys of committed events go in, so a failed batch never hides a
 * retry. The table's unique key with ON CONFLICT DO NOTHING stays the final guard.
 */
import { LRUCache } from "lru-cache";
import type { Metrics } from "../metrics/metrics.ts";

export class DedupCache {
  private readonly lru: LRUCache<string, true> | undefined;
  hits = 0;
  misses = 0;
  /** look-ups already added to the metrics */
  private reportedHits = 0;
  private reportedMisses = 0;

  constructor(
    opts: { size: number; ttlMs: number },
    private readonly metrics?: Metrics,
  ) {
    this.lru = opts.size > 0 ? new LRUCache<string, true>({ max: opts.size, ttl: opts.ttlMs, ttlAutopurge: false }) : undefined;
  }

  /** counted in the metrics by flushMetrics(), once per batch (a labelled inc() per event is measurable) */
  seen(key: string): boolean {
    const hit = this.lru?.has(key) ?? false;
    if (hit) this.hits += 1;
    else this.misses += 1;
    return hit;
  }

  /** add the look-ups not yet counted to the metrics */
  flushMetrics(): void {
    if (!this.metrics) return;
    if (this.hits > this.reportedHits) this.metrics.dedupLookups.inc({ result: "hit" }, this.hits - this.reportedHits);
    if (this.misses > this.reportedMisses) this.metrics.dedupLookups.inc({ result: "miss" }, this.misses - this.reportedMisses);
    this.reportedHits = this.hits;
    this.reportedMisses = this.misses;
  }

  /** forget every remembered key (the table's unique key still guards) */
  clear(): void {
    this.lru?.clear();
  }

  remember(keys: Iterable<string>): void {
    if (!this.lru) return;
    for (const k of keys) this.lru.set(k, true);
  }
}
