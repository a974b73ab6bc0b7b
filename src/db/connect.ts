/**
 * The database a configuration names: DATABASE_URL (a real TimescaleDB), or else the embedded engine,
 * started on EMBEDDED_DATA_DIR. Used by the service (src/deps.ts) and by `bun run migrate`.
 */
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { createSql, type Sql } from "./client.ts";
import { EmbeddedEngine } from "./embedded/manager.ts";

export interface Database {
  sql: Sql;
  /** the embedded engine this process started; undefined with DATABASE_URL */
  engine: EmbeddedEngine | undefined;
}

/** `max`: the pool size (the embedded engine serves one connection at a time: loadConfig makes poolMax 1 there) */
export async function connectDatabase(db: Config["db"], logger: Logger, opts: { max: number }): Promise<Database> {
  let engine: EmbeddedEngine | undefined;
  let url = db.url;
  if (!url) {
    engine = new EmbeddedEngine({ dataDir: db.embedded.dataDir, port: db.embedded.port, workMem: db.embedded.workMem, logger });
    await engine.start();
    url = engine.url;
  }
  const sql = createSql(url, { max: opts.max, statementTimeoutMs: db.statementTimeoutMs, logger, embedded: Boolean(engine) });
  return { sql, engine };
}
