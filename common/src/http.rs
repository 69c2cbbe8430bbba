//! HTTP in and out: reading API Gateway requests into domain values, and the one place
//! where results and errors become statuses and JSON bodies.

use std::future::Future;
use std::time::Instant;

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use crate::config::{BaseUrl, Config};
use crate::domain::link::rfc3339;
use crate::domain::{AliasError, Code, DateError, Gone, Link, PatchError, RankingError, UrlError};
use crate::metrics::{emit, request_line, BotVisit, RequestRecord};
use crate::store::{CreateError, Store, StoreError};

/// Largest request body accepted (a 2048-character URL and an alias fit many times over).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Keeps browsers and shared caches from storing a redirect or a refusal, so every visit
/// reaches the function and is counted.
pub const NO_STORE: &str = "private, no-store, max-age=0";
/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u32 = 1;

/// Every `error.code` the API answers with: `ApiError::code` and the codes handlers give
/// `ApiError::bad_request`. openapi.json lists the same (integration/tests/openapi.rs).
pub const ERROR_CODES: &[&str] = &[
    "invalid_json",
    "invalid_url",
    "unsupported_scheme",
    "url_too_long",
    "blocked_host",
    "self_link",
    "invalid_host",
    "invalid_alias",
    "reserved_alias",
    "invalid_date",
    "invalid_range",
    "invalid_period",
    "invalid_expires_at",
    "invalid_max_visits",
    "invalid_disabled",
    "unknown_field",
    "invalid_limit",
    "invalid_cursor",
    "invalid_size",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "alias_taken",
    "link_expired",
    "link_disabled",
    "payload_too_large",
    "unsupported_media_type",
    "store_unavailable",
    "internal_error",
];

