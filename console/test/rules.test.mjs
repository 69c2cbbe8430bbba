import { test } from "node:test";
import assert from "node:assert/strict";
import * as R from "../assets/rules.js";

test("add, remove and reorder rules without touching the others", () => {
  let rules = R.addRule([]);
  rules = R.setUrl(rules, 0, "https://a.example/");
  rules = R.addRule(rules);
  rules = R.setUrl(rules, 1, "https://b.example/");
  const before = rules;
  rules = R.moveRule(rules, 1, -1);
  assert.deepEqual(rules.map((r) => r.url), ["https://b.example/", "https://a.example/"]);
  assert.deepEqual(before.map((r) => r.url), ["https://a.example/", "https://b.example/"], "state is never changed in place");
  assert.equal(R.moveRule(rules, 0, -1), rules, "the first cannot go up");
  assert.equal(R.moveRule(rules, 1, 1), rules, "the last cannot go down");
  rules = R.removeRule(rules, 0);
  assert.deepEqual(rules.map((r) => r.url), ["https://a.example/"]);
});

test("at most 10 rules and 5 conditions, at least one condition", () => {
  let rules = [];
  for (let i = 0; i < 12; i++) rules = R.addRule(rules);
  assert.equal(rules.length, R.MAX_RULES);
  let one = [R.emptyRule()];
  for (let i = 0; i < 7; i++) one = R.addCondition(one, 0);
  assert.equal(one[0].conditions.length, R.MAX_CONDITIONS);
  let single = [R.emptyRule()];
  single = R.removeCondition(single, 0, 0);
  assert.equal(single[0].conditions.length, 1);
});

test("a new condition type starts from that type's values", () => {
  let rules = [R.emptyRule()];
  rules = R.setCondition(rules, 0, 0, { type: "query" });
  assert.deepEqual(rules[0].conditions[0], { type: "query", key: "", value: "" });
  rules = R.setCondition(rules, 0, 0, { key: "c", value: "spring" });
  assert.deepEqual(rules[0].conditions[0], { type: "query", key: "c", value: "spring" });
  rules = R.setCondition(rules, 0, 0, { type: "os" });
  assert.deepEqual(rules[0].conditions[0], { type: "os", key: undefined, value: "ios" });
});

test("what the API gets, and back", () => {
  const api = [
    { url: "https://apps.apple.com/x", conditions: [{ type: "os", value: "ios" }, { type: "country", value: "DE" }] },
    { url: "https://example.com/spring", conditions: [{ type: "query", key: "c", value: "spring" }] },
  ];
  assert.deepEqual(R.toApi(R.fromApi(api)), api);
  const typed = [{ url: " https://x.example/ ", conditions: [{ type: "country", value: " de " }, { type: "language", value: "FR" }] }];
  assert.deepEqual(R.toApi(typed), [{ url: "https://x.example/", conditions: [{ type: "country", value: "DE" }, { type: "language", value: "fr" }] }]);
  assert.deepEqual(R.fromApi(null), []);
});

test("mistakes are named with their rule", () => {
  assert.deepEqual(R.validate([]), []);
  const bad = [
    { url: "https://ok.example/", conditions: [{ type: "device", value: "mobile" }] },
    { url: "ftp://x", conditions: [{ type: "country", value: "Germany" }] },
    { url: "https://ok.example/", conditions: [{ type: "query", key: " ", value: "v" }] },
    { url: "https://ok.example/", conditions: [{ type: "device", value: "phone" }] },
  ];
  const errors = R.validate(bad);
  assert.deepEqual(errors.map((e) => e.rule), [1, 1, 2, 3]);
  assert.match(errors[1].message, /two letters/);
  assert.match(errors[2].message, /needs a key/);
  assert.match(errors[3].message, /mobile, tablet, desktop/);
});
