import { z } from "zod";
import type { Sql, TxSql } from "./client.ts";

const tenantIdSchema = z.uuid();

/** the non-owner role that tenant queries run as (RLS and the tenant views apply to it) */
export const APP_ROLE = "pulse_app";

/**
 * The one way to run tenant queries: a transaction as the application role with `app.tenant_id`
 * set locally, so row-level security and the tenant views see exactly this tenant.
 */
export async function withTenant<T>(sql: Sql, tenantId: string, fn: (tx: TxSql) => Promise<T>): Promise<T> {
  const id = tenantIdSchema.parse(tenantId);
  const result = await sql.begin(async (tx) => {
    await tx`select set_config('role', ${APP_ROLE}, true), set_config('app.tenant_id', ${id}, true)`;
    return fn(tx);
  });
  return result as T;
}
