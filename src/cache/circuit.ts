/**
 * A circuit breaker in front of a shared cache (Redis, Upstash): a cache outage must cost a caller
 * nothing, not one timeout per call.
 *
 * - closed: calls go to the backend, each bounded by `opTimeoutMs`; the first failure (an error or
 *   a call slower than that) opens the circuit;
 * - open: every call rejects at once with CacheUnavailableError (no network, no timer), and one
 *   background probe (`ping`, bounded by `opTimeoutMs`) runs every `probeIntervalMs`; the first
 *   probe that answers closes the circuit. So while the backend is down a caller pays a rejected
 *   promise, and the cache is back in use within one probe interval of the backend answering.
 * Calls that were already in flight when the circuit opened end as the backend makes them end.
 * A RangeError (a caller's bad argument, e.g. a ttl of 0) is the caller's fault: it passes through
 * and leaves the circuit as it is. Transitions are logged once each (warn on open, info on close).
 */
import type { Logger } from "../logger.ts";
import type { Cache, CircuitStatus } from "./cache.ts";

export class CacheUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CacheUnavailableError";
  }
}

export interface CircuitOptions {
  /** upper bound of one backend call while closed, and of one probe (default 1000 ms) */
  opTimeoutMs?: number;
  /** how often an open circuit probes the backend (default 1000 ms) */
  probeIntervalMs?: number;
  logger?: Logger;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`cache ${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** `inner` behind a circuit breaker; same driver name, plus circuit() for readiness */
export function withCircuit(inner: Cache, opts: CircuitOptions = {}): Cache {
  const opTimeoutMs = opts.opTimeoutMs ?? 1_000;
  const probeIntervalMs = opts.probeIntervalMs ?? 1_000;
  const log = opts.logger?.child({ component: "cache", cache_driver: inner.driver });
  let openedAt: number | undefined;
  let lastError: string | null = null;
  let opens = 0;
  let probe: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const schedule = (): void => {
    probe = setTimeout(() => {
      probe = undefined;
      within(inner.ping(), opTimeoutMs, "probe").then(
        () => {
          if (closed || openedAt === undefined) return;
          log?.info({ open_ms: Date.now() - openedAt }, "cache answers again: circuit closed");
          openedAt = undefined;
        },
        (err: unknown) => {
          lastError = err instanceof Error ? err.message : String(err);
          if (!closed && openedAt !== undefined) schedule();
        },
      );
    }, probeIntervalMs);
    // a probe never keeps the process alive
    (probe as { unref?: () => void }).unref?.();
  };

  const trip = (err: unknown): void => {
    lastError = err instanceof Error ? err.message : String(err);
    if (openedAt !== undefined || closed) return;
    openedAt = Date.now();
    opens += 1;
    log?.warn({ err: lastError, probe_every_ms: probeIntervalMs }, "cache failed: circuit open, calls skip it until a probe answers");
    schedule();
  };

  const call = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    if (openedAt !== undefined && !closed) {
      throw new CacheUnavailableError(`cache circuit open since ${new Date(openedAt).toISOString()} (${lastError ?? "failed"}): skipped`);
    }
    try {
      return await within(op(), opTimeoutMs, what);
    } catch (err) {
      if (!(err instanceof RangeError) && !closed) trip(err);
      throw err;
    }
  };

  const circuit = (): CircuitStatus => ({
    state: openedAt === undefined ? "closed" : "open",
    since: openedAt === undefined ? null : new Date(openedAt).toISOString(),
    last_error: lastError,
    opens,
    probe_interval_ms: probeIntervalMs,
  });

  return {
    driver: inner.driver,
    get: (key) => call("GET", () => inner.get(key)),
    getWithTtl: (key) => call("GET+PTTL", () => inner.getWithTtl(key)),
    set: (key, value, ttlSeconds) => call("SET", () => inner.set(key, value, ttlSeconds)),
    del: (key) => call("DEL", () => inner.del(key)),
    incr: (key) => call("INCR", () => inner.incr(key)),
    ping: () => call("PING", () => inner.ping()),
    circuit,
    async close() {
      closed = true;
      if (probe) clearTimeout(probe);
      probe = undefined;
      await inner.close();
    },
  };
}
