import { test } from "node:test";
import assert from "node:assert/strict";
import { badges, resultRows, resultSummary, joinCsvPages, fromLocalInput, toLocalInput, todayUtc } from "../assets/format.js";

const now = new Date("2026-12-02T12:00:00Z");
const plain = { password_protected: false, rules: [], forward_query: false, expires_at: null, max_visits: null, disabled: false, visits: 0 };

test("a plain link has no badge; each option its own", () => {
  assert.deepEqual(badges(plain, now), []);
  const ids = (l) => badges({ ...plain, ...l }, now).map((b) => b.id);
  assert.deepEqual(ids({ password_protected: true }), ["password"]);
  assert.deepEqual(ids({ rules: [{}, {}] }), ["rules"]);
  assert.equal(badges({ ...plain, rules: [{}, {}] }, now)[0].label, "2 rules");
  assert.deepEqual(ids({ forward_query: true }), ["forwarding"]);
  assert.deepEqual(ids({ expires_at: "2026-12-01T00:00:00Z" }), ["expired"]);
  assert.deepEqual(ids({ expires_at: "2026-12-03T00:00:00Z" }), ["expires"]);
  assert.deepEqual(ids({ max_visits: 5, visits: 5 }), ["capped"]);
  assert.equal(badges({ ...plain, max_visits: 5, visits: 5 }, now)[0].label, "cap reached");
  assert.equal(badges({ ...plain, max_visits: 5, visits: 1 }, now)[0].label, "cap 5");
  assert.deepEqual(ids({ disabled: true }), ["disabled"]);
  assert.equal(badges({ ...plain, disabled: true, taken_down_at: "2026-12-01T00:00:00Z" }, now)[0].label, "taken down");
});

test("import and bulk results in words, in input order", () => {
  const answer = {
    results: [
      { index: 1, status: 201, link: { code: "a1" } },
      { index: 2, status: 200, link: { code: "b2" } },
      { index: 3, status: 409, error: { code: "alias_taken", message: "alias 'docs' already points to another URL" } },
      { index: 4, status: 400, error: { code: "unsupported_scheme", message: "url scheme 'javascript' is not allowed" } },
    ],
  };
  const rows = resultRows(answer);
  assert.deepEqual(rows.map((r) => [r.row, r.code, r.ok]), [[1, "a1", true], [2, "b2", true], [3, "", false], [4, "", false]]);
  assert.equal(rows[2].text, "Alias 'docs' already points to another URL");
  assert.equal(rows[1].text, "Already there: nothing changed");
  assert.deepEqual(resultSummary(rows), { created: 1, existing: 1, failed: 2 });
  assert.deepEqual(resultRows({ results: [{ index: 0, status: 201, link: { code: "x" } }] }, (i) => i + 1)[0].row, 1);
  assert.deepEqual(resultRows(null), []);
});

test("export pages join into one CSV with one header", () => {
  const p1 = "Long URL,Short code\r\nhttps://a/,a\r\n";
  const p2 = "Long URL,Short code\r\nhttps://b/,b\r\n";
  assert.equal(joinCsvPages([p1, p2]), "Long URL,Short code\r\nhttps://a/,a\r\nhttps://b/,b\r\n");
  assert.equal(joinCsvPages([p1, "Long URL,Short code\r\n"]), "Long URL,Short code\r\nhttps://a/,a\r\n");
  assert.equal(joinCsvPages([]), "");
});

test("datetime-local values round-trip through RFC 3339", () => {
  const iso = "2026-12-31T23:59:00Z";
  assert.equal(fromLocalInput(toLocalInput(iso)), iso);
  assert.equal(fromLocalInput(""), "");
  assert.equal(fromLocalInput("not a date"), null);
  assert.equal(todayUtc(now), "2026-12-02");
});
