/**
 * Reads of ingest state: dead letters and ingest statistics. Tenant routes run them inside withTenant
 * (row-level security limits them to the caller's tenant); the operators' cross-tenant dead-letter read
 * (src/admin/admin.routes.ts) runs listDeadLetters in a read-only transaction outside withTenant.
 */
import type { TxSql } from "../db/client.ts";

export interface DeadLetterFilter {
  /** an explicit tenant filter (operators' read); undefined ⇒ every row the transaction can see */
  tenantId?: string;
  reason?: string;
  type?: string;
  from?: string;
  to?: string;
  limit: number;
  after?: { received_at: string; id: number };
}

export interface DeadLetterRow {
  id: string;
  /** null when the tenant could not be known (malformed payload) */
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
}

/** one page (limit + 1 rows, to tell whether another follows), newest first */
export async function listDeadLetters(tx: TxSql, f: DeadLetterFilter) {
  return tx<DeadLetterRow[]>`
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
     limit ${f.limit + 1}`;
}

export async function ingestStats(tx: TxSql, from: string, to: string) {
  const [counters] = await tx<[{ accepted: string; duplicates: string; out_of_order: string }]>`
    select coalesce(sum(accepted), 0) as accepted, coalesce(sum(duplicates), 0) as duplicates,
           coalesce(sum(out_of_order), 0) as out_of_order
      from ingest_counters
     where hour >= date_trunc('hour', ${from}::timestamptz) and hour < ${to}::timestamptz`;
  const rejected = await tx<Array<{ reason: string; n: string }>>`
    select reason, count(*) as n from dead_letter_events
     where received_at >= ${from} and received_at < ${to}
     group by reason order by reason`;
  const [last] = await tx<[{ last_event_time: Date | null }]>`select max(time) as last_event_time from tenant_events`;
  return { counters: counters!, rejected, lastEventTime: last?.last_event_time ?? null };
}
