//! The read routes of visits:
//! - `GET /links/{code}/stats?from=&to=`: creation time, all-time visits and bot visits, a
//!   dense daily histogram and the breakdowns (referrers, sources, devices, browsers,
//!   countries) over the range, from one `Query`. Public for anonymous links; an owned
//!   link's owner or an admin otherwise (`common::views`).
//! - `GET /links/{code}/stats.csv?from=&to=`: the same days as `date,dimension,key,visits`
//!   rows, same access.
//! - `GET /stats?period=day|all&date=&limit=`: the most visited links, as the `aggregate`
//!   function last ranked them (seconds behind the redirects); one `GetItem` and one
//!   `BatchGetItem`, whatever the number of links. An admin's: it shows every owner's links.

use chrono::Utc;
use common::auth;
use common::domain::link::rfc3339;
use common::domain::{Period, RankingQuery};
use common::http::{base_url, csv_response, json_response, query_param, require_method, ApiError};
use common::views::link_stats;
use common::App;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

common::lambda_main!("stats", stats);

async fn stats(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::GET])?;
    let per_link = req
        .path_parameters_ref()
        .is_some_and(|p| p.first("code").is_some());
    if !per_link {
        return ranking(app, &req).await;
    }
    let stats = link_stats(app, &req).await?;
    if req.raw_http_path().ends_with("/stats.csv") {
        let name = format!("{}-stats.csv", stats.link.code);
        return Ok(csv_response(stats.to_csv(), &name));
    }
    Ok(json_response(StatusCode::OK, &stats.to_json()))
}

async fn ranking(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.auth.caller(&app.store, req).await?;
    auth::may_read_rankings(caller.as_ref())?;
    let query = RankingQuery::parse(
        query_param(req, "period"),
        query_param(req, "date"),
        query_param(req, "limit"),
        Utc::now().date_naive(),
    )?;
    let base = base_url(req, &app.config)?;
    let ranking = app.store.top_links(query.period, query.limit).await?;
    let links: Vec<_> = ranking
        .links
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({
                "rank": i + 1,
                "code": l.code,
                "short_url": base.short_url(&l.code),
                "url": l.url,
                "visits": l.visits,
            })
        })
        .collect();
    let (period, date) = match query.period {
        Period::All => ("all", None),
        Period::Day(d) => ("day", Some(common::domain::day_string(d))),
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "period": period,
            "date": date,
            "limit": query.limit,
            "updated_at": ranking.updated_at.map(rfc3339),
            "links": links,
        }),
    ))
}
