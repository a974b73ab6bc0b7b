import type { Sql } from "../db/client.ts";

export async function timescaleVersion(sql: Sql): Promise<{ timescaledb: string | null; postgres: string }> {
  const [row] = await sql`
    select (select extversion from pg_extension where extname = 'timescaledb') as timescaledb,
           current_setting('server_version') as postgres`;
  return { timescaledb: (row?.timescaledb as string | null) ?? null, postgres: String(row?.postgres ?? "") };
}
