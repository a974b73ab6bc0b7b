/**
 * The tables of an export, from the operation's 200 response schema (its OpenAPI JSON Schema, built
 * from the analytics routes themselves), so columns never depend on which rows a page happens to hold.
 *
 * Rules (docs/exports.md):
 * - the main table: a list operation's rows (every page); else `data` when it is a list; else the
 *   first list inside `data`; else `data` itself as one row;
 * - when `data` is an object: its scalar fields form a one-row table `summary`, each list in it a
 *   table of its own (named by its field), each object holding lists a table of its own;
 * - in a row: nested objects are flattened (`net_distribution.p25`); ONE nested list is unrolled into
 *   one row per element (long format: `revenue.currency`, `revenue.net_minor`; an empty list gives
 *   one row with those cells empty); SEVERAL nested lists each become a child table
 *   (`currencies.points`) whose rows start with the parent row's text columns;
 * - a `*_minor` money column is followed by its formatted major-unit column (`*_major`) in the
 *   currency of the nearest `currency` column;
 * - strings documented as instants (their schema example is an ISO-8601 UTC instant) are times.
 */
import { analyticsRoutes } from "../analytics/registry.ts";

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  example?: unknown;
  enum?: unknown[];
}

export type ColumnKind = "text" | "integer" | "number" | "boolean" | "time" | "major" | "list";

export interface Column {
  /** the header: the field's path in the row, dotted */
  key: string;
  kind: ColumnKind;
  /** the level (see TableLayout.levels) whose element holds the value, and the path inside it */
  level: number;
  path: string[];
  /** major columns: the minor column's and the currency column's keys */
  minorKey?: string;
  currencyKey?: string;
}

/** one step from the body (or the previous level's element) to this level's element(s) */
export interface Level {
  path: string[];
  array: boolean;
  /** an empty list still gives one row (the unrolled list of a row), else none */
  outer: boolean;
}

export interface TableLayout {
  name: string;
  levels: Level[];
  columns: Column[];
}

export interface ExportLayout {
  tables: TableLayout[];
  /** index of the main table (the only one in CSV) */
  main: number;
}

const ISO_INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const SKIPPED = new Set(["next_cursor"]);

let schemas: Map<string, { schema: JsonSchema; components: Record<string, JsonSchema> }> | undefined;

/** operationId → its 200 JSON body schema (built once from the analytics routes' own OpenAPI document) */
export function responseSchema(operationId: string): { schema: JsonSchema; components: Record<string, JsonSchema> } | undefined {
  if (!schemas) {
    schemas = new Map();
    const doc = analyticsRoutes.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "analytics", version: "1" } });
    const components = (doc.components?.schemas ?? {}) as Record<string, JsonSchema>;
    for (const item of Object.values(doc.paths ?? {})) {
      const op = (
        item as { get?: { operationId?: string; responses?: Record<string, { content?: Record<string, { schema?: JsonSchema }> }> } }
      ).get;
      const schema = op?.responses?.["200"]?.content?.["application/json"]?.schema;
      if (op?.operationId && schema) schemas.set(op.operationId, { schema, components });
    }
  }
  return schemas.get(operationId);
}

class Schemas {
  constructor(private readonly components: Record<string, JsonSchema>) {}

  /** the schema itself: $ref followed, nullable unions reduced to their non-null member */
  resolve(s: JsonSchema | undefined): JsonSchema {
    let cur = s ?? {};
    for (let i = 0; i < 20; i++) {
      if (cur.$ref) cur = this.components[cur.$ref.replace("#/components/schemas/", "")] ?? {};
      else if (cur.anyOf || cur.oneOf) cur = (cur.anyOf ?? cur.oneOf)!.find((m) => this.typeOf(m) !== "null") ?? {};
      else if (cur.allOf?.length === 1) cur = cur.allOf[0]!;
      else break;
    }
    return cur;
  }

  typeOf(s: JsonSchema): string | undefined {
    if (s.$ref || s.anyOf || s.oneOf) return this.typeOf(this.resolve(s));
    if (Array.isArray(s.type)) return s.type.find((t) => t !== "null");
    if (s.type) return s.type;
    if (s.properties) return "object";
    return undefined;
  }

  isObjectList(s: JsonSchema): boolean {
    const r = this.resolve(s);
    return this.typeOf(r) === "array" && this.typeOf(this.resolve(r.items)) === "object";
  }

  /** does an object (or its nested objects) hold a list of objects? */
  holdsLists(s: JsonSchema): boolean {
    const r = this.resolve(s);
    return Object.values(r.properties ?? {}).some((p) => this.isObjectList(p) || (this.typeOf(p) === "object" && this.holdsLists(p)));
  }

  scalarKind(s: JsonSchema): ColumnKind {
    const r = this.resolve(s);
    const t = this.typeOf(r);
    if (t === "integer") return "integer";
    if (t === "number") return "number";
    if (t === "boolean") return "boolean";
    if (t === "array") return "list";
    if (t === "string" && typeof r.example === "string" && ISO_INSTANT.test(r.example)) return "time";
    return "text";
  }
}

interface RowShape {
  columns: Column[];
  /** nested lists of the element, when there are several (child tables) */
  lists: Array<{ key: string; schema: JsonSchema }>;
  /** the one nested list, unrolled */
  unrolled?: { key: string; schema: JsonSchema };
}

