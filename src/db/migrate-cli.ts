/** `bun run migrate`: apply migrations and re-apply the idempotent SQL, then exit. */
import { loadConfigOrExit } from "../config.ts";
import { createLogger, fatalLine } from "../logger.ts";
import { connectDatabase } from "./connect.ts";
import { migrate, migrateSettings } from "./migrate.ts";

const config = loadConfigOrExit(fatalLine, (code) => process.exit(code));
const logger = createLogger(config.log);
const { sql, engine } = await connectDatabase(config.db, logger, { max: 1 });
let code = 0;
try {
  const result = await migrate(sql, { logger, settings: migrateSettings(config) });
  logger.info({ applied: result.applied, already_applied: result.alreadyApplied, duration_ms: result.durationMs }, "migrate finished");
} catch (err) {
  logger.fatal({ err: (err as Error).message }, "migrate failed");
  code = 1;
} finally {
  await sql.end({ timeout: 5 });
  await engine?.stop();
}
process.exit(code);
