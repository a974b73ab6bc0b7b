/**
 * Where each operation's answer keeps what a widget draws. Known operations get chosen figures; any
 * other analytics operation falls back to its rows (the body's `data` array, or the first array in it)
 * and their numeric fields. Every path is the figure's place in the API body ("data.totals.0.current.orders").
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Obj = Record<string, Json>;

export interface Tile {
  label: string;
  path: string;
  value: number | null;
  kind: "money" | "count" | "share";
  currency?: string;
  growth?: { path: string; value: number | null };
}

export interface Rows {
  /** path of the rows array in the body */
  path: string;
  rows: Obj[];
}

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: Json | undefined): number | null => (typeof v === "number" ? v : null);
const kindOf = (field: string): Tile["kind"] =>
  field.endsWith("_minor") ? "money" : /rate|share|utilisation/.test(field) ? "share" : "count";

/** the KPI tiles of an answer */
export function tiles(operation: string, body: Obj): Tile[] {
  const data = body.data as Json;
  const out: Tile[] = [];
  if (operation === "getSalesMetrics" && isObj(data) && Array.isArray(data.totals)) {
    data.totals.forEach((t, i) => {
      if (!isObj(t) || !isObj(t.current) || !isObj(t.growth)) return;
      const cur = String(t.currency);
      const p = `data.totals.${i}`;
      out.push({
        label: `Net revenue ${cur}`,
        path: `${p}.current.net_minor`,
        value: num(t.current.net_minor),
        kind: "money",
        currency: cur,
        growth: { path: `${p}.growth.net`, value: num(t.growth.net) },
      });
      out.push({
        label: `Orders ${cur}`,
        path: `${p}.current.orders`,
        value: num(t.current.orders),
        kind: "count",
        growth: { path: `${p}.growth.orders`, value: num(t.growth.orders) },
      });
      out.push({
        label: `Units ${cur}`,
        path: `${p}.current.units`,
        value: num(t.current.units),
        kind: "count",
        growth: { path: `${p}.growth.units`, value: num(t.growth.units) },
      });
    });
    return out;
  }
  if (operation === "getRealtimeMetrics" && isObj(data) && isObj(data.totals)) {
    const t = data.totals;
    if (Array.isArray(t.revenue))
      t.revenue.forEach((r, i) => {
        if (isObj(r))
          out.push({
            label: `Revenue ${String(r.currency)}`,
            path: `data.totals.revenue.${i}.gross_minor`,
            value: num(r.gross_minor),
            kind: "money",
            currency: String(r.currency),
          });
      });
    for (const f of ["orders", "units", "visitors", "conversion_rate"])
      out.push({ label: f.replace("_", " "), path: `data.totals.${f}`, value: num(t[f]), kind: kindOf(f) });
    return out;
  }
  if (Array.isArray(data)) {
    data.slice(0, 4).forEach((row, i) => {
      if (!isObj(row)) return;
      const cur = typeof row.currency === "string" ? row.currency : undefined;
      for (const [k, v] of Object.entries(row))
        if (typeof v === "number")
          out.push({
            label: `${k.replace(/_minor$/, "").replaceAll("_", " ")}${cur ? ` ${cur}` : ""}`,
            path: `data.${i}.${k}`,
            value: v,
            kind: kindOf(k),
            ...(cur ? { currency: cur } : {}),
          });
    });
    return out.slice(0, 8);
  }
  if (isObj(data)) {
    for (const [k, v] of Object.entries(data))
      if (typeof v === "number" || (v === null && /rate/.test(k)))
        out.push({ label: k.replaceAll("_", " "), path: `data.${k}`, value: num(v), kind: kindOf(k) });
  }
  return out.slice(0, 8);
}

/** the rows of an answer: `data` when it is an array, else its preferred or first array of objects */
export function rows(operation: string, body: Obj): Rows {
  const data = body.data as Json;
  if (Array.isArray(data)) return { path: "data", rows: data.filter(isObj) };
  if (isObj(data)) {
    const prefer = operation === "getConversionFunnel" ? "steps" : "buckets";
    const key = Array.isArray(data[prefer])
      ? prefer
      : Object.keys(data).find((k) => Array.isArray(data[k]) && (data[k] as Json[]).some(isObj));
    if (key) return { path: `data.${key}`, rows: (data[key] as Json[]).filter(isObj) };
  }
  return { path: "data", rows: [] };
}

/** the field a chart or bar of this operation shows */
export function valueField(operation: string, sample: Obj | undefined): string | undefined {
  const preferred: Record<string, string> = {
    getRealtimeMetrics: "orders",
    getCustomerMetrics: "customers",
    getConversionFunnel: "count",
    getItemPerformance: "units",
  };
  const p = preferred[operation];
  if (p && sample && p in sample) return p;
  if (!sample) return undefined;
  for (const k of ["net_minor", "gross_minor", "count", "orders"]) if (typeof sample[k] === "number") return k;
  return Object.keys(sample).find((k) => typeof sample[k] === "number");
}

/** a row's label: the first string field that is not a currency or a time */
export function labelField(sample: Obj | undefined): string | undefined {
  if (!sample) return undefined;
  for (const k of ["channel", "category", "name", "type", "segment", "item_id", "customer_id"]) if (typeof sample[k] === "string") return k;
  return Object.keys(sample).find((k) => typeof sample[k] === "string" && k !== "currency" && !k.endsWith("_at") && k !== "bucket_start");
}

/** table columns: scalar fields of the rows, at most 7 */
export function columns(sample: Obj | undefined): string[] {
  if (!sample) return [];
  const scalar = Object.keys(sample).filter((k) => sample[k] === null || typeof sample[k] !== "object");
  const lead = ["name", "item_id", "customer_id", "channel", "category", "currency"].filter((k) => scalar.includes(k));
  return [...lead, ...scalar.filter((k) => !lead.includes(k))].slice(0, 7);
}
