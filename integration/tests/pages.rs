//! End to end, what people look at: the QR code of a short link (an SVG of the short URL,
//! cacheable, never a visit) and the stats page (same access rules as the JSON stats).
//! scripts/test-page.sh loads the page in headless Chromium.

mod support;

use common::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};
use support::{unique_url, Api, Page, Reply};

impl Api {
    async fn create(&self, body: Value, key: Option<&str>) -> String {
        let r = self.send(Method::POST, "/links", key, Some(body)).await;
        assert!(r.status == 200 || r.status == 201, "{}", r.body);
        r.body["code"].as_str().unwrap().to_owned()
    }

    /// A page or an image, read as text.
    async fn get_page(&self, path: &str, key: Option<&str>) -> Page {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        self.page(req).await
    }

    /// A JSON answer (an error, the stats).
    async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        self.send(Method::GET, path, key, None).await
    }
}

#[tokio::test]
async fn qr_code_of_the_short_url_is_cacheable_and_no_visit() {
    let api = Api::new();
    let code = api.create(json!({ "url": unique_url("qr-") }), None).await;
    let resp = api
        .get_page(&format!("/links/{code}/qr.svg?size=300"), None)
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), "image/svg+xml");
    assert!(resp.header("cache-control").starts_with("public"));
    let svg = resp.text;
    assert!(svg.contains("<svg") && svg.ends_with("</svg>"));
    let default = api
        .get_page(&format!("/links/{code}/qr.svg"), None)
        .await
        .text;
    assert_ne!(svg, default, "the size changes the image");
    for size in ["10", "5000", "x", "-1", "300.5"] {
        api.get(&format!("/links/{code}/qr.svg?size={size}"), None)
            .await
            .assert_error(400, "invalid_size");
    }
    api.get("/links/nOsUcHqR/qr.svg", None)
        .await
        .assert_error(404, "not_found");
    let stats = api.get(&format!("/links/{code}/stats"), None).await;
    assert_eq!(
        (
            stats.body["total_visits"].as_u64(),
            stats.body["bot_visits"].as_u64()
        ),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn the_page_follows_the_stats_access_rules_and_escapes() {
    let api = Api::new();
    let (owner, _) = api.issue_key(Role::User).await;
    let (other, _) = api.issue_key(Role::User).await;
    let hostile = format!("{}?q=<script>alert(1)</script>", unique_url("p-"));
    let code = api.create(json!({ "url": hostile }), Some(&owner)).await;
    let resp = api
        .get_page(&format!("/links/{code}/page"), Some(&owner))
        .await;
    assert_eq!(resp.status, 200);
    assert!(resp.header("content-type").starts_with("text/html"));
    assert!(!resp.text.contains("<script"), "the URL is escaped");
    assert!(resp.text.contains("&lt;script&gt;"));
    api.get(&format!("/links/{code}/page"), None)
        .await
        .assert_error(401, "unauthorized");
    api.get(&format!("/links/{code}/page"), Some(&other))
        .await
        .assert_error(403, "forbidden");
    api.get(&format!("/links/{code}/page?from=2026-13-01"), Some(&owner))
        .await
        .assert_error(400, "invalid_date");
    let anon = api.create(json!({ "url": unique_url("pa-") }), None).await;
    assert_eq!(
        api.get_page(&format!("/links/{anon}/page"), None)
            .await
            .status,
        200
    );
}
