//! End to end, data in and out through `cargo lambda watch` and the real DynamoDB Local:
//! `POST /links/import` (CSV in Shlink's columns), `GET /links/export` (CSV or JSON, paged
//! by `X-Next-Cursor`, with the aggregator's visits) and `GET /links/{code}/stats.csv`.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use common::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};
use support::{unique, unique_url, within, Api, Page, Reply, BROWSER_UA};

/// Reads a CSV document the way a spreadsheet would (RFC 4180).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

impl Api {
    async fn import(&self, key: Option<&str>, query: &str, content_type: &str, csv: &str) -> Reply {
        let mut req = self
            .http
            .post(format!("{}/links/import{query}", self.base))
            .header("content-type", content_type)
            .body(csv.to_owned());
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        Reply::of(req).await
    }

    async fn text(&self, path: &str, key: Option<&str>) -> Page {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        self.page(req).await
    }
}

fn statuses(r: &Reply) -> Vec<(u64, String)> {
    r.body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results: {}", r.body))
        .iter()
        .map(|x| {
            (
                x["status"].as_u64().unwrap(),
                x["error"]["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn import_shlink_csv_then_again_changes_nothing() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let (other, _) = api.issue_key(Role::User).await;
    let taken = unique("imp-taken-");
    let r = api
        .send(
            Method::POST,
            "/links",
            Some(&other),
            Some(json!({"url": unique_url("imp-other-"), "alias": taken})),
        )
        .await;
    assert_eq!(r.status, 201);
    let (a, b, c) = (
        unique_url("imp-a-"),
        unique_url("imp-b-"),
        unique_url("imp-c-"),
    );
    let own = unique("imp-own-");
    // Shlink's export: a BOM, CRLF, extra columns, quoted cells with commas and quotes.
    let csv = format!(
        "\u{feff}Long URL,Short URL,Short code,Title,Tags,Visits count,Created at\r\n\
         {a},https://s.example/{own},{own},\"Docs, \"\"v2\"\"\",\"Q4|Launch\",12,2024-01-01\r\n\
         {b},,,,\"x, y\",,\r\n\
         {c},,{taken},Taken,,,\r\n\
         javascript:alert(1),,,,,,\r\n\
         http://192.168.1.1/,,,,,,\r\n\
         {a},,stats,,,,\r\n\
         {b},,,,bad tag!,,\r\n"
    );
    let r = api.import(Some(&key), "", "text/csv", &csv).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    let indexes: Vec<u64> = results
        .iter()
        .map(|x| x["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [1, 2, 3, 4, 5, 6, 7], "data row numbers, in order");
    assert_eq!(
        statuses(&r),
        [
            (201, "".into()),
            (201, "".into()),
            (409, "alias_taken".into()),
            (400, "unsupported_scheme".into()),
            (400, "private_target".into()),
            (400, "reserved_alias".into()),
            (400, "invalid_tags".into()),
        ]
    );
    let first = &results[0]["link"];
    assert_eq!(first["code"], own.as_str());
    assert_eq!(first["title"], "Docs, \"v2\"");
    assert_eq!(first["tags"], json!(["q4", "launch"]));
    assert_eq!(results[1]["link"]["tags"], json!(["x", "y"]));
    let owner = first["owner"].as_str().unwrap();
    assert_eq!(results[1]["link"]["owner"], owner);

    // The same file again: every link found as it is, every refusal the same.
    let again = api.import(Some(&key), "", "text/csv", &csv).await;
    let mut expected = statuses(&r);
    expected[0].0 = 200;
    expected[1].0 = 200;
    assert_eq!(statuses(&again), expected);
    assert_eq!(
        again.body["results"][0]["link"],
        r.body["results"][0]["link"]
    );

    // `generate`: the taken and the reserved code give the link its own code instead.
    let g = api
        .import(
            Some(&key),
            "?on_conflict=generate",
            "text/csv; charset=utf-8",
            &csv,
        )
        .await;
    let got = statuses(&g);
    assert_eq!(got[2], (201, "".into()), "{}", g.body);
    assert_eq!(got[5], (201, "".into()), "row 1's URL under its own code");
    let generated = g.body["results"][2]["link"]["code"].as_str().unwrap();
    assert_ne!(generated, taken);
    assert_ne!(g.body["results"][5]["link"]["code"], own.as_str());
    assert_ne!(g.body["results"][5]["link"]["code"], "stats");
    // And again: the same code, nothing new.
    let g2 = api
        .import(Some(&key), "?on_conflict=generate", "text/csv", &csv)
        .await;
    assert_eq!(statuses(&g2)[2], (200, "".into()));
    assert_eq!(statuses(&g2)[5], (200, "".into()));
    assert_eq!(g2.body["results"][2]["link"]["code"], generated);
    // The other key's alias is untouched.
    let r = api
        .send(Method::GET, &format!("/links/{taken}"), Some(&other), None)
        .await;
    assert_ne!(r.body["url"], c.as_str());
}

#[tokio::test]
async fn import_refusals_write_nothing() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let url = unique_url("imp-none-");
    let good = format!("Long URL\n{url}\n");
    api.import(None, "", "text/csv", &good)
        .await
        .assert_error(401, "unauthorized");
    api.import(Some(&key), "", "application/json", &good)
        .await
        .assert_error(415, "unsupported_media_type");
    api.import(Some(&key), "?on_conflict=overwrite", "text/csv", &good)
        .await
        .assert_error(400, "invalid_on_conflict");
    for (csv, code) in [
        ("".to_owned(), "invalid_csv"),
        (format!("URL,Title\n{url},x\n"), "invalid_csv"),
        (format!("Long URL,long_url\n{url},{url}\n"), "invalid_csv"),
        ("Long URL\r\n".to_owned(), "invalid_batch_size"),
        (
            format!("Long URL\n{}", format!("{url}\n").repeat(1001)),
            "invalid_batch_size",
        ),
    ] {
        api.import(Some(&key), "", "text/csv", &csv)
            .await
            .assert_error(400, code);
    }
    // A body that is not UTF-8 (400 invalid_csv: domain::sheet's unit tests) cannot be
    // sent through `cargo lambda watch`, which answers 500 itself for a text content type
    // whose body is not text (POST /links with JSON does the same), before any function.
    let huge = format!("Long URL,Title\n{url},{}\n", "t".repeat(1024 * 1024));
    api.import(Some(&key), "", "text/csv", &huge)
        .await
        .assert_error(413, "payload_too_large");
    let r = api
        .send(Method::GET, "/links/import", Some(&key), None)
        .await;
    r.assert_error(405, "method_not_allowed");
    assert!(api.first_code_is_free(&url).await, "nothing written");
}

#[tokio::test]
async fn a_thousand_rows_in_one_import() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let prefix = unique("imp-k-");
    let mut csv = String::from("Long URL,Tags\n");
    for i in 0..1000 {
        csv.push_str(&format!("https://example.com/{prefix}/{i},bulk\n"));
    }
    let r = api.import(Some(&key), "", "text/csv", &csv).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let s = statuses(&r);
    assert_eq!(s.len(), 1000);
    assert!(s.iter().all(|(st, _)| *st == 201), "{:?}", &s[..5]);
    let codes: BTreeSet<&str> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["link"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 1000);

    // Exported back, page by page, by the cursor in X-Next-Cursor: each link once.
    let mut seen = BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = cursor
            .as_ref()
            .map(|c| format!("&cursor={c}"))
            .unwrap_or_default();
        let page = api
            .send(
                Method::GET,
                &format!("/links/export?format=json&limit=300{q}"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        pages += 1;
        for l in page.body["links"].as_array().unwrap() {
            assert!(seen.insert(l["code"].as_str().unwrap().to_owned()));
            assert_eq!(l["visits"], 0);
        }
        let next = page.header("x-next-cursor");
        assert_eq!(page.body["next_cursor"].as_str().unwrap_or(""), next);
        if next.is_empty() {
            break;
        }
        cursor = Some(next.to_owned());
        assert!(pages < 10);
    }
    let seen: BTreeSet<&str> = seen.iter().map(String::as_str).collect();
    assert_eq!(seen, codes);
    assert_eq!(
        pages, 4,
        "300 + 300 + 300 + 100 (the last page may need one more)"
    );
}

#[tokio::test]
async fn export_csv_round_trips_and_is_safe_to_open() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let (other, _) = api.issue_key(Role::User).await;
    let url = unique_url("exp-a-");
    let r = api
        .send(
            Method::POST,
            "/links",
            Some(&key),
            Some(json!({"url": url, "title": "=HYPERLINK(\"https://evil.example\")", "tags": ["-x", "b"]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let code = r.body["code"].as_str().unwrap().to_owned();
    let plain = api
        .send(
            Method::POST,
            "/links",
            Some(&key),
            Some(json!({"url": unique_url("exp-b-"), "title": "@home, \"quoted\""})),
        )
        .await;
    assert_eq!(plain.status, 201);
    api.send(
        Method::POST,
        "/links",
        Some(&other),
        Some(json!({"url": unique_url("exp-other-")})),
    )
    .await;
    // Two human visits, counted by the aggregator from the stream.
    for _ in 0..2 {
        let v = api
            .http
            .get(format!("{}/{code}", api.base))
            .send()
            .await
            .unwrap();
        assert_eq!(v.status(), 302);
    }
    within(Duration::from_secs(60), "visits aggregated", || async {
        api.store
            .aggregated_visits(&common::domain::Code::parse(&code).unwrap())
            .await
            .unwrap()
            == 2
    })
    .await;

    let t = api.text("/links/export", Some(&key)).await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert!(t.header("content-type").starts_with("text/csv"));
    assert!(t.header("content-disposition").contains("links.csv"));
    assert_eq!(t.header("x-next-cursor"), "");
    assert!(t.text.contains("\r\n"));
    let rows = csv_rows(&t.text);
    assert_eq!(
        rows[0],
        [
            "Long URL",
            "Short code",
            "Title",
            "Tags",
            "Short URL",
            "Created at",
            "Visits"
        ]
    );
    assert_eq!(rows.len(), 3, "the caller's two links, not the other key's");
    // Newest first.
    assert_eq!(rows[1][1], plain.body["code"].as_str().unwrap());
    assert_eq!(rows[1][2], "'@home, \"quoted\"");
    let row = &rows[2];
    assert_eq!(row[0], url);
    assert_eq!(row[1], code);
    assert_eq!(row[2], "'=HYPERLINK(\"https://evil.example\")");
    assert_eq!(row[3], "'-x|b");
    assert_eq!(row[4], format!("{}/{code}", api.base));
    assert_eq!(row[6], "2");
    for cell in rows.iter().flatten() {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "a formula cell: {cell}"
        );
    }

    // Imported back by the same key: the same links, nothing new, the text as it was.
    let back = api.import(Some(&key), "", "text/csv", &t.text).await;
    assert_eq!(statuses(&back), [(200, "".into()), (200, "".into())]);
    assert_eq!(back.body["results"][1]["link"]["code"], code.as_str());
    assert_eq!(
        back.body["results"][1]["link"]["title"],
        "=HYPERLINK(\"https://evil.example\")"
    );
    // By another key: the codes are taken.
    let theirs = api.import(Some(&other), "", "text/csv", &t.text).await;
    assert_eq!(statuses(&theirs)[1], (409, "alias_taken".into()));

    // JSON, one link a page.
    let j = api
        .send(
            Method::GET,
            "/links/export?format=json&limit=1",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(j.body["links"].as_array().unwrap().len(), 1);
    assert!(!j.header("x-next-cursor").is_empty());
    let j2 = api
        .send(
            Method::GET,
            &format!(
                "/links/export?format=json&cursor={}",
                j.header("x-next-cursor")
            ),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(j2.body["links"][0]["code"], code.as_str());
    assert_eq!(j2.body["links"][0]["visits"], 2);
    assert_eq!(
        j2.body["links"][0]["title"],
        "=HYPERLINK(\"https://evil.example\")"
    );
    // The filters of GET /links apply.
    let tagged = api
        .send(
            Method::GET,
            "/links/export?format=json&tag=b",
            Some(&key),
            None,
        )
        .await;
    let tagged: Vec<&Value> = tagged.body["links"].as_array().unwrap().iter().collect();
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0]["code"], code.as_str());
}

#[tokio::test]
async fn export_refusals() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let r = api.send(Method::GET, "/links/export", None, None).await;
    r.assert_error(401, "unauthorized");
    for (q, code) in [
        ("format=xml", "invalid_format"),
        ("limit=0", "invalid_limit"),
        ("limit=1001", "invalid_limit"),
        ("cursor=nope", "invalid_cursor"),
        ("tags_mode=some", "invalid_filter"),
    ] {
        let r = api
            .send(Method::GET, &format!("/links/export?{q}"), Some(&key), None)
            .await;
        r.assert_error(400, code);
    }
    let r = api
        .send(Method::POST, "/links/export", Some(&key), Some(json!({})))
        .await;
    r.assert_error(405, "method_not_allowed");
    // No links yet: the header row alone.
    let t = api.text("/links/export", Some(&key)).await;
    assert_eq!(t.status, 200);
    assert_eq!(csv_rows(&t.text).len(), 1);
}

#[tokio::test]
async fn stats_csv_has_a_row_per_day_and_key_with_the_stats_access() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let (other, _) = api.issue_key(Role::User).await;
    let r = api
        .send(
            Method::POST,
            "/links",
            Some(&key),
            Some(json!({"url": unique_url("csv-stats-")})),
        )
        .await;
    let code = r.body["code"].as_str().unwrap().to_owned();
    let visit = |ua: &'static str, referer: Option<&'static str>| {
        let mut req = api
            .http
            .get(format!("{}/{code}?utm_source=news", api.base))
            .header("user-agent", ua);
        if let Some(referer) = referer {
            req = req.header("referer", referer);
        }
        async move { assert_eq!(req.send().await.unwrap().status(), 302) }
    };
    visit(BROWSER_UA, Some("https://=cmd.example/")).await;
    visit(BROWSER_UA, None).await;
    visit("curl/8.0", None).await;

    let t = api
        .text(&format!("/links/{code}/stats.csv"), Some(&key))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert!(t.header("content-type").starts_with("text/csv"));
    assert!(t
        .header("content-disposition")
        .contains(&format!("{code}-stats.csv")));
    let rows = csv_rows(&t.text);
    assert_eq!(rows[0], ["date", "dimension", "key", "visits"]);
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let find = |dim: &str, key: &str| {
        rows.iter()
            .find(|r| r[1] == dim && r[2] == key)
            .map(|r| (r[0].clone(), r[3].clone()))
    };
    assert_eq!(find("total", "visits"), Some((today.clone(), "2".into())));
    assert_eq!(
        find("total", "bot_visits"),
        Some((today.clone(), "1".into()))
    );
    assert_eq!(find("sources", "news"), Some((today.clone(), "2".into())));
    assert_eq!(find("devices", "pc").map(|r| r.1), Some("2".into()));
    // Every data row is a day of today, a known dimension and a count.
    for r in &rows[1..] {
        assert_eq!(r.len(), 4);
        assert_eq!(r[0], today);
        assert!([
            "total",
            "referrers",
            "sources",
            "devices",
            "browsers",
            "countries"
        ]
        .contains(&r[1].as_str()));
        r[3].parse::<u64>().unwrap();
        assert!(
            !r[2].starts_with(['=', '+', '-', '@']),
            "a formula cell: {}",
            r[2]
        );
    }
    // The JSON stats and the CSV agree.
    let json_stats = api
        .send(
            Method::GET,
            &format!("/links/{code}/stats"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(json_stats.body["total_visits"], 2);

    // The range: a day before creation has no rows.
    let t = api
        .text(
            &format!("/links/{code}/stats.csv?from=2020-01-01&to=2020-01-02"),
            Some(&key),
        )
        .await;
    assert_eq!(csv_rows(&t.text).len(), 1);
    // The access of the stats: another key, none, a bad range, an unknown code.
    assert_eq!(
        api.text(&format!("/links/{code}/stats.csv"), Some(&other))
            .await
            .status,
        403
    );
    assert_eq!(
        api.text(&format!("/links/{code}/stats.csv"), None)
            .await
            .status,
        401
    );
    let bad = api
        .send(
            Method::GET,
            &format!("/links/{code}/stats.csv?from=2026-1-1"),
            Some(&key),
            None,
        )
        .await;
    bad.assert_error(400, "invalid_date");
    let gone = api
        .send(
            Method::GET,
            "/links/zzzzzzzzzz9/stats.csv",
            Some(&key),
            None,
        )
        .await;
    gone.assert_error(404, "not_found");
}
