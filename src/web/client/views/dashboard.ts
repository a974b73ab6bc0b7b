/**
 * One dashboard: range picker and filters (a change refetches GET …/data for this view), the live panel
 * (GET …/live read with fetch: every update redraws the widgets), and the widgets.
 */
import { api, ApiError, live } from "../api.ts";
import { figure, h, replace } from "../dom.ts";
import { formatMoney, formatNumber, formatTime } from "../format.ts";
import { renderWidget, type WidgetData } from "../render.ts";
import type { DashboardDoc } from "./list.ts";

interface DataDoc {
  version: number;
  range: { preset: string; from: string; to: string; timezone: string };
  widgets: WidgetData[];
}

let stop: AbortController | undefined;

/** stop the live stream of the page being left */
export function leaveDashboard(): void {
  stop?.abort();
  stop = undefined;
}

const RANGES: Array<[string, string]> = [
  ["today", "Today"],
  ["7d", "Last 7 days"],
  ["28d", "Last 28 days"],
  ["90d", "Last 90 days"],
  ["custom", "Custom"],
];

export async function dashboardPage(root: HTMLElement, id: string): Promise<void> {
  leaveDashboard();
  replace(root, h("p", { class: "state loading" }, "Loading dashboard…"));
  let d: DashboardDoc;
  try {
    d = (await api<DashboardDoc>(`/v1/dashboards/${id}`)).body;
  } catch (err) {
    replace(
      root,
      h(
        "p",
        { class: "state error", role: "alert" },
        `Could not load the dashboard: ${err instanceof ApiError ? err.message : String(err)}`,
      ),
    );
    return;
  }
  const widgets = [...d.widgets].sort((a, b) => a.position - b.position);
  const grid = h("div", { class: "grid" }, ...widgets.map((w) => renderWidget(w, undefined)));
  const liveState = h("span", { class: "live-state", "data-state": "connecting" }, "Connecting…");
  const liveWhen = h("span", { class: "live-when" });
  const liveFigures = h("div", { class: "live-figures" });
  const range = h(
    "select",
    { id: "range", name: "range" },
    ...RANGES.map(([v, text]) => h("option", { value: v, selected: v === d.filters.range }, text)),
  );
  const from = h("input", { id: "from", name: "from", type: "datetime-local", value: d.filters.from?.slice(0, 16) ?? "" });
  const to = h("input", { id: "to", name: "to", type: "datetime-local", value: d.filters.to?.slice(0, 16) ?? "" });
  const tz = h("input", { id: "timezone", name: "timezone", value: d.filters.timezone, autocomplete: "off" });
  const channel = h("input", { id: "channel", name: "channel", value: d.filters.channel ?? "", placeholder: "all", autocomplete: "off" });
  const currency = h("input", {
    id: "currency",
    name: "currency",
    value: d.filters.currency ?? "",
    placeholder: "all",
    maxlength: 3,
    autocomplete: "off",
  });
  const custom = h("span", { class: "custom-range" }, h("label", { for: "from" }, "From"), from, h("label", { for: "to" }, "To"), to);
  const shown = h("p", { class: "muted range-shown", role: "status", "aria-live": "polite" });
  const showCustom = () => custom.toggleAttribute("hidden", range.value !== "custom");
  showCustom();

  const viewQuery = (): string => {
    const q = new URLSearchParams({ range: range.value, timezone: tz.value.trim() || "UTC" });
    if (range.value === "custom") {
      if (from.value) q.set("from", new Date(from.value).toISOString());
      if (to.value) q.set("to", new Date(to.value).toISOString());
    }
    if (channel.value.trim()) q.set("channel", channel.value.trim());
    if (currency.value.trim()) q.set("currency", currency.value.trim().toUpperCase());
    return q.toString();
  };

  let loads = 0;
  const draw = (data: DataDoc) => {
    const byId = new Map(data.widgets.map((w) => [w.id, w]));
    grid.replaceChildren(...widgets.map((w) => renderWidget(w, byId.get(w.id))));
    shown.textContent = `${formatTime(data.range.from)} – ${formatTime(data.range.to)} (${data.range.timezone})`;
    const rt = data.widgets.find((w) => w.operation === "getRealtimeMetrics" && w.status === "ok" && w.body);
    const totals = (
      rt?.body?.data as { totals?: { orders: number; revenue: Array<{ currency: string; gross_minor: number }> } } | undefined
    )?.totals;
    replace(
      liveFigures,
      totals
        ? h(
            "span",
            {},
            "Last 60 min: ",
            figure("data.totals.orders", totals.orders, formatNumber(totals.orders), "figure live-orders"),
            " orders",
            ...totals.revenue.map((r, i) =>
              h(
                "span",
                {},
                " · ",
                figure(
                  `data.totals.revenue.${i}.gross_minor`,
                  r.gross_minor,
                  formatMoney(r.gross_minor, r.currency),
                  "figure live-revenue",
                ),
              ),
            ),
          )
        : "Add a “last 60 minutes” widget (getRealtimeMetrics) to see orders arrive here.",
    );
    liveWhen.textContent = `updated ${new Date().toLocaleTimeString("en")}`;
    root.dataset.loads = String(++loads);
  };

  const status = h("p", { class: "state error", role: "alert", hidden: true });
  const load = async () => {
    leaveDashboard();
    for (const el of grid.children) el.setAttribute("aria-busy", "true");
    const q = viewQuery();
    try {
      draw((await api<DataDoc>(`/v1/dashboards/${id}/data?${q}`)).body);
      status.hidden = true;
    } catch (err) {
      status.hidden = false;
      status.textContent = `Could not load the figures: ${err instanceof ApiError ? err.message : String(err)}`;
      return;
    }
    const ctl = new AbortController();
    stop = ctl;
    void live(
      `/v1/dashboards/${id}/live?${q}`,
      (m) => {
        if (m.event === "data" && m.data) draw(JSON.parse(m.data) as DataDoc);
      },
      (s) => {
        liveState.dataset.state = s;
        liveState.textContent = s === "open" ? "Live" : s === "retrying" ? "Reconnecting…" : "Not live";
      },
      ctl.signal,
    );
  };

  range.addEventListener("change", () => {
    showCustom();
    if (range.value !== "custom" || (from.value && to.value)) void load();
  });
  for (const el of [from, to, tz, channel, currency]) el.addEventListener("change", () => void load());

  replace(
    root,
    h(
      "article",
      { class: "dashboard", "data-dashboard-id": d.id },
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Dashboards")),
      h(
        "div",
        { class: "toolbar" },
        h("h1", { class: "dashboard-name" }, d.name),
        h("a", { href: `#/d/${d.id}/edit`, class: "button" }, "Edit"),
      ),
      d.description ? h("p", { class: "muted" }, d.description) : null,
      h(
        "form",
        { class: "filters", "aria-label": "Filters", onsubmit: (e: Event) => e.preventDefault() },
        h("label", { for: "range" }, "Range"),
        range,
        custom,
        h("label", { for: "timezone" }, "Time zone"),
        tz,
        h("label", { for: "channel" }, "Channel"),
        channel,
        h("label", { for: "currency" }, "Currency"),
        currency,
      ),
      shown,
      h("aside", { class: "live", "aria-label": "Live", "aria-live": "polite" }, liveState, liveFigures, liveWhen),
      status,
      grid,
    ),
  );
  await load();
}
