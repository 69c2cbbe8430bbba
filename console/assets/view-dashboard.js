// The caller's totals for today and all time, its top links of both, and what changed
// across its links this week (GET /stats twice, GET /insights).
import { api } from "./api.js";
import { h, mount } from "./dom.js";
import { describe } from "./errors.js";
import { count } from "./format.js";
import { routeHash } from "./state.js";

export async function renderDashboard({ main, me }) {
  mount(main, h("h1", {}, "Dashboard"), h("p", { class: "muted" }, "Loading…"));
  const [day, all, insights] = await Promise.allSettled([api.rankings("day", 5), api.rankings("all", 5), api.insights()]);
  const scope =
    me.role === "admin"
      ? "Every owner's links (admin key). Totals are kept per owner: sign in with an owner's key for theirs."
      : "Your links. Figures come from the aggregator, a few seconds behind the visits.";
  mount(
    main,
    h("h1", {}, "Dashboard"),
    h("p", { class: "muted" }, scope),
    h(
      "section",
      { class: "cards", "aria-label": "Totals" },
      totalCard("Visits today", day, (r) => r.totals?.visits, "today-visits"),
      totalCard("Bot visits today", day, (r) => r.totals?.bot_visits, "today-bots"),
      totalCard("Visits, all time", all, (r) => r.totals?.visits, "all-visits"),
      totalCard("Links visited, all time", all, (r) => r.totals?.links, "all-links"),
    ),
    h(
      "div",
      { class: "columns" },
      ranking("Top links today", day, "top-day"),
      ranking("Top links, all time", all, "top-all"),
    ),
    insightsSection(insights),
  );
}

function failed(settled) {
  return settled.status === "rejected" ? h("p", { class: "field-error", role: "alert" }, describe(settled.reason.error, settled.reason.status)) : null;
}

function totalCard(label, settled, pick, id) {
  const value = settled.status === "fulfilled" ? pick(settled.value) : null;
  return h("div", { class: "card stat" }, h("span", { class: "stat-label" }, label), h("strong", { id }, value == null ? "—" : count(value)));
}

function linkCell(code) {
  return h("a", { href: routeHash("link", {}, code) }, code);
}

function ranking(title, settled, id) {
  const body = failed(settled);
  if (body) return h("section", { class: "card" }, h("h2", {}, title), body);
  const links = settled.value.links || [];
  return h(
    "section",
    { class: "card", id },
    h("h2", {}, title),
    links.length
      ? h(
          "ol",
          { class: "ranking" },
          links.map((l) => h("li", {}, linkCell(l.code), h("span", { class: "target" }, l.url), h("span", { class: "num" }, count(l.visits)))),
        )
      : h("p", { class: "muted" }, "No visits yet."),
  );
}

function movers(title, list, id) {
  return h(
    "div",
    { id },
    h("h3", {}, title),
    list.length
      ? h(
          "ul",
          { class: "ranking" },
          list.map((m) =>
            h(
              "li",
              {},
              linkCell(m.code),
              h("span", { class: "target" }, `${count(m.previous_visits)} → ${count(m.visits)}`),
              h("span", { class: m.change >= 0 ? "num up" : "num down" }, (m.change >= 0 ? "+" : "") + count(m.change)),
            ),
          ),
        )
      : h("p", { class: "muted" }, "Nothing to show this week."),
  );
}

function insightText(i) {
  return typeof i === "string" ? i : i.message;
}

function insightsSection(settled) {
  const err = failed(settled);
  if (err) return h("section", { class: "card" }, h("h2", {}, "This week"), err);
  const ins = settled.value;
  return h(
    "section",
    { class: "card", id: "week" },
    h("h2", {}, `This week (to ${ins.date})`),
    h("div", { class: "columns" }, movers("Risers", ins.risers || [], "risers"), movers("Fallers", ins.fallers || [], "fallers")),
    h("h3", {}, "The week's top links"),
    (ins.links || []).length
      ? h(
          "ul",
          { class: "plain" },
          ins.links.map((l) =>
            h(
              "li",
              {},
              linkCell(l.code),
              ` ${count(l.visits)} visits`,
              (l.insights || []).length ? h("ul", {}, l.insights.map((i) => h("li", {}, insightText(i)))) : null,
            ),
          ),
        )
      : h("p", { class: "muted" }, "No visits this week."),
  );
}
