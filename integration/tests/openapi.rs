//! openapi.json against the code it documents: the routes of template.yaml, every error
//! code the API can answer with, and the fields of the JSON the handlers build; and the
//! copy `GET /openapi.json` serves. (schemathesis, run by `make test`, checks every
//! response of the running API against it.)

mod support;

use std::collections::BTreeSet;

use chrono::Utc;
use common::config::BaseUrl;
use common::domain::{Code, Link, LinkKind, LongUrl};
use common::http::{link_json, listed_link_json, ErrorCode};
use common::views::LinkStats;
use serde_json::Value;

fn doc() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json"))
        .expect("openapi.json");
    serde_json::from_str(&text).expect("openapi.json is JSON")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn paths_are_the_routes_of_the_template() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let template: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut routes = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if let Some(events) = resource["Properties"]["Events"].as_mapping() {
            for (_, event) in events {
                let path = event["Properties"]["Path"].as_str();
                // `$default` is every undeclared path's JSON 404, not an operation.
                if event["Type"].as_str() == Some("HttpApi") && path != Some("$default") {
                    routes.insert(path.unwrap().to_owned());
                }
            }
        }
    }
    assert_eq!(keys(&doc()["paths"]), routes);
}

/// openapi.json's `ErrorCode` enum is exactly `common::http::ErrorCode`: every code the
/// API answers with is one of its variants (the compiler sees to the handlers).
#[test]
fn error_codes_are_the_apis() {
    let d = doc();
    let documented = strings(&d["components"]["schemas"]["ErrorCode"]["enum"]);
    let listed: BTreeSet<String> = ErrorCode::ALL.iter().map(|c| c.to_string()).collect();
    assert_eq!(documented, listed);
    let documented = strings(&d["components"]["schemas"]["Insight"]["properties"]["type"]["enum"]);
    let kinds: BTreeSet<String> = common::domain::insights::InsightKind::ALL
        .iter()
        .map(|k| {
            serde_json::to_value(k)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(documented, kinds);
    assert!(common::domain::insights::InsightKind::ALL
        .iter()
        .all(|k| serde_json::to_value(k).unwrap() == k.as_str()));
}

#[test]
fn response_fields_are_the_handlers() {
    let d = doc();
    let schemas = &d["components"]["schemas"];
    let link = Link::new(
        Code::parse("abc").unwrap(),
        LongUrl::from_stored("https://example.com/".into()),
        Utc::now(),
        LinkKind::Generated,
        None,
    );
    let base = BaseUrl::parse("https://sho.rt").unwrap();
    let json = serde_json::to_value(link_json(&link, &base, None)).unwrap();
    assert_eq!(keys(&json), strings(&schemas["Link"]["required"]));
    let with_total = serde_json::to_value(link_json(&link, &base, Some(3))).unwrap();
    assert_eq!(keys(&with_total), keys(&schemas["Link"]["properties"]));
    let listed = serde_json::to_value(listed_link_json(&link, &base, None)).unwrap();
    assert_eq!(keys(&listed), strings(&schemas["ListedLink"]["required"]));
    assert_eq!(keys(&listed), keys(&schemas["ListedLink"]["properties"]));

    let stats = LinkStats {
        target_visible: true,
        link,
        total_visits: 0,
        bot_visits: 0,
        daily: vec![],
        breakdowns: common::domain::top_breakdowns(
            &Default::default(),
            Utc::now().date_naive(),
            Utc::now().date_naive(),
        ),
        day_breakdowns: Default::default(),
    };
    let json = stats.to_json();
    assert_eq!(keys(&json), keys(&schemas["Stats"]["properties"]));
    assert_eq!(keys(&json), strings(&schemas["Stats"]["required"]));
    assert_eq!(
        keys(&json["breakdowns"]),
        strings(&schemas["Stats"]["properties"]["breakdowns"]["required"])
    );
}

#[tokio::test]
async fn the_api_serves_this_document() {
    let resp = support::http()
        .get(format!("{}/openapi.json", support::api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let served: Value = resp.json().await.unwrap();
    assert_eq!(served, doc());
    assert_eq!(served["openapi"], "3.1.0");
}
