//! CSV in and out. In: the rows of `POST /links/import`, in the columns of Shlink's export
//! (`Long URL`, `Short code`, `Title`, `Tags`), headers matched ignoring case, spaces, `_`
//! and `-`, other columns ignored; a byte-order mark and CRLF accepted, RFC 4180 quoting.
//! Out: RFC 4180 lines (CRLF, quoted where needed) whose text cells are neutralized
//! against formula injection: a spreadsheet runs a cell that starts with `=`, `+`, `-`,
//! `@`, a tab or a carriage return, so such a cell gets a leading `'` (OWASP's advice),
//! which the import takes off again: an export imported back gives the same links.

use std::borrow::Cow;

/// Most data rows in one import.
pub const MAX_IMPORT_ROWS: usize = 1000;
/// Largest import body.
pub const MAX_IMPORT_BYTES: usize = 1024 * 1024;

/// The columns of an export: the import's, then what only an export knows.
pub const EXPORT_HEADER: [&str; 7] = [
    "Long URL",
    "Short code",
    "Title",
    "Tags",
    "Short URL",
    "Created at",
    "Visits",
];

/// One data row of an import, as written (each field is checked as a create checks it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// 1 for the first row after the header.
    pub number: usize,
    pub url: String,
    pub short_code: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("the CSV is not UTF-8 text")]
    NotUtf8,
    #[error("the CSV is empty: the first row must name the columns, 'Long URL' among them")]
    Empty,
    #[error("the header row has no 'Long URL' column (it has: {0})")]
    NoUrlColumn(String),
    #[error("the header row names '{0}' twice")]
    DuplicateColumn(String),
    #[error("the CSV has no data rows after its header")]
    NoRows,
    #[error("at most {MAX_IMPORT_ROWS} data rows per import")]
    TooManyRows,
    #[error("the CSV cannot be read at row {row}: {message}")]
    Malformed { row: usize, message: String },
}

