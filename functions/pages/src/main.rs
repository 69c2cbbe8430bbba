//! What people and tools look at: `GET /links/{code}/qr.svg?size=` (the short URL as a QR
//! code, cacheable, not a visit), `GET /links/{code}/page?from=&to=` (the stats as a page
//! with a chart, same access rules as the JSON stats) and `GET /openapi.json` (the API's
//! OpenAPI 3.1 document).

use common::http::{base_url, path_code, query_param, require_method, ApiError, ErrorCode};
use common::render::{qr_svg, stats_page, StatsPage, QR_DEFAULT_SIZE, QR_MAX_SIZE, QR_MIN_SIZE};
use common::views::link_stats_and_insights;
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
    let (stats, insights) = link_stats_and_insights(app, req).await?;
    let base = base_url(req, &app.config)?;
    let short_url = base.short_url(stats.link.code.as_str());
    let html = stats_page(&StatsPage {
        code: stats.link.code.as_str(),
        short_url: &short_url,
        url: stats.link.url.as_str(),
        created_at: &common::domain::link::rfc3339(stats.link.created_at),
        total_visits: stats.total_visits,
        bot_visits: stats.bot_visits,
        daily: &stats.daily,
        breakdowns: &stats.breakdowns,
        password_protected: stats.link.password_protected(),
        rules: &stats.link.rules,
        insights: &insights,
    });
    Ok(reply(html, "text/html; charset=utf-8", "private, no-cache"))
}

fn reply(body: String, content_type: &'static str, cache: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}
