/**
 * One cache interface; three drivers (memory, Redis over Bun's RedisClient, Upstash REST).
 * Values are strings (callers serialise). Keys are namespaced by the caller (see keys.ts).
 */
export type CacheDriverName = "memory" | "redis" | "upstash";

export interface Cache {
  readonly driver: CacheDriverName;
  /** the cached value, or null when absent or expired */
  get(key: string): Promise<string | null>;
  /**
   * The cached value with its remaining time to live in ms (null when it has none), or null when
   * absent or expired; one round trip. A cache in front of this one must not keep the value longer.
   */
  getWithTtl(key: string): Promise<{ value: string; ttlMs: number | null } | null>;
  /** store with a time to live in seconds (> 0) */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  del(key: string): Promise<void>;
  /** atomically add 1 and return the new value (a missing key counts from 0); used for generations */
  incr(key: string): Promise<number>;
  /** resolves when the backend answers; rejects otherwise */
  ping(): Promise<void>;
  /** the circuit breaker's state, for a cache behind one (circuit.ts: the shared drivers) */
  circuit?(): CircuitStatus;
  close(): Promise<void>;
}

export interface CircuitStatus {
  /** open: every call is skipped (rejects at once) while a background probe waits for the backend */
  state: "closed" | "open";
  /** when the circuit opened (ISO-8601), null while closed */
  since: string | null;
  /** the last backend failure (kept after the circuit closes) */
  last_error: string | null;
  /** how many times the circuit opened since start */
  opens: number;
  probe_interval_ms: number;
}
