/**
 * Circuit breaker on database writes (cockatiel): opens after N consecutive transient failures,
 * lets one probe through after the half-open delay. Only transient errors count (connection lost,
 * engine down, timeouts); a data error in a batch is not the database being unavailable.
 */
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, IsolatedCircuitError } from "cockatiel";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics/metrics.ts";

export class DatabaseUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = "DatabaseUnavailableError";
  }
}

const TRANSIENT_SQLSTATE = /^(08|53|57P0|58|40001|40P01)/;
const TRANSIENT_NODE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

export function isTransientDbError(err: unknown): boolean {
  const e = err as { code?: string; errno?: string } | undefined;
  if (!e) return false;
  if (err instanceof DatabaseUnavailableError) return true;
  if (typeof e.code === "string" && (TRANSIENT_NODE.has(e.code) || TRANSIENT_SQLSTATE.test(e.code))) return true;
  return typeof e.errno === "string" && TRANSIENT_NODE.has(e.errno);
}

export class DbBreaker {
  private readonly policy;
  private openedAt: number | undefined;
  private lastError: string | undefined;

  constructor(private readonly opts: { failures: number; halfOpenMs: number; logger: Logger; metrics?: Metrics }) {
    this.policy = circuitBreaker(handleWhen(isTransientDbError), {
      halfOpenAfter: opts.halfOpenMs,
      breaker: new ConsecutiveBreaker(opts.failures),
    });
    this.policy.onBreak((reason) => {
      this.openedAt = Date.now();
      this.lastError = "error" in reason ? String((reason.error as Error)?.message ?? reason.error) : "isolated";
      opts.metrics?.breakerOpen.set(1);
      opts.logger.error({ error: this.lastError, half_open_in_ms: opts.halfOpenMs }, "database circuit breaker opened");
    });
    this.policy.onReset(() => {
      this.openedAt = undefined;
      opts.metrics?.breakerOpen.set(0);
      opts.logger.info("database circuit breaker closed");
    });
  }

  get open(): boolean {
    return this.policy.state === CircuitState.Open || this.policy.state === CircuitState.Isolated;
  }

  /** how long until the breaker lets a probe through (0 when closed) */
  retryAfterMs(): number {
    if (!this.open || this.openedAt === undefined) return 0;
    return Math.max(0, this.opts.halfOpenMs - (Date.now() - this.openedAt));
  }

  status(): { state: "closed" | "open" | "half_open"; opened_at: string | null; last_error: string | null; retry_after_ms: number } {
    const s = this.policy.state;
    return {
      state: s === CircuitState.HalfOpen ? "half_open" : this.open ? "open" : "closed",
      opened_at: this.openedAt ? new Date(this.openedAt).toISOString() : null,
      last_error: this.lastError ?? null,
      retry_after_ms: this.retryAfterMs(),
    };
  }

  /** run a database write; transient failures count towards opening; open ⇒ DatabaseUnavailableError */
  async execute<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.policy.execute(fn);
    } catch (err) {
      if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError) {
        throw new DatabaseUnavailableError(
          `database writes are paused: ${this.lastError ?? "circuit open"}`,
          Math.max(1_000, this.retryAfterMs()),
        );
      }
      if (isTransientDbError(err)) throw new DatabaseUnavailableError((err as Error).message, 1_000);
      throw err;
    }
  }
}
