/**
 * Edit mode: name, description, and the widgets (add, remove, reorder, change title / operation / viz /
 * params). Saving sends If-Match with the version this page read: a 412 means someone saved in between,
 * and the page says so instead of overwriting their change.
 */
import { api, ApiError } from "../api.ts";
import { h, replace } from "../dom.ts";
import type { WidgetConfig } from "../render.ts";
import type { DashboardDoc } from "./list.ts";

const VIZ = ["kpi", "line", "bar", "table", "funnel"] as const;
let operationIds: Promise<string[]> | undefined;

/** the analytics reads of /openapi.json (what a widget can show) */
function operations(): Promise<string[]> {
  operationIds ??= fetch("/openapi.json")
    .then((r) => r.json() as Promise<{ paths: Record<string, Record<string, { operationId: string; tags?: string[] }>> }>)
    .then((spec) =>
      Object.values(spec.paths)
        .flatMap((p) =>
          Object.entries(p)
            .filter(([m, op]) => m === "get" && op.tags?.includes("analytics") && !op.operationId.startsWith("stream"))
            .map(([, op]) => op.operationId),
        )
        .sort(),
    );
  return operationIds;
}

const paramsText = (p: WidgetConfig["params"]) => new URLSearchParams(Object.entries(p).map(([k, v]) => [k, String(v)])).toString();

export async function editPage(root: HTMLElement, id: string): Promise<void> {
  replace(root, h("p", { class: "state loading" }, "Loading…"));
  let d: DashboardDoc;
  let ops: string[];
  try {
    [d, ops] = await Promise.all([api<DashboardDoc>(`/v1/dashboards/${id}`).then((r) => r.body), operations()]);
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
  const widgets: WidgetConfig[] = [...d.widgets].sort((a, b) => a.position - b.position);
  const name = h("input", { id: "name", name: "name", value: d.name, required: true, maxlength: 120 });
  const description = h("textarea", { id: "description", name: "description", rows: 2, maxlength: 1000 });
  description.value = d.description;
  const list = h("ol", { class: "edit-widgets" });
  const message = h("div", { class: "message", role: "alert", "aria-live": "assertive" });

  const row = (w: WidgetConfig, i: number) => {
    const title = h("input", { id: `title-${i}`, value: w.title, required: true, maxlength: 120 });
    title.addEventListener("input", () => (w.title = title.value));
    const op = h("select", { id: `op-${i}` }, ...ops.map((o) => h("option", { value: o, selected: o === w.operation }, o)));
    op.addEventListener("change", () => (w.operation = op.value));
    const viz = h("select", { id: `viz-${i}` }, ...VIZ.map((v) => h("option", { value: v, selected: v === w.viz }, v)));
    viz.addEventListener("change", () => (w.viz = viz.value as WidgetConfig["viz"]));
    const params = h("input", {
      id: `params-${i}`,
      value: paramsText(w.params),
      placeholder: "e.g. bucket=day&limit=10",
      autocomplete: "off",
    });
    params.addEventListener("change", () => (w.params = Object.fromEntries(new URLSearchParams(params.value))));
    const move = (delta: number) => () => {
      const j = i + delta;
      if (j < 0 || j >= widgets.length) return;
      [widgets[i], widgets[j]] = [widgets[j]!, widgets[i]!];
      redraw();
      (list.children[j]?.querySelector(delta < 0 ? "button.up" : "button.down") as HTMLButtonElement | null)?.focus();
    };
    return h(
      "li",
      { class: "edit-widget", "data-widget-id": w.id },
      h("label", { for: `title-${i}` }, "Title"),
      title,
      h("label", { for: `op-${i}` }, "Operation"),
      op,
      h("label", { for: `viz-${i}` }, "Shown as"),
      viz,
      h("label", { for: `params-${i}` }, "Parameters"),
      params,
      h(
        "span",
        { class: "row-actions" },
        h("button", { type: "button", class: "up", "aria-label": `Move ${w.title} up`, disabled: i === 0, onclick: move(-1) }, "↑"),
        h(
          "button",
          { type: "button", class: "down", "aria-label": `Move ${w.title} down`, disabled: i === widgets.length - 1, onclick: move(1) },
          "↓",
        ),
        h(
          "button",
          {
            type: "button",
            class: "remove",
            "aria-label": `Remove ${w.title}`,
            onclick: () => {
              widgets.splice(i, 1);
              redraw();
            },
          },
          "Remove",
        ),
      ),
    );
  };
  const redraw = () => list.replaceChildren(...widgets.map(row));
  redraw();

  const add = () => {
    let n = widgets.length + 1;
    while (widgets.some((w) => w.id === `w${n}`)) n += 1;
    widgets.push({ id: `w${n}`, title: "New widget", operation: "getRevenueSummary", params: {}, viz: "kpi", position: widgets.length });
    redraw();
    (list.lastElementChild?.querySelector("input") as HTMLInputElement | null)?.focus();
  };

  const save = async (e: Event) => {
    e.preventDefault();
    replace(message);
    const body = {
      name: name.value,
      description: description.value,
      filters: d.filters,
      widgets: widgets.map((w, i) => ({ ...w, position: i })),
    };
    try {
      const { body: saved } = await api<DashboardDoc>(`/v1/dashboards/${id}`, {
        method: "PUT",
        body: JSON.stringify(body),
        headers: { "if-match": `"${d.version}"` },
      });
      d = saved;
      location.hash = `#/d/${id}`;
    } catch (err) {
      if (!(err instanceof ApiError)) return replace(message, h("p", { class: "state error" }, String(err)));
      const p = err.problem;
      if (p.status === 412) {
        message.dataset.kind = "stale";
        return replace(
          message,
          h(
            "p",
            { class: "state error stale" },
            "Someone else changed this dashboard since you opened it, so your changes were not saved. Reload it to see theirs, then " +
              "make yours again.",
          ),
          h("button", { type: "button", onclick: () => void editPage(root, id) }, "Reload"),
        );
      }
      replace(
        message,
        h("p", { class: "state error" }, `Not saved (${p.status}): ${p.detail ?? p.title ?? ""}`),
        p.errors ? h("ul", {}, ...p.errors.map((x) => h("li", {}, `${x.path}: ${x.message}`))) : null,
      );
    }
  };

  const remove = async () => {
    if (!confirm(`Delete “${d.name}”?`)) return;
    try {
      await api(`/v1/dashboards/${id}`, { method: "DELETE", headers: { "if-match": `"${d.version}"` } });
      location.hash = "#/";
    } catch (err) {
      replace(message, h("p", { class: "state error" }, `Not deleted: ${err instanceof ApiError ? err.message : String(err)}`));
    }
  };

  replace(
    root,
    h(
      "form",
      { class: "edit", onsubmit: save, "aria-label": "Edit dashboard" },
      h(
        "nav",
        { class: "crumbs", "aria-label": "Breadcrumb" },
        h("a", { href: "#/" }, "Dashboards"),
        " / ",
        h("a", { href: `#/d/${id}` }, d.name),
      ),
      h("h1", {}, "Edit dashboard"),
      h("label", { for: "name" }, "Name"),
      name,
      h("label", { for: "description" }, "Description"),
      description,
      h("h2", {}, "Widgets"),
      list,
      h(
        "div",
        { class: "toolbar" },
        h("button", { type: "button", onclick: add }, "Add widget"),
        h("button", { type: "submit", class: "primary" }, "Save"),
        d.is_default ? null : h("button", { type: "button", class: "danger", onclick: () => void remove() }, "Delete"),
      ),
      message,
    ),
  );
  name.focus();
}
