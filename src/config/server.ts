/** The process: environment, listen address, role (api, worker or all), shutdown grace. */
import { z } from "zod";
import { int, section } from "./section.ts";

export type Role = "api" | "worker" | "all";

export const server = section({
  vars: {
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    PORT: int(0, 65535).default(3010),
    HOST: z.string().min(1).default("0.0.0.0"),
    ROLE: z.enum(["api", "worker", "all"]).default("all"),
    SHUTDOWN_TIMEOUT_MS: int(1_000, 120_000).default(10_000),
  },
  read: (e) => ({ env: e.NODE_ENV, port: e.PORT, host: e.HOST, role: e.ROLE, shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS }),
});
