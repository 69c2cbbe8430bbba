// Create and edit a link in a dialog, with every option the API has. What the API
// refuses is shown at the field it concerns (errors.js), never as a JSON dump; an edit
// sends only what changed (PATCH is a merge).
import { api } from "./api.js";
import { h, mount, announce } from "./dom.js";
import { openDialog } from "./dialog.js";
import { placeError, sentence } from "./errors.js";
import { dateTime, fromLocalInput, toLocalInput } from "./format.js";
import * as R from "./rules.js";
import { splitTags } from "./state.js";

let seq = 0;

/** Opens the editor: a new link without `link`, else that link (as GET /links/{code}). */
export function openEditor({ me, link = null, onSaved }) {
  const editing = Boolean(link);
  const id = (name) => `ed${seq}-${name}`;
  seq++;
  let rules = R.fromApi(link?.rules);
  const errors = {};

  function field(name, label, input, help) {
    const err = h("p", { class: "field-error", id: id(`${name}-error`), "aria-live": "polite" });
    errors[name] = { err, input };
    input.id = id(name);
    input.name = name;
    input.setAttribute("aria-describedby", [help ? id(`${name}-help`) : "", id(`${name}-error`)].join(" ").trim());
    return h("div", { class: "field" }, h("label", { for: id(name) }, label), input, help ? h("p", { class: "help", id: id(`${name}-help`) }, help) : null, err);
  }
  function check(name, label, input, help) {
    const err = h("p", { class: "field-error", id: id(`${name}-error`), "aria-live": "polite" });
    errors[name] = { err, input };
    input.id = id(name);
    input.name = name;
    return h(
      "div",
      { class: "field check" },
      input,
      h("label", { for: id(name) }, label),
      help ? h("p", { class: "help" }, help) : null,
      err,
    );
  }

  const url = h("input", { type: "url", required: true, value: link?.url || "", placeholder: "https://…", autocomplete: "off" });
  const alias = h("input", { value: "", pattern: "[A-Za-z0-9_\\-]{3,64}", placeholder: "optional", autocomplete: "off" });
  const title = h("input", { value: link?.title || "", maxlength: "200" });
  const tags = h("input", { value: (link?.tags || []).join(", "), placeholder: "sales, q3" });
  const expires = h("input", { type: "datetime-local", value: toLocalInput(link?.expires_at) });
  const maxVisits = h("input", { type: "number", min: "1", step: "1", value: link?.max_visits ?? "", inputmode: "numeric" });
  const password = h("input", { type: "password", autocomplete: "new-password", minlength: "4", maxlength: "128" });
  const removePassword = h("input", { type: "checkbox" });
  const forward = h("input", { type: "checkbox", checked: Boolean(link?.forward_query) });
  const disabled = h("input", { type: "checkbox", checked: Boolean(link?.disabled) });
  const formError = h("div", { class: "form-error", role: "alert", id: id("form-error") });
  const rulesBox = h("div", { class: "rules", id: id("rules") });
  const rulesError = h("p", { class: "field-error", id: id("rules-error"), "aria-live": "polite" });
  errors.rules = { err: rulesError, input: rulesBox };

  function drawRules(focusRule = null) {
    mount(
      rulesBox,
      rules.map((rule, i) => ruleBox(rule, i)),
      rules.length < R.MAX_RULES
        ? h("button", { type: "button", class: "small", id: id("add-rule"), onclick: () => ((rules = R.addRule(rules)), drawRules(rules.length - 1)) }, "Add rule")
        : h("p", { class: "help" }, `At most ${R.MAX_RULES} rules.`),
    );
    if (focusRule !== null) rulesBox.querySelector(`[data-rule="${focusRule}"] input`)?.focus();
  }

  function ruleBox(rule, i) {
    const rid = id(`rule${i}`);
    const ruleUrl = h("input", { type: "url", id: `${rid}-url`, value: rule.url, placeholder: "https://…", required: true });
    ruleUrl.addEventListener("input", () => (rules = R.setUrl(rules, i, ruleUrl.value)));
    return h(
      "fieldset",
      { class: "rule", "data-rule": String(i) },
      h("legend", {}, `Rule ${i + 1}`),
      h("div", { class: "field" }, h("label", { for: `${rid}-url` }, "Send to"), ruleUrl),
      h("p", { class: "help" }, "when all of these hold:"),
      rule.conditions.map((c, k) => conditionRow(c, i, k, rid)),
      h("p", { class: "field-error rule-error", id: `${rid}-error`, "aria-live": "polite" }),
      h(
        "div",
        { class: "actions" },
        rule.conditions.length < R.MAX_CONDITIONS
          ? h("button", { type: "button", class: "small", onclick: () => ((rules = R.addCondition(rules, i)), drawRules()) }, "Add condition")
          : null,
        h("button", { type: "button", class: "small", disabled: i === 0, "aria-label": `Move rule ${i + 1} up`, onclick: () => ((rules = R.moveRule(rules, i, -1)), drawRules(i - 1)) }, "Up"),
        h(
          "button",
          { type: "button", class: "small", disabled: i === rules.length - 1, "aria-label": `Move rule ${i + 1} down`, onclick: () => ((rules = R.moveRule(rules, i, 1)), drawRules(i + 1)) },
          "Down",
        ),
        h("button", { type: "button", class: "small danger", "aria-label": `Remove rule ${i + 1}`, onclick: () => ((rules = R.removeRule(rules, i)), drawRules()) }, "Remove rule"),
      ),
    );
  }

  function conditionRow(c, i, k, rid) {
    const cid = `${rid}-c${k}`;
    const type = h(
      "select",
      { id: `${cid}-type` },
      Object.entries(R.CONDITION_TYPES).map(([t, d]) => h("option", { value: t, selected: t === c.type }, d.label)),
    );
    type.addEventListener("change", () => {
      rules = R.setCondition(rules, i, k, { type: type.value });
      drawRules();
      document.getElementById(`${cid}-type`)?.focus();
    });
    const spec = R.CONDITION_TYPES[c.type];
    let value;
    if (spec.values) {
      value = h("select", { id: `${cid}-value` }, spec.values.map((v) => h("option", { value: v, selected: v === c.value }, v)));
      value.addEventListener("change", () => (rules = R.setCondition(rules, i, k, { value: value.value })));
    } else {
      value = h("input", { id: `${cid}-value`, value: c.value, placeholder: spec.hint || "", size: "12" });
      value.addEventListener("input", () => (rules = R.setCondition(rules, i, k, { value: value.value })));
    }
    let key = null;
    if (spec.key) {
      key = h("input", { id: `${cid}-key`, value: c.key || "", placeholder: "key", size: "8" });
      key.addEventListener("input", () => (rules = R.setCondition(rules, i, k, { key: key.value })));
    }
    return h(
      "div",
      { class: "condition" },
      h("label", { for: `${cid}-type`, class: "visually-hidden" }, `Rule ${i + 1} condition ${k + 1} type`),
      type,
      key ? h("label", { for: `${cid}-key`, class: "visually-hidden" }, `Rule ${i + 1} condition ${k + 1} query key`) : null,
      key,
      h("label", { for: `${cid}-value`, class: "visually-hidden" }, `Rule ${i + 1} condition ${k + 1} value`),
      value,
      rules[i].conditions.length > 1
        ? h("button", { type: "button", class: "small", "aria-label": `Remove rule ${i + 1} condition ${k + 1}`, onclick: () => ((rules = R.removeCondition(rules, i, k)), drawRules()) }, "×")
        : null,
    );
  }

  function clearErrors() {
    formError.textContent = "";
    for (const { err, input } of Object.values(errors)) {
      err.textContent = "";
      input.removeAttribute("aria-invalid");
    }
    for (const e of rulesBox.querySelectorAll(".rule-error")) e.textContent = "";
  }

  function showError(error) {
    const { field, rule, message } = placeError(error);
    if (field === "rules" && rule !== null) {
      const box = rulesBox.querySelector(`[data-rule="${rule}"]`);
      const el = box?.querySelector(".rule-error");
      if (el) {
        el.textContent = message;
        box.querySelector("input")?.setAttribute("aria-invalid", "true");
        box.querySelector("input")?.focus();
        return;
      }
    }
    const target = errors[field];
    if (target) {
      target.err.textContent = sentence(message);
      target.input.setAttribute("aria-invalid", "true");
      (target.input.matches("input,select") ? target.input : target.input.querySelector("input,select,button"))?.focus();
    } else {
      formError.textContent = sentence(message);
    }
  }

  function body() {
    const out = {};
    const put = (k, v, old) => {
      if (!editing || JSON.stringify(v) !== JSON.stringify(old)) out[k] = v;
    };
    put("url", url.value.trim(), link?.url);
    if (!editing && alias.value.trim()) out.alias = alias.value.trim();
    put("title", title.value.trim() || null, link?.title ?? null);
    put("tags", splitTags(tags.value), link?.tags ?? []);
    const exp = fromLocalInput(expires.value);
    if (exp === null) return { error: { code: "invalid_expires_at", message: "not a date and time" } };
    const oldExp = link?.expires_at ? fromLocalInput(toLocalInput(link.expires_at)) : null;
    if (!editing ? exp : (exp || null) !== oldExp) out.expires_at = exp || null;
    const mv = maxVisits.value.trim() === "" ? null : Number(maxVisits.value);
    put("max_visits", mv, link?.max_visits ?? null);
    if (removePassword.checked) out.password = null;
    else if (password.value) out.password = password.value;
    put("forward_query", forward.checked, link?.forward_query ?? false);
    const ruleErrors = R.validate(rules);
    if (ruleErrors.length) {
      const e = ruleErrors[0];
      return { error: { code: "invalid_rules", message: e.rule === null ? e.message : `rules[${e.rule}]: ${e.message}` } };
    }
    put("rules", R.toApi(rules), R.toApi(R.fromApi(link?.rules)));
    if (editing) put("disabled", disabled.checked, link.disabled);
    if (!editing) {
      for (const k of ["title", "expires_at", "max_visits"]) if (out[k] === null) delete out[k];
      if (!out.tags?.length) delete out.tags;
      if (!out.rules?.length) delete out.rules;
      if (!out.forward_query) delete out.forward_query;
    }
    return { out };
  }

  const save = h("button", { type: "submit", class: "primary", id: id("save") }, editing ? "Save changes" : "Create link");
  const form = h(
    "form",
    { class: "dialog-body editor", novalidate: true },
    formError,
    field("url", "Target URL", url),
    editing ? h("p", { class: "help" }, "Short code: ", h("strong", {}, link.code), " (a code cannot change)") : field("alias", "Alias (custom code)", alias, "3 to 64 of A-Z, a-z, 0-9, _ and -. Empty: a code made from the URL."),
    field("title", "Title", title),
    field("tags", "Tags", tags, "Separated by commas or spaces; 1 to 32 of a-z, 0-9, _ and -; at most 10."),
    h(
      "div",
      { class: "row2" },
      field("expires_at", "Expires", expires, "Empty: never."),
      field("max_visits", "Visit cap", maxVisits, "Empty: no cap."),
    ),
    field(
      "password",
      link?.password_protected ? "New password" : "Password",
      password,
      link?.password_protected ? "This link has a password: type a new one to change it." : "Optional, 4 to 128 characters. Visitors must enter it first.",
    ),
    link?.password_protected ? check("remove_password", "Remove the password", removePassword) : null,
    check("forward_query", "Forward the visitor's query string to the target", forward),
    h("fieldset", { class: "rules-set" }, h("legend", {}, "Redirect rules"), h("p", { class: "help" }, "The first rule whose conditions all hold decides the target; otherwise the target URL above."), rulesBox, rulesError),
    editing
      ? check(
          "disabled",
          me.role === "admin" ? "Disabled (by an admin: a takedown only an admin lifts)" : "Disabled (visitors get 410)",
          disabled,
          link.taken_down_at ? `Taken down by an admin on ${dateTime(link.taken_down_at)}: only an admin can enable it or change its target or rules.` : null,
        )
      : null,
    h("div", { class: "actions" }, save, h("button", { type: "button", onclick: () => dlg.close() }, "Cancel")),
  );
  drawRules();
  if (link?.taken_down_at && me.role !== "admin") {
    // What the takedown freezes cannot be changed here; the API would refuse it anyway.
    for (const input of [url, disabled]) input.disabled = true;
    for (const el of rulesBox.querySelectorAll("input,select,button")) el.disabled = true;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    const { out, error } = body();
    if (error) return showError(error);
    if (editing && !Object.keys(out).length) {
      dlg.close();
      return;
    }
    save.disabled = true;
    try {
      let saved;
      if (editing) saved = await api.patch(link.code, out);
      else {
        // POST /links takes neither an expiry nor a cap: they follow as a PATCH of the new link.
        const { expires_at, max_visits, ...create } = out;
        saved = await api.create(create);
        const later = {};
        if (expires_at) later.expires_at = expires_at;
        if (max_visits != null) later.max_visits = max_visits;
        if (Object.keys(later).length) {
          try {
            saved = await api.patch(saved.code, later);
          } catch (err) {
            // The link exists now: the rest of the form becomes its edit.
            showError(err.error);
            formError.textContent = `Created ${saved.short_url}, but its expiry or cap was refused: correct it and save again.`;
            onSaved?.(saved);
            dlg.close();
            openEditor({ me, link: saved, onSaved });
            return;
          }
        }
      }
      announce(editing ? `Saved ${saved.code}` : `Created ${saved.short_url}`);
      dlg.close();
      onSaved?.(saved);
    } catch (err) {
      showError(err.error);
    } finally {
      save.disabled = false;
    }
  });

  const dlg = openDialog(editing ? `Edit ${link.code}` : "New link", form, { wide: true });
  url.focus();
  return dlg;
}
