// Modal dialogs on the native <dialog>: focus moves in and is trapped there, Esc closes
// it (the browser does both), and focus goes back where it was on close.
import { h } from "./dom.js";

/**
 * Opens a dialog titled `title` with `body` (nodes). Returns `{el, close}`; `onClose`
 * runs once when it closes, however it closes.
 */
export function openDialog(title, body, { onClose, wide = false } = {}) {
  const before = document.activeElement;
  const id = "dlg-" + Math.random().toString(36).slice(2, 8);
  const dialog = h(
    "dialog",
    { class: wide ? "dialog wide" : "dialog", "aria-labelledby": id },
    h(
      "div",
      { class: "dialog-head" },
      h("h2", { id }, title),
      h("button", { type: "button", class: "icon", "aria-label": "Close", title: "Close (Esc)", onclick: () => close() }, "×"),
    ),
    body,
  );
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    if (before && before.focus) before.focus();
    if (onClose) onClose();
  }
  dialog.addEventListener("close", close);
  document.body.appendChild(dialog);
  dialog.showModal();
  return { el: dialog, close };
}

/** Asks to confirm `question`; resolves true on confirm, false otherwise. */
export function confirmDialog(title, question, confirmLabel = "Delete") {
  return new Promise((resolve) => {
    let answer = false;
    const dlg = openDialog(
      title,
      h(
        "div",
        { class: "dialog-body" },
        h("p", {}, question),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "danger", onclick: () => ((answer = true), dlg.close()) }, confirmLabel),
          h("button", { type: "button", onclick: () => dlg.close() }, "Cancel"),
        ),
      ),
      { onClose: () => resolve(answer) },
    );
    dlg.el.querySelector("button.danger")?.focus();
  });
}
