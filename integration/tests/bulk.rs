//! End to end, `POST /links/bulk` through `cargo lambda watch` and the real DynamoDB Local:
//! each item behaves as a single create, results come back in input order, whole-request
//! errors write nothing.

mod support;

use common::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};
use support::{unique, unique_url, Api, Reply};

/// `POST /links/bulk` with `links` and a key.
async fn bulk(api: &Api, key: &str, links: Value) -> Reply {
    api.send(
        Method::POST,
        "/links/bulk",
        Some(key),
        Some(json!({ "links": links })),
    )
    .await
}

#[tokio::test]
async fn each_item_as_a_single_create_in_input_order() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let (other, _) = api.issue_key(Role::User).await;
    let a = unique_url("bulk-a-");
    let b = unique_url("bulk-b-");
    let taken = unique("taken-");
    // An alias another key holds for another URL.
    let r = api
        .send(
            Method::POST,
            "/links",
            Some(&other),
            Some(json!({"url": unique_url("x-"), "alias": taken})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let fresh_alias = unique("fresh-");
    let single = api
        .send(Method::POST, "/links", Some(&key), Some(json!({"url": b})))
        .await;
    assert_eq!(single.status, 201);

    let items = json!([
        {"url": a, "tags": ["Q4"]},
        {"url": "javascript:alert(1)"},
        {"url": b},
        {"url": a, "alias": taken},
        {"url": a, "alias": fresh_alias, "title": "fresh"},
        {"url": a, "alias": "bulk"},
        {"url": "http://10.1.2.3/admin"},
        {"url": a, "password": "open sesame"},
        {"nope": 1},
        {"url": a, "rules": [{"url": "https://example.com/m", "conditions": [{"type": "device", "value": "phone"}]}]}
    ]);
    let r = bulk(&api, &key, json!(items)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 10);
    for (i, res) in results.iter().enumerate() {
        assert_eq!(res["index"], i, "input order");
    }
    let status = |i: usize| results[i]["status"].as_u64().unwrap();
    let error = |i: usize| {
        results[i]["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(status(0), 201);
    assert_eq!(results[0]["link"]["tags"], json!(["q4"]));
    assert_eq!((status(1), error(1)), (400, "unsupported_scheme".into()));
    // The same code a single create gave, as an existing link.
    assert_eq!(status(2), 200);
    assert_eq!(results[2]["link"]["code"], single.body["code"]);
    assert_eq!((status(3), error(3)), (409, "alias_taken".into()));
    assert_eq!(status(4), 201);
    assert_eq!(results[4]["link"]["code"], fresh_alias);
    assert_eq!((status(5), error(5)), (400, "reserved_alias".into()));
    assert_eq!((status(6), error(6)), (400, "private_target".into()));
    assert_eq!(status(7), 201);
    assert_eq!(results[7]["link"]["password_protected"], true);
    assert_eq!((status(8), error(8)), (400, "invalid_json".into()));
    assert_eq!((status(9), error(9)), (400, "invalid_rules".into()));
    let owned = results[0]["link"]["owner"].as_str().unwrap();
    assert!(results
        .iter()
        .filter_map(|r| r["link"]["owner"].as_str())
        .all(|o| o == owned));

    // A second identical batch: every link already there, every refusal the same.
    let again = bulk(&api, &key, json!([{"url": a, "tags": ["Q4"]}, {"url": b}])).await;
    let again = again.body["results"].as_array().unwrap();
    assert_eq!(
        (again[0]["status"].as_u64(), again[1]["status"].as_u64()),
        (Some(200), Some(200))
    );
    assert_eq!(again[0]["link"]["code"], results[0]["link"]["code"]);
}

#[tokio::test]
async fn whole_request_errors_write_nothing() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let url = unique_url("bulk-none-");
    let one = json!({"url": url});

    let r = api
        .send(
            Method::POST,
            "/links/bulk",
            None,
            Some(json!({"links": [one]})),
        )
        .await;
    r.assert_error(401, "unauthorized");
    for body in [
        json!({"links": []}),
        json!({"links": vec![one.clone(); 101]}),
    ] {
        let r = api
            .send(Method::POST, "/links/bulk", Some(&key), Some(body))
            .await;
        r.assert_error(400, "invalid_batch_size");
    }
    for body in [json!({"links": one}), json!({"items": [one]}), json!([one])] {
        let r = api
            .send(Method::POST, "/links/bulk", Some(&key), Some(body))
            .await;
        r.assert_error(400, "invalid_json");
    }
    let huge: Vec<Value> = (0..100)
        .map(|i| json!({"url": format!("{url}?{i}"), "title": "t".repeat(200), "tags": ["x".repeat(32)], "alias": null, "rules": [{"url": format!("https://example.com/{}", "p".repeat(1800)), "conditions": [{"type": "os", "value": "ios"}]}, {"url": format!("https://example.com/{}", "q".repeat(1800)), "conditions": [{"type": "os", "value": "ios"}]}, {"url": format!("https://example.com/{}", "r".repeat(1800)), "conditions": [{"type": "os", "value": "ios"}]}]}))
        .collect();
    let r = bulk(&api, &key, json!(huge)).await;
    r.assert_error(413, "payload_too_large");
    let r = Reply::of(
        api.http
            .post(format!("{}/links/bulk", api.base))
            .bearer_auth(&key)
            .header("content-type", "text/plain")
            .body(json!({"links": [one]}).to_string()),
    )
    .await;
    r.assert_error(415, "unsupported_media_type");
    let r = api.send(Method::GET, "/links/bulk", Some(&key), None).await;
    r.assert_error(405, "method_not_allowed");
    assert!(api.first_code_is_free(&url).await, "nothing written");
}

#[tokio::test]
async fn at_most_ten_password_links_per_batch() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let items: Vec<Value> = (0..12)
        .map(|_| json!({"url": unique_url("bulk-pw-"), "password": "open sesame"}))
        .collect();
    let r = bulk(&api, &key, json!(items)).await;
    let statuses: Vec<u64> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [vec![201; 10], vec![400; 2]].concat(),
        "{}",
        r.body
    );
    assert_eq!(r.body["results"][11]["error"]["code"], "invalid_password");
}
