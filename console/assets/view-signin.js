// Sign in with an API key, checked with GET /keys/me; kept in sessionStorage only.
import { api, ApiError, rememberKey } from "./api.js";
import { h, mount } from "./dom.js";
import { signInMessage } from "./errors.js";

export function renderSignIn(main, onSignedIn, notice = "") {
  const error = h("p", { class: "field-error", id: "key-error", role: "alert" }, notice);
  const input = h("input", {
    id: "key",
    name: "key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    placeholder: "slk_…",
    "aria-describedby": "key-help key-error",
  });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card signin", id: "signin-form" },
    h("h1", {}, "Sign in"),
    h("label", { for: "key" }, "API key"),
    input,
    h(
      "p",
      { class: "help", id: "key-help" },
      "Your key stays in this tab only and is forgotten when you close it or sign out. An admin issues keys with make key.",
    ),
    error,
    button,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    if (!/^slk_[A-Za-z0-9_-]{20,}$/.test(key)) {
      error.textContent = signInMessage(401, null);
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      const me = await api.me(key);
      rememberKey(key);
      onSignedIn(me);
    } catch (err) {
      const e2 = err instanceof ApiError ? err : new ApiError(0, null);
      error.textContent = signInMessage(e2.status, e2.error);
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  mount(main, form);
  input.focus();
}
