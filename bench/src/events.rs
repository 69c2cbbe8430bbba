//! The events each function is sent, and the visitors of the redirect benchmark.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{BENCH_CODE, BODY_MARKER};
use bytes::Bytes;
use serde_json::{json, Value};

/// The edge's secret the bench's functions are given (and its events carry), as behind the
/// CloudFront edge.
pub const EDGE_SECRET: &str = "bench-edge-secret-0123456789";

pub(crate) fn api_event(
    method: &str,
    path: &str,
    route: &str,
    code: Option<&str>,
    body: Option<Value>,
) -> Bytes {
    let mut event = json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "host": "abc123xyz.execute-api.us-east-1.amazonaws.com",
            "x-forwarded-proto": "https",
            "user-agent": "bench",
        },
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123xyz", "stage": "$default",
            "domainName": "abc123xyz.execute-api.us-east-1.amazonaws.com",
            "requestId": "bench", "routeKey": route, "time": "22/Nov/2026:19:00:00 +0000",
            "timeEpoch": 1795374000000u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "bench"},
        },
        "isBase64Encoded": false,
    });
    if let Some(code) = code {
        event["pathParameters"] = json!({ "code": code });
    }
    if let Some(body) = body {
        event["headers"]["content-type"] = json!("application/json");
        event["body"] = json!(body.to_string());
    }
    Bytes::from(event.to_string())
}

pub(crate) const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
pub(crate) const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
pub(crate) const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
pub(crate) const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
pub(crate) const EDGE_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
pub(crate) const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15";

/// Visitors of the redirect benchmark: User-Agent, Referer, utm_source, country.
pub(crate) type Visitor = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);
pub(crate) const VISITORS: &[Visitor] = &[
    (
        CHROME_WIN,
        Some("https://www.google.com/"),
        None,
        Some("US"),
    ),
    (
        SAFARI_IPHONE,
        Some("https://t.co/abc"),
        Some("twitter"),
        Some("US"),
    ),
    (FIREFOX_LINUX, None, Some("newsletter"), Some("DE")),
    (
        CHROME_ANDROID,
        Some("https://m.facebook.com/"),
        Some("facebook"),
        Some("BR"),
    ),
    (
        EDGE_WIN,
        Some("https://www.bing.com/search?q=x"),
        None,
        Some("GB"),
    ),
    (
        SAFARI_MAC,
        Some("https://news.ycombinator.com/"),
        None,
        Some("FR"),
    ),
    (
        CHROME_WIN,
        Some("https://www.reddit.com/r/rust/"),
        Some("reddit"),
        Some("IN"),
    ),
    (
        SAFARI_IPHONE,
        Some("https://l.instagram.com/"),
        Some("instagram"),
        Some("JP"),
    ),
    (
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        None,
        None,
        Some("US"),
    ),
    (
        CHROME_WIN,
        Some("https://duckduckgo.com/"),
        None,
        Some("CA"),
    ),
    (FIREFOX_LINUX, Some("https://lobste.rs/"), None, Some("NL")),
    (
        CHROME_ANDROID,
        Some("https://www.linkedin.com/feed/"),
        Some("linkedin"),
        Some("IN"),
    ),
    (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        None,
        None,
        None,
    ),
    (
        EDGE_WIN,
        Some("https://github.com/awslabs"),
        None,
        Some("SE"),
    ),
    (
        SAFARI_MAC,
        Some("https://mail.google.com/"),
        Some("gmail"),
        Some("AU"),
    ),
    (
        CHROME_WIN,
        Some("https://example.org/blog"),
        None,
        Some("ES"),
    ),
];

pub(crate) fn events_for(function: &str) -> Box<dyn FnMut(usize) -> (Bytes, u16) + Send> {
    match function {
        "create" => {
            let run = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis();
            Box::new(move |i| {
                let url = format!("https://example.com/bench/{BODY_MARKER}/{run}/{i}");
                let event = api_event(
                    "POST",
                    "/links",
                    "ANY /links",
                    None,
                    Some(json!({ "url": url })),
                );
                (event, 201)
            })
        }
        "stats" => Box::new(|_| {
            let path = format!("/links/{BENCH_CODE}/stats");
            (
                api_event(
                    "GET",
                    &path,
                    "ANY /links/{code}/stats",
                    Some(BENCH_CODE),
                    None,
                ),
                200,
            )
        }),
        _ => Box::new(|i| {
            let path = format!("/{BENCH_CODE}");
            let mut event: Value = serde_json::from_slice(&api_event(
                "GET",
                &path,
                "ANY /{code}",
                Some(BENCH_CODE),
                None,
            ))
            .expect("an event is JSON");
            // A realistic spread: browsers and devices, a dozen referrers (more than a
            // day's cap, so `other` is written too), campaign sources, countries, and a
            // share of bots and prefetches.
            let (ua, referer, source, country) = VISITORS[i % VISITORS.len()];
            let headers = &mut event["headers"];
            headers["user-agent"] = json!(ua);
            if let Some(r) = referer {
                headers["referer"] = json!(r);
            }
            if let Some(c) = country {
                headers["cloudfront-viewer-country"] = json!(c);
            }
            headers["x-origin-verify"] = json!(EDGE_SECRET);
            if i % 25 == 24 {
                headers["sec-purpose"] = json!("prefetch");
            }
            if let Some(s) = source {
                event["rawQueryString"] = json!(format!("utm_source={s}"));
                event["queryStringParameters"] = json!({ "utm_source": s });
            }
            (Bytes::from(event.to_string()), 302)
        }),
    }
}
