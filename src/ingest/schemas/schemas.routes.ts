import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { JSONValue } from "hono/utils/types";
import type { AppEnv } from "../../http/env.ts";
import { HttpProblem, PROBLEM_CONTENT_TYPE, ProblemSchema, problemResponses } from "../../http/problem.ts";
import { catalog, jsonSchemaFor, SCHEMA_VERSIONS } from "./catalog.ts";

const SchemaListSchema = z
  .object({
    data: z.array(
      z.object({
        type: z.string().openapi({ example: "order.completed" }),
        version: z.enum(SCHEMA_VERSIONS).openapi({ description: "the envelope's schemaversion" }),
        description: z.string(),
        direction: z
          .enum(["accepted", "emitted"])
          .openapi({ description: "accepted: publishers send it to Pulse; emitted: Pulse publishes it" }),
        subject: z
          .string()
          .openapi({ description: "the NATS subject pattern", example: "<NATS_SUBJECT_PREFIX>.<tenantid>.order.completed" }),
        url: z.string().openapi({ example: "/v1/schemas/order.completed/2" }),
      }),
    ),
  })
  .openapi("EventSchemaList");

const listRoute = createRoute({
  method: "get",
  path: "/v1/schemas",
  operationId: "listSchemas",
  tags: ["schemas"],
  summary: "The event catalog: every event type and schema version Pulse accepts, and the events it publishes",
  responses: {
    200: { description: "one entry per (type, version)", content: { "application/json": { schema: SchemaListSchema } } },
    ...problemResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/schemas/{type}/{version}",
  operationId: "getSchema",
  tags: ["schemas"],
  summary: "The JSON Schema (2020-12) of a whole event (envelope + data) of one type and schema version",
  request: {
    params: z.object({
      type: z
        .string()
        .min(1)
        .max(128)
        .openapi({ param: { name: "type", in: "path" }, example: "order.completed" }),
      version: z.enum(SCHEMA_VERSIONS).openapi({ param: { name: "version", in: "path" }, example: "2" }),
    }),
  },
  responses: {
    200: {
      description: "a JSON Schema document",
      content: { "application/schema+json": { schema: z.record(z.string(), z.unknown()).openapi("JsonSchemaDocument") } },
    },
    404: { description: "Pulse does not accept this type and version", content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } } },
    ...problemResponses,
  },
});

export const schemasRoutes = new OpenAPIHono<AppEnv>()
  .openapi(listRoute, (c) => {
    const data = catalog().map((e) => ({
      type: e.type,
      version: e.version,
      description: e.description,
      direction: e.direction,
      subject: e.subject,
      url: `/v1/schemas/${e.type}/${e.version}`,
    }));
    return c.json({ data }, 200);
  })
  .openapi(getRoute, (c) => {
    const { type, version } = c.req.valid("param");
    const doc = jsonSchemaFor(type, version);
    if (!doc) throw new HttpProblem(404, `no schema for event type ${JSON.stringify(type)} version ${version}; see GET /v1/schemas`);
    // c.json keeps an explicit content-type: the document is served as application/schema+json
    return c.json(doc as Record<string, JSONValue>, 200, { "content-type": "application/schema+json" });
  });
