//! End to end, analytics: the bot policy, the per-day breakdowns and their caps, through
//! `cargo lambda watch` and the real DynamoDB Local; and, on the store, that a visit to a
//! day item filled to every cap is still one write of 1 WRU.

mod support;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use common::domain::visit::{worst_case_day_item_bytes, Breakdown, Dimension};
use common::domain::{Alias, LongUrl, UrlPolicy, Visit};
use common::Store;
use futures::StreamExt;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::{json, Value};
use support::Api;

const CHROME_WIN: &str = support::BROWSER_UA;
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const SLACKBOT: &str = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)";

/// One visit: the User-Agent ("" for none), other headers, the query string.
struct Visitor {
    ua: &'static str,
    headers: Vec<(&'static str, String)>,
    query: String,
}

fn visitor(ua: &'static str, headers: &[(&'static str, &str)], query: &str) -> Visitor {
    Visitor {
        ua,
        headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        query: query.to_owned(),
    }
}

impl Api {
    async fn new_link(&self) -> String {
        let url = support::unique_url("stats-");
        let r = self
            .send(Method::POST, "/links", None, Some(json!({ "url": url })))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["code"].as_str().unwrap().to_owned()
    }

    async fn visit(&self, code: &str, v: &Visitor) -> u16 {
        let mut req = self.http.get(format!("{}/{code}{}", self.base, v.query));
        // Overrides the client's browser User-Agent; "" sends none.
        req = req.header("user-agent", v.ua);
        for (name, value) in &v.headers {
            let value = HeaderValue::from_bytes(value.as_bytes()).expect("a header value");
            req = req.header(HeaderName::from_static(name), value);
        }
        req.send().await.expect("the API answers").status().as_u16()
    }

    async fn stats(&self, code: &str) -> Value {
        let r = self
            .send(Method::GET, &format!("/links/{code}/stats"), None, None)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }
}

