// Import a CSV (file picker or drag and drop; a result per row in words) and export
// every link (CSV or JSON, every page followed into one file).
import { api } from "./api.js";
import { h, mount, download } from "./dom.js";
import { describe } from "./errors.js";
import { joinCsvPages, resultRows, resultSummary } from "./format.js";

const MAX_BYTES = 1024 * 1024;

export function renderData({ main }) {
  const fileInput = h("input", { type: "file", id: "import-file", accept: ".csv,text/csv", class: "visually-hidden" });
  const drop = h(
    "label",
    { class: "drop", id: "drop", for: "import-file" },
    h("strong", {}, "Choose a CSV file"),
    " or drop it here",
    h("span", { class: "help" }, "Shlink's columns: Long URL (required), Short code, Title, Tags. At most 1,000 rows and 1 MiB."),
  );
  const conflict = h(
    "select",
    { id: "on-conflict" },
    h("option", { value: "skip" }, "skip the row (it is reported)"),
    h("option", { value: "generate" }, "give the link its own code"),
  );
  const importStatus = h("div", { id: "import-status", "aria-live": "polite" });
  const results = h("div", { id: "import-results" });

  async function importFile(file) {
    mount(results);
    if (!file) return;
    if (file.size > MAX_BYTES) {
      mount(importStatus, h("p", { class: "field-error", role: "alert" }, `${file.name} is larger than 1 MiB: split it into smaller files.`));
      return;
    }
    mount(importStatus, h("p", {}, `Importing ${file.name}…`));
    try {
      const answer = await api.importCsv(await file.text(), conflict.value);
      const rows = resultRows(answer);
      const sum = resultSummary(rows);
      mount(importStatus, h("p", { role: "status" }, `${file.name}: ${sum.created} created, ${sum.existing} already there, ${sum.failed} failed.`));
      mount(
        results,
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "mini", id: "import-table" },
            h("caption", {}, "Result by row"),
            h("thead", {}, h("tr", {}, ["Row", "Code", "Result"].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              {},
              rows.map((r) =>
                h("tr", { class: r.ok ? "ok" : "failed" }, h("td", { class: "num" }, String(r.row)), h("td", {}, r.code ? h("a", { href: `#/links/${encodeURIComponent(r.code)}` }, r.code) : "—"), h("td", {}, r.text)),
              ),
            ),
          ),
        ),
      );
    } catch (err) {
      mount(importStatus, h("p", { class: "field-error", role: "alert" }, `${file.name} was not imported: ${describe(err.error, err.status)}`));
    } finally {
      fileInput.value = "";
    }
  }

  fileInput.addEventListener("change", () => importFile(fileInput.files[0]));
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    importFile(e.dataTransfer.files[0]);
  });

  const format = h("select", { id: "export-format" }, h("option", { value: "csv" }, "CSV (imports back)"), h("option", { value: "json" }, "JSON"));
  const exportStatus = h("p", { id: "export-status", "aria-live": "polite" });
  async function exportAll() {
    const fmt = format.value;
    const pages = [];
    const links = [];
    let cursor = null;
    try {
      do {
        exportStatus.textContent = `Exporting… page ${pages.length + 1}`;
        const resp = await api.exportPage(fmt, cursor);
        cursor = resp.headers.get("x-next-cursor");
        if (fmt === "csv") pages.push(await resp.text());
        else {
          links.push(...(await resp.json()).links);
          pages.push(null);
        }
      } while (cursor);
    } catch (err) {
      exportStatus.textContent = `Export failed: ${describe(err.error, err.status)}`;
      return;
    }
    const day = new Date().toISOString().slice(0, 10);
    if (fmt === "csv") download(new Blob([joinCsvPages(pages)], { type: "text/csv" }), `links-${day}.csv`);
    else download(new Blob([JSON.stringify({ links }, null, 2)], { type: "application/json" }), `links-${day}.json`);
    exportStatus.textContent = `Exported ${pages.length} page${pages.length > 1 ? "s" : ""}.`;
  }

  mount(
    main,
    h("h1", {}, "Import & export"),
    h(
      "section",
      { class: "card", "aria-labelledby": "import-h" },
      h("h2", { id: "import-h" }, "Import a CSV file"),
      h("div", { class: "field" }, h("label", { for: "on-conflict" }, "When a short code is taken"), conflict),
      fileInput,
      drop,
      importStatus,
      results,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "export-h" },
      h("h2", { id: "export-h" }, "Export every link"),
      h("div", { class: "filters" }, h("div", { class: "field" }, h("label", { for: "export-format" }, "Format"), format), h("div", { class: "field buttons" }, h("button", { type: "button", class: "primary", id: "export", onclick: exportAll }, "Export"))),
      exportStatus,
    ),
  );
}
