/** The dashboards list (the first read creates the tenant's default dashboard) and "New dashboard". */
import { api, ApiError } from "../api.ts";
import { h, replace } from "../dom.ts";
import type { WidgetConfig } from "../render.ts";

export interface DashboardDoc {
  id: string;
  name: string;
  description: string;
  is_default: boolean;
  filters: { range: string; from?: string; to?: string; timezone: string; channel?: string; currency?: string };
  widgets: WidgetConfig[];
  version: number;
  updated_at: string;
}

export async function dashboardsList(root: HTMLElement): Promise<void> {
  replace(root, h("p", { class: "state loading" }, "Loading dashboards…"));
  const all: DashboardDoc[] = [];
  let cursor: string | null = null;
  try {
    do {
      const q: string = cursor ? `?limit=100&cursor=${encodeURIComponent(cursor)}` : "?limit=100";
      const { body } = await api<{ data: DashboardDoc[]; next_cursor: string | null }>(`/v1/dashboards${q}`);
      all.push(...body.data);
      cursor = body.next_cursor;
    } while (cursor);
  } catch (err) {
    replace(
      root,
      h(
        "p",
        { class: "state error", role: "alert" },
        `Could not load the dashboards: ${err instanceof ApiError ? err.message : String(err)}`,
      ),
    );
    return;
  }
  const status = h("p", { role: "status", "aria-live": "polite" });
  const create = async () => {
    try {
      const { body } = await api<DashboardDoc>("/v1/dashboards", {
        method: "POST",
        body: JSON.stringify({
          name: "Untitled dashboard",
          widgets: [{ id: "revenue", title: "Revenue", operation: "getSalesMetrics", params: {}, viz: "kpi", position: 0 }],
        }),
      });
      location.hash = `#/d/${body.id}/edit`;
    } catch (err) {
      status.textContent =
        err instanceof ApiError && err.problem.status === 403
          ? "Only analysts and admins can create dashboards."
          : `Could not create: ${String(err)}`;
    }
  };
  replace(
    root,
    h(
      "section",
      { class: "list" },
      h(
        "div",
        { class: "toolbar" },
        h("h1", {}, "Dashboards"),
        h("button", { type: "button", onclick: () => void create() }, "New dashboard"),
      ),
      status,
      h(
        "ul",
        { class: "dashboards" },
        ...all.map((d) =>
          h(
            "li",
            {},
            h("a", { href: `#/d/${d.id}`, class: "dashboard-link" }, d.name),
            d.is_default ? h("span", { class: "badge" }, "default") : null,
            h("p", { class: "muted" }, d.description || `${d.widgets.length} widgets`),
          ),
        ),
      ),
    ),
  );
}
