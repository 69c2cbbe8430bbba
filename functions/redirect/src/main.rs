//! `GET /{code}`: redirect and count the visit, as a human visit with its breakdowns or as
//! a bot visit (docs/api.md: bot policy); `HEAD /{code}`: the same headers, not counted. An
//! expired, used-up or disabled link answers 410 and counts nothing. The target is the
//! first matching redirect rule's URL or the link's own (`domain::rules`), with the
//! visitor's query string merged in for a link with `forward_query` (`domain::forward`).
//!
//! A password link answers `GET` with a form (200, counted nowhere) and `POST /{code}`
//! with the password: right -> 303 to the target, counted as a visit; wrong -> 403; past
//! the lockout -> 429, decided by one conditional write before any hashing.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use common::domain::forward::forward_query;
use common::domain::rules;
use common::domain::{password, Code, Link, Visit, VisitRequest};
use common::http::{
    edge_header, form_field, header_str, html_response, path_code, query_param, require_method,
    wants_html, ApiError, ErrorCode, NO_STORE,
};
use common::metrics::BotVisit;
use common::render::{page_csp, password_page, PASSWORD_STYLE};
use common::store::TryGate;
use common::App;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};

// The bot matcher is a large regular expression: built during Init.
common::lambda_main!("redirect", redirect, init = common::domain::visit::prepare);

async fn redirect(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::GET, Method::HEAD, Method::POST])?;
    let code = path_code(&req)?;
    let link = app.link(&code).await?.ok_or(ApiError::NotFound)?;
    let now = Utc::now();
    link.check_open(now).map_err(ApiError::Gone)?;
    let post = req.method() == Method::POST;
    if link.password_protected() {
        if !post {
            return Ok(form_page(&req, &code, StatusCode::OK, None));
        }
        if let Err(e) = unlock(app, &req, &code, &link, now).await {
            return match e {
                ApiError::WrongPassword | ApiError::TooManyAttempts { .. } if wants_html(&req) => {
                    let message = e.to_string();
                    let mut page = form_page(&req, &code, e.status(), Some(&message));
                    if let ApiError::TooManyAttempts { retry_after } = e {
                        page.headers_mut()
                            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                    }
                    Ok(page)
                }
                e => Err(e),
            };
        }
    } else if post {
        return Err(ApiError::MethodNotAllowed {
            allow: "GET, HEAD".into(),
        });
    }
    let visitor = VisitRequest {
        user_agent: header_str(&req, "user-agent"),
        referer: header_str(&req, "referer"),
        purpose: header_str(&req, "sec-purpose").or_else(|| header_str(&req, "purpose")),
        utm_source: query_param(&req, "utm_source"),
        // Only what the edge itself set: a client's own header decides nothing.
        country: edge_header(&req, &app.config, "cloudfront-viewer-country"),
        accept_language: header_str(&req, "accept-language"),
        query: req.uri().query(),
    };
    let visit = (req.method() != Method::HEAD).then(|| Visit::classify(visitor));
    let bot = matches!(visit, Some(Visit::Bot));
    // Before the count: a target too long to send counts nothing.
    let target = target(&visitor, &link)?;
    app.count_visit(&code, &link, visit.as_ref(), now).await?;
    let location = HeaderValue::from_str(&target)
        .map_err(|_| ApiError::Internal(format!("stored URL of '{code}' is not a header value")))?;
    // After a form post, 303: the browser follows with a GET.
    let status = if post {
        StatusCode::SEE_OTHER
    } else {
        app.config.redirect_status
    };
    let mut resp = Response::builder()
        .status(status)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, NO_STORE)
        .body(Body::Empty)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if bot {
        resp.extensions_mut().insert(BotVisit);
    }
    Ok(resp)
}

/// Where this visitor goes: the first matching rule's URL or the link's, with the query
/// forwarded when the link says so.
fn target<'l>(visitor: &VisitRequest<'_>, link: &'l Link) -> Result<Cow<'l, str>, ApiError> {
    let url = rules::choose(&link.rules, visitor).unwrap_or(&link.url);
    Ok(if link.forward_query {
        forward_query(url.as_str(), visitor.query)?
    } else {
        Cow::Borrowed(url.as_str())
    })
}

/// Checks the posted password: a try is reserved first (a locked link: 429 and no hash),
/// then hashed; a right one gives its try back.
async fn unlock(
    app: &App,
    req: &Request,
    code: &Code,
    link: &Link,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let candidate = form_field(req, "password")?.ok_or_else(|| {
        ApiError::bad_request(ErrorCode::InvalidForm, "the form needs a 'password' field")
    })?;
    let window = match app.store.reserve_try(code, now).await? {
        TryGate::Locked { until } => {
            let retry_after = (until - now).num_seconds().max(1) as u64;
            return Err(ApiError::TooManyAttempts { retry_after });
        }
        TryGate::Reserved { window } => window,
    };
    let hash = link.password_hash.as_deref().unwrap_or_default();
    if !password::verify(hash, &candidate) {
        tracing::info!(code = %code, "wrong password");
        return Err(ApiError::WrongPassword);
    }
    app.store.release_try(code, window).await?;
    Ok(())
}

/// The password form (HEAD: its headers), never cached or indexed, no `Location`.
fn form_page(
    req: &Request,
    code: &Code,
    status: StatusCode,
    error: Option<&str>,
) -> Response<Body> {
    let body = if req.method() == Method::HEAD {
        Body::Empty
    } else {
        Body::Text(password_page(code.as_str(), error))
    };
    let mut resp = html_response(status, body, password_csp(), NO_STORE);
    resp.headers_mut().insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    resp
}

/// The password form's Content-Security-Policy, made once per process.
fn password_csp() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| page_csp(PASSWORD_STYLE))
}
