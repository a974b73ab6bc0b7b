/** Time series with uPlot (bundled; no CDN). Each chart has a visually hidden table of its figures for screen readers. */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom.ts";
import { formatMoney, formatNumber, label } from "./format.ts";
import type { Obj } from "./shapes.ts";

const COLOURS = ["#2f6fde", "#d9480f", "#2b8a3e", "#9c36b5", "#e67700"];

/** a line chart of `field` over bucket_start, one series per currency when the rows have one */
export function lineChart(rows: Obj[], rowsPath: string, field: string, title: string): HTMLElement {
  const times = [...new Set(rows.map((r) => Date.parse(String(r.bucket_start))))].sort((a, b) => a - b);
  const currencies = [...new Set(rows.map((r) => (typeof r.currency === "string" ? r.currency : "")))];
  const series = currencies.map((cur) => {
    const byTime = new Map(
      rows.filter((r) => (r.currency ?? "") === cur).map((r) => [Date.parse(String(r.bucket_start)), r[field] as number]),
    );
    return times.map((t) => byTime.get(t) ?? null);
  });
  const money = field.endsWith("_minor");
  const fmt = (v: number | null, cur: string) => (money ? formatMoney(v, cur || "EUR") : formatNumber(v));
  const holder = h("div", { class: "chart", role: "img", "aria-label": `${title}: ${label(field)} over time` });
  const opts: uPlot.Options = {
    width: 320,
    height: 200,
    legend: { show: currencies.length > 1 },
    // one point: a bucket's width either side instead of uPlot's years-wide default
    scales: { x: { time: true, range: (_u, min, max) => (min === max ? [min - 3_600, max + 3_600] : [min, max]) } },
    axes: [
      { stroke: "#555" },
      {
        stroke: "#555",
        size: 70,
        values: (_u, ticks) => ticks.map((t) => (money ? formatMoney(t, currencies[0] || "EUR") : formatNumber(t))),
      },
    ],
    series: [
      {},
      ...currencies.map((cur, i) => ({
        label: cur || label(field),
        stroke: COLOURS[i % COLOURS.length],
        width: 2,
        points: { show: times.length < 40 },
      })),
    ],
  };
  const data = [times.map((t) => t / 1000), ...series] as uPlot.AlignedData;
  let plot: uPlot | undefined;
  const draw = () => {
    const width = Math.max(200, Math.floor(holder.clientWidth || 320));
    if (!plot) plot = new uPlot({ ...opts, width }, data, holder);
    else plot.setSize({ width, height: 200 });
    holder.dataset.drawn = "yes";
  };
  new ResizeObserver(() => draw()).observe(holder);
  requestAnimationFrame(draw);
  const table = h(
    "table",
    { class: "sr-only" },
    h("caption", {}, `${title}: ${label(field)}`),
    h(
      "thead",
      {},
      h("tr", {}, h("th", { scope: "col" }, "bucket"), h("th", { scope: "col" }, "currency"), h("th", { scope: "col" }, label(field))),
    ),
    h(
      "tbody",
      {},
      ...rows.map((r, i) => {
        const v = r[field] as number | null;
        const cur = typeof r.currency === "string" ? r.currency : "";
        return h(
          "tr",
          {},
          h("td", {}, String(r.bucket_start)),
          h("td", {}, cur),
          h("td", {}, h("span", { class: "figure", "data-path": `${rowsPath}.${i}.${field}`, "data-value": String(v) }, fmt(v, cur))),
        );
      }),
    ),
  );
  return h("div", { class: "chart-wrap" }, holder, table);
}
