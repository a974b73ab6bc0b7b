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

  constructor(
    opts: { size: number; ttlMs: number },
    private readonly metrics?: Metrics,
  ) {
    this.lru = opts.size > 0 ? new LRUCache<string, true>({ max: opts.size, ttl: opts.ttlMs, ttlAutopurge: false }) : undefined;
  }

  seen(key: string): boolean {
    const hit = this.lru?.has(key) ?? false;
    if (hit) this.hits += 1;
    else this.misses += 1;
    this.metrics?.dedupLookups.inc({ result: hit ? "hit" : "miss" });
    return hit;
  }

  remember(keys: Iterable<string>): void {
    if (!this.lru) return;
    for (const k of keys) this.lru.set(k, true);
  }
}
