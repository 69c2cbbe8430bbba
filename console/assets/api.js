// The console's one way to the API: same origin, the key from sessionStorage (gone with
// the tab, never in localStorage or a cookie), JSON in and out, errors as ApiError.

const KEY = "shortener.console.key";

export function storedKey() {
  return sessionStorage.getItem(KEY);
}

export function rememberKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
}

/** An error answer of the API: its status, and its `{code, message}` when it sent one. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || (status ? `HTTP ${status}` : "network error"));
    this.status = status;
    this.code = error?.code || (status ? "http_" + status : "network");
    this.error = error || { code: this.code, message: this.message };
  }
}

/** Called with the ApiError of any 401 (a key revoked while signed in). */
let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

/**
 * One request. `body`: an object (sent as JSON) or a string with `type`. `as`: "json"
 * (default), "text", "blob" or "response".
 */
export async function call(method, path, { query, body, type, key = storedKey(), as = "json" } = {}) {
  const headers = {};
  if (key) headers.authorization = `Bearer ${key}`;
  let payload;
  if (body !== undefined) {
    if (typeof body === "string") {
      payload = body;
      headers["content-type"] = type || "text/plain";
    } else {
      payload = JSON.stringify(body);
      headers["content-type"] = "application/json";
    }
  }
  const url = query && [...query].length ? `${path}?${query}` : path;
  let resp;
  try {
    resp = await fetch(url, { method, headers, body: payload, cache: "no-store", redirect: "manual" });
  } catch {
    throw new ApiError(0, null);
  }
  if (!resp.ok) {
    let error = null;
    try {
      error = (await resp.json()).error;
    } catch {
      /* not JSON: the status says enough */
    }
    const err = new ApiError(resp.status, error);
    if (resp.status === 401 && key && key === storedKey()) onUnauthorized(err);
    throw err;
  }
  if (as === "response") return resp;
  if (resp.status === 204) return null;
  if (as === "text") return resp.text();
  if (as === "blob") return resp.blob();
  return resp.json();
}

const enc = encodeURIComponent;

export const api = {
  me: (key) => call("GET", "/keys/me", { key }),
  links: (query) => call("GET", "/links", { query }),
  link: (code) => call("GET", `/links/${enc(code)}`),
  create: (body) => call("POST", "/links", { body }),
  patch: (code, body) => call("PATCH", `/links/${enc(code)}`, { body }),
  remove: (code) => call("DELETE", `/links/${enc(code)}`),
  stats: (code, from, to) => call("GET", `/links/${enc(code)}/stats`, { query: new URLSearchParams({ from, to }) }),
  statsCsv: (code, from, to) =>
    call("GET", `/links/${enc(code)}/stats.csv`, { query: new URLSearchParams({ from, to }), as: "blob" }),
  linkInsights: (code) => call("GET", `/links/${enc(code)}/insights`),
  qr: (code) => call("GET", `/links/${enc(code)}/qr.svg`, { query: new URLSearchParams({ size: "512" }), as: "blob" }),
  rankings: (period, limit) => call("GET", "/stats", { query: new URLSearchParams({ period, limit: String(limit) }) }),
  insights: () => call("GET", "/insights"),
  importCsv: (text, onConflict) =>
    call("POST", "/links/import", { query: new URLSearchParams({ on_conflict: onConflict }), body: text, type: "text/csv" }),
  exportPage: (format, cursor) => {
    const query = new URLSearchParams({ format, limit: "1000" });
    if (cursor) query.set("cursor", cursor);
    return call("GET", "/links/export", { query, as: "response" });
  },
};
