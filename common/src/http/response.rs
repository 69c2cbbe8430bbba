//! What goes out: JSON responses and the link as the API shows it.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::config::BaseUrl;
use crate::domain::link::rfc3339;
use crate::domain::Link;

/// Keeps browsers and shared caches from storing a redirect or a refusal, so every visit
/// reaches the function and is counted.
pub const NO_STORE: &str = "private, no-store, max-age=0";

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

/// What every HTML answer (and every console asset) carries beside its own
/// Content-Security-Policy: no MIME sniffing, no referrer sent from it, never framed.
pub fn security_headers(headers: &mut lambda_http::http::HeaderMap, csp: &str) {
    if let Ok(v) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// An HTML document under `csp`, with the security headers and `cache`.
pub fn html_response(
    status: StatusCode,
    body: Body,
    csp: &str,
    cache: &'static str,
) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    security_headers(headers, csp);
    resp
}

/// A CSV document, offered for download as `filename` (the caller's own data: no cache
/// may keep it).
pub fn csv_response(csv: String, filename: &str) -> Response<Body> {
    let mut resp = Response::new(Body::Text(csv));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    resp
}

/// A link as the API shows it (never its password, only whether it has one): the one
/// shape of `POST /links`, `GET|PATCH /links/{code}`, a batch's results, `GET /links` and
/// the JSON export (openapi.json's `Link` and `ExportedLink`).
#[derive(Debug, Clone, Serialize)]
pub struct LinkBody<'a> {
    pub code: &'a str,
    pub short_url: String,
    pub url: &'a str,
    pub created_at: String,
    pub kind: &'static str,
    pub owner: Option<&'a str>,
    pub expires_at: Option<String>,
    pub max_visits: Option<u64>,
    pub disabled: bool,
    pub forward_query: bool,
    pub title: Option<&'a str>,
    pub tags: &'a [String],
    pub password_protected: bool,
    pub rules: serde_json::Value,
    pub taken_down_at: Option<String>,
    /// All-time visits where the caller read the counters (`GET|PATCH /links/{code}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_visits: Option<u64>,
    /// The aggregator's all-time visits (`GET /links`, the export).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visits: Option<u64>,
}

/// A link as the API shows it; `total_visits` where the caller read the counters.
pub fn link_json<'a>(link: &'a Link, base: &BaseUrl, total_visits: Option<u64>) -> LinkBody<'a> {
    LinkBody {
        code: link.code.as_str(),
        short_url: base.short_url(link.code.as_str()),
        url: link.url.as_str(),
        created_at: rfc3339(link.created_at),
        kind: link.kind.as_str(),
        owner: link.owner.as_ref().map(|o| o.as_str()),
        expires_at: link.expires_at.map(rfc3339),
        max_visits: link.max_visits,
        disabled: link.disabled,
        forward_query: link.forward_query,
        title: link.title.as_deref(),
        tags: &link.tags,
        password_protected: link.password_protected(),
        rules: crate::domain::rules::to_json(&link.rules),
        taken_down_at: link.taken_down_at.map(rfc3339),
        total_visits,
        visits: None,
    }
}

/// A link as `GET /links` and the JSON export show it: the owner index's fields, and what
/// `extras` read beside it (the password's presence, the rules, all-time `visits`).
pub fn listed_link_json<'a>(
    link: &'a Link,
    base: &BaseUrl,
    extras: Option<&crate::store::ListedExtras>,
) -> LinkBody<'a> {
    let extras = extras.cloned().unwrap_or_default();
    LinkBody {
        password_protected: extras.password_protected,
        rules: crate::domain::rules::to_json(&extras.rules),
        taken_down_at: extras.taken_down_at.map(rfc3339),
        visits: Some(extras.visits),
        ..link_json(link, base, None)
    }
}

pub fn link_response(
    status: StatusCode,
    link: &Link,
    base: &BaseUrl,
    total_visits: Option<u64>,
) -> Response<Body> {
    json_response(status, &link_json(link, base, total_visits))
}
