/**
 * GET /v1/dashboards/{id}/live: the dashboard's data as server-sent events, sent again when the
 * tenant's data generation changes (analytics/shared/generation.ts: every ingest commit bumps it), not
 * on a timer. Read it with fetch and a streaming body (EventSource cannot send the Authorization header;
 * a token never goes into a URL).
 *
 *   event: data       data: the GET …/data JSON     id: the generation it was read under (first: + retry)
 *   : heartbeat       a comment after DASHBOARD_LIVE_HEARTBEAT_MS without an update
 *   event: error      data: {status, detail}        an update that could not be computed (the next change tries again)
 *   event: gone       the dashboard was deleted; the stream ends
 *
 * Cost: the generation is polled once per DASHBOARD_LIVE_POLL_MS per tenant and process, whatever the
 * number of open streams (GenerationWatch); an update waits ANALYTICS_GENERATION_REUSE_MS after a
 * change was seen (so the reads see the new generation, also when another replica bumped it) and comes
 * at most every DASHBOARD_LIVE_MIN_INTERVAL_MS; streams of the same dashboard and view read the same
 * cached answers, so many viewers cost one computation per change.
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { readGeneration } from "../analytics/shared/generation.ts";
import { readContext } from "../analytics/shared/read.ts";
import type { Cache } from "../cache/cache.ts";
import type { AppEnv } from "../http/env.ts";
import type { Logger } from "../logger.ts";
import type { Dashboard, DataQuery } from "./dashboards.schemas.ts";
import { dashboardData } from "./data.ts";

type Listener = (generation: string) => void;

/** one poll of the generation per tenant, shared by that tenant's open streams */
export class GenerationWatch {
  private readonly tenants = new Map<
    string,
    { listeners: Set<Listener>; timer: ReturnType<typeof setInterval>; last: string | undefined }
  >();

  constructor(
    private readonly cache: Cache,
    private readonly pollMs: number,
    private readonly logger: Logger,
  ) {}

  /** call `fn` with each new generation of the tenant; returns the unsubscribe function */
  subscribe(tenantId: string, fn: Listener, current?: string): () => void {
    let t = this.tenants.get(tenantId);
    if (!t) {
      const entry = { listeners: new Set<Listener>(), last: current, timer: setInterval(() => void this.poll(tenantId), this.pollMs) };
      this.tenants.set(tenantId, entry);
      t = entry;
    }
    t.listeners.add(fn);
    return () => {
      t.listeners.delete(fn);
      if (t.listeners.size === 0) {
        clearInterval(t.timer);
        this.tenants.delete(tenantId);
      }
    };
  }

  private async poll(tenantId: string): Promise<void> {
    const t = this.tenants.get(tenantId);
    if (!t) return;
    let gen: string;
    try {
      gen = await readGeneration(this.cache, tenantId);
    } catch (err) {
      this.logger.debug({ err }, "live dashboards: the generation could not be read; trying again at the next poll");
      return;
    }
    if (gen === t.last) return;
    t.last = gen;
    for (const fn of t.listeners) fn(gen);
  }
}

const watches = new WeakMap<Cache, GenerationWatch>();
function watchOf(cache: Cache, pollMs: number, logger: Logger): GenerationWatch {
  let w = watches.get(cache);
  if (!w) {
    w = new GenerationWatch(cache, pollMs, logger);
    watches.set(cache, w);
  }
  return w;
}

/** the live stream of a loaded dashboard; `reload` reads it again before each update (undefined: deleted) */
export function liveStream(c: Context<AppEnv>, first: Dashboard, view: DataQuery, reload: () => Promise<Dashboard | undefined>): Response {
  const ctx = readContext(c);
  const { config, cache } = ctx.deps;
  const cfg = config.dashboards;
  const opts = { concurrency: cfg.concurrency, timeoutMs: cfg.widgetTimeoutMs };
  const signal = c.req.raw.signal;
  return streamSSE(c, async (stream) => {
    let wake: (() => void) | undefined;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    let changedAt: number | undefined;
    let generation = await readGeneration(cache, ctx.tenantId).catch(() => "-");
    const unsubscribe = watchOf(cache, cfg.livePollMs, ctx.deps.logger).subscribe(
      ctx.tenantId,
      (gen) => {
        generation = gen;
        changedAt ??= Date.now();
        wake?.();
      },
      generation,
    );
    stream.onAbort(() => wake?.());
    signal.addEventListener("abort", () => stream.abort(), { once: true });
    let dashboard: Dashboard | undefined = first;
    let sentAt = 0; // the last data message
    let wroteAt = 0; // the last message of any kind (heartbeats too)
    let messages = 0;
    try {
      const send = async () => {
        messages += 1;
        const id = generation;
        try {
          const data = await dashboardData(ctx, dashboard!, view, opts);
          await stream.writeSSE({ event: "data", id, data, ...(messages === 1 ? { retry: 3_000 } : {}) });
        } catch (err) {
          const status = (err as { status?: number }).status ?? 500;
          ctx.logger.warn({ err }, "live dashboard update failed");
          await stream.writeSSE({
            event: "error",
            id,
            data: JSON.stringify({
              status,
              detail: status === 500 ? "the update could not be computed; the next change tries again" : (err as Error).message,
            }),
          });
        }
        sentAt = Date.now();
        wroteAt = sentAt;
      };
      await send();
      while (!stream.aborted && !signal.aborted) {
        const now = Date.now();
        if (changedAt !== undefined) {
          const due = Math.max(changedAt + config.analytics.generationReuseMs, sentAt + cfg.liveMinIntervalMs);
          if (now < due) {
            await sleep(due - now);
            continue;
          }
          changedAt = undefined;
          dashboard = await reload();
          if (!dashboard) {
            await stream.writeSSE({ event: "gone", data: JSON.stringify({ status: 404, detail: "the dashboard was deleted" }) });
            break;
          }
          await send();
          continue;
        }
        const quiet = now - wroteAt;
        if (quiet >= cfg.heartbeatMs) {
          await stream.write(": heartbeat\n\n");
          wroteAt = now;
          continue;
        }
        await sleep(cfg.heartbeatMs - quiet);
      }
    } finally {
      unsubscribe();
      ctx.logger.debug({ messages }, "live dashboard stream closed");
    }
  });
}