fn breakdown(stats: &Value, name: &str) -> Vec<(String, u64)> {
    stats["breakdowns"][name]
        .as_array()
        .unwrap_or_else(|| panic!("{name} in {stats}"))
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_owned(),
                e["visits"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The known mix: 6 human visits and 8 bot visits.
fn mix() -> Vec<Visitor> {
    let de = ("cloudfront-viewer-country", "DE");
    let us = ("cloudfront-viewer-country", "us");
    let google = ("referer", "https://www.google.com/search?q=rust");
    let mut v = Vec::new();
    for _ in 0..3 {
        v.push(visitor(CHROME_WIN, &[google, de], "?utm_source=Newsletter"));
    }
    for _ in 0..2 {
        v.push(visitor(SAFARI_IPHONE, &[us], ""));
    }
    v.push(visitor(
        FIREFOX_LINUX,
        &[("referer", "https://news.ycombinator.com/item?id=1")],
        "?utm_source=hn&utm_medium=social",
    ));
    // Bots: crawlers, a link preview, a tool, no User-Agent, prefetches of a browser.
    v.push(visitor(GOOGLEBOT, &[google], ""));
    v.push(visitor(GOOGLEBOT, &[], "?utm_source=newsletter"));
    v.push(visitor(SLACKBOT, &[de], ""));
    v.push(visitor("curl/8.5.0", &[], ""));
    v.push(visitor("", &[], ""));
    v.push(visitor(CHROME_WIN, &[("sec-purpose", "prefetch")], ""));
    v.push(visitor(
        CHROME_WIN,
        &[("sec-purpose", "prefetch;prerender")],
        "",
    ));
    v.push(visitor(CHROME_WIN, &[("purpose", "prefetch"), google], ""));
    v
}

fn assert_mix(stats: &Value, times: u64) {
    assert_eq!(stats["total_visits"], 6 * times, "{stats}");
    assert_eq!(stats["bot_visits"], 8 * times, "{stats}");
    let today = stats["daily"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (today["visits"].as_u64(), today["bot_visits"].as_u64()),
        (Some(6 * times), Some(8 * times))
    );
    let t = |list: &[(&str, u64)]| {
        pairs(
            &list
                .iter()
                .map(|(k, v)| (*k, v * times))
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        breakdown(stats, "referrers"),
        t(&[
            ("google.com", 3),
            ("direct", 2),
            ("news.ycombinator.com", 1)
        ])
    );
    assert_eq!(
        breakdown(stats, "sources"),
        t(&[("newsletter", 3), ("none", 2), ("hn", 1)])
    );
    assert_eq!(
        breakdown(stats, "devices"),
        t(&[("pc", 4), ("smartphone", 2)])
    );
    assert_eq!(
        breakdown(stats, "browsers"),
        t(&[("chrome", 3), ("safari", 2), ("firefox", 1)])
    );
    assert_eq!(breakdown(stats, "countries"), t(&[("DE", 3), ("US", 2)]));
}

#[tokio::test]
async fn a_known_mix_of_browsers_bots_prefetches_referrers_and_sources() {
    let api = Api::new();
    let code = api.new_link().await;
    for v in mix() {
        assert_eq!(api.visit(&code, &v).await, 302, "bots get the redirect too");
    }
    let head = api
        .http
        .head(format!("{}/{code}", support::api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 302);
    assert_mix(&api.stats(&code).await, 1);
}

#[tokio::test]
async fn concurrent_mixed_visits_are_exact() {
    let api = Api::new();
    let code = api.new_link().await;
    // Fifteen rounds of the mix: 210 visits (over 200), 90 human and 120 bot.
    let visits: Vec<Visitor> = (0..15).flat_map(|_| mix()).collect();
    assert_eq!(visits.len(), 210);
    // 32 in flight: cargo lambda watch stalls with many more at once (README).
    let statuses: Vec<u16> = futures::stream::iter(visits.iter().map(|v| api.visit(&code, v)))
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 302));
    assert_mix(&api.stats(&code).await, 15);
}

#[tokio::test]
async fn past_a_cap_the_rest_goes_to_other() {
    let api = Api::new();
    let code = api.new_link().await;
    let cap = Dimension::Referrer.cap() as u64;
    for i in 0..12 {
        let referer = format!("https://site{i:02}.example/");
        let v = visitor(CHROME_WIN, &[("referer", referer.as_str())], "");
        assert_eq!(api.visit(&code, &v).await, 302);
    }
    // Visits of keys already in the map still count under their key.
    let again = visitor(CHROME_WIN, &[("referer", "https://site00.example/")], "");
    assert_eq!(api.visit(&code, &again).await, 302);
    let s = api.stats(&code).await;
    let refs = breakdown(&s, "referrers");
    let mut expected: Vec<(String, u64)> = vec![("site00.example".into(), 2)];
    expected.extend((1..cap - 1).map(|i| (format!("site{i:02}.example"), 1)));
    expected.push(("other".into(), 12 - (cap - 1)));
    assert_eq!(refs, expected);
    assert_eq!(s["total_visits"], 13);
    // The stored map holds `cap` keys, `other` included.
    let item = day_item(&code).await;
    assert_eq!(item["ref"].as_m().unwrap().len() as u64, cap);
}

async fn day_item(code: &str) -> HashMap<String, AttributeValue> {
    let sk = format!("day#{}", Utc::now().date_naive().format("%Y-%m-%d"));
    support::dynamodb()
        .get_item()
        .table_name(support::api_table())
        .key("pk", AttributeValue::S(code.to_owned()))
        .key("sk", AttributeValue::S(sk))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("today's counter")
}

#[tokio::test]
async fn hostile_headers_and_queries_write_nothing_unsafe() {
    let api = Api::new();
    let code = api.new_link().await;
    let long = format!("https://{}.example/{}", "a".repeat(60), "p".repeat(5000));
    let hostile = [
        visitor(CHROME_WIN, &[("referer", long.as_str())], ""),
        visitor(
            CHROME_WIN,
            &[("referer", "https://evil.example/#.x.y")],
            "?utm_source=a%23b.c",
        ),
        visitor(
            CHROME_WIN,
            &[("referer", "https://ex\tample.com/")],
            "?utm_source=%00%0a%3Cscript%3E",
        ),
        visitor(
            CHROME_WIN,
            &[("referer", "https://bücher.example/ü")],
            "?utm_source=%F0%9F%99%82",
        ),
        visitor(
            CHROME_WIN,
            &[("referer", "javascript:alert(1)")],
            &format!("?utm_source={}", "x".repeat(5000)),
        ),
        visitor(
            CHROME_WIN,
            &[("cloudfront-viewer-country", "D.E"), ("referer", ".")],
            "?utm_source=other",
        ),
        visitor(
            CHROME_WIN,
            &[("cloudfront-viewer-country", "ÜÜ")],
            "?utm_source=...",
        ),
    ];
    for v in &hostile {
        assert_eq!(api.visit(&code, v).await, 302);
    }
    let s = api.stats(&code).await;
    assert_eq!(s["total_visits"], hostile.len() as u64);
    let item = day_item(&code).await;
    let safe = |k: &str| {
        !k.is_empty()
            && k.len() <= 32
            && k.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c))
    };
    for attr in ["ref", "src", "dev", "brw"] {
        for key in item[attr].as_m().unwrap().keys() {
            assert!(safe(key), "{attr}: {key:?}");
        }
    }
    assert!(!item.contains_key("cty"), "no valid country was sent");
    // Seven distinct sources against a cap of six: the last two (one of them `?utm_source=
    // other`, which a visitor cannot use to write into `other`: it is `other_`) overflow.
    let src = item["src"].as_m().unwrap();
    assert_eq!(src.len(), Dimension::Source.cap());
    assert_eq!(src["other"], AttributeValue::N("2".into()));
    assert_eq!(
        item.len(),
        2 + 1 + 4,
        "pk, sk, visits and four maps: {:?}",
        item.keys()
    );
}

