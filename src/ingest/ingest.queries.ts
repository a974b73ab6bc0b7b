/**
 * Reads of ingest statistics, inside withTenant (row-level security limits them to the caller's tenant);
 * the worker's probe of an unavailable database.
 */
import type { Sql, TxSql } from "../db/client.ts";

/** the cheapest round trip: the worker's probe while database writes are paused (no messages at stake) */
export async function ping(sql: Sql): Promise<void> {
  await sql`select 1`;
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
