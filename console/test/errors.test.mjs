import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { placeError, describe, signInMessage, FIELD_OF_CODE } from "../assets/errors.js";

test("each link field's error code goes to its field", () => {
  assert.equal(placeError({ code: "private_target", message: "x" }).field, "url");
  assert.equal(placeError({ code: "alias_taken", message: "x" }).field, "alias");
  assert.equal(placeError({ code: "invalid_tags", message: "x" }).field, "tags");
  assert.equal(placeError({ code: "invalid_expires_at", message: "x" }).field, "expires_at");
  assert.equal(placeError({ code: "invalid_max_visits", message: "x" }).field, "max_visits");
  assert.equal(placeError({ code: "invalid_password", message: "x" }).field, "password");
  assert.equal(placeError({ code: "forbidden", message: "x" }).field, null);
  assert.equal(placeError(undefined).field, null);
});

test("a rule's error names the rule", () => {
  assert.deepEqual(placeError({ code: "private_target", message: "rules[2].url: private address" }), {
    field: "rules",
    rule: 2,
    message: "private address",
  });
  assert.deepEqual(placeError({ code: "invalid_rules", message: "rules[0]: a device is mobile, tablet or desktop" }), {
    field: "rules",
    rule: 0,
    message: "a device is mobile, tablet or desktop",
  });
  assert.equal(placeError({ code: "invalid_rules", message: "'rules' must be an array" }).rule, null);
});

test("every code mapped to a field is one the API has", () => {
  // The one list of the API's codes: openapi.json's ErrorCode enum.
  const spec = JSON.parse(readFileSync(new URL("../../openapi.json", import.meta.url)));
  const codes = new Set(JSON.stringify(spec).match(/"[a-z_]+"/g).map((s) => s.slice(1, -1)));
  for (const code of Object.keys(FIELD_OF_CODE)) {
    assert.ok(codes.has(code), `${code} is not in openapi.json`);
  }
});

test("errors in words", () => {
  assert.equal(describe({ code: "alias_taken", message: "alias 'x' already points to another URL" }), "Alias taken: alias 'x' already points to another URL");
  assert.equal(describe({ code: "invalid_url", message: "url must be absolute" }), "URL must be absolute");
  assert.equal(describe({ code: "unsupported_scheme", message: "url scheme 'ftp' is not allowed" }), "URL scheme 'ftp' is not allowed");
  assert.equal(describe(null, 502), "HTTP 502");
  assert.match(signInMessage(401, { message: "unknown or revoked API key" }), /revoked/);
  assert.match(signInMessage(401, { message: "the Authorization header must be 'Bearer slk_...'" }), /slk_/);
  assert.match(signInMessage(0, null), /cannot be reached/);
});
