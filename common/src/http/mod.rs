//! HTTP in and out, split by direction as lambda_http does: what comes in (`request`),
//! what goes out (`response`), and every way a request can fail (`error`). The request
//! wrapper that turns a handler's result into the response is `runtime::respond`.

mod error;
mod request;
mod response;

pub use error::{ApiError, ErrorCode, ModelFailure, MAX_BODY_BYTES, RETRY_AFTER_SECS};
pub use request::{
    base_url, body_of_type, edge_header, form_field, header_str, json_body, json_body_of_at_most,
    json_object, path_code, query_param, request_hosts, require_method, require_method_of_path,
    through_edge, viewer_host, visit_request, wants_html, EDGE_HEADER, LINKS_PATH_METHODS,
    MAX_FORM_BYTES,
};
pub use response::{
    csv_response, html_response, json_response, link_json, link_response, listed_link_json,
    security_headers, NO_STORE,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Gone, PatchError, UrlError};
    use lambda_http::http::Method;
    use lambda_http::{Body, Request};

    fn req(method: &str, content_type: Option<&str>, body: &str) -> Request {
        let mut b = lambda_http::http::Request::builder()
            .method(method)
            .uri("/links");
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        b.body(Body::from(body)).unwrap()
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct In {
        url: String,
    }

    fn status_of<T: std::fmt::Debug>(r: Result<T, ApiError>) -> u16 {
        r.unwrap_err().status().as_u16()
    }

    #[test]
    fn json_body_rules() {
        assert!(json_body::<In>(&req("POST", Some("application/json"), r#"{"url":"x"}"#)).is_ok());
        assert!(json_body::<In>(&req(
            "POST",
            Some("Application/JSON; charset=utf-8"),
            r#"{"url":"x"}"#
        ))
        .is_ok());
        assert!(json_body::<In>(&req("POST", None, r#"{"url":"x"}"#)).is_ok());
        assert_eq!(
            status_of(json_body::<In>(&req(
                "POST",
                Some("text/plain"),
                r#"{"url":"x"}"#
            ))),
            415
        );
        assert_eq!(
            status_of(json_body::<In>(&req(
                "POST",
                Some("application/x-www-form-urlencoded"),
                "url=x"
            ))),
            415
        );
        assert_eq!(status_of(json_body::<In>(&req("POST", None, ""))), 400);
        assert_eq!(status_of(json_body::<In>(&req("POST", None, "{"))), 400);
        assert_eq!(
            status_of(json_body::<In>(&req("POST", None, r#"{"url":1}"#))),
            400
        );
        assert_eq!(
            status_of(json_body::<In>(&req("POST", None, r#"{"url":"x","y":1}"#))),
            400
        );
        let huge = format!(r#"{{"url":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert_eq!(status_of(json_body::<In>(&req("POST", None, &huge))), 413);
    }

    #[test]
    fn error_shape_and_headers() {
        let resp = ApiError::Unavailable("connection refused to 10.0.0.1".into()).into_response();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "1");
        let body: serde_json::Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
        assert_eq!(body["error"]["code"], "store_unavailable");
        assert!(
            !body.to_string().contains("10.0.0.1"),
            "cause must not leak"
        );

        let resp = ApiError::MethodNotAllowed {
            allow: "POST".into(),
        }
        .into_response();
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()["allow"], "POST");
        assert_eq!(
            resp.headers()["content-type"],
            "application/json; charset=utf-8"
        );
    }

    #[test]
    fn lifecycle_errors() {
        let resp = ApiError::Unauthorized("no key").into_response();
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert_eq!(ApiError::Forbidden.status(), 403);
        assert_eq!(ApiError::Forbidden.code(), "forbidden");
        for (gone, code) in [
            (Gone::Expired, "link_expired"),
            (Gone::VisitLimit, "link_expired"),
            (Gone::Disabled, "link_disabled"),
        ] {
            let e = ApiError::Gone(gone);
            assert_eq!((e.status().as_u16(), e.code().as_str()), (410, code));
            let resp = e.into_response();
            assert!(resp.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("no-store"));
        }
        for (e, code) in [
            (PatchError::ExpiresAt, "invalid_expires_at"),
            (PatchError::MaxVisits, "invalid_max_visits"),
            (PatchError::Disabled, "invalid_disabled"),
            (PatchError::ForwardQuery, "invalid_forward_query"),
            (PatchError::Title, "invalid_title"),
            (PatchError::Tags, "invalid_tags"),
            (PatchError::UrlType, "invalid_url"),
            (PatchError::UnknownField("x".into()), "unknown_field"),
            (PatchError::Url(UrlError::OwnHost), "self_link"),
            (
                PatchError::Url(UrlError::PrivateTarget("10.0.0.1".into())),
                "private_target",
            ),
        ] {
            let e = ApiError::from(e);
            assert_eq!((e.status().as_u16(), e.code().as_str()), (400, code));
        }
    }

    /// `ErrorCode::ALL` is made from the declaration itself; what can still go wrong is two
    /// variants with one code, or a code that is not snake_case.
    #[test]
    fn every_code_is_distinct_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
    }

    /// The analytics model's failures: each its status, code and headers, the cause kept
    /// for the log, and what else the caller gets beside `error`.
    #[test]
    fn model_failures_and_the_question_limit() {
        use error::ModelFailure;
        for (e, status, code, retry) in [
            (ModelFailure::Disabled, 501, "ask_disabled", None),
            (ModelFailure::Busy("t".into()), 503, "model_busy", Some("1")),
            (
                ModelFailure::Timeout("t".into()),
                504,
                "model_timeout",
                None,
            ),
            (ModelFailure::Failed("t".into()), 502, "model_error", None),
        ] {
            let e = ApiError::Model(e);
            assert_eq!((e.status().as_u16(), e.code().as_str()), (status, code));
            assert_eq!(e.cause().is_some(), status != 501);
            let mut extra = serde_json::Map::new();
            extra.insert("insights".into(), serde_json::json!([]));
            let resp = e.into_response_with(extra);
            assert_eq!(
                resp.headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap()),
                retry
            );
            let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
            assert_eq!(body["error"]["code"], code);
            assert_eq!(body["insights"], serde_json::json!([]));
        }
        let e = ApiError::TooManyQuestions {
            retry_after: 42,
            limit: 20,
        };
        assert_eq!(
            e.to_string(),
            "this key asked 20 questions this hour: try again in 42 s"
        );
        let resp = e.into_response();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "42");
    }

    #[test]
    fn method_check() {
        assert!(require_method(&req("POST", None, ""), &[Method::POST]).is_ok());
        let e = require_method(&req("GET", None, ""), &[Method::POST, Method::PATCH]).unwrap_err();
        assert_eq!(e.status(), 405);
        assert_eq!(e.into_response().headers()["allow"], "POST, PATCH");
        let e = require_method_of_path(&req("PUT", None, ""), &[Method::POST], LINKS_PATH_METHODS)
            .unwrap_err();
        assert_eq!(e.into_response().headers()["allow"], "GET, POST");
    }

    #[test]
    fn base_url_from_request() {
        let config =
            crate::config::Config::from_lookup(|k| (k == "TABLE_NAME").then(|| "t".into()))
                .unwrap();
        let r = lambda_http::http::Request::builder()
            .uri("/links")
            .header("host", "Sho.RT")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(
            base_url(&r, &config).unwrap().short_url("a"),
            "https://sho.rt/a"
        );
        let r = lambda_http::http::Request::builder()
            .uri("/links")
            .header("host", "localhost:9000")
            .header("x-forwarded-proto", "http")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(
            base_url(&r, &config).unwrap().short_url("a"),
            "http://localhost:9000/a"
        );
        let r = lambda_http::http::Request::builder()
            .uri("/links")
            .header("host", "evil.example/x")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(status_of(base_url(&r, &config)), 400);
    }
}
