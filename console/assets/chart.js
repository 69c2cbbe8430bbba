// Visits per day as stacked bars (people dark, bots light), drawn as SVG elements from
// data: no library, no inline style (colours come from app.css classes).
import { h } from "./dom.js";
import { count } from "./format.js";

const W = 720;
const H = 220;
const PAD = { l: 44, r: 8, t: 12, b: 26 };

/** `days`: `[{date, visits, bot_visits}]`, oldest first. */
export function dailyChart(days) {
  const max = Math.max(1, ...days.map((d) => d.visits + d.bot_visits));
  const plotW = W - PAD.l - PAD.r;
  const plotH = H - PAD.t - PAD.b;
  const base = PAD.t + plotH;
  const total = days.reduce((s, d) => s + d.visits, 0);
  const bots = days.reduce((s, d) => s + d.bot_visits, 0);
  const svg = h("svg:svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart",
    role: "img",
    "aria-label": `Visits per day from ${days[0]?.date ?? "-"} to ${days.at(-1)?.date ?? "-"}: ${count(total)} visits, ${count(bots)} bot visits`,
  });
  svg.append(
    h("svg:line", { x1: PAD.l, y1: base, x2: PAD.l + plotW, y2: base, class: "axis" }),
    h("svg:line", { x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: base, class: "axis" }),
    h("svg:text", { x: PAD.l - 6, y: PAD.t + 10, class: "tick", "text-anchor": "end" }, count(max)),
    h("svg:text", { x: PAD.l - 6, y: base, class: "tick", "text-anchor": "end" }, "0"),
  );
  if (days.length) {
    const slot = plotW / days.length;
    // At most 48 units wide: a link a day old is one bar, not a block.
    const bar = Math.min(48, Math.max(0.5, slot * 0.8));
    days.forEach((d, i) => {
      const x = PAD.l + i * slot + (slot - bar) / 2;
      const hh = (plotH * d.visits) / max;
      const hb = (plotH * d.bot_visits) / max;
      svg.append(
        h(
          "svg:g",
          { class: "day", "data-date": d.date },
          h("svg:title", {}, `${d.date}: ${count(d.visits)} visits, ${count(d.bot_visits)} bot visits`),
          h("svg:rect", { x: x.toFixed(2), y: (base - hh).toFixed(2), width: bar.toFixed(2), height: hh.toFixed(2), class: "bar-h" }),
          h("svg:rect", { x: x.toFixed(2), y: (base - hh - hb).toFixed(2), width: bar.toFixed(2), height: hb.toFixed(2), class: "bar-b" }),
        ),
      );
    });
    svg.append(
      h("svg:text", { x: PAD.l, y: H - 6, class: "tick" }, days[0].date),
      h("svg:text", { x: PAD.l + plotW, y: H - 6, class: "tick", "text-anchor": "end" }, days.at(-1).date),
    );
  }
  return h(
    "figure",
    { class: "chart-box" },
    svg,
    h(
      "figcaption",
      { class: "legend" },
      h("span", { class: "swatch sw-h", "aria-hidden": "true" }),
      "visits ",
      h("span", { class: "swatch sw-b", "aria-hidden": "true" }),
      "bot visits",
    ),
  );
}
