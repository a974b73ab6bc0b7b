/**
 * One widget on the page: its title, freshness (as_of, watermark), and its body by viz (kpi tiles,
 * line chart, bars, table, funnel), or its loading, empty, error or timeout state. Every figure carries
 * its path in the API body and its raw value (dom.ts figure).
 */
import { lineChart } from "./chart.ts";
import { figure, h } from "./dom.ts";
import { ago, formatGrowth, formatMoney, formatNumber, formatShare, label } from "./format.ts";
import { columns, labelField, type Obj, rows, tiles, valueField } from "./shapes.ts";

export interface WidgetConfig {
  id: string;
  title: string;
  operation: string;
  params: Record<string, string | number | boolean>;
  viz: "kpi" | "line" | "bar" | "table" | "funnel";
  position: number;
}

export interface WidgetData {
  id: string;
  operation: string;
  status: "ok" | "error" | "timeout";
  href: string;
  duration_ms: number;
  body?: Obj;
  error?: { status: number; detail: string; errors?: Array<{ path: string; message: string }> };
}

const fmtValue = (v: number | null, field: string, currency: string | undefined) =>
  field.endsWith("_minor")
    ? formatMoney(v, currency ?? "EUR")
    : /rate|utilisation|conversion/.test(field)
      ? formatShare(v)
      : formatNumber(v);

const empty = (text: string) => h("p", { class: "empty" }, text);

function kpi(op: string, body: Obj): HTMLElement {
  const ts = tiles(op, body);
  if (ts.length === 0) return empty("No figures for this period.");
  return h(
    "ul",
    { class: "tiles" },
    ...ts.map((t) => {
      const text =
        t.kind === "money" ? formatMoney(t.value, t.currency ?? "EUR") : t.kind === "share" ? formatShare(t.value) : formatNumber(t.value);
      const growth = t.growth
        ? figure(
            t.growth.path,
            t.growth.value,
            formatGrowth(t.growth.value),
            `figure growth ${t.growth.value === null ? "" : t.growth.value >= 0 ? "up" : "down"}`,
          )
        : null;
      return h(
        "li",
        { class: "tile" },
        h("span", { class: "tile-label" }, t.label),
        figure(t.path, t.value, text, "figure big"),
        growth ? h("span", { class: "tile-growth", title: "vs the previous period of the same length" }, growth, " vs previous") : null,
      );
    }),
  );
}

function bars(op: string, body: Obj): HTMLElement {
  const { path, rows: rs } = rows(op, body);
  const field = valueField(op, rs[0]);
  const lab = labelField(rs[0]);
  if (rs.length === 0 || !field) return empty("Nothing sold in this period.");
  const max = Math.max(1, ...rs.map((r) => Math.abs(Number(r[field] ?? 0))));
  return h(
    "ul",
    { class: "bars" },
    ...rs.map((r, i) => {
      const v = r[field] as number | null;
      const cur = typeof r.currency === "string" ? r.currency : undefined;
      const bar = h("span", { class: "bar" });
      bar.style.width = `${Math.round((Math.abs(v ?? 0) / max) * 100)}%`;
      const name = lab ? String(r[lab]) : typeof r.bucket_start === "string" ? r.bucket_start : `#${i + 1}`;
      return h(
        "li",
        {},
        h("span", { class: "bar-label" }, `${name}${cur ? ` · ${cur}` : ""}`),
        h("span", { class: "bar-track" }, bar),
        figure(`${path}.${i}.${field}`, v, fmtValue(v, field, cur)),
      );
    }),
  );
}

