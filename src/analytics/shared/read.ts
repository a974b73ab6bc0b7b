/**
 * The analytics read path: THE way every analytics operation reads.
 *
 *   answer = envelopeAnswer(ctx, "getRevenueSummary", params, (tx) => revenueSummary(tx, …));
 *                                        // { as_of, watermark, data }, the cached JSON text as is
 *   answer = derivedAnswer(ctx, …, { variant, reshape });  // a page or the data of the envelope
 *   return sendAnswer(c, answer);        // the route's 200
 *   const body = await analyticsRead(…); // the envelope as an object (code that needs its fields)
 *
 * 1. cache key = pulse:a:{tenant}:{generation}:{operationId}:{sha256 of the normalised, key-sorted
 *    params} (generation.ts); `params` must hold EVERY input that changes the answer;
 * 2. withCacheText (cache.ts): TTL ANALYTICS_CACHE_TTL_SECONDS ± 10 %, single flight per key, cache
 *    failures ⇒ the database answers (logged once per outage, readiness shows `analytics_cache`);
 * 3. the query runs in withTenant on the primary (`deps.sql`): a read replica could lag behind a
 *    generation bump and cache a stale answer under the new generation;
 * 4. statement timeout DB_STATEMENT_TIMEOUT_MS: `SET LOCAL statement_timeout` in the transaction (a real
 *    server cancels the query: SQLSTATE 57014) AND a client-side deadline 250 ms later (the embedded
 *    engine enforces no statement timeout; there the query runs on in the background and holds the one
 *    connection until it ends). Either way: 504 problem+json, never a hung request;
 * 5. the envelope: `as_of` = when the answer was computed (a cached answer keeps its as_of), and
 *    `watermark` = the newest event time in [params.from, params.to) for the tenant (of
 *    `opts.watermarkTypes` when given), or null; skipped when params has no from/to.
 * Read-after-write: see generation.ts.
 *
 * A route whose body is not the envelope as is (its data alone, or a sorted page of it) answers with
 * derivedAnswer: reshape(envelope) as JSON text, kept in process per answer key and variant and
 * reused while the cached answer is the same text, so its hits cost no parse and no serialisation either.
 */
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Context, TypedResponse } from "hono";
import type { JSONParsed } from "hono/utils/types";
import type { TxSql } from "../../db/client.ts";
import { withTenant } from "../../db/tenant.ts";
import type { Deps } from "../../deps.ts";
import type { AppEnv } from "../../http/env.ts";
import { HttpProblem } from "../../http/problem.ts";
import type { Logger } from "../../logger.ts";
import { type CacheContext, guarded, lookupText, withCacheText } from "./cache.ts";
import { answerKey, currentGeneration, reusedGeneration } from "./generation.ts";
import type { NormalisedParams } from "./params.ts";
import { eventsWatermark } from "./source.queries.ts";

/** what analyticsRead needs from a request (tests may build it without HTTP) */
export interface ReadContext {
  deps: Deps;
  tenantId: string;
  logger: Logger;
  /**
   * A bulk reader (an export walking every page): it takes an answer from the shared cache when one is
   * there, but stores nothing, neither there nor in this process (the local answer LRU, the
   * derived-answer memo), where thousands of pages nobody reads again would push out the answers
   * dashboards and clients do read. Its answers hold their body as an object (`Answer.value`, see
   * bulkEnvelope): no serialisation and no parse per page.
   */
  bulk?: boolean;
}

export interface AnalyticsEnvelope<T> {
  /** when the answer was computed (ISO-8601) */
  as_of: string;
  /** newest event time included for the tenant in [from, to) (ISO-8601), or null */
  watermark: string | null;
  data: T;
}

export interface ReadOptions {
  /** only these event types count for the watermark (default: all) */
  watermarkTypes?: readonly string[];
}

/** ms after the statement timeout before the client gives up by itself */
export const CLIENT_DEADLINE_GRACE_MS = 250;

class ClientDeadline extends Error {}

export function readContext(c: Context<AppEnv>): ReadContext {
  return { deps: c.get("deps"), tenantId: c.get("principal").tenantId, logger: c.get("logger") };
}

/** recent parameter hashes by their JSON (a dashboard asks the same things again and again); by size */
const hashes = new LRUCache<string, string>({ maxSize: 4 * 1024 * 1024, sizeCalculation: (v, k) => k.length + v.length + 64 });

/** sha-256 of the normalised parameters (the cache key's last part) */
function paramsHash(params: NormalisedParams): string {
  const json = JSON.stringify(params);
  let hash = hashes.get(json);
  if (hash === undefined) {
    hash = createHash("sha256").update(json).digest("hex");
    hashes.set(json, hash);
  }
  return hash;
}

/**
 * Derived answers: answer key + "\n" + variant → the envelope text it was derived from and the derived
 * text. By size in characters, the source counted too: it is usually the cached answer's own string,
 * but an entry keeps it alive after the answer cache let it go.
 */
