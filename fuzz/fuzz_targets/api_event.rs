//! The event-to-request path: an API Gateway v2 event with arbitrary body (text or base64),
//! content type, path parameter and query goes through lambda_http and the request helpers
//! the handlers use. Never a panic; every refusal is a 4xx.
#![no_main]

use arbitrary::Arbitrary;
use base64::{engine::general_purpose::STANDARD, Engine};
use common::domain::{Alias, DateRange, LongUrl, UrlPolicy};
use common::http::{json_body, path_code, query_param, ApiError};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

#[derive(Arbitrary, Debug)]
struct Input {
    body: Vec<u8>,
    base64: bool,
    content_type: Option<String>,
    code: String,
    from: Option<String>,
    to: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateLink {
    url: String,
    #[serde(default)]
    alias: Option<String>,
}

fn is_4xx(e: &ApiError) -> bool {
    e.status().is_client_error()
}

fuzz_target!(|input: Input| {
    let body = if input.base64 {
        STANDARD.encode(&input.body)
    } else {
        String::from_utf8_lossy(&input.body).into_owned()
    };
    let mut headers = json!({"host": "sho.rt"});
    if let Some(ct) = &input.content_type {
        headers["content-type"] = json!(ct);
    }
    let mut query = serde_json::Map::new();
    if let Some(f) = &input.from {
        query.insert("from".into(), json!(f));
    }
    if let Some(t) = &input.to {
        query.insert("to".into(), json!(t));
    }
    let event = json!({
        "version": "2.0", "routeKey": "ANY /links", "rawPath": "/links", "rawQueryString": "",
        "headers": headers, "queryStringParameters": query,
        "pathParameters": {"code": input.code},
        "requestContext": {"http": {"method": "POST", "path": "/links", "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7", "userAgent": "fuzz"}, "requestId": "fuzz",
            "routeKey": "ANY /links", "stage": "$default", "accountId": "1", "apiId": "a",
            "domainName": "sho.rt", "domainPrefix": "sho", "time": "x", "timeEpoch": 0},
        "body": body, "isBase64Encoded": input.base64,
    });
    let Ok(req) = lambda_http::request::from_str(&event.to_string()) else {
        return;
    };
    match json_body::<CreateLink>(&req) {
        Ok(create) => {
            if let Err(e) = LongUrl::parse(&create.url, &UrlPolicy::default(), &["sho.rt"]) {
                assert!(is_4xx(&e.into()));
            }
            if let Some(Err(e)) = create.alias.as_deref().map(Alias::parse) {
                assert!(is_4xx(&e.into()));
            }
        }
        Err(e) => assert!(is_4xx(&e), "{e:?}"),
    }
    if let Err(e) = path_code(&req) {
        assert!(is_4xx(&e));
    }
    if let Err(e) = DateRange::parse(query_param(&req, "from"), query_param(&req, "to")) {
        assert!(is_4xx(&e.into()));
    }
});