/// Every way a request can fail, each with its status, its machine-readable code and a
/// message fit for the client. Causes of 5xx are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("this key may not do this (another owner's link, or an admin's route)")]
    Forbidden,
    #[error("no link with this code")]
    NotFound,
    #[error("{0}")]
    Gone(Gone),
    #[error("method not allowed: use {allow}")]
    MethodNotAllowed { allow: &'static str },
    #[error("{0}")]
    AliasTaken(String),
    #[error("request body is larger than {MAX_BODY_BYTES} bytes")]
    PayloadTooLarge,
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("the link store is unavailable, retry shortly")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::AliasTaken(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::Gone(Gone::Disabled) => "link_disabled",
            ApiError::Gone(Gone::Expired | Gone::VisitLimit) => "link_expired",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::AliasTaken(_) => "alias_taken",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable(_) => "store_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// What is logged beside the response: the hidden cause of a 5xx.
    pub fn cause(&self) -> Option<&str> {
        match self {
            ApiError::Unavailable(c) | ApiError::Internal(c) => Some(c),
            _ => None,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let body = json!({"error": {"code": self.code(), "message": self.to_string()}});
        let mut resp = json_response(self.status(), &body);
        let headers = resp.headers_mut();
        match self {
            ApiError::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Gone(_) => {
                // Refusals of a link may be lifted (PATCH): no browser may keep one.
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
            }
            _ => {}
        }
        resp
    }
}

impl From<UrlError> for ApiError {
    fn from(e: UrlError) -> Self {
        let code = match e {
            UrlError::TooLong { .. } => "url_too_long",
            UrlError::Scheme(_) => "unsupported_scheme",
            UrlError::Blocked(_) => "blocked_host",
            UrlError::OwnHost => "self_link",
            _ => "invalid_url",
        };
        ApiError::bad_request(code, e.to_string())
    }
}

impl From<AliasError> for ApiError {
    fn from(e: AliasError) -> Self {
        let code = match e {
            AliasError::Reserved(_) => "reserved_alias",
            _ => "invalid_alias",
        };
        ApiError::bad_request(code, e.to_string())
    }
}

impl From<DateError> for ApiError {
    fn from(e: DateError) -> Self {
        let code = match e {
            DateError::Format { .. } => "invalid_date",
            DateError::Reversed { .. } => "invalid_range",
        };
        ApiError::bad_request(code, e.to_string())
    }
}

impl From<RankingError> for ApiError {
    fn from(e: RankingError) -> Self {
        match e {
            RankingError::Date(d) => d.into(),
            RankingError::Period | RankingError::DateWithAll => {
                ApiError::bad_request("invalid_period", e.to_string())
            }
            RankingError::Limit => ApiError::bad_request("invalid_limit", e.to_string()),
        }
    }
}

impl From<PatchError> for ApiError {
    fn from(e: PatchError) -> Self {
        match e {
            PatchError::Url(u) => u.into(),
            PatchError::UnknownField(_) => ApiError::bad_request("unknown_field", e.to_string()),
            PatchError::UrlType => ApiError::bad_request("invalid_url", e.to_string()),
            PatchError::ExpiresAt => ApiError::bad_request("invalid_expires_at", e.to_string()),
            PatchError::MaxVisits => ApiError::bad_request("invalid_max_visits", e.to_string()),
            PatchError::Disabled => ApiError::bad_request("invalid_disabled", e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) | StoreError::Throttled(_) => {
                ApiError::Unavailable(e.to_string())
            }
            StoreError::Malformed { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<CreateError> for ApiError {
    fn from(e: CreateError) -> Self {
        match e {
            CreateError::AliasTaken(_) => ApiError::AliasTaken(e.to_string()),
            CreateError::CodesExhausted => ApiError::Internal(e.to_string()),
            CreateError::Store(s) => s.into(),
        }
    }
}

pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    // Serializing plain data types cannot fail; an empty body would still be a valid reply.
    let text = serde_json::to_string(body).unwrap_or_default();
    let mut resp = Response::new(Body::Text(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// A link as the API shows it. `total_visits` where the caller read the counters.
pub fn link_json(link: &Link, base: &BaseUrl, total_visits: Option<u64>) -> serde_json::Value {
    let mut body = json!({
        "code": link.code.as_str(),
        "short_url": base.short_url(link.code.as_str()),
        "url": link.url.as_str(),
        "created_at": rfc3339(link.created_at),
        "kind": link.kind.as_str(),
        "owner": link.owner.as_ref().map(|o| o.as_str()),
        "expires_at": link.expires_at.map(rfc3339),
        "max_visits": link.max_visits,
        "disabled": link.disabled,
    });
    if let Some(total) = total_visits {
        body["total_visits"] = total.into();
    }
    body
}

pub fn link_response(
    status: StatusCode,
    link: &Link,
    base: &BaseUrl,
    total_visits: Option<u64>,
) -> Response<Body> {
    json_response(status, &link_json(link, base, total_visits))
}

/// Refuses any method not in `allowed` with 405 and an `Allow` header.
pub fn require_method(
    req: &Request,
    allowed: &[Method],
    allow: &'static str,
) -> Result<(), ApiError> {
    if allowed.contains(req.method()) {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed { allow })
    }
}

/// Parses a JSON body: `application/json` (or no content type at all), at most
/// `MAX_BODY_BYTES`, text or base64 as API Gateway delivers it, no unknown fields.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "invalid_json",
            "request body is empty",
        ));
    }
    let invalid = |e: serde_json::Error| {
        ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}"))
    };
    // Through a `Value` first: serde would otherwise also take a struct from a JSON array.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(invalid)?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the body must be a JSON object",
        ));
    }
    T::deserialize(value).map_err(invalid)
}

/// A JSON object body, by the same rules as `json_body`, for merge patches.
pub fn json_object(req: &Request) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    json_body(req)
}

/// The `{code}` path parameter, when it can name a link at all.
pub fn path_code(req: &Request) -> Result<Code, ApiError> {
    req.path_parameters_ref()
        .and_then(|p| p.first("code"))
        .and_then(Code::parse)
        .ok_or(ApiError::NotFound)
}

/// A request header as text; `None` when absent or not visible ASCII.
pub fn header_str<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

