// One link's analytics: visits per day over a date range (bots apart), the breakdowns,
// its insights, a stats.csv download and its QR code (shown and downloadable).
import { api } from "./api.js";
import { h, mount, copy, download } from "./dom.js";
import { dailyChart } from "./chart.js";
import { describe } from "./errors.js";
import { badges, count, dateTime, todayUtc } from "./format.js";
import { dateRange, routeHash } from "./state.js";
import { openEditor } from "./view-editor.js";

const BREAKDOWNS = [
  ["referrers", "Referrers"],
  ["sources", "Sources (utm_source)"],
  ["devices", "Devices"],
  ["browsers", "Browsers"],
  ["countries", "Countries"],
];

export async function renderLink(ctx) {
  const { main, route, navigate, me } = ctx;
  const code = route.code;
  const { from, to } = dateRange(route.params, todayUtc());
  mount(main, h("h1", {}, code), h("p", { class: "muted", role: "status" }, "Loading…"));
  const [link, stats, insights] = await Promise.allSettled([api.link(code), api.stats(code, from, to), api.linkInsights(code)]);
  if (link.status === "rejected") {
    mount(
      main,
      h("h1", {}, code),
      h("p", { class: "field-error", role: "alert" }, describe(link.reason.error, link.reason.status)),
      h("a", { href: "#/links", class: "button" }, "Back to the links"),
    );
    return;
  }
  const l = link.value;
  const fromIn = h("input", { type: "date", id: "range-from", value: from, max: todayUtc() });
  const toIn = h("input", { type: "date", id: "range-to", value: to, max: todayUtc() });
  const rangeError = h("p", { class: "field-error", id: "range-error", "aria-live": "polite" });
  const range = h(
    "form",
    { class: "filters", "aria-label": "Date range" },
    h("div", { class: "field" }, h("label", { for: "range-from" }, "From"), fromIn),
    h("div", { class: "field" }, h("label", { for: "range-to" }, "To"), toIn),
    h("div", { class: "field buttons" }, h("button", { type: "submit", class: "primary" }, "Show"), h("button", { type: "button", id: "stats-csv", onclick: csv }, "Download stats.csv")),
    rangeError,
  );
  range.addEventListener("submit", (e) => {
    e.preventDefault();
    if (fromIn.value > toIn.value) {
      rangeError.textContent = "'From' must not be after 'To'.";
      fromIn.setAttribute("aria-invalid", "true");
      fromIn.focus();
      return;
    }
    navigate(routeHash("link", { from: fromIn.value, to: toIn.value }, code));
  });

  async function csv() {
    try {
      download(await api.statsCsv(code, fromIn.value, toIn.value), `${code}-stats-${fromIn.value}-${toIn.value}.csv`);
    } catch (err) {
      rangeError.textContent = describe(err.error, err.status);
    }
  }

  const qrImg = h("img", { src: `/links/${encodeURIComponent(code)}/qr.svg?size=200`, width: "200", height: "200", alt: `QR code of ${l.short_url}`, class: "qr" });
  async function qrDownload() {
    try {
      download(await api.qr(code), `${code}-qr.svg`);
    } catch (err) {
      rangeError.textContent = describe(err.error, err.status);
    }
  }

  let statsPart;
  if (stats.status === "rejected") {
    const e = stats.reason;
    statsPart = h("p", { class: "field-error", role: "alert" }, describe(e.error, e.status));
    if (e.code === "invalid_range" || e.code === "invalid_date") {
      rangeError.textContent = describe(e.error, e.status);
      fromIn.setAttribute("aria-invalid", "true");
    }
  } else {
    const s = stats.value;
    const inRange = s.daily.reduce((a, d) => a + d.visits, 0);
    const botsInRange = s.daily.reduce((a, d) => a + d.bot_visits, 0);
    statsPart = [
      h(
        "section",
        { class: "cards", "aria-label": "Totals" },
        card("Visits, all time", s.total_visits, "total-visits"),
        card("Bot visits, all time", s.bot_visits, "bot-visits"),
        card(`Visits ${s.daily[0]?.date ?? from} to ${s.daily.at(-1)?.date ?? to}`, inRange, "range-visits"),
        card("Bot visits in that range", botsInRange, "range-bots"),
      ),
      h("section", { class: "card", "aria-labelledby": "chart-h" }, h("h2", { id: "chart-h" }, "Visits per day"), dailyChart(s.daily)),
      h(
        "section",
        { class: "breakdowns", "aria-label": "Breakdowns" },
        BREAKDOWNS.map(([key, label]) => breakdown(label, s.breakdowns[key] || [], key)),
      ),
    ];
  }

  let insightsPart;
  if (insights.status === "fulfilled") {
    const list = insights.value.insights || [];
    insightsPart = h(
      "section",
      { class: "card", id: "insights" },
      h("h2", {}, `Insights (week to ${insights.value.date})`),
      list.length ? h("ul", { class: "plain" }, list.map((i) => h("li", {}, h("span", { class: "badge" }, i.type.replaceAll("_", " ")), " ", i.message))) : h("p", { class: "muted" }, "Nothing stands out this week."),
    );
  } else {
    insightsPart = h("section", { class: "card" }, h("h2", {}, "Insights"), h("p", { class: "field-error" }, describe(insights.reason.error, insights.reason.status)));
  }

  mount(
    main,
    h(
      "div",
      { class: "title-row" },
      h("h1", {}, l.code),
      h("button", { type: "button", id: "edit-link", onclick: () => openEditor({ me, link: l, onSaved: () => ctx.refresh() }) }, "Edit"),
    ),
    h(
      "div",
      { class: "link-head" },
      h(
        "div",
        {},
        h("p", {}, h("span", { class: "mono" }, l.short_url), " ", h("button", { type: "button", class: "small", onclick: () => copy(l.short_url) }, "Copy")),
        h("p", { class: "target" }, "→ ", l.url),
        l.title ? h("p", {}, l.title) : null,
        h("p", { class: "muted" }, "Created ", dateTime(l.created_at), l.expires_at ? ` · expires ${dateTime(l.expires_at)}` : "", l.max_visits != null ? ` · cap ${count(l.max_visits)} visits` : ""),
        h("p", {}, (l.tags || []).map((t) => h("span", { class: "tag" }, t)), badges(l).map((b) => h("span", { class: `badge badge-${b.id}` }, b.label))),
      ),
      h("figure", { class: "qr-box" }, qrImg, h("figcaption", {}, h("button", { type: "button", class: "small", id: "qr-download", onclick: qrDownload }, "Download QR (SVG)"))),
    ),
    range,
    statsPart,
    insightsPart,
  );
}

function card(label, value, id) {
  return h("div", { class: "card stat" }, h("span", { class: "stat-label" }, label), h("strong", { id }, count(value)));
}

function breakdown(label, rows, key) {
  return h(
    "div",
    { class: "card" },
    h(
      "table",
      { class: "mini", id: `bd-${key}` },
      h("caption", {}, label),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col", class: "num" }, "Visits"))),
      h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, h("td", {}, r.key), h("td", { class: "num" }, count(r.visits)))) : h("tr", {}, h("td", { colspan: "2", class: "muted" }, "No visits in this range"))),
    ),
  );
}
