/** Shared query-string schemas: time ranges and cursor pages. */
import { z } from "@hono/zod-openapi";

export const isoDateTime = z.iso.datetime({
  offset: true,
  message: "must be an ISO-8601 date-time with a time zone, e.g. 2026-11-01T00:00:00Z",
});

/** half-open [from, to); from < to */
export const TimeRangeQuery = z
  .object({
    from: isoDateTime.openapi({ description: "inclusive start (ISO-8601)", example: "2026-11-01T00:00:00Z" }),
    to: isoDateTime.openapi({ description: "exclusive end (ISO-8601)", example: "2026-11-02T00:00:00Z" }),
  })
  .refine((q) => Date.parse(q.from) < Date.parse(q.to), { message: "from must be before to", path: ["from"] });

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ description: "page size (1–500)", example: 50 }),
  cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
});

export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

export function decodeCursor<T extends z.ZodType>(cursor: string, schema: T): z.infer<T> | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