/// A header cell as compared: lowercase, without spaces, `_` and `-`.
fn column_key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The data rows of an import body, or why the whole body is refused (nothing is then
/// written). A row's own faults (a bad URL, a taken code) are found when it is created.
pub fn parse_import(bytes: &[u8]) -> Result<Vec<ImportRow>, CsvError> {
    let text = std::str::from_utf8(bytes).map_err(|_| CsvError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let malformed = |row: usize, e: csv::Error| CsvError::Malformed {
        row,
        message: e.to_string(),
    };
    let header = match records.next() {
        None => return Err(CsvError::Empty),
        Some(r) => r.map_err(|e| malformed(0, e))?,
    };
    let mut columns: [Option<usize>; 4] = [None; 4];
    for (i, name) in header.iter().enumerate() {
        let slot = match column_key(name).as_str() {
            "longurl" => 0,
            "shortcode" => 1,
            "title" => 2,
            "tags" => 3,
            _ => continue,
        };
        if columns[slot].replace(i).is_some() {
            return Err(CsvError::DuplicateColumn(name.trim().to_owned()));
        }
    }
    let Some(url_column) = columns[0] else {
        let names: Vec<&str> = header.iter().map(str::trim).collect();
        return Err(CsvError::NoUrlColumn(names.join(", ")));
    };
    let mut rows = Vec::new();
    for (i, record) in records.enumerate() {
        let number = i + 1;
        let record = record.map_err(|e| malformed(number, e))?;
        if rows.len() == MAX_IMPORT_ROWS {
            return Err(CsvError::TooManyRows);
        }
        let cell = |slot: usize| -> Option<&str> {
            let value = record.get(columns[slot]?)?.trim();
            (!value.is_empty()).then(|| restore(value))
        };
        rows.push(ImportRow {
            number,
            url: record.get(url_column).unwrap_or("").trim().to_owned(),
            short_code: cell(1).map(str::to_owned),
            title: cell(2).map(str::to_owned),
            tags: cell(3)
                .map(|t| {
                    t.split(['|', ','])
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    if rows.is_empty() {
        return Err(CsvError::NoRows);
    }
    Ok(rows)
}

/// Whether a spreadsheet would run a cell that starts with `c`.
fn is_formula_start(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// A text cell safe to open in a spreadsheet: one that would start a formula gets a
/// leading `'`.
pub fn neutralize(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(c) if is_formula_start(c) => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// What `neutralize` did, undone (an import of an export).
fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.chars().next().is_some_and(is_formula_start) => rest,
        _ => cell,
    }
}

/// A CSV document being written: RFC 4180 lines, CRLF, quoted where needed. Text cells
/// go through `neutralize`; numbers and dates are the service's own and written as they are.
pub struct CsvWriter {
    inner: csv::Writer<Vec<u8>>,
}

impl CsvWriter {
    pub fn new(header: &[&str]) -> CsvWriter {
        let mut writer = CsvWriter {
            inner: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::new()),
        };
        writer.row(header.iter().map(|h| Cell::Text(h)));
        writer
    }

    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) {
        let cells: Vec<Cow<'a, str>> = cells
            .into_iter()
            .map(|cell| match cell {
                Cell::Text(t) => neutralize(t),
                Cell::Plain(p) => Cow::Owned(p),
            })
            .collect();
        // Writing into a Vec cannot fail.
        let _ = self.inner.write_record(cells.iter().map(|c| c.as_bytes()));
    }

    pub fn finish(self) -> String {
        let bytes = self.inner.into_inner().unwrap_or_default();
        // Every cell was a &str: the document is UTF-8.
        String::from_utf8(bytes).unwrap_or_default()
    }
}

/// A cell of a `CsvWriter` row.
pub enum Cell<'a> {
    /// Text from users: neutralized.
    Text(&'a str),
    /// A number or a date the service wrote.
    Plain(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<ImportRow> {
        parse_import(text.as_bytes()).unwrap()
    }

    #[test]
    fn shlink_columns_in_any_order_and_spelling() {
        let got = rows(
            "\u{feff}Short URL,title,SHORT_CODE,Visits count, long url ,Tags\r\n\
             https://s.example/abc,Docs,abc12,3,https://docs.example/a,\"a|b, c\"\r\n\
             ,,,,https://x.example,\r\n",
        );
        assert_eq!(
            got,
            [
                ImportRow {
                    number: 1,
                    url: "https://docs.example/a".into(),
                    short_code: Some("abc12".into()),
                    title: Some("Docs".into()),
                    tags: vec!["a".into(), "b".into(), "c".into()],
                },
                ImportRow {
                    number: 2,
                    url: "https://x.example".into(),
                    short_code: None,
                    title: None,
                    tags: vec![],
                },
            ]
        );
    }

    #[test]
    fn quoting_newlines_and_short_rows() {
        let got = rows("Long URL,Title\n\"https://a.example/?q=1,2\",\"two\nlines, \"\"quoted\"\"\"\nhttps://b.example\n\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].url, "https://a.example/?q=1,2");
        assert_eq!(got[0].title.as_deref(), Some("two\nlines, \"quoted\""));
        // A row shorter than the header: the missing cells are empty.
        assert_eq!(got[1].title, None);
        assert_eq!(got[1].number, 2);
    }

    #[test]
    fn whole_body_refusals() {
        let err = |text: &[u8]| parse_import(text).unwrap_err();
        assert_eq!(err(b""), CsvError::Empty);
        assert_eq!(err(b"\xef\xbb\xbf"), CsvError::Empty);
        assert_eq!(err(b"Long URL\n"), CsvError::NoRows);
        assert_eq!(err(b"Long URL,\xff\n"), CsvError::NotUtf8);
        assert!(matches!(err(b"URL,Title\nx,y\n"), CsvError::NoUrlColumn(h) if h == "URL, Title"));
        assert_eq!(
            err(b"Long URL,long_url\nx,y\n"),
            CsvError::DuplicateColumn("long_url".into())
        );
        let at_most = format!(
            "Long URL\n{}",
            "https://a.example\n".repeat(MAX_IMPORT_ROWS)
        );
        assert_eq!(rows(&at_most).len(), MAX_IMPORT_ROWS);
        let over = format!("{at_most}https://a.example\n");
        assert_eq!(err(over.as_bytes()), CsvError::TooManyRows);
    }

    #[test]
    fn formula_cells_are_neutralized_and_restored() {
        for bad in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            let n = neutralize(bad);
            assert_eq!(n, format!("'{bad}"));
            assert_eq!(restore(&n), bad);
        }
        for fine in ["plain", "'quoted", "1-2", "", "'=a'"] {
            assert_eq!(neutralize(fine), fine);
        }
        // Only what neutralize adds is taken off.
        assert_eq!(restore("'quoted"), "'quoted");
    }

    #[test]
    fn written_csv_is_rfc4180_and_safe() {
        let mut w = CsvWriter::new(&["a", "b", "c"]);
        w.row([
            Cell::Text("=HYPERLINK(\"x\")"),
            Cell::Text("x,y"),
            Cell::Plain("12".into()),
        ]);
        w.row([
            Cell::Text("line\nbreak"),
            Cell::Text(""),
            Cell::Plain("-3".into()),
        ]);
        assert_eq!(
            w.finish(),
            "a,b,c\r\n\"'=HYPERLINK(\"\"x\"\")\",\"x,y\",12\r\n\"line\nbreak\",,-3\r\n"
        );
    }

    #[test]
    fn an_export_reads_back_as_the_same_rows() {
        let mut w = CsvWriter::new(&EXPORT_HEADER);
        w.row([
            Cell::Text("https://a.example/?x=1"),
            Cell::Text("abc12"),
            Cell::Text("-minus, \"quoted\""),
            Cell::Text("@a|b"),
            Cell::Text("https://s.example/abc12"),
            Cell::Plain("2026-12-01T00:00:00.000Z".into()),
            Cell::Plain("7".into()),
        ]);
        let got = rows(&w.finish());
        assert_eq!(
            got,
            [ImportRow {
                number: 1,
                url: "https://a.example/?x=1".into(),
                short_code: Some("abc12".into()),
                title: Some("-minus, \"quoted\"".into()),
                tags: vec!["@a".into(), "b".into()],
            }]
        );
    }
}
