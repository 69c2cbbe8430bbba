//! `GET /links/{code}/stats?from=&to=`: creation time, all-time visits and bot visits, a
//! dense daily histogram and the breakdowns (referrers, sources, devices, browsers,
//! countries) over the range, from one `Query`. Public for anonymous links; an owned
//! link's owner or an admin otherwise.

use chrono::Utc;
use common::auth;
use common::domain::link::rfc3339;
use common::domain::{histogram, span, top_breakdowns, DateRange};
use common::http::{json_response, path_code, query_param, require_method, ApiError};
use common::App;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

common::lambda_main!("stats", stats);

async fn stats(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::GET], "GET")?;
    let code = path_code(&req)?;
    let range = DateRange::parse(query_param(&req, "from"), query_param(&req, "to"))?;
    let caller = app.auth.caller(&app.store, &req).await?;
    let history = app
        .store
        .stats_for(&code)
        .await?
        .ok_or(ApiError::NotFound)?;
    let link = &history.link;
    auth::may_read_stats(caller.as_ref(), link)?;

    let today = Utc::now().date_naive();
    let created = link.created_at.date_naive();
    let daily = histogram(&history.daily, &history.bot_daily, created, today, range);
    let (start, end) = span(created, today, range);
    let body = json!({
        "code": link.code.as_str(),
        "url": link.url.as_str(),
        "created_at": rfc3339(link.created_at),
        "total_visits": history.total_visits(),
        "bot_visits": history.total_bot_visits(),
        "daily": daily,
        "breakdowns": top_breakdowns(&history.breakdowns, start, end),
    });
    Ok(json_response(StatusCode::OK, &body))
}
