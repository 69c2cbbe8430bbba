// The links list: search and tag filters in the page URL, newest first, paged by the
// API's cursor; a row per link with its badges; delete with confirmation; bulk actions
// on a selection with progress and a result per link.
import { api } from "./api.js";
import { h, mount, copy, announce } from "./dom.js";
import { confirmDialog } from "./dialog.js";
import { describe } from "./errors.js";
import { badges, count, dateTime } from "./format.js";
import { listFilters, listQuery, routeHash, splitTags } from "./state.js";
import { openEditor } from "./view-editor.js";

const PAGE_SIZES = [20, 50, 100];

export async function renderLinks(ctx) {
  const { main, route, navigate, me } = ctx;
  const filters = listFilters(route.params);
  const size = PAGE_SIZES.includes(Number(route.params.get("size"))) ? Number(route.params.get("size")) : 50;
  const hashOf = (f, extra = {}) =>
    routeHash("links", { q: f.q, tag: f.tags, mode: f.tags.length > 1 ? f.mode : "", size: size === 50 ? "" : size, ...extra });

  const q = h("input", { id: "search-q", name: "q", type: "search", value: filters.q, maxlength: "200", placeholder: "text in the URL or title" });
  const tags = h("input", { id: "search-tags", name: "tags", value: filters.tags.join(", "), placeholder: "sales, q3" });
  const mode = h(
    "select",
    { id: "search-mode", name: "mode" },
    h("option", { value: "any", selected: filters.mode === "any" }, "any of these tags"),
    h("option", { value: "all", selected: filters.mode === "all" }, "all of these tags"),
  );
  const search = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter links" },
    h("div", { class: "field" }, h("label", { for: "search-q" }, "Search ", h("kbd", {}, "/")), q),
    h("div", { class: "field" }, h("label", { for: "search-tags" }, "Tags"), tags),
    h("div", { class: "field" }, h("label", { for: "search-mode" }, "Match"), mode),
    h("div", { class: "field buttons" }, h("button", { type: "submit", class: "primary" }, "Search"), h("a", { href: "#/links", class: "button" }, "Clear")),
  );
  search.addEventListener("submit", (e) => {
    e.preventDefault();
    navigate(hashOf({ q: q.value.trim(), tags: splitTags(tags.value), mode: mode.value, cursor: "" }));
  });

  const status = h("p", { class: "muted", role: "status", id: "list-status" }, "Loading…");
  mount(main, h("div", { class: "title-row" }, h("h1", {}, "Links")), search, status);

  let page;
  try {
    page = await api.links(listQuery(filters, size));
  } catch (err) {
    status.textContent = "";
    main.append(h("p", { class: "field-error", role: "alert" }, describe(err.error, err.status)));
    return;
  }
  const links = page.links;
  const selected = new Set();
  const filtered = filters.q || filters.tags.length;
  status.textContent = links.length
    ? `${links.length} link${links.length > 1 ? "s" : ""} on this page${filtered ? " matching the filters" : ""}.`
    : filtered && page.next_cursor
      ? "No match among these links: there are more to look through."
      : filtered
        ? "No link matches these filters."
        : "No links yet: press New link (or c) to make one.";

  const bulkBar = h("div", { class: "bulk", id: "bulk", hidden: true, role: "region", "aria-label": "Bulk actions" });
  const results = h("div", { id: "bulk-results" });
  const selectAll = h("input", { type: "checkbox", id: "select-all", "aria-label": "Select every link on this page" });
  const boxes = [];

  function updateBulk() {
    bulkBar.hidden = selected.size === 0;
    selectAll.checked = selected.size > 0 && selected.size === links.length;
    selectAll.indeterminate = selected.size > 0 && selected.size < links.length;
    const label = bulkBar.querySelector(".bulk-count");
    if (label) label.textContent = `${selected.size} selected`;
  }
  selectAll.addEventListener("change", () => {
    for (const [box, link] of boxes) {
      box.checked = selectAll.checked;
      if (selectAll.checked) selected.add(link.code);
      else selected.delete(link.code);
    }
    updateBulk();
  });

  const rows = links.map((link) => {
    const box = h("input", { type: "checkbox", class: "select", "aria-label": `Select ${link.code}` });
    box.addEventListener("change", () => {
      if (box.checked) selected.add(link.code);
      else selected.delete(link.code);
      updateBulk();
    });
    boxes.push([box, link]);
    return h(
      "tr",
      { "data-code": link.code },
      h("td", { class: "sel" }, box),
      h("td", { "data-label": "Code" }, h("a", { href: routeHash("link", {}, link.code), class: "code" }, link.code)),
      h(
        "td",
        { "data-label": "Short URL", class: "short" },
        h("span", { class: "mono" }, link.short_url),
        h("button", { type: "button", class: "small", "aria-label": `Copy ${link.short_url}`, onclick: () => copy(link.short_url) }, "Copy"),
      ),
      h("td", { "data-label": "Target", class: "target" }, link.url),
      h("td", { "data-label": "Title" }, link.title || null),
      h("td", { "data-label": "Tags" }, ...link.tags.map((t) => h("a", { class: "tag", href: hashOf({ q: "", tags: [t], mode: "any" }) }, t))),
      h("td", { "data-label": "Created" }, h("time", { datetime: link.created_at }, dateTime(link.created_at))),
      h("td", { "data-label": "Visits", class: "num" }, count(link.visits)),
      h("td", { "data-label": "Status" }, badges(link).map((b) => h("span", { class: `badge badge-${b.id}` }, b.label))),
      h(
        "td",
        { class: "row-actions" },
        h("a", { class: "button small", href: routeHash("link", {}, link.code) }, "Stats"),
        h("button", { type: "button", class: "small", "aria-label": `Edit ${link.code}`, onclick: () => edit(link) }, "Edit"),
        h("button", { type: "button", class: "small danger", "aria-label": `Delete ${link.code}`, onclick: () => remove(link) }, "Delete"),
      ),
    );
  });

  async function edit(link) {
    openEditor({ me, link: await api.link(link.code), onSaved: () => ctx.refresh() });
  }

  async function remove(link) {
    const ok = await confirmDialog("Delete link", `Delete ${link.short_url}? Its visits and history go with it, and the code becomes free for anyone.`);
    if (!ok) return;
    try {
      await api.remove(link.code);
      announce(`Deleted ${link.code}`);
      ctx.refresh();
    } catch (err) {
      announce(describe(err.error, err.status), "error");
    }
  }

  const table = links.length
    ? h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "links" },
          h("caption", { class: "visually-hidden" }, "Your links, newest first"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col", class: "sel" }, selectAll, h("label", { for: "select-all", class: "phone-only" }, " Select all on this page")),
              ["Code", "Short URL", "Target", "Title", "Tags", "Created", "Visits", "Status"].map((c) => h("th", { scope: "col" }, c)),
              h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
            ),
          ),
          h("tbody", {}, rows),
        ),
      )
    : null;

  const addTag = h("input", { id: "bulk-tag", placeholder: "tag", "aria-label": "Tag to add or remove", size: "10" });
  mount(
    bulkBar,
    h("span", { class: "bulk-count" }, "0 selected"),
    h("button", { type: "button", class: "danger", id: "bulk-delete", onclick: () => bulk("delete") }, "Delete"),
    h("button", { type: "button", id: "bulk-disable", onclick: () => bulk("disable") }, "Disable"),
    h("button", { type: "button", id: "bulk-enable", onclick: () => bulk("enable") }, "Enable"),
    addTag,
    h("button", { type: "button", id: "bulk-add-tag", onclick: () => bulk("add-tag") }, "Add tag"),
    h("button", { type: "button", id: "bulk-remove-tag", onclick: () => bulk("remove-tag") }, "Remove tag"),
  );

  async function bulk(action) {
    const chosen = links.filter((l) => selected.has(l.code));
    const tag = addTag.value.trim().toLowerCase();
    if ((action === "add-tag" || action === "remove-tag") && !/^[a-z0-9_-]{1,32}$/.test(tag)) {
      addTag.setAttribute("aria-invalid", "true");
      announce("A tag is 1 to 32 of a-z, 0-9, _ and -", "error");
      addTag.focus();
      return;
    }
    addTag.removeAttribute("aria-invalid");
    if (action === "delete") {
      const ok = await confirmDialog("Delete links", `Delete ${chosen.length} link${chosen.length > 1 ? "s" : ""}? Their visits and history go with them.`);
      if (!ok) return;
    }
    const op = {
      delete: (l) => api.remove(l.code).then(() => "deleted"),
      disable: (l) => api.patch(l.code, { disabled: true }).then(() => "disabled"),
      enable: (l) => api.patch(l.code, { disabled: false }).then(() => "enabled"),
      "add-tag": (l) =>
        l.tags.includes(tag) ? Promise.resolve("already tagged") : api.patch(l.code, { tags: [...l.tags, tag] }).then(() => `tagged ${tag}`),
      "remove-tag": (l) =>
        l.tags.includes(tag) ? api.patch(l.code, { tags: l.tags.filter((t) => t !== tag) }).then(() => `untagged ${tag}`) : Promise.resolve("had no such tag"),
    }[action];
    const progress = h("progress", { max: String(chosen.length), value: "0", "aria-label": "Bulk progress" });
    const said = h("p", { role: "status" }, `0 of ${chosen.length} done`);
    const list = h("ul", { class: "results", id: "bulk-result-list" });
    mount(results, h("div", { class: "card" }, h("h2", {}, "Bulk result"), progress, said, list));
    let done = 0;
    let failures = 0;
    const queue = [...chosen];
    async function worker() {
      while (queue.length) {
        const link = queue.shift();
        let line;
        try {
          line = h("li", { class: "ok", "data-code": link.code }, `${link.code}: ${await op(link)}`);
        } catch (err) {
          failures++;
          line = h("li", { class: "failed", "data-code": link.code }, `${link.code}: ${describe(err.error, err.status)}`);
        }
        list.append(line);
        done++;
        progress.value = done;
        said.textContent = `${done} of ${chosen.length} done${failures ? `, ${failures} failed` : ""}`;
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()]);
    said.textContent = `Finished: ${done - failures} of ${chosen.length} succeeded${failures ? `, ${failures} failed` : ""}.`;
    refreshRows();
  }

  async function refreshRows() {
    // The list again, keeping the result panel where it is.
    try {
      const fresh = await api.links(listQuery(filters, size));
      const byCode = new Map(fresh.links.map((l) => [l.code, l]));
      for (const tr of main.querySelectorAll("tr[data-code]")) {
        const l = byCode.get(tr.dataset.code);
        if (!l) tr.classList.add("gone");
        else {
          const cell = tr.querySelector('td[data-label="Status"]');
          mount(cell, badges(l).map((b) => h("span", { class: `badge badge-${b.id}` }, b.label)));
          mount(tr.querySelector('td[data-label="Tags"]'), l.tags.map((t) => h("a", { class: "tag", href: hashOf({ q: "", tags: [t], mode: "any" }) }, t)));
          const link = links.find((x) => x.code === l.code);
          if (link) Object.assign(link, l);
        }
      }
    } catch {
      /* the result panel says what happened */
    }
  }

  const pager = h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    filters.cursor ? h("a", { class: "button", href: hashOf(filters, { cursor: "" }) }, "First page") : null,
    page.next_cursor ? h("a", { class: "button", id: "next-page", href: hashOf(filters, { cursor: page.next_cursor }) }, "Next page") : null,
    h(
      "label",
      { class: "inline" },
      "Per page ",
      h(
        "select",
        {
          id: "page-size",
          onchange: (e) => navigate(routeHash("links", { q: filters.q, tag: filters.tags, mode: filters.tags.length > 1 ? filters.mode : "", size: e.target.value })),
        },
        PAGE_SIZES.map((n) => h("option", { value: String(n), selected: n === size }, String(n))),
      ),
    ),
  );
  main.append(bulkBar, results, table || h("div", {}), pager);
  updateBulk();
}
