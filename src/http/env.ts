import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Deps } from "../deps.ts";
import type { Logger } from "../logger.ts";
import type { Principal } from "./auth.ts";

export interface AppEnv {
  Variables: {
    deps: Deps;
    requestId: string;
    logger: Logger;
    principal: Principal;
  };
}

export type App = OpenAPIHono<AppEnv>;