/// On the store: once a day item holds every map at its cap with the longest keys, a
/// visit is still one request of 1 write unit, as DynamoDB (Local) reports it.
#[tokio::test]
async fn a_visit_to_a_full_day_item_is_one_write_unit() {
    let client = support::dynamodb();
    let table = support::fresh_table(&client).await;
    let store = Store::new(client, &*table);
    let url = LongUrl::parse("https://example.com/full", &UrlPolicy::default(), &[]).unwrap();
    let alias = Alias::parse(&"c".repeat(64)).unwrap();
    let (link, _) = store
        .create_or_get(&url, Some(&alias), None, Utc::now())
        .await
        .unwrap();
    let today = Utc::now().date_naive();
    let key = |d: Dimension, i: usize| {
        let stem = format!("{i}");
        match d {
            Dimension::Country => [
                "DE", "US", "FR", "GB", "JP", "BR", "IN", "CA", "AU", "ES", "SE", "NL",
            ][i]
                .to_owned(),
            _ => format!("{stem}{}", "k".repeat(d.max_len() - stem.len())),
        }
    };
    // More distinct keys than any cap: the maps fill, the rest goes to `other`.
    for i in 0..12 {
        let visit = Visit::Human(Breakdown {
            referrer: key(Dimension::Referrer, i),
            source: key(Dimension::Source, i),
            device: key(Dimension::Device, i),
            browser: key(Dimension::Browser, i),
            country: Some(key(Dimension::Country, i)),
        });
        store
            .record_visit(&link.code, 0, today, &visit)
            .await
            .unwrap();
    }
    let before = store.usage();
    let visit = Visit::Human(Breakdown {
        referrer: key(Dimension::Referrer, 11),
        source: key(Dimension::Source, 11),
        device: key(Dimension::Device, 11),
        browser: key(Dimension::Browser, 11),
        country: Some("NL".into()),
    });
    assert_eq!(
        store
            .record_visit(&link.code, 0, today, &visit)
            .await
            .unwrap(),
        13
    );
    let used = store.usage().since(before);
    assert_eq!((used.requests, used.capacity_units), (1, 1.0));
    // A fresh process (nothing learnt yet) pays one failed attempt, then knows.
    let fresh = Store::new(support::dynamodb(), &*table);
    let before = fresh.usage();
    fresh
        .record_visit(&link.code, 0, today, &visit)
        .await
        .unwrap();
    fresh
        .record_visit(&link.code, 0, today, &visit)
        .await
        .unwrap();
    let used = fresh.usage().since(before);
    assert_eq!(
        used.requests, 3,
        "one failed condition, then one write each"
    );
    let history = store.history(&link.code, false).await.unwrap().unwrap();
    for dim in Dimension::ALL {
        assert_eq!(history.breakdowns[&today][&dim].len(), dim.cap(), "{dim:?}");
    }
    assert!(worst_case_day_item_bytes() < 1024);
}
