// Formatting and small derivations shared by the views. Pure functions: unit-tested with
// node --test.
import { sentence } from "./errors.js";

const numberFormat = new Intl.NumberFormat("en");

export function count(n) {
  return numberFormat.format(n ?? 0);
}

/** "2026-12-02 14:05" in the person's own time zone. */
export function dateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The value of an `<input type="datetime-local">` for an RFC 3339 time (local time). */
export function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** An RFC 3339 UTC time for a `datetime-local` value (read as local time); "" stays "". */
export function fromLocalInput(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Today as YYYY-MM-DD in UTC (the API's days are UTC days). */
export function todayUtc(now = new Date()) {
  return now.toISOString().slice(0, 10);
}

/**
 * The badges of a link: what sets it apart from a plain redirect, in a fixed order.
 * `visits` are its all-time human visits (for the cap).
 */
export function badges(link, now = new Date()) {
  const out = [];
  if (link.password_protected) out.push({ id: "password", label: "password" });
  if ((link.rules || []).length) out.push({ id: "rules", label: `${link.rules.length} rule${link.rules.length > 1 ? "s" : ""}` });
  if (link.forward_query) out.push({ id: "forwarding", label: "forwards query" });
  if (link.expires_at && new Date(link.expires_at) <= now) out.push({ id: "expired", label: "expired" });
  else if (link.expires_at) out.push({ id: "expires", label: "expires" });
  if (link.max_visits != null) {
    const visits = link.visits ?? link.total_visits ?? 0;
    out.push({ id: "capped", label: visits >= link.max_visits ? "cap reached" : `cap ${count(link.max_visits)}` });
  }
  if (link.taken_down_at) out.push({ id: "disabled", label: "taken down" });
  else if (link.disabled) out.push({ id: "disabled", label: "disabled" });
  return out;
}

/**
 * Rows of an import or bulk answer, in words: `[{row, code, ok, status, text}]`, in
 * input order. `rowOf(index)` turns the API's index into what a person counts
 * (import: the data row's number; bulk: index + 1).
 */
export function resultRows(answer, rowOf = (i) => i) {
  return (answer?.results || []).map((r) => {
    const ok = r.status === 200 || r.status === 201;
    let text;
    if (r.status === 201) text = "Created";
    else if (r.status === 200) text = "Already there: nothing changed";
    else text = wordsOfError(r.error, r.status);
    return { row: rowOf(r.index), code: r.link?.code || "", ok, status: r.status, text };
  });
}

function wordsOfError(error, status) {
  if (!error) return `Failed (HTTP ${status})`;
  return sentence(error.message || error.code);
}

/** Totals of result rows: `{created, existing, failed}`. */
export function resultSummary(rows) {
  return {
    created: rows.filter((r) => r.status === 201).length,
    existing: rows.filter((r) => r.status === 200).length,
    failed: rows.filter((r) => !r.ok).length,
  };
}

/**
 * Joins CSV export pages into one file: the header once, then every page's rows.
 */
export function joinCsvPages(pages) {
  if (!pages.length) return "";
  const eol = pages[0].includes("\r\n") ? "\r\n" : "\n";
  const trim = (t) => t.replace(/\r?\n$/, "");
  const out = [trim(pages[0])];
  for (const page of pages.slice(1)) {
    const nl = page.indexOf("\n");
    const rows = nl < 0 ? "" : trim(page.slice(nl + 1));
    if (rows) out.push(rows);
  }
  return out.join(eol) + eol;
}
