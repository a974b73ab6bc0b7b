/** The database: a real TimescaleDB (DATABASE_URL) or the embedded engine, the pool, the statement timeout, migrations. */
import { z } from "zod";
import { bool, int, optionalString, section } from "./section.ts";

export const db = section({
  vars: {
    DATABASE_URL: optionalString.pipe(z.url({ protocol: /^postgres(ql)?$/ }).optional()),
    EMBEDDED_DATA_DIR: z.string().min(1).default("./data/timescaledb"),
    EMBEDDED_PORT: int(0, 65535).default(0),
    // memory a sort or hash of the embedded engine may use before spilling to disk (funnels sort every
    // event of the range); PostgreSQL's size syntax
    EMBEDDED_WORK_MEM: z
      .string()
      .regex(/^[1-9][0-9]*(kB|MB|GB)$/, "a size such as 32MB (kB, MB or GB)")
      .default("32MB"),
    DB_POOL_MAX: int(1, 200).default(10),
    DB_STATEMENT_TIMEOUT_MS: int(100, 3_600_000).default(30_000),
    MIGRATE_ON_START: bool.default(true),
  },
  read: (e, base) => ({
    db: {
      /** undefined ⇒ embedded TimescaleDB */
      url: e.DATABASE_URL,
      embedded: { dataDir: e.EMBEDDED_DATA_DIR, port: e.EMBEDDED_PORT, workMem: e.EMBEDDED_WORK_MEM },
      // the embedded socket serves one connection at a time: a larger pool only times out
      poolMax: base.embedded ? 1 : e.DB_POOL_MAX,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
      migrateOnStart: e.MIGRATE_ON_START,
    },
  }),
});
