// The console's shell: who is signed in, the navigation, the router (the page URL's
// fragment, state.js) and the keyboard shortcuts (/ search, c create, Esc closes a
// dialog: the browser's own for <dialog>).
import { api, forgetKey, storedKey, whenUnauthorized } from "./api.js";
import { h, mount } from "./dom.js";
import { parseRoute, routeHash } from "./state.js";
import { renderSignIn } from "./view-signin.js";
import { renderDashboard } from "./view-dashboard.js";
import { renderLinks } from "./view-links.js";
import { renderLink } from "./view-link.js";
import { renderData } from "./view-data.js";
import { openEditor } from "./view-editor.js";

const top = document.getElementById("top");
const main = document.getElementById("main");
let me = null;
let navigations = 0;

const NAV = [
  ["dashboard", "Dashboard", "#/"],
  ["links", "Links", "#/links"],
  ["data", "Import & export", "#/data"],
];

function header(view) {
  if (!me) {
    return mount(top, h("span", { class: "brand" }, "Short links"));
  }
  return mount(
    top,
    h("a", { class: "brand", href: "#/" }, "Short links"),
    h(
      "nav",
      { "aria-label": "Main" },
      NAV.map(([id, label, href]) =>
        h("a", { href, "aria-current": id === view || (view === "link" && id === "links") ? "page" : null }, label),
      ),
    ),
    h(
      "div",
      { class: "who" },
      h("button", { type: "button", class: "primary", id: "new-link", onclick: () => create(), title: "New link (c)" }, "New link"),
      h("span", { class: "who-name", id: "who" }, me.name, " ", h("span", { class: `role role-${me.role}` }, me.role)),
      h("button", { type: "button", id: "sign-out", onclick: signOut }, "Sign out"),
    ),
  );
}

function signOut() {
  forgetKey();
  me = null;
  location.hash = "#/";
  route();
}

function ctx(routeInfo, slot) {
  return {
    main: slot,
    me,
    route: routeInfo,
    navigate: (hash) => {
      if (location.hash === hash) route();
      else location.hash = hash;
    },
    refresh: () => route(),
  };
}

function create() {
  if (!me) return;
  openEditor({
    me,
    onSaved: (link) => {
      const { view } = parseRoute(location.hash);
      if (view === "links") route();
      else location.hash = routeHash("link", {}, link.code);
    },
  });
}

async function route() {
  const r = parseRoute(location.hash);
  header(r.view);
  if (!me) {
    document.title = "Sign in · Short links";
    showSignIn();
    return;
  }
  const titles = { dashboard: "Dashboard", links: "Links", link: r.code, data: "Import & export" };
  document.title = `${titles[r.view]} · Short links`;
  const views = { dashboard: renderDashboard, links: renderLinks, link: renderLink, data: renderData };
  // Each navigation draws into a slot of its own: a slower view of an earlier navigation
  // that answers late draws into a slot no longer on the page.
  const slot = document.createElement("div");
  main.replaceChildren(slot);
  const generation = ++navigations;
  main.setAttribute("aria-busy", "true");
  try {
    await views[r.view](ctx(r, slot));
  } finally {
    if (generation === navigations) {
      main.removeAttribute("aria-busy");
      // How many views were drawn: tests wait for it to move after a navigation.
      main.dataset.rendered = String(Number(main.dataset.rendered || 0) + 1);
    }
  }
}

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

document.addEventListener("keydown", (e) => {
  if (!me || e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || document.querySelector("dialog[open]")) return;
  if (e.key === "/") {
    e.preventDefault();
    const search = document.getElementById("search-q");
    if (search) search.focus();
    else {
      location.hash = "#/links";
      setTimeout(() => document.getElementById("search-q")?.focus(), 300);
    }
  } else if (e.key === "c") {
    e.preventDefault();
    create();
  }
});

/** The sign-in form in place of any view (a view still loading draws nowhere). */
function showSignIn(notice = "") {
  navigations++;
  main.removeAttribute("aria-busy");
  renderSignIn(main, (who) => ((me = who), route()), notice);
  main.dataset.rendered = String(Number(main.dataset.rendered || 0) + 1);
}

whenUnauthorized(() => {
  forgetKey();
  me = null;
  header("dashboard");
  document.title = "Sign in · Short links";
  showSignIn("Your key is no longer valid (revoked?): sign in again.");
});

window.addEventListener("hashchange", route);

(async () => {
  const key = storedKey();
  if (key) {
    try {
      me = await api.me(key);
    } catch {
      forgetKey();
    }
  }
  route();
})();
