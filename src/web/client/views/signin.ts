/** Sign in: paste a bearer token; it is checked with GET /v1/me and kept in sessionStorage (this tab only). */
import { api, ApiError, token } from "../api.ts";
import { h, replace } from "../dom.ts";

export function signIn(root: HTMLElement): void {
  const input = h("textarea", {
    id: "token",
    name: "token",
    rows: 4,
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "token-help",
  });
  const status = h("p", { id: "signin-status", role: "status", "aria-live": "polite" });
  const hint =
    document.body.dataset.tokenHint === "yes"
      ? h(
          "p",
          { class: "hint" },
          "Development: make a token with ",
          h("code", {}, "bun run token -- --tenant <uuid> --roles analyst"),
          " and paste it here.",
        )
      : null;
  const submit = async (e: Event) => {
    e.preventDefault();
    const t = input.value.trim();
    if (!t) {
      status.textContent = "Paste a token first.";
      return;
    }
    token.set(t);
    try {
      const { body } = await api<{ tenant_id: string; roles: string[] }>("/v1/me");
      status.textContent = `Signed in to tenant ${body.tenant_id} as ${body.roles.join(", ")}.`;
      location.hash = "#/";
    } catch (err) {
      token.clear();
      status.textContent = `That token was refused: ${err instanceof ApiError ? err.message : String(err)}`;
    }
  };
  replace(
    root,
    h(
      "section",
      { class: "signin" },
      h("h1", {}, "Sign in to Pulse"),
      h(
        "form",
        { onsubmit: submit },
        h("label", { for: "token" }, "Bearer token"),
        input,
        h(
          "p",
          { id: "token-help", class: "hint" },
          "Kept in this tab only (sessionStorage), sent as the Authorization header, never in a URL or a cookie.",
        ),
        hint,
        h("button", { type: "submit" }, "Sign in"),
      ),
      status,
    ),
  );
  input.focus();
}