function table(op: string, body: Obj): HTMLElement {
  const { path, rows: rs } = rows(op, body);
  if (rs.length === 0) return empty("No rows for this period.");
  const items = op === "getItemPerformance";
  const cols = items ? ["name", "item_id", "units", "capacity_utilisation", "sold_out"] : columns(rs[0]);
  const cell = (r: Obj, i: number, c: string) => {
    const v = r[c];
    if (typeof v === "number" || v === null)
      return h(
        "td",
        { class: "num" },
        figure(`${path}.${i}.${c}`, v, fmtValue(v as number | null, c, typeof r.currency === "string" ? r.currency : undefined)),
      );
    return h("td", {}, v === undefined ? "" : String(v));
  };
  const revenue = (r: Obj, i: number) =>
    h(
      "td",
      { class: "num" },
      ...(Array.isArray(r.revenue) ? r.revenue : []).map((x, j) =>
        x && typeof x === "object" && !Array.isArray(x)
          ? figure(`${path}.${i}.revenue.${j}.net_minor`, x.net_minor, formatMoney(x.net_minor as number, String(x.currency)))
          : null,
      ),
    );
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h("tr", {}, ...cols.map((c) => h("th", { scope: "col" }, label(c))), items ? h("th", { scope: "col" }, "revenue") : null),
      ),
      h("tbody", {}, ...rs.map((r, i) => h("tr", {}, ...cols.map((c) => cell(r, i, c)), items ? revenue(r, i) : null))),
    ),
  );
}

function funnel(op: string, body: Obj): HTMLElement {
  const { path, rows: steps } = rows(op, body);
  if (steps.length === 0) return empty("No funnel for this period.");
  const first = Math.max(1, Number(steps[0]?.count ?? 0));
  return h(
    "ol",
    { class: "funnel" },
    ...steps.map((s, i) => {
      const bar = h("span", { class: "bar" });
      bar.style.width = `${Math.round((Number(s.count ?? 0) / first) * 100)}%`;
      const conv = s.conversion_from_start as number | null | undefined;
      return h(
        "li",
        {},
        h("span", { class: "bar-label" }, String(s.type ?? s.step ?? i + 1)),
        h("span", { class: "bar-track" }, bar),
        figure(`${path}.${i}.count`, s.count, formatNumber(s.count as number)),
        conv === undefined ? null : figure(`${path}.${i}.conversion_from_start`, conv, formatShare(conv), "figure share"),
      );
    }),
  );
}

function line(op: string, body: Obj, title: string): HTMLElement {
  const { path, rows: rs } = rows(op, body);
  const field = valueField(op, rs[0]);
  if (rs.length === 0 || !field || !rs.some((r) => typeof r.bucket_start === "string")) return empty("No data points in this period.");
  return lineChart(rs, path, field, title);
}

function bodyOf(w: WidgetConfig, d: WidgetData): HTMLElement {
  if (d.status === "timeout") return h("p", { class: "state error", role: "alert" }, `Timed out: ${d.error?.detail ?? ""}`);
  if (d.status === "error" || !d.body)
    return h(
      "p",
      { class: "state error", role: "alert" },
      `Could not load (${d.error?.status ?? "?"}): ${d.error?.detail ?? "unknown error"}`,
    );
  switch (w.viz) {
    case "kpi":
      return kpi(w.operation, d.body);
    case "line":
      return line(w.operation, d.body, w.title);
    case "bar":
      return bars(w.operation, d.body);
    case "funnel":
      return funnel(w.operation, d.body);
    default:
      return table(w.operation, d.body);
  }
}

/** a widget's card; `d` undefined ⇒ loading */
export function renderWidget(w: WidgetConfig, d: WidgetData | undefined): HTMLElement {
  const titleId = `w-${w.id}-title`;
  const asOf = d?.body && typeof d.body.as_of === "string" ? d.body.as_of : null;
  const watermark = d?.body && typeof d.body.watermark === "string" ? d.body.watermark : null;
  return h(
    "section",
    {
      class: `widget viz-${w.viz}`,
      "data-widget-id": w.id,
      "data-status": d ? d.status : "loading",
      "data-href": d?.href ?? "",
      "aria-labelledby": titleId,
      "aria-busy": d ? "false" : "true",
    },
    h(
      "header",
      {},
      h("h2", { id: titleId }, w.title),
      d?.status === "ok"
        ? h("span", { class: "fresh", title: `computed ${asOf ?? "?"}; newest event ${watermark ?? "none"}` }, `as of ${ago(asOf)}`)
        : null,
    ),
    d ? bodyOf(w, d) : h("p", { class: "state loading" }, "Loading…"),
    watermark ? h("footer", { class: "watermark" }, `newest event ${ago(watermark)}`) : null,
  );
}
