/**
 * How busy the database pool is. postgres.js keeps no pool statistics it would show, so the pool is
 * measured at its door: meterPool() returns the same `sql` (a Proxy) that counts what holds or waits
 * for a connection: a transaction (`sql.begin`) from its call to its end, a reserved connection
 * (`sql.reserve`) until it is released, a standalone statement (sql`…`, `sql.unsafe`) from when it is
 * handed to the pool until it settles. Statements inside a transaction belong to it and are not
 * counted again. postgres.js may pipeline standalone statements on a busy connection, so with many of
 * them at once the figures are an upper bound.
 *
 *   pulse_db_pool_max                 the pool's size (DB_POOL_MAX; 1 on the embedded engine)
 *   pulse_db_pool_in_use              connections in use now: min(holders, max)
 *   pulse_db_pool_waiting             holders beyond the pool's size (waiting for a connection)
 *   pulse_db_pool_busy_seconds_total  ∫ in_use dt: rate(...[5m]) / max is the pool's mean use (the alert)
 */
import type { Metrics } from "../metrics/metrics.ts";
import type { Sql } from "./client.ts";

export class PoolMeter {
  private holders = 0;
  private since = performance.now();

  constructor(
    readonly max: number,
    private readonly metrics: Metrics,
  ) {
    metrics.dbPoolMax.set(max);
    this.publish();
  }

  /** one more holder; the returned function (idempotent) ends it */
  acquire(): () => void {
    this.change(1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.change(-1);
    };
  }

  /** adds the busy time since the last change to the counter (also called before a scrape) */
  accrue(): void {
    const now = performance.now();
    const busy = Math.min(this.holders, this.max) * ((now - this.since) / 1000);
    if (busy > 0) this.metrics.dbPoolBusySeconds.inc(busy);
    this.since = now;
  }

  private change(by: number): void {
    this.accrue();
    this.holders += by;
    this.publish();
  }

  private publish(): void {
    this.metrics.dbPoolInUse.set(Math.min(this.holders, this.max));
    this.metrics.dbPoolWaiting.set(Math.max(0, this.holders - this.max));
  }
}

/** a postgres.js query (a Promise subclass) before it runs: the pool handler it will be handed to */
type PendingQuery = Promise<unknown> & { handler?: ((q: unknown) => unknown) & { debug?: unknown } };

/** counts the statement from when it is handed to the pool until it settles (a fragment never is) */
function watch(q: unknown, meter: PoolMeter): void {
  const query = q as PendingQuery;
  if (!(query instanceof Promise) || typeof query.handler !== "function") return;
  const handler = query.handler;
  const metered = (x: unknown) => {
    const release = meter.acquire();
    // Promise.prototype.then: Query#then would start the query; this only listens
    Promise.prototype.then.call(query, release, release);
    return handler(x);
  };
  query.handler = Object.assign(metered, { debug: handler.debug });
}

export function meterPool(sql: Sql, metrics: Metrics): Sql {
  const meter = new PoolMeter(sql.options.max, metrics);
  metrics.beforeScrape.add(() => meter.accrue());
  const begin = ((...args: unknown[]) => {
    const release = meter.acquire();
    const p = (sql.begin as (...a: unknown[]) => Promise<unknown>)(...args);
    p.then(release, release);
    return p;
  }) as Sql["begin"];
  const reserve = (async () => {
    const release = meter.acquire();
    try {
      const conn = await sql.reserve();
      const free = conn.release.bind(conn);
      conn.release = () => {
        release();
        free();
      };
      return conn;
    } catch (err) {
      release();
      throw err;
    }
  }) as Sql["reserve"];
  const unsafe = ((...args: Parameters<Sql["unsafe"]>) => {
    const q = sql.unsafe(...args);
    watch(q, meter);
    return q;
  }) as Sql["unsafe"];
  return new Proxy(sql, {
    apply(target, thisArg, args) {
      const q = Reflect.apply(target, thisArg, args) as unknown;
      watch(q, meter);
      return q;
    },
    get(target, prop, receiver) {
      if (prop === "begin") return begin;
      if (prop === "reserve") return reserve;
      if (prop === "unsafe") return unsafe;
      return Reflect.get(target, prop, receiver);
    },
  });
}
