/**
 * Cursor pages over a sorted list held in one cached answer: the cursor is the JSON of the last row's
 * sort key, base64url (anything else is a 400 naming `cursor`).
 */
import { z } from "@hono/zod-openapi";
import { HttpProblem } from "../../http/problem.ts";
import { decodeCursor, encodeCursor } from "../../http/query.ts";

/** a cursor is the JSON of the last row's sort key, base64url; anything else is a 400 naming `cursor` */
export function cursorKey(cursor: string | undefined): unknown[] | undefined {
  if (cursor === undefined) return undefined;
  const decoded = decodeCursor(cursor, z.object({ k: z.string() }));
  let key: unknown;
  try {
    key = decoded ? JSON.parse(decoded.k) : undefined;
  } catch {
    key = undefined;
  }
  if (!Array.isArray(key)) {
    throw new HttpProblem(400, "cursor: not a cursor this operation returned", {
      errors: [{ path: "cursor", message: "not a cursor this operation returned" }],
    });
  }
  return key;
}

/** the page after `after` (rows sorted by `compare`), and the cursor of the next page */
export function page<K, R extends K>(
  rows: R[],
  limit: number,
  after: K | undefined,
  compare: (a: K, b: K) => number,
  key: (r: R) => unknown[],
) {
  const rest = after === undefined ? rows : rows.filter((r) => compare(r, after) > 0);
  const items = rest.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next_cursor: rest.length > limit && last !== undefined ? encodeCursor({ k: JSON.stringify(key(last)) }) : null };
}
