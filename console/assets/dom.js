// Building the page from data: every text a user or a visitor wrote goes in as a text
// node (textContent), never as HTML, so a title like "<img onerror=...>" stays text.

/**
 * h("button", {class: "primary", onclick: fn, "aria-label": "Close"}, "Save")
 * Attributes: `class`, `text`, `on<event>` (a function), booleans (set when true),
 * anything else as an attribute; children: nodes, strings (as text) and arrays of them;
 * null, undefined and false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const el = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "text") {
      el.textContent = String(value);
    } else if (name === "value" && !svg) {
      el.value = value;
    } else if (name === "checked" || name === "selected") {
      el[name] = Boolean(value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces what `el` holds with `children`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A polite announcement for screen readers (and a visible toast). */
export function announce(message, kind = "info") {
  const region = document.getElementById("toasts");
  if (!region) return;
  const toast = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  region.appendChild(toast);
  setTimeout(() => toast.remove(), kind === "error" ? 8000 : 4000);
}

/** Copies `text` to the clipboard; says whether it could. */
export async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    announce("Copied " + text);
    return true;
  } catch {
    announce("Could not copy: select the text and copy it by hand", "error");
    return false;
  }
}

/** Offers `blob` as a download named `filename`. */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, class: "hidden" });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
