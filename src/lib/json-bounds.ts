/**
 * Bounds on parsed JSON values, pure (no HTTP): shared by the HTTP body check (src/http/hardening.ts) and
 * event validation (src/ingest/validate.ts), so a JSON body and an event from NATS meet the same
 * JSON_MAX_DEPTH, and both find a bad string (too long, NUL; for events: what PostgreSQL cannot
 * store) with the one walk, firstString.
 */

/** where in a JSON value a problem is (dotted path, "(root)" for the value itself) and what it is */
export interface JsonIssue {
  path: string;
  message: string;
}

/**
 * The first object or array nested deeper than `maxDepth` (the value itself is level 1), or undefined.
 * Iterative (a 64 KiB payload can nest tens of thousands of levels deep), and it visits only objects and
 * arrays: a handful per event on the ingest path.
 */
export function nestingProblem(value: unknown, maxDepth: number): JsonIssue | undefined {
  const stack: Array<[unknown, number, string]> = [[value, 1, ""]];
  while (stack.length > 0) {
    const [v, depth, path] = stack.pop()!;
    if (depth > maxDepth) return { path: path || "(root)", message: `nested deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const x = v[i];
        if (typeof x === "object" && x !== null) stack.push([x, depth + 1, path ? `${path}.${i}` : String(i)]);
      }
    } else if (typeof v === "object" && v !== null) {
      for (const k in v) {
        const x = (v as Record<string, unknown>)[k];
        if (typeof x === "object" && x !== null) stack.push([x, depth + 1, path ? `${path}.${k}` : k]);
      }
    }
  }
  return undefined;
}

/** the first problem of a parsed JSON value: too deep, a string too long, or a NUL character */
export function jsonProblem(value: unknown, opts: { maxDepth: number; maxStringLength?: number }): JsonIssue | undefined {
  const deep = nestingProblem(value, opts.maxDepth);
  if (deep) return deep;
  const max = opts.maxStringLength;
  const bad = firstString(value, (s) => {
    if (max !== undefined && s.length > max) return `string longer than ${max} characters`;
    return s.includes("\u0000") ? "NUL characters are not allowed" : undefined;
  });
  return bad && { path: bad.path, message: bad.key ? `property name: ${bad.message}` : bad.message };
}

/**
 * The first string, value or property name, for which `check` returns a message (in document order;
 * a property name before its value), with its dotted path ("(root)" for the value itself) and whether
 * it is a property name. Iterative, like nestingProblem.
 */
export function firstString(value: unknown, check: (s: string) => string | undefined): (JsonIssue & { key: boolean }) | undefined {
  const stack: Array<[unknown, string]> = [[value, ""]];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === "string") {
      const message = check(v);
      if (message !== undefined) return { path: path || "(root)", message, key: false };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], path ? `${path}.${i}` : String(i)]);
    } else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        const child = path ? `${path}.${k}` : k;
        const message = check(k);
        if (message !== undefined) return { path: child, message, key: true };
        stack.push([x, child]);
      }
    }
  }
  return undefined;
}