/** columns of an object element at `level` (nested objects flattened; lists collected) */
function shapeOf(S: Schemas, s: JsonSchema, level: number, prefix: string[] = []): RowShape {
  const out: RowShape = { columns: [], lists: [] };
  for (const [key, prop] of Object.entries(S.resolve(s).properties ?? {})) {
    if (SKIPPED.has(key)) continue;
    const path = [...prefix, key];
    if (S.isObjectList(prop)) out.lists.push({ key: path.join("."), schema: S.resolve(S.resolve(prop).items) });
    else if (S.typeOf(prop) === "object") {
      const inner = shapeOf(S, prop, level, path);
      out.columns.push(...inner.columns);
      out.lists.push(...inner.lists);
    } else out.columns.push({ key: path.join("."), kind: S.scalarKind(prop), level, path });
  }
  return out;
}

/** the table(s) of a list (or a single object) at `levels`: the rows' columns, an unrolled list or child tables */
function tablesAt(S: Schemas, name: string, levels: Level[], element: JsonSchema, parentText: Column[] = []): TableLayout[] {
  const level = levels.length - 1;
  const shape = shapeOf(S, element, level);
  const columns = [...parentText, ...shape.columns];
  if (shape.lists.length === 1) {
    const list = shape.lists[0]!;
    const inner = shapeOf(S, list.schema, level + 1);
    const prefixed = inner.columns.map((c) => ({ ...c, key: `${list.key}.${c.key}` }));
    const unrolledLevels = [...levels, { path: list.key.split("."), array: true, outer: true }];
    return [{ name, levels: unrolledLevels, columns: withMajors([...columns, ...prefixed]) }];
  }
  const tables: TableLayout[] = [{ name, levels, columns: withMajors(columns) }];
  const text = columns.filter((c) => c.kind === "text");
  for (const list of shape.lists) {
    const childLevels = [...levels, { path: list.key.split("."), array: true, outer: false }];
    tables.push(...tablesAt(S, `${name}.${list.key}`, childLevels, list.schema, text));
  }
  return tables;
}

/** a `*_minor` column is followed by its major-unit column in the nearest currency's units */
function withMajors(columns: Column[]): Column[] {
  const keys = new Set(columns.map((c) => c.key));
  const out: Column[] = [];
  for (const c of columns) {
    out.push(c);
    if ((c.kind !== "integer" && c.kind !== "number") || !c.key.endsWith("_minor")) continue;
    const parts = c.key.split(".");
    let currencyKey: string | undefined;
    for (let i = parts.length - 1; i >= 0 && !currencyKey; i--) {
      const candidate = [...parts.slice(0, i), "currency"].join(".");
      if (keys.has(candidate)) currencyKey = candidate;
    }
    if (!currencyKey && keys.has("currency")) currencyKey = "currency";
    if (currencyKey)
      out.push({ key: c.key.replace(/_minor$/, "_major"), kind: "major", level: c.level, path: c.path, minorKey: c.key, currencyKey });
  }
  return out;
}

/** the path of the array `rows` inside `body` (found by identity), or undefined */
function pathOfArray(body: unknown, rows: unknown[], path: string[] = []): string[] | undefined {
  if (body === rows) return path;
  if (body && typeof body === "object" && !Array.isArray(body)) {
    for (const [k, v] of Object.entries(body)) {
      const found = pathOfArray(v, rows, [...path, k]);
      if (found) return found;
    }
  }
  return undefined;
}

function schemaAt(S: Schemas, s: JsonSchema, path: string[]): JsonSchema {
  let cur = S.resolve(s);
  for (const k of path) cur = S.resolve(cur.properties?.[k]);
  return cur;
}

/**
 * The layout of an operation's export. `listRows` (list operations): the rows of the first page's
 * body, which must be an array inside `body` (its place is the main table).
 */
export function layoutOf(operationId: string, body: unknown, listRows?: unknown[]): ExportLayout {
  const found = responseSchema(operationId);
  if (!found) throw new Error(`no response schema for ${operationId}`);
  const S = new Schemas(found.components);
  const root = found.schema;
  const listPath = listRows ? pathOfArray(body, listRows) : undefined;
  if (listRows && !listPath) throw new Error(`${operationId}: the list rows are not inside the body`);
  const dataSchema = schemaAt(S, root, ["data"]);
  let tables: TableLayout[];
  if (S.typeOf(dataSchema) === "array") {
    tables = tablesAt(S, "data", [{ path: ["data"], array: true, outer: false }], S.resolve(dataSchema.items));
  } else {
    const holders = new Set(
      Object.entries(dataSchema.properties ?? {})
        .filter(([, p]) => S.typeOf(p) === "object" && S.holdsLists(p))
        .map(([k]) => k),
    );
    const shape = shapeOf(S, dataSchema, 0);
    shape.columns = shape.columns.filter((c) => !holders.has(c.path[0]!));
    tables =
      shape.columns.length > 0
        ? [{ name: "summary", levels: [{ path: ["data"], array: false, outer: false }], columns: withMajors(shape.columns) }]
        : [];
    for (const [key, prop] of Object.entries(dataSchema.properties ?? {})) {
      if (S.isObjectList(prop))
        tables.push(...tablesAt(S, key, [{ path: ["data", key], array: true, outer: false }], S.resolve(S.resolve(prop).items)));
      else if (holders.has(key)) tables.push(...tablesAt(S, key, [{ path: ["data", key], array: false, outer: false }], prop));
    }
  }
  let main = 0;
  if (listPath) {
    const i = tables.findIndex((t) => t.levels[0]!.path.join(".") === listPath.join("."));
    if (i < 0) throw new Error(`${operationId}: no table at ${listPath.join(".")}`);
    main = i;
  } else {
    const firstList = tables.findIndex((t) => t.levels[0]!.array);
    main = Math.max(firstList, 0);
  }
  if (tables.length === 0) throw new Error(`${operationId}: the answer has no table`);
  return { tables, main };
}