/// The base of short URLs: configured, or else the scheme and host the request came to.
pub fn base_url(req: &Request, config: &Config) -> Result<BaseUrl, ApiError> {
    if let Some(base) = &config.public_base_url {
        return Ok(base.clone());
    }
    let header_str = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let proto = match header_str("x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("http") => "http",
        _ => "https",
    };
    let host = header_str("host")
        .ok_or_else(|| ApiError::bad_request("invalid_host", "the request has no Host header"))?;
    let base = (!host.contains(['/', '?', '#', '@']))
        .then(|| BaseUrl::parse(&format!("{proto}://{host}")))
        .flatten();
    base.ok_or_else(|| ApiError::bad_request("invalid_host", "the Host header is not a valid host"))
}

/// Runs a handler and turns its result into the response, with one structured log line
/// per request (never the body) that is also its metrics (`metrics`), and the hidden
/// cause of any 5xx.
pub async fn respond<F, Fut>(
    route: &'static str,
    namespace: &str,
    store: &Store,
    req: Request,
    handler: F,
) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let started = Instant::now();
    let usage_before = store.usage();
    let method = req.method().clone();
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    let code = req
        .path_parameters_ref()
        .and_then(|p| p.first("code"))
        .map(|c| c.chars().take(80).collect::<String>());
    let resp = match handler(req).await {
        Ok(resp) => resp,
        Err(e) => {
            if let Some(cause) = e.cause() {
                tracing::error!(route, %request_id, error = cause, "request failed");
            }
            e.into_response()
        }
    };
    let usage = store.usage().since(usage_before);
    let line = request_line(&RequestRecord {
        namespace,
        route,
        method: method.as_str(),
        code: code.as_deref(),
        status: resp.status(),
        latency_us: started.elapsed().as_micros() as u64,
        usage,
        bot_visit: resp.extensions().get::<BotVisit>().is_some(),
        request_id: &request_id,
        timestamp_ms: chrono::Utc::now().timestamp_millis(),
    });
    emit(&line);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

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

        let resp = ApiError::MethodNotAllowed { allow: "POST" }.into_response();
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
            assert_eq!((e.status().as_u16(), e.code()), (410, code));
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
            (PatchError::UrlType, "invalid_url"),
            (PatchError::UnknownField("x".into()), "unknown_field"),
            (PatchError::Url(UrlError::OwnHost), "self_link"),
        ] {
            let e = ApiError::from(e);
            assert_eq!((e.status().as_u16(), e.code()), (400, code));
        }
    }

    #[test]
    fn every_fixed_code_is_listed() {
        for e in [
            ApiError::Unauthorized("x"),
            ApiError::Forbidden,
            ApiError::NotFound,
            ApiError::Gone(Gone::Expired),
            ApiError::Gone(Gone::Disabled),
            ApiError::MethodNotAllowed { allow: "GET" },
            ApiError::AliasTaken("a".into()),
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType,
            ApiError::Unavailable("x".into()),
            ApiError::Internal("x".into()),
            ApiError::from(UrlError::TooLong { max: 1 }),
            ApiError::from(UrlError::Scheme("ftp".into())),
            ApiError::from(UrlError::Blocked("x".into())),
            ApiError::from(UrlError::OwnHost),
            ApiError::from(UrlError::Host),
            ApiError::from(AliasError::Reserved("links".into())),
            ApiError::from(AliasError::Characters),
            ApiError::from(DateError::Format { param: "from" }),
            ApiError::from(PatchError::MaxVisits),
            ApiError::from(PatchError::ExpiresAt),
            ApiError::from(PatchError::Disabled),
            ApiError::from(PatchError::UnknownField("x".into())),
        ] {
            assert!(ERROR_CODES.contains(&e.code()), "{}", e.code());
        }
    }

    #[test]
    fn method_check() {
        assert!(require_method(&req("POST", None, ""), &[Method::POST], "POST").is_ok());
        assert_eq!(
            status_of(require_method(
                &req("GET", None, ""),
                &[Method::POST],
                "POST"
            )),
            405
        );
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
