/**
 * Dynamic pricing (docs/pricing.md): demand scores and recommendations (demand.routes.ts), the
 * four-eyes price-change workflow (changes.routes.ts), and the worker that publishes approvals and
 * follows them to the catalog (outbox.ts). Definitions: definitions.ts.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/env.ts";
import { changesRoutes } from "./changes.routes.ts";
import { demandRoutes } from "./demand.routes.ts";

export const pricingRoutes = new OpenAPIHono<AppEnv>().route("/", demandRoutes).route("/", changesRoutes);