const DERIVED_MAX_CHARS = 16 * 1024 * 1024;
const derived = new LRUCache<string, { source: string; text: string }>({
  maxSize: DERIVED_MAX_CHARS,
  sizeCalculation: (v, k) => k.length + v.source.length + v.text.length + 64,
});

/**
 * An operation's 200 body as JSON text, typed by what it holds. Every analytics operation has one
 * answer function `(ctx, query) => Promise<Answer<Body>>` (see registry.ts): its route sends it with
 * sendAnswer, and exports and dashboards call the same function, so they hold exactly what the API
 * answers for the same parameters.
 */
export interface Answer<B> {
  readonly text: string;
  /** compile-time only: the body's type */
  readonly body?: B;
  /** a bulk reader's answer: the body as an object, what JSON.parse(text) gives (text is then made when asked for) */
  readonly value?: unknown;
}

/** an answer holding its body as an object; its text is made once, when asked for */
function valueAnswer<B>(value: unknown): Answer<B> {
  let text: string | undefined;
  return {
    value,
    get text() {
      text ??= JSON.stringify(value);
      return text;
    },
  };
}

/** the envelope as an object (code that needs its fields; a route sends an Answer instead) */
export async function analyticsRead<T>(
  ctxOrC: ReadContext | Context<AppEnv>,
  operationId: string,
  params: NormalisedParams,
  query: (tx: TxSql) => Promise<T>,
  opts: ReadOptions = {},
): Promise<AnalyticsEnvelope<T>> {
  if ("bulk" in ctxOrC && ctxOrC.bulk) return bulkEnvelope(ctxOrC, operationId, params, query, opts);
  return JSON.parse(await analyticsText(ctxOrC, operationId, params, query, opts)) as AnalyticsEnvelope<T>;
}

/** the answer of an operation whose body is the envelope as is: the cached JSON text unchanged */
export async function envelopeAnswer<T>(
  ctx: ReadContext,
  operationId: string,
  params: NormalisedParams,
  query: (tx: TxSql) => Promise<T>,
  opts: ReadOptions = {},
): Promise<Answer<AnalyticsEnvelope<T>>> {
  if (ctx.bulk) return valueAnswer(await bulkEnvelope(ctx, operationId, params, query, opts));
  return { text: await analyticsText(ctx, operationId, params, query, opts) };
}

/** a 200 JSON answer from an Answer's text (a hit costs no parse and no serialisation), typed as c.json(body, 200) */
export function sendAnswer<B>(c: Context<AppEnv>, answer: Answer<B>): TypedResponse<JSONParsed<B>, 200, "json"> {
  return c.body(answer.text, 200, { "content-type": "application/json" }) as unknown as TypedResponse<JSONParsed<B>, 200, "json">;
}

/**
 * The answer of an operation whose body is derived from the envelope: reshape(envelope) as JSON.
 * `variant` must name every input of reshape besides the envelope (page size, sort, cursor…): the
 * derived text is reused for the same answer key and variant while the cached answer is the same text
 * (an answer recomputed under the key, e.g. by a refresh ahead, is derived afresh). reshape must be
 * pure: no clock, no I/O.
 */
export async function derivedAnswer<T, B>(
  ctx: ReadContext,
  operationId: string,
  params: NormalisedParams,
  query: (tx: TxSql) => Promise<T>,
  derive: { variant: string; reshape: (envelope: AnalyticsEnvelope<T>) => B },
  opts: ReadOptions = {},
): Promise<Answer<B>> {
  if (ctx.bulk) return valueAnswer(derive.reshape(await bulkEnvelope(ctx, operationId, params, query, opts)));
  const { key, text } = await answer(ctx, operationId, params, query, opts);
  const memoKey = `${key}\n${derive.variant}`;
  const known = derived.get(memoKey);
  if (known !== undefined && known.source === text) return { text: known.text };
  const out = JSON.stringify(derive.reshape(JSON.parse(text) as AnalyticsEnvelope<T>));
  derived.set(memoKey, { source: text, text: out });
  return { text: out };
}

/** the answer of an operation whose body is the envelope's `data` alone */
export function dataAnswer<T>(
  ctx: ReadContext,
  operationId: string,
  params: NormalisedParams,
  query: (tx: TxSql) => Promise<T>,
  opts: ReadOptions = {},
): Promise<Answer<T>> {
  return derivedAnswer(ctx, operationId, params, query, { variant: "data", reshape: (envelope) => envelope.data }, opts);
}

/** the envelope's JSON text, from the cache or computed (and then cached) */
export async function analyticsText<T>(
  ctxOrC: ReadContext | Context<AppEnv>,
  operationId: string,
  params: NormalisedParams,
  query: (tx: TxSql) => Promise<T>,
  opts: ReadOptions = {},
): Promise<string> {
  if ("bulk" in ctxOrC && ctxOrC.bulk) return JSON.stringify(await bulkEnvelope(ctxOrC, operationId, params, query, opts));
  return (await answer(ctxOrC, operationId, params, query, opts)).text;
}

