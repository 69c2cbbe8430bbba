// The redirect rules editor's state: a list of rules, each a target URL and 1 to 5
// conditions that must all hold; the first rule that matches decides the target.
// Pure functions over plain data, each returning a new list (no DOM): unit-tested with
// node --test. The API checks everything again; this only catches mistakes early.

export const MAX_RULES = 10;
export const MAX_CONDITIONS = 5;

/** Each condition type, what its value may be, and whether it has a key. */
export const CONDITION_TYPES = {
  device: { label: "Device", values: ["mobile", "tablet", "desktop"] },
  os: { label: "Operating system", values: ["ios", "android", "windows", "macos", "linux"] },
  country: { label: "Country", hint: "two letters, e.g. DE (needs the CloudFront edge)" },
  language: { label: "Language", hint: "a language subtag, e.g. fr" },
  query: { label: "Query parameter", key: true, hint: "the visitor's ?key=value" },
};

export function emptyCondition(type = "device") {
  const t = CONDITION_TYPES[type];
  return { type, key: t.key ? "" : undefined, value: t.values ? t.values[0] : "" };
}

export function emptyRule() {
  return { url: "", conditions: [emptyCondition()] };
}

/** Rules as the API shows them, as editor state. */
export function fromApi(rules) {
  return (rules || []).map((r) => ({
    url: r.url || "",
    conditions: (r.conditions || []).map((c) => ({ type: c.type, key: c.key, value: c.value ?? "" })),
  }));
}

/** Editor state as the API takes it. */
export function toApi(rules) {
  return rules.map((r) => ({
    url: r.url.trim(),
    conditions: r.conditions.map((c) => {
      const out = { type: c.type, value: normalizeValue(c.type, c.value) };
      if (CONDITION_TYPES[c.type]?.key) out.key = (c.key || "").trim();
      return out;
    }),
  }));
}

function normalizeValue(type, value) {
  const v = String(value ?? "").trim();
  if (type === "country") return v.toUpperCase();
  if (type === "language" || type === "device" || type === "os") return v.toLowerCase();
  return v;
}

export function addRule(rules) {
  return rules.length >= MAX_RULES ? rules : [...rules, emptyRule()];
}

export function removeRule(rules, i) {
  return rules.filter((_, j) => j !== i);
}

/** Moves rule `i` by `delta` places (-1: up, 1: down); unchanged at either end. */
export function moveRule(rules, i, delta) {
  const j = i + delta;
  if (j < 0 || j >= rules.length) return rules;
  const out = [...rules];
  [out[i], out[j]] = [out[j], out[i]];
  return out;
}

export function setUrl(rules, i, url) {
  return rules.map((r, j) => (j === i ? { ...r, url } : r));
}

export function addCondition(rules, i) {
  return rules.map((r, j) =>
    j === i && r.conditions.length < MAX_CONDITIONS ? { ...r, conditions: [...r.conditions, emptyCondition()] } : r,
  );
}

export function removeCondition(rules, i, k) {
  return rules.map((r, j) =>
    j === i && r.conditions.length > 1 ? { ...r, conditions: r.conditions.filter((_, m) => m !== k) } : r,
  );
}

/** Sets condition `k` of rule `i`: a new type starts from that type's empty condition. */
export function setCondition(rules, i, k, change) {
  return rules.map((r, j) => {
    if (j !== i) return r;
    const conditions = r.conditions.map((c, m) => {
      if (m !== k) return c;
      if (change.type && change.type !== c.type) return emptyCondition(change.type);
      return { ...c, ...change };
    });
    return { ...r, conditions };
  });
}

/** The mistakes a rule list has, as `[{rule, message}]` (rule counted from 0). */
export function validate(rules) {
  const errors = [];
  if (rules.length > MAX_RULES) errors.push({ rule: null, message: `at most ${MAX_RULES} rules` });
  rules.forEach((r, i) => {
    const url = r.url.trim();
    if (!/^https?:\/\/[^\s/]+/i.test(url)) errors.push({ rule: i, message: "a rule needs an http(s) URL" });
    if (r.conditions.length < 1 || r.conditions.length > MAX_CONDITIONS) {
      errors.push({ rule: i, message: `1 to ${MAX_CONDITIONS} conditions` });
    }
    for (const c of r.conditions) {
      const t = CONDITION_TYPES[c.type];
      const v = String(c.value ?? "").trim();
      if (!t) errors.push({ rule: i, message: `unknown condition type ${c.type}` });
      else if (t.values && !t.values.includes(v.toLowerCase())) {
        errors.push({ rule: i, message: `${t.label.toLowerCase()} is one of ${t.values.join(", ")}` });
      } else if (c.type === "country" && !/^[A-Za-z]{2}$/.test(v)) {
        errors.push({ rule: i, message: "a country is two letters (ISO 3166), e.g. DE" });
      } else if (c.type === "language" && !/^[A-Za-z]{2,8}$/.test(v)) {
        errors.push({ rule: i, message: "a language is a subtag like en, de or fr" });
      } else if (c.type === "query" && !(c.key || "").trim()) {
        errors.push({ rule: i, message: "a query condition needs a key" });
      }
    }
  });
  return errors;
}
