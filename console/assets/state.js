// The console's place and filters live in the page URL's fragment, so reload, back and
// a shared URL keep them: #/links?q=report&tag=sales&tag=q3&mode=all&cursor=...
// Pure functions (no DOM): unit-tested with node --test.

export const VIEWS = ["dashboard", "links", "link", "data"];

/** The view, the link code (for "link") and the query parameters of a fragment. */
export function parseRoute(hash) {
  const raw = (hash || "").replace(/^#/, "");
  const [path, query = ""] = raw.split("?", 2);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  if (parts[0] === "links" && parts[1]) return { view: "link", code: parts[1], params };
  if (parts[0] === "links") return { view: "links", code: null, params };
  if (parts[0] === "data") return { view: "data", code: null, params };
  return { view: "dashboard", code: null, params };
}

/** The fragment of a view (with `code` for "link") and its parameters. Empty values
 * are left out; an array gives the parameter once per item. */
export function routeHash(view, params = {}, code = null) {
  const path =
    view === "link" ? `#/links/${encodeURIComponent(code)}` : view === "dashboard" ? "#/" : `#/${view}`;
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== null && v !== "") q.append(key, String(v));
    }
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** The links list's filters as the page URL keeps them. */
export function listFilters(params) {
  const tags = params.getAll("tag").map((t) => t.trim().toLowerCase()).filter(Boolean);
  return {
    q: params.get("q") || "",
    tags,
    mode: params.get("mode") === "all" ? "all" : "any",
    cursor: params.get("cursor") || "",
  };
}

/** The `GET /links` query of those filters (`limit` links a page). */
export function listQuery(filters, limit) {
  const q = new URLSearchParams();
  q.set("limit", String(limit));
  if (filters.q) q.set("q", filters.q);
  for (const t of filters.tags) q.append("tag", t);
  if (filters.tags.length > 1 && filters.mode === "all") q.set("tags_mode", "all");
  if (filters.cursor) q.set("cursor", filters.cursor);
  return q;
}

/** Tags typed as "a, b c": lowercased, split on commas and spaces, repeats dropped. */
export function splitTags(text) {
  const seen = new Set();
  for (const t of (text || "").split(/[\s,]+/)) {
    const tag = t.trim().toLowerCase();
    if (tag) seen.add(tag);
  }
  return [...seen];
}

/** The date range of a link's analytics: `from`/`to` of the URL, or the last `days`
 * days to `today` (YYYY-MM-DD, UTC). */
export function dateRange(params, today, days = 30) {
  const valid = (d) => /^\d{4}-\d{2}-\d{2}$/.test(d || "");
  const to = valid(params.get("to")) ? params.get("to") : today;
  let from = params.get("from");
  if (!valid(from)) {
    const t = new Date(to + "T00:00:00Z");
    t.setUTCDate(t.getUTCDate() - (days - 1));
    from = t.toISOString().slice(0, 10);
  }
  return { from, to };
}
