/**
 * Cross-tenant operator reads. The ONLY queries that run outside withTenant: as the service's
 * connection role (the migrating owner, which row-level security does not restrict), in a read-only
 * transaction, reached only through the `ops`-only routes of admin.routes.ts.
 */
import type { Sql } from "../db/client.ts";

export interface AllDeadLettersFilter {
  /** an explicit tenant filter; undefined ⇒ every tenant, including rows whose tenant was unknown */
  tenantId?: string;
  reason?: string;
  type?: string;
  from?: string;
  to?: string;
  limit: number;
  after?: { received_at: string; id: number };
}

export async function listAllDeadLetters(sql: Sql, f: AllDeadLettersFilter) {
  return sql.begin("read only", async (tx) =>
    tx<
      Array<{
        id: string;
        tenant_id: string | null;
        received_at: Date;
        event_id: string | null;
        subject: string | null;
        type: string | null;
        source: string | null;
        schema_version: string | null;
        reason: string;
        issues: Array<{ path: string; message: string }>;
        payload: unknown;
        payload_excerpt: string | null;
        transport: string;
        stream_sequence: string | null;
      }>
    >`
      select id, tenant_id, received_at, event_id, subject, type, source, schema_version, reason, issues,
             payload, payload_excerpt, transport, stream_sequence
        from dead_letter_events
       where true
         ${f.tenantId ? tx`and tenant_id = ${f.tenantId}::uuid` : tx``}
         ${f.reason ? tx`and reason = ${f.reason}` : tx``}
         ${f.type ? tx`and type = ${f.type}` : tx``}
         ${f.from ? tx`and received_at >= ${f.from}` : tx``}
         ${f.to ? tx`and received_at < ${f.to}` : tx``}
         ${f.after ? tx`and (received_at, id) < (${f.after.received_at}::timestamptz, ${f.after.id})` : tx``}
       order by received_at desc, id desc
       limit ${f.limit + 1}`,
  );
}
