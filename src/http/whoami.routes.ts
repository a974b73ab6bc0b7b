import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ROLES } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { problemResponses } from "./problem.ts";

const PrincipalSchema = z
  .object({
    sub: z.string(),
    tenant_id: z.uuid(),
    roles: z.array(z.enum(ROLES)),
  })
  .openapi("Principal");

const route = createRoute({
  method: "get",
  path: "/v1/me",
  operationId: "getCurrentPrincipal",
  tags: ["auth"],
  summary: "Who the bearer token says you are: subject, tenant and roles",
  responses: {
    200: { description: "the verified claims", content: { "application/json": { schema: PrincipalSchema } } },
    ...problemResponses,
  },
});

export const whoamiRoutes = new OpenAPIHono<AppEnv>().openapi(route, (c) => {
  const p = c.get("principal");
  return c.json({ sub: p.sub, tenant_id: p.tenantId, roles: p.roles }, 200);
});