/** an answer's cache key under the tenant's generation; `known` false when the generation could not be read (then "-") */
async function keyOf(
  ctx: ReadContext,
  cacheCtx: CacheContext,
  operationId: string,
  params: NormalisedParams,
): Promise<{ key: string; known: boolean }> {
  const { deps, tenantId } = ctx;
  const reuseMs = deps.config.analytics.generationReuseMs;
  // within the reuse window the generation is in memory: no cache call, so no timeout guard either
  const reused = reusedGeneration(deps.cache, tenantId, reuseMs);
  const gen =
    reused !== undefined
      ? { ok: true as const, value: reused }
      : await guarded(cacheCtx, () => currentGeneration(deps.cache, tenantId, reuseMs));
  return { key: answerKey(tenantId, gen.ok ? gen.value : "-", operationId, paramsHash(params)), known: gen.ok };
}

/**
 * A bulk reader's envelope as an object: the shared cache's answer when there is one (an export of
 * what a client just read holds that very answer, as_of included), else computed and neither stored
 * nor serialised. Answer functions build plain JSON values (strings, finite numbers, booleans, null,
 * arrays, objects), so the object is what its JSON text parses back to (registry.test.ts checks it
 * for every operation). No single flight: a bulk reader reads an answer once.
 */
async function bulkEnvelope<T>(
  ctx: ReadContext,
  operationId: string,
  params: NormalisedParams,
  query: (tx: TxSql) => Promise<T>,
  opts: ReadOptions,
): Promise<AnalyticsEnvelope<T>> {
  const cacheCtx: CacheContext = { cache: ctx.deps.cache, logger: ctx.logger, metrics: ctx.deps.metrics };
  const { key, known } = await keyOf(ctx, cacheCtx, operationId, params);
  const cached = known ? await lookupText(cacheCtx, key) : undefined;
  return cached !== undefined ? (JSON.parse(cached) as AnalyticsEnvelope<T>) : runQuery(ctx, operationId, params, query, opts);
}

/** the envelope's JSON text and its cache key */
async function answer<T>(
  ctxOrC: ReadContext | Context<AppEnv>,
  operationId: string,
  params: NormalisedParams,
  query: (tx: TxSql) => Promise<T>,
  opts: ReadOptions,
): Promise<{ key: string; text: string }> {
  const ctx = "var" in ctxOrC ? readContext(ctxOrC) : ctxOrC;
  const { deps, logger } = ctx;
  const cacheCtx: CacheContext = { cache: deps.cache, logger, metrics: deps.metrics, localBytes: deps.config.analytics.localCacheBytes };
  const { key, known } = await keyOf(ctx, cacheCtx, operationId, params);
  const text = await withCacheText(
    cacheCtx,
    key,
    deps.config.analytics.cacheTtlSeconds,
    async () => JSON.stringify(await runQuery(ctx, operationId, params, query, opts)),
    { store: known },
  );
  return { key, text };
}

async function runQuery<T>(
  ctx: ReadContext,
  operationId: string,
  params: NormalisedParams,
  query: (tx: TxSql) => Promise<T>,
  opts: ReadOptions,
): Promise<AnalyticsEnvelope<T>> {
  const { deps, tenantId, logger } = ctx;
  const timeoutMs = deps.config.db.statementTimeoutMs;
  const started = performance.now();
  const asOf = new Date();
  const from = typeof params.from === "string" ? new Date(params.from) : undefined;
  const to = typeof params.to === "string" ? new Date(params.to) : undefined;

  const work = withTenant(
    deps.sql,
    tenantId,
    async (tx) => {
      const data = await query(tx);
      const watermark = from && to ? await eventsWatermark(tx, from, to, opts.watermarkTypes) : null;
      return { data, watermark };
    },
    { statementTimeoutMs: timeoutMs },
  );
  work.catch(() => undefined); // the deadline may win the race; the late outcome is dropped
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClientDeadline()), timeoutMs + CLIENT_DEADLINE_GRACE_MS);
  });
  const observe = (result: string) =>
    deps.metrics.analyticsQuerySeconds.observe({ operation: operationId, result }, (performance.now() - started) / 1000);
  try {
    const { data, watermark } = await Promise.race([work, deadline]);
    observe("ok");
    logger.debug({ operation: operationId, duration_ms: Math.round(performance.now() - started) }, "analytics query");
    return { as_of: asOf.toISOString(), watermark: watermark ? watermark.toISOString() : null, data };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (err instanceof ClientDeadline || code === "57014") {
      observe("timeout");
      logger.warn({ operation: operationId, timeout_ms: timeoutMs }, "analytics query timed out");
      throw new HttpProblem(
        504,
        `the query did not finish within ${timeoutMs} ms (DB_STATEMENT_TIMEOUT_MS); narrow the range or use a wider bucket`,
      );
    }
    if (code === "22023" && /time zone/i.test((err as Error).message)) {
      observe("error");
      throw new HttpProblem(400, "timezone: the database does not know this time zone", {
        errors: [{ path: "timezone", message: "not a time zone the database knows" }],
      });
    }
    observe("error");
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
