/**
 * A dashboard as the data and live operations read it: from the shared cache (Redis / Upstash /
 * memory) when there, else from the database (then cached for DASHBOARD_CACHE_TTL_S). Viewers load a
 * dashboard on every data call, and on the embedded engine every database read queues on its one
 * connection: without this, 20 viewers would wait on each other's dashboard rows rather than on the
 * (cached) answers. Every write through the API deletes the key after its commit, so a change shows at
 * once; a read that raced a write can keep the older row until the TTL (the ETag'd GET and every write
 * always read the database). A failing cache is skipped: the database answers.
 */
import type { Cache } from "../cache/cache.ts";
import type { Sql } from "../db/client.ts";
import { withTenant } from "../db/tenant.ts";
import type { Logger } from "../logger.ts";
import type { Dashboard } from "./dashboards.schemas.ts";
import { getDashboard } from "./dashboards.queries.ts";

export const DASHBOARD_CACHE_TTL_S = 60;

const keyOf = (tenantId: string, id: string) => `pulse:dash:${tenantId}:${id}`;

export async function cachedDashboard(
  deps: { sql: Sql; cache: Cache; logger: Logger },
  tenantId: string,
  id: string,
): Promise<Dashboard | undefined> {
  const key = keyOf(tenantId, id);
  const hit = await deps.cache.get(key).catch(() => null);
  if (hit !== null) return JSON.parse(hit) as Dashboard;
  const d = await withTenant(deps.sql, tenantId, (tx) => getDashboard(tx, tenantId, id));
  if (d)
    await deps.cache
      .set(key, JSON.stringify(d), DASHBOARD_CACHE_TTL_S)
      .catch((err: unknown) => deps.logger.debug({ err }, "dashboard not cached"));
  return d;
}

/** after a committed write: the next read goes to the database */
export async function forgetDashboard(deps: { cache: Cache; logger: Logger }, tenantId: string, id: string): Promise<void> {
  await deps.cache
    .del(keyOf(tenantId, id))
    .catch((err: unknown) => deps.logger.warn({ err, dashboard: id }, "a changed dashboard stays cached until its TTL"));
}
