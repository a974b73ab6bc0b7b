import { z } from "zod";
import type { Sql, TxSql } from "./client.ts";

const tenantIdSchema = z.uuid();

/** the non-owner role that tenant queries run as (RLS and the tenant views apply to it) */
export const APP_ROLE = "pulse_app";

export interface TenantOptions {
  /** `SET LOCAL statement_timeout` for the transaction, in the same statement as the tenant's settings */
  statementTimeoutMs?: number;
}

/**
 * The one way to run tenant queries: a transaction as the application role with `app.tenant_id`
 * set locally, so row-level security and the tenant views see exactly this tenant.
 */
export async function withTenant<T>(sql: Sql, tenantId: string, fn: (tx: TxSql) => Promise<T>, opts: TenantOptions = {}): Promise<T> {
  const id = tenantIdSchema.parse(tenantId);
  const timeout = opts.statementTimeoutMs === undefined ? null : String(opts.statementTimeoutMs);
  const result = await sql.begin(async (tx) => {
    // one statement: the statement timeout (when given) with the role and the tenant; not waited for
    // before `fn` starts: its first statements go out right behind it on the transaction's connection
    // (pipelined, run in order), which saves a round trip per transaction. Should the settings fail,
    // every later statement fails too (the transaction is aborted) and this rejects with their error.
    const withTimeout = timeout === null ? tx`` : tx`, set_config('statement_timeout', ${timeout}, true)`;
    const settings = tx`select set_config('role', ${APP_ROLE}, true), set_config('app.tenant_id', ${id}, true)${withTimeout}`.execute();
    const [, value] = await Promise.all([settings, fn(tx)]);
    return value;
  });
  return result as T;
}
