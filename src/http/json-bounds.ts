/**
 * Bounds on parsed JSON values, pure (no HTTP): shared by the HTTP body check (hardening.ts) and event
 * validation (src/ingest/validate.ts), so a JSON body and an event from NATS meet the same
 * JSON_MAX_DEPTH.
 */
import type { FieldError } from "./problem.ts";

/**
 * The first object or array nested deeper than `maxDepth` (the value itself is level 1), or undefined.
 * Iterative (a 64 KiB payload can nest tens of thousands of levels deep), and it visits only objects and
 * arrays: a handful per event on the ingest path.
 */
export function nestingProblem(value: unknown, maxDepth: number): FieldError | undefined {
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
export function jsonProblem(value: unknown, opts: { maxDepth: number; maxStringLength?: number }): FieldError | undefined {
  return nestingProblem(value, opts.maxDepth) ?? stringProblem(value, opts.maxStringLength);
}

/** the first string (value or property name) longer than `maxLength` or holding NUL (any depth: the nesting is checked first) */
function stringProblem(value: unknown, maxLength: number | undefined): FieldError | undefined {
  const check = (s: string, path: string): FieldError | undefined => {
    const where = path || "(root)";
    if (maxLength !== undefined && s.length > maxLength) return { path: where, message: `string longer than ${maxLength} characters` };
    if (s.includes("\u0000")) return { path: where, message: "NUL characters are not allowed" };
    return undefined;
  };
  const stack: Array<[unknown, string]> = [[value, ""]];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === "string") {
      const p = check(v, path);
      if (p) return p;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], path ? `${path}.${i}` : String(i)]);
    } else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        const child = path ? `${path}.${k}` : k;
        const p = check(k, child);
        if (p) return { path: child, message: `property name: ${p.message}` };
        stack.push([x, child]);
      }
    }
  }
  return undefined;
}
