//! `GET /links/{code}/stats?from=&to=`: creation time, all-time visits and bot visits, a
//! dense daily histogram and the breakdowns (referrers, sources, devices, browsers,
//! countries) over the range, from one `Query`. Public for anonymous links; an owned
//! link's owner or an admin otherwise (`common::views`).

use common::http::{json_response, require_method, ApiError};
use common::views::link_stats;
use common::App;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

common::lambda_main!("stats", stats);

async fn stats(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::GET], "GET")?;
    let stats = link_stats(app, &req).await?;
    Ok(json_response(StatusCode::OK, &stats.to_json()))
}
