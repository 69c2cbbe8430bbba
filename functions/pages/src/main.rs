//! What people and tools look at: `GET /links/{code}/qr.svg?size=` (the short URL as a QR
//! code, cacheable, not a visit), `GET /links/{code}/page?from=&to=` (the stats as a page
//! with a chart, same access rules as the JSON stats) and `GET /openapi.json` (the API's
//! OpenAPI 3.1 document), and the console for people: `GET /admin` and its assets under
//! `GET /assets/{version}/{name}` (`console.rs`).

mod console;

use common::http::{
    base_url, html_response, path_code, query_param, require_method, security_headers, ApiError,
    ErrorCode, NO_STORE,
};
use common::render::{
    page_csp, qr_svg, stats_page, StatsPage, QR_DEFAULT_SIZE, QR_MAX_SIZE, QR_MIN_SIZE, STATS_STYLE,
};
use common::views::{link_stats_and_insights, StatsAsk};
use common::App;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};

common::lambda_main!("pages", pages);

/// The document, as kept in the repository (integration/tests/openapi.rs checks it
/// against the code; schemathesis against the running API).
const OPENAPI: &str = include_str!("../../../openapi.json");

async fn pages(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::GET, Method::HEAD])?;
    let path = req.raw_http_path().to_owned();
    if path.ends_with("/qr.svg") {
        qr(app, &req).await
    } else if path.ends_with("/page") {
        page(app, &req).await
    } else if path == "/admin" {
        Ok(html_response(
            StatusCode::OK,
            head_or(&req, console::page()),
            console::CSP,
            NO_STORE,
        ))
    } else if let Some(rest) = path.strip_prefix("/assets/") {
        console_asset(&req, rest)
    } else if path == "/openapi.json" {
        Ok(reply(
            OPENAPI.to_owned(),
            "application/json; charset=utf-8",
            "public, max-age=300",
        ))
    } else {
        Err(ApiError::NotFound)
    }
}

async fn qr(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let code = path_code(req)?;
    let size = match query_param(req, "size") {
        None => QR_DEFAULT_SIZE,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (QR_MIN_SIZE..=QR_MAX_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidSize,
                    format!("'size' must be {QR_MIN_SIZE} to {QR_MAX_SIZE} pixels"),
                )
            })?,
    };
    // The redirect's cached lookup: a QR code is no visit and counts nothing.
    app.link(&code).await?.ok_or(ApiError::NotFound)?;
    let short_url = base_url(req, &app.config)?.short_url(code.as_str());
    let svg = qr_svg(&short_url, size)
        .ok_or_else(|| ApiError::Internal("short URL too long for a QR code".into()))?;
    // A code's short URL never changes: browsers and CDNs may keep it a day.
    Ok(reply(svg, "image/svg+xml", "public, max-age=86400"))
}

async fn page(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let ask = StatsAsk::of_range(app, req).await?;
    let (stats, insights) = link_stats_and_insights(app, &ask).await?;
    let base = base_url(req, &app.config)?;
    let short_url = base.short_url(stats.link.code.as_str());
    let html = stats_page(&StatsPage {
        code: stats.link.code.as_str(),
        short_url: &short_url,
        url: stats.target(),
        created_at: &common::domain::link::rfc3339(stats.link.created_at),
        total_visits: stats.total_visits,
        bot_visits: stats.bot_visits,
        daily: &stats.daily,
        breakdowns: &stats.breakdowns,
        password_protected: stats.link.password_protected(),
        rules: stats.rules(),
        insights: &insights,
    });
    Ok(html_response(
        StatusCode::OK,
        Body::Text(html),
        stats_csp(),
        "private, no-cache",
    ))
}

/// The stats page's Content-Security-Policy, made once per process.
fn stats_csp() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| page_csp(STATS_STYLE))
}

/// `HEAD` gets the headers only.
fn head_or(req: &Request, body: &'static str) -> Body {
    if req.method() == Method::HEAD {
        Body::Empty
    } else {
        Body::Text(body.to_owned())
    }
}

/// `/assets/{version}/{name}`: kept a year by any cache (the version names the content),
/// `304` for a browser that has it, under the console's CSP like the page.
fn console_asset(req: &Request, rest: &str) -> Result<Response<Body>, ApiError> {
    let (version, name) = rest.split_once('/').ok_or(ApiError::NotFound)?;
    let asset = console::asset(version, name).ok_or(ApiError::NotFound)?;
    let etag = format!("\"{}\"", console::version());
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        let mut r = Response::new(Body::Empty);
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        reply_static(head_or(req, asset.body), asset.content_type)
    };
    let headers = resp.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    security_headers(headers, console::CSP);
    Ok(resp)
}

fn reply_static(body: Body, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(body);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn reply(body: String, content_type: &'static str, cache: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}
