//! End to end, insights through `cargo lambda watch` and the real DynamoDB Local: a link's
//! (`GET /links/{code}/insights`, from the day items its stats read) and an owner's
//! (`GET /insights`, from the day rankings the aggregator keeps through the stream).
//! Weeks of history are written as the redirect writes visits, on past days.

mod support;

use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};
use common::domain::{Code, KeyId, LongUrl, Role, UrlPolicy, Visit, VisitRequest};
use reqwest::Method;
use serde_json::{json, Value};
use support::{unique_url, Api, BROWSER_UA};

fn visit(referer: &str) -> Visit {
    Visit::classify(VisitRequest {
        user_agent: Some(BROWSER_UA),
        referer: Some(referer),
        ..Default::default()
    })
}

impl Api {
    /// A link of `owner` created `age` days ago, written straight to the store.
    async fn old_link(&self, owner: &KeyId, age: u64) -> Code {
        let url = LongUrl::parse(&unique_url("ins-"), &UrlPolicy::default(), &[]).unwrap();
        let created = Utc::now() - chrono::Duration::days(age as i64);
        let (link, _) = self
            .store
            .create_or_get(&url, None, Some(owner), created)
            .await
            .unwrap();
        link.code
    }

    /// `n` human visits from `referer` on the day `days_back` before today.
    async fn visits_on(&self, code: &Code, days_back: u64, n: u64, referer: &str) {
        let day = today() - Days::new(days_back);
        for _ in 0..n {
            self.store
                .record_visit(code, 0, day, &visit(referer))
                .await
                .unwrap();
        }
    }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn kinds(body: &Value) -> Vec<&str> {
    body["insights"]
        .as_array()
        .unwrap_or_else(|| panic!("insights: {body}"))
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_link_with_weeks_of_history_and_its_owners_movers() {
    let api = Api::new();
    let (key, record) = api.issue_key(Role::User).await;
    let (other, _) = api.issue_key(Role::User).await;
    let owner = record.id();
    // Rising: 2 visits a day from google.com for four weeks, then 30 today from a new
    // referrer. Oldest day first, as visits happen (the aggregator keeps a link's last
    // few days of counters: a record of a day long past never comes after newer ones).
    let rising = api.old_link(&owner, 40).await;
    for days_back in (7..=35).rev() {
        api.visits_on(&rising, days_back, 2, "https://www.google.com/")
            .await;
    }
    api.visits_on(&rising, 0, 30, "https://news.example/item")
        .await;
    // Falling: 22 visits the week before, none this week.
    let falling = api.old_link(&owner, 40).await;
    api.visits_on(&falling, 9, 22, "https://www.google.com/")
        .await;

    let r = api
        .send(
            Method::GET,
            &format!("/links/{rising}/insights"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["code"], rising.as_str());
    assert_eq!(r.body["date"], today().format("%Y-%m-%d").to_string());
    assert_eq!(
        kinds(&r.body),
        ["spike", "top_referrer_changed", "new_referrer", "peak_day"]
    );
    let spike = &r.body["insights"][0];
    assert_eq!(
        spike["figures"],
        json!({"date": today().format("%Y-%m-%d").to_string(), "visits": 30, "median": 2})
    );
    assert!(spike["message"].as_str().unwrap().contains("30 visits"));
    assert_eq!(
        r.body["insights"][1]["figures"],
        json!({"current": "news.example", "current_visits": 30,
               "previous": "google.com", "previous_visits": 14})
    );
    let falling_r = api
        .send(
            Method::GET,
            &format!("/links/{falling}/insights"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(kinds(&falling_r.body), ["drop"]);
    assert_eq!(
        falling_r.body["insights"][0]["figures"],
        json!({"visits": 0, "previous_visits": 22, "change_percent": -100})
    );
    // As of 8 days ago, the rising link had nothing to say: the week to `date`.
    let then = (today() - Days::new(8)).format("%Y-%m-%d").to_string();
    let r = api
        .send(
            Method::GET,
            &format!("/links/{rising}/insights?date={then}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(kinds(&r.body), Vec::<&str>::new());

    // The owner's view, once the aggregator has ranked the days through the stream.
    let deadline = Instant::now() + Duration::from_secs(90);
    let body = loop {
        let r = api.send(Method::GET, "/insights", Some(&key), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        // Every visit ranked: the aggregator is seconds behind, batch by batch.
        let ready = r.body["risers"][0]["change"] == 16 && r.body["fallers"][0]["change"] == -22;
        if ready {
            break r.body;
        }
        assert!(Instant::now() < deadline, "not ranked yet: {}", r.body);
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(body["owner"], owner.as_str());
    let riser = &body["risers"][0];
    assert_eq!(riser["code"], rising.as_str());
    assert_eq!(
        (
            riser["visits"].as_u64(),
            riser["previous_visits"].as_u64(),
            riser["change"].as_i64()
        ),
        (Some(30), Some(14), Some(16))
    );
    assert!(riser["url"]
        .as_str()
        .unwrap()
        .starts_with("https://example.com/ins-"));
    let faller = &body["fallers"][0];
    assert_eq!(faller["code"], falling.as_str());
    assert_eq!(faller["change"], -22);
    // The week's most visited links, each with its own insights.
    assert_eq!(body["links"].as_array().unwrap().len(), 1);
    assert_eq!(body["links"][0]["code"], rising.as_str());
    assert_eq!(
        kinds(&body["links"][0]),
        kinds(
            &api.send(
                Method::GET,
                &format!("/links/{rising}/insights"),
                Some(&key),
                None
            )
            .await
            .body
        )
    );
    // Another user's key sees none of it.
    let r = api.send(Method::GET, "/insights", Some(&other), None).await;
    assert_eq!(r.body["risers"], json!([]));
    assert_eq!(r.body["links"], json!([]));
    let r = api
        .send(
            Method::GET,
            &format!("/insights?owner={owner}"),
            Some(&other),
            None,
        )
        .await;
    r.assert_error(403, "forbidden");
    let r = api
        .send(
            Method::GET,
            &format!("/links/{rising}/insights"),
            Some(&other),
            None,
        )
        .await;
    r.assert_error(403, "forbidden");

    // The stats page shows the link's insights.
    let page = api
        .http
        .get(format!("{}/links/{rising}/page", api.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<li data-type="spike">"#), "{page}");
}

#[tokio::test]
async fn new_and_quiet_links_and_refusals() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    // Created today, a few visits: nothing stands out.
    let r = api
        .send(
            Method::POST,
            "/links",
            None,
            Some(json!({"url": unique_url("ins-new-")})),
        )
        .await;
    let code = r.body["code"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let v = api
            .http
            .get(format!("{}/{code}", api.base))
            .send()
            .await
            .unwrap();
        assert_eq!(v.status(), 302);
    }
    // An anonymous link's insights are public, as its stats.
    let r = api
        .send(Method::GET, &format!("/links/{code}/insights"), None, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["insights"], json!([]));
    // No history at all.
    let r = api
        .send(
            Method::POST,
            "/links",
            Some(&key),
            Some(json!({"url": unique_url("ins-none-")})),
        )
        .await;
    let quiet = r.body["code"].as_str().unwrap().to_owned();
    let r = api
        .send(
            Method::GET,
            &format!("/links/{quiet}/insights"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(r.body["insights"], json!([]));
    let r = api
        .send(Method::GET, &format!("/links/{quiet}/insights"), None, None)
        .await;
    r.assert_error(401, "unauthorized");
    // A key without visits: empty lists, not an error.
    let r = api.send(Method::GET, "/insights", Some(&key), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.body["risers"].clone(),
            r.body["fallers"].clone(),
            r.body["links"].clone()
        ),
        (json!([]), json!([]), json!([]))
    );
    let tomorrow = (today() + Days::new(1)).format("%Y-%m-%d").to_string();
    for path in [
        format!("/links/{code}/insights?date={tomorrow}"),
        format!("/links/{code}/insights?date=2026-1-1"),
        format!("/insights?date={tomorrow}"),
    ] {
        api.send(Method::GET, &path, Some(&key), None)
            .await
            .assert_error(400, "invalid_date");
    }
    api.send(Method::GET, "/insights", None, None)
        .await
        .assert_error(401, "unauthorized");
    api.send(Method::GET, "/insights?owner=x", Some(&key), None)
        .await
        .assert_error(400, "invalid_owner");
    api.send(Method::GET, "/links/zzzzzzzzzz9/insights", Some(&key), None)
        .await
        .assert_error(404, "not_found");
    api.send(Method::POST, "/insights", Some(&key), Some(json!({})))
        .await
        .assert_error(405, "method_not_allowed");
    // `insights` is a reserved alias (the route would hide the link).
    api.send(
        Method::POST,
        "/links",
        Some(&key),
        Some(json!({"url": unique_url("x-"), "alias": "insights"})),
    )
    .await
    .assert_error(400, "reserved_alias");
}
