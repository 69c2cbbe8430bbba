//! openapi.json against the code it documents: the routes of template.yaml, every error
//! code the API can answer with, and the fields of the JSON the handlers build; and the
//! copy `GET /openapi.json` serves. (schemathesis, run by `make test`, checks every
//! response of the running API against it.)

mod support;

use std::collections::BTreeSet;

use chrono::Utc;
use common::config::BaseUrl;
use common::domain::{Code, Link, LinkKind, LongUrl};
use common::http::{link_json, ERROR_CODES};
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

#[test]
fn error_codes_are_the_apis() {
    let d = doc();
    let documented = strings(&d["components"]["schemas"]["ErrorCode"]["enum"]);
    let listed: BTreeSet<String> = ERROR_CODES.iter().map(|c| c.to_string()).collect();
    assert_eq!(documented, listed);
    // And every code a handler passes to `bad_request` is listed (the fixed ones are
    // checked by a unit test of common::http).
    let mut used = BTreeSet::new();
    for dir in ["common/src", "functions"] {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(dir);
        let mut stack = vec![root];
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for part in text.split("bad_request(").skip(1) {
                    let literal = part
                        .trim_start()
                        .strip_prefix('"')
                        .and_then(|s| s.split('"').next());
                    if let Some(code) =
                        literal.filter(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                    {
                        used.insert(code.to_owned());
                    }
                }
            }
        }
    }
    assert!(used.len() >= 10, "{used:?}");
    assert!(
        used.is_subset(&listed),
        "{:?}",
        used.difference(&listed).collect::<Vec<_>>()
    );
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
    let json = link_json(&link, &base, None);
    assert_eq!(keys(&json), strings(&schemas["Link"]["required"]));
    let with_total = link_json(&link, &base, Some(3));
    assert_eq!(keys(&with_total), keys(&schemas["Link"]["properties"]));

    let stats = LinkStats {
        link,
        total_visits: 0,
        bot_visits: 0,
        daily: vec![],
        breakdowns: common::domain::top_breakdowns(
            &Default::default(),
            Utc::now().date_naive(),
            Utc::now().date_naive(),
        ),
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
