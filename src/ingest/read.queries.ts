/** Tenant-scoped reads of ingest state: dead letters and ingest statistics (run inside withTenant). */
import type { TxSql } from "../db/client.ts";

export interface DeadLetterFilter {
  reason?: string;
  type?: string;
  from?: string;
  to?: string;
  limit: number;
  after?: { received_at: string; id: number };
}

export async function listDeadLetters(tx: TxSql, f: DeadLetterFilter) {
  return tx<
    Array<{
      id: string;
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
    select id, received_at, event_id, subject, type, source, schema_version, reason, issues, payload,
           payload_excerpt, transport, stream_sequence
      from dead_letter_events
     where true
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
