/** Logging (pino): level and format (pretty in development, JSON elsewhere). */
import { z } from "zod";
import { section } from "./section.ts";

export const log = section({
  vars: {
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    LOG_FORMAT: z.enum(["json", "pretty"]).optional(),
  },
  read: (e, base) => ({
    log: { level: e.LOG_LEVEL as string, format: e.LOG_FORMAT ?? (base.nodeEnv === "development" ? "pretty" : "json") },
  }),
});
