/**
 * The Pulse web app (served at /app, bundled by src/web/build.ts). Hash routes:
 *   #/signin   paste a token        #/          the dashboards
 *   #/d/<id>   a dashboard          #/d/<id>/edit   edit mode
 */
import "./styles.css";
import { token } from "./api.ts";
import { h, replace } from "./dom.ts";
import { dashboardPage, leaveDashboard } from "./views/dashboard.ts";
import { editPage } from "./views/edit.ts";
import { dashboardsList } from "./views/list.ts";
import { signIn } from "./views/signin.ts";

const root = document.getElementById("app") as HTMLElement;
const header = h(
  "header",
  { class: "top" },
  h("a", { href: "#/", class: "brand" }, "Pulse"),
  h(
    "button",
    {
      type: "button",
      class: "signout",
      onclick: () => {
        token.clear();
        location.hash = "#/signin";
      },
    },
    "Sign out",
  ),
);
root.before(header);

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

async function route(): Promise<void> {
  const path = location.hash.replace(/^#/, "") || "/";
  leaveDashboard();
  header.querySelector(".signout")?.toggleAttribute("hidden", !token.get());
  if (!token.get() || path === "/signin") return signIn(root);
  const edit = new RegExp(`^/d/(${UUID})/edit$`).exec(path);
  if (edit) return editPage(root, edit[1]!);
  const view = new RegExp(`^/d/(${UUID})$`).exec(path);
  if (view) return dashboardPage(root, view[1]!);
  if (path === "/") return dashboardsList(root);
  replace(root, h("p", { class: "state error" }, "No such page. ", h("a", { href: "#/" }, "Back to the dashboards")));
}

window.addEventListener("hashchange", () => void route());
void route();
