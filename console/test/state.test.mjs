import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRoute, routeHash, listFilters, listQuery, splitTags, dateRange } from "../assets/state.js";

test("routes round-trip through the fragment", () => {
  assert.equal(parseRoute("").view, "dashboard");
  assert.equal(parseRoute("#/").view, "dashboard");
  assert.equal(parseRoute("#/nonsense").view, "dashboard");
  const l = parseRoute("#/links?q=report&tag=sales&tag=q3&mode=all");
  assert.equal(l.view, "links");
  assert.deepEqual(l.params.getAll("tag"), ["sales", "q3"]);
  const one = parseRoute(routeHash("link", { from: "2026-11-01" }, "a-b_C"));
  assert.equal(one.view, "link");
  assert.equal(one.code, "a-b_C");
  assert.equal(one.params.get("from"), "2026-11-01");
  assert.equal(parseRoute("#/data").view, "data");
});

test("empty parameters are left out of the fragment, arrays repeat", () => {
  assert.equal(routeHash("links", { q: "", tag: [], mode: "" }), "#/links");
  assert.equal(routeHash("links", { q: "a b&c", tag: ["x", "y"] }), "#/links?q=a+b%26c&tag=x&tag=y");
  assert.equal(routeHash("dashboard"), "#/");
  // A code is a path segment: anything odd in it stays encoded.
  assert.equal(routeHash("link", {}, "a/b?c"), "#/links/a%2Fb%3Fc");
  assert.equal(parseRoute("#/links/a%2Fb%3Fc").code, "a/b?c");
});

test("list filters from the URL become the API's query", () => {
  const f = listFilters(new URLSearchParams("q=report&tag=Sales&tag=q3&mode=all&cursor=abc"));
  assert.deepEqual(f, { q: "report", tags: ["sales", "q3"], mode: "all", cursor: "abc" });
  const q = listQuery(f, 50);
  assert.equal(q.toString(), "limit=50&q=report&tag=sales&tag=q3&tags_mode=all&cursor=abc");
  // One tag: any and all are the same; the default mode is any.
  const one = listFilters(new URLSearchParams("tag=x&mode=bogus"));
  assert.equal(one.mode, "any");
  assert.equal(listQuery(one, 20).toString(), "limit=20&tag=x");
});

test("tags typed by a person", () => {
  assert.deepEqual(splitTags(" Sales, q3  sales,,Launch "), ["sales", "q3", "launch"]);
  assert.deepEqual(splitTags(""), []);
});

test("the analytics range defaults to the last 30 days and keeps valid bounds", () => {
  assert.deepEqual(dateRange(new URLSearchParams(""), "2026-12-02"), { from: "2026-11-03", to: "2026-12-02" });
  assert.deepEqual(dateRange(new URLSearchParams("from=2026-01-01&to=2026-02-01"), "2026-12-02"), { from: "2026-01-01", to: "2026-02-01" });
  assert.deepEqual(dateRange(new URLSearchParams("from=junk&to=2026-03-10"), "2026-12-02", 7), { from: "2026-03-04", to: "2026-03-10" });
});
