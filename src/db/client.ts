import postgres from "postgres";
import type { Logger } from "../logger.ts";

export type Sql = postgres.Sql;
export type TxSql = postgres.TransactionSql;

export interface SqlOptions {
  max: number;
  statementTimeoutMs: number;
  logger: Logger;
  /** the embedded engine has one connection and no real password */
  embedded: boolean;
}

export function createSql(url: string, opts: SqlOptions): Sql {
  const log = opts.logger.child({ component: "db" });
  return postgres(url, {
    max: opts.max,
    idle_timeout: opts.embedded ? 0 : 60,
    connect_timeout: 10,
    max_lifetime: opts.embedded ? null : 60 * 30,
    // enforced by real servers; the embedded engine has no timer signal and ignores it
    // warnings and errors only: the embedded engine otherwise sends DEBUG notices with every statement
    connection: { application_name: "pulse", statement_timeout: opts.statementTimeoutMs, client_min_messages: "warning" },
    onnotice: (notice) => log.debug({ notice: notice.message }, "postgres notice"),
  });
}
