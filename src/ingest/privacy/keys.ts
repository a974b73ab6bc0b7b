/**
 * The secrets of the privacy step, cached in process: each tenant's latest HMAC key (a rotation reaches
 * other replicas within keyTtlMs) and each UTC day's visitor salt. Missing ones are created in the
 * database (privacy.queries.ts): at most one round trip each for keys and salts per batch, none when cached.
 */
import { LRUCache } from "lru-cache";
import type { Sql } from "../../db/client.ts";
import type { Logger } from "../../logger.ts";
import { getOrCreateTenantKeys, getOrCreateVisitorSalts, type TenantKey } from "./privacy.queries.ts";

export interface PrivacyOptions {
  /** how long a tenant's latest key is cached (a rotation reaches other replicas within it) */
  keyTtlMs?: number;
  /** how long a day's salt is cached (days older than yesterday are never used, whatever the cache) */
  saltTtlMs?: number;
  maxTenants?: number;
}

export interface KeyStore {
  /** the latest key of each tenant, created when it has none; throws when one cannot be loaded */
  tenantKeys(tenants: Set<string>): Promise<Map<string, TenantKey>>;
  /** the salts of the given UTC days ('YYYY-MM-DD') that exist or may still be made (see getOrCreateVisitorSalts) */
  daySalts(days: Set<string>): Promise<Map<string, Buffer>>;
}

export function createKeyStore(sql: Sql, log: Logger, opts: PrivacyOptions = {}): KeyStore {
  const keys = new LRUCache<string, TenantKey>({ max: opts.maxTenants ?? 50_000, ttl: opts.keyTtlMs ?? 5 * 60_000 });
  const salts = new LRUCache<string, Buffer>({ max: 8, ttl: opts.saltTtlMs ?? 5 * 60_000 });

  return {
    async tenantKeys(tenants) {
      const { found: out, missing } = fromCache(keys, tenants);
      if (missing.length === 0) return out;
      const got = await getOrCreate((ids) => getOrCreateTenantKeys(sql, ids), missing);
      for (const t of missing) {
        const k = got.get(t);
        if (!k) throw new Error(`no HMAC key could be loaded for tenant ${t}`);
        keys.set(t, k);
        out.set(t, k);
      }
      log.debug({ tenants: missing.length }, "loaded tenant keys");
      return out;
    },

    async daySalts(days) {
      const { found: out, missing } = fromCache(salts, days);
      if (missing.length === 0) return out;
      const got = await getOrCreate((ids) => getOrCreateVisitorSalts(sql, ids), missing);
      for (const [d, s] of got) {
        salts.set(d, s);
        out.set(d, s);
      }
      log.debug({ days: missing, found: got.size }, "loaded visitor salts");
      return out;
    },
  };
}

/** the cached values of `wanted`, and the ids that are not cached */
function fromCache<V extends {}>(cache: LRUCache<string, V>, wanted: Iterable<string>): { found: Map<string, V>; missing: string[] } {
  const found = new Map<string, V>();
  const missing: string[] = [];
  for (const id of wanted) {
    const v = cache.get(id);
    if (v) found.set(id, v);
    else missing.push(id);
  }
  return { found, missing };
}

/**
 * query(ids), then once more for the ids its answer lacks: created by a concurrent transaction after
 * the first statement's snapshot, now committed and visible
 */
async function getOrCreate<V>(query: (ids: string[]) => Promise<Map<string, V>>, ids: string[]): Promise<Map<string, V>> {
  const got = await query(ids);
  const again = ids.filter((id) => !got.has(id));
  if (again.length === 0) return got;
  const more = await query(again);
  return new Map([...got, ...more]);
}
