/**
 * RFC 9457 problem+json: every error the API returns has this shape. Never a stack, never a raw ZodError.
 */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "https://pulse.dev/problems/validation" }),
    title: z.string().openapi({ example: "Invalid request" }),
    status: z.number().int().openapi({ example: 400 }),
    detail: z.string().optional().openapi({ example: "from must be before to" }),
    instance: z.string().openapi({ example: "/v1/revenue/summary" }),
    requestId: z.string().openapi({ example: "5f0c6b1e-6a1d-4c55-9d8b-3d6f3f0d9c1a" }),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: "one entry per invalid field" }),
  })
  .openapi("Problem");

export type Problem = z.infer<typeof ProblemSchema>;
export interface FieldError {
  path: string;
  message: string;
}

const TITLES: Record<number, [slug: string, title: string]> = {
  400: ["validation", "Invalid request"],
  401: ["unauthorized", "Authentication required"],
  403: ["forbidden", "Forbidden"],
  404: ["not-found", "Not found"],
  405: ["method-not-allowed", "Method not allowed"],
  409: ["conflict", "Conflict"],
  410: ["gone", "Gone"],
  412: ["precondition-failed", "Precondition failed"],
  413: ["payload-too-large", "Payload too large"],
  415: ["unsupported-media-type", "Unsupported media type"],
  422: ["unprocessable", "Unprocessable request"],
  428: ["precondition-required", "Precondition required"],
  429: ["rate-limited", "Too many requests"],
  500: ["internal", "Internal server error"],
  503: ["unavailable", "Service unavailable"],
  504: ["timeout", "Query timed out"],
};

/** an error a handler throws to answer with a given problem */
export class HttpProblem extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly detail?: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string>; title?: string } = {},
  ) {
    super(detail ?? TITLES[status]?.[1] ?? "error");
    this.name = "HttpProblem";
  }
}

export function problemBody(c: Context, status: number, detail?: string, extra: { errors?: FieldError[]; title?: string } = {}): Problem {
  const [slug, title] = TITLES[status] ?? ["error", "Error"];
  return {
    type: `https://pulse.dev/problems/${slug}`,
    title: extra.title ?? title,
    status,
    ...(detail ? { detail } : {}),
    instance: new URL(c.req.url).pathname,
    requestId: (c.get("requestId") as string | undefined) ?? "unknown",
    ...(extra.errors ? { errors: extra.errors } : {}),
  };
}

export function problem(
  c: Context,
  status: ContentfulStatusCode,
  detail?: string,
  extra: { errors?: FieldError[]; headers?: Record<string, string>; title?: string } = {},
): Response {
  const body = problemBody(c, status, detail, extra);
  return c.body(JSON.stringify(body), status, { "content-type": PROBLEM_CONTENT_TYPE, ...extra.headers });
}

/** zod issues → [{path, message}] with dotted paths ("lines.0.quantity") */
export function fieldErrors(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): FieldError[] {
  return issues.map((i) => ({ path: i.path.map(String).join(".") || "(root)", message: i.message }));
}

const problemContent = { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } };

/** spread into every route's `responses` */
export const problemResponses = {
  400: { description: "Invalid request: `errors` names each invalid field", content: problemContent },
  401: { description: "Missing, invalid or expired bearer token", content: problemContent },
  403: { description: "The token lacks a role this operation needs", content: problemContent },
  413: { description: "Request body too large", content: problemContent },
  429: { description: "Rate limit exceeded; see Retry-After", content: problemContent },
  500: { description: "Unexpected error (logged with the requestId)", content: problemContent },
  503: { description: "A dependency is unavailable; retry later", content: problemContent },
} as const;

export const publicProblemResponses = {
  500: problemResponses[500],
} as const;
