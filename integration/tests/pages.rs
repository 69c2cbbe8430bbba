//! End to end, what people look at: the QR code of a short link (an SVG of the short URL,
//! cacheable, never a visit) and the stats page (same access rules as the JSON stats).
//! scripts/test-page.sh loads the page in headless Chromium.

mod support;

use chrono::Utc;
use common::domain::{ApiKey, KeyRecord, Role};
use common::Store;
use serde_json::{json, Value};

async fn create(body: Value, key: Option<&str>) -> String {
    let mut req = support::http()
        .post(format!("{}/links", support::api_url()))
        .json(&body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let body: Value = resp.json().await.unwrap();
    body["code"].as_str().unwrap().to_owned()
}

async fn get(path: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = support::http().get(format!("{}{path}", support::api_url()));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.unwrap()
}

async fn error_code(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn qr_code_of_the_short_url_is_cacheable_and_no_visit() {
    let url = format!("https://example.com/{}", support::unique("qr-"));
    let code = create(json!({ "url": url }), None).await;
    let resp = get(&format!("/links/{code}/qr.svg?size=300"), None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/svg+xml");
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("public"));
    let svg = resp.text().await.unwrap();
    assert!(svg.contains("<svg") && svg.ends_with("</svg>"));
    let default = get(&format!("/links/{code}/qr.svg"), None)
        .await
        .text()
        .await
        .unwrap();
    assert_ne!(svg, default, "the size changes the image");
    for size in ["10", "5000", "x", "-1", "300.5"] {
        let resp = get(&format!("/links/{code}/qr.svg?size={size}"), None).await;
        assert_eq!(
            error_code(resp).await,
            (400, "invalid_size".into()),
            "{size}"
        );
    }
    let missing = get("/links/nOsUcHqR/qr.svg", None).await;
    assert_eq!(error_code(missing).await, (404, "not_found".into()));
    let stats: Value = get(&format!("/links/{code}/stats"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (stats["total_visits"].as_u64(), stats["bot_visits"].as_u64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn the_page_follows_the_stats_access_rules_and_escapes() {
    let store = Store::new(support::dynamodb(), support::api_table());
    let mut keys = Vec::new();
    for role in [Role::User, Role::User] {
        let key = ApiKey::generate().unwrap();
        store
            .put_key(&KeyRecord {
                hash: key.hash(),
                name: "pages".into(),
                role,
                created_at: Utc::now(),
                revoked_at: None,
            })
            .await
            .unwrap();
        keys.push(key.reveal().to_owned());
    }
    let hostile = format!(
        "https://example.com/{}?q=<script>alert(1)</script>",
        support::unique("p-")
    );
    let code = create(json!({ "url": hostile }), Some(&keys[0])).await;
    let resp = get(&format!("/links/{code}/page"), Some(&keys[0])).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<script"), "the URL is escaped");
    assert!(html.contains("&lt;script&gt;"));
    assert_eq!(
        error_code(get(&format!("/links/{code}/page"), None).await)
            .await
            .0,
        401
    );
    assert_eq!(
        error_code(get(&format!("/links/{code}/page"), Some(&keys[1])).await).await,
        (403, "forbidden".into())
    );
    let range = get(
        &format!("/links/{code}/page?from=2026-13-01"),
        Some(&keys[0]),
    )
    .await;
    assert_eq!(error_code(range).await, (400, "invalid_date".into()));
    let anon = create(
        json!({ "url": format!("https://example.com/{}", support::unique("pa-")) }),
        None,
    )
    .await;
    assert_eq!(
        get(&format!("/links/{anon}/page"), None).await.status(),
        200
    );
}
