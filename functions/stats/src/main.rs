//! The read routes of visits:
//! - `GET /links/{code}/stats?from=&to=`: creation time, all-time visits and bot visits, a
//!   dense daily histogram and the breakdowns (referrers, sources, devices, browsers,
//!   countries) over the range, from one `Query`. Public for anonymous links; an owned
//!   link's owner or an admin otherwise (`common::views`).
//! - `GET /links/{code}/stats.csv?from=&to=`: the same days as `date,dimension,key,visits`
//!   rows, same access.
//! - `GET /links/{code}/insights?date=`: what changed in the week to `date`, by fixed rules
//!   over the same day items (`common::domain::insights`), same access.
//! - `GET /insights?date=&owner=`: across the caller's links, the week's risers, fallers
//!   and its most visited links' insights.
//! - `GET /stats?period=day|all&date=&limit=&owner=`: the most visited links, as the
//!   `aggregate` function last ranked them (seconds behind the redirects): a user key's own
//!   links with its totals for the period (visits, bot visits, links visited); an admin
//!   key's all links, or those of the `owner` it names. Two requests (the ranking and the
//!   totals, then the links' URLs), whatever the number of links.

use chrono::Utc;
use common::auth;
use common::domain::link::rfc3339;
use common::domain::{day_string, insights, Code, KeyId, Period, RankingQuery};
use common::http::{
    base_url, csv_response, json_response, query_param, require_method, ApiError, ErrorCode,
};
use common::views::{
    insight_days, insights_date, insights_of, link_insights, link_stats, owner_week, OwnerWeek,
    StatsAsk,
};
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
    let insights = req.raw_http_path().ends_with("/insights");
    if !per_link {
        if insights {
            return owner_insights(app, &req).await;
        }
        return ranking(app, &req).await;
    }
    if insights {
        let (ask, date) = StatsAsk::of_insights(app, &req).await?;
        let (link, insights) = link_insights(app, &ask, date).await?;
        return Ok(json_response(
            StatusCode::OK,
            &json!({
                "code": link.code.as_str(),
                "date": day_string(date),
                "insights": insights,
            }),
        ));
    }
    let stats = link_stats(app, &StatsAsk::of_range(app, &req).await?).await?;
    if req.raw_http_path().ends_with("/stats.csv") {
        let name = format!("{}-stats.csv", stats.link.code);
        return Ok(csv_response(stats.to_csv(), &name));
    }
    Ok(json_response(StatusCode::OK, &stats.to_json()))
}

/// `owner` of the rankings and insights: a key id, or 400.
fn owner_param(req: &Request) -> Result<Option<KeyId>, ApiError> {
    query_param(req, "owner")
        .map(|o| {
            KeyId::parse(o).ok_or_else(|| {
                ApiError::bad_request(ErrorCode::InvalidOwner, "'owner' must be a key id")
            })
        })
        .transpose()
}

/// `GET /insights?date=&owner=`: across the caller's links (whose, as for the rankings),
/// the biggest risers and fallers of the week to `date` against the week before, from the
/// 14 day rankings (one `BatchGetItem`), and the insights of the week's most visited
/// links (one `Query` each), with their URLs (one `BatchGetItem`).
async fn owner_insights(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.auth.caller(&app.store, req).await?;
    let date = insights_date(req)?;
    let named = owner_param(req)?;
    let owner = auth::rankings_scope(caller.as_ref(), named.as_ref())?;
    let OwnerWeek {
        risers,
        fallers,
        top,
        urls,
        ..
    } = owner_week(app, owner.as_ref(), date, date).await?;
    let base = base_url(req, &app.config)?;
    // Deleted links (no URL any more) are left out.
    let mover = |m: &insights::Mover| {
        let url = urls.get(&m.code)?;
        Some(json!({
            "code": m.code,
            "short_url": base.short_url(&m.code),
            "url": url.url,
            "visits": m.visits,
            "previous_visits": m.previous_visits,
            "change": m.change(),
        }))
    };
    let mut links = Vec::new();
    for m in &top {
        let Some(mut entry) = mover(m) else { continue };
        let Some(code) = Code::parse(&m.code) else {
            continue;
        };
        let today = Utc::now().date_naive();
        let Some(read) = app
            .store
            .stats_for(&code, insight_days(date), 0, today)
            .await?
        else {
            continue;
        };
        entry["insights"] = json!(insights_of(&read.found, date));
        links.push(entry);
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "owner": owner.as_ref().map(|o| o.as_str()),
            "date": day_string(date),
            "risers": risers.iter().filter_map(mover).collect::<Vec<_>>(),
            "fallers": fallers.iter().filter_map(mover).collect::<Vec<_>>(),
            "links": links,
        }),
    ))
}

async fn ranking(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = app.auth.caller(&app.store, req).await?;
    let query = RankingQuery::parse(
        query_param(req, "period"),
        query_param(req, "date"),
        query_param(req, "limit"),
        Utc::now().date_naive(),
    )?;
    let named = owner_param(req)?;
    let owner = auth::rankings_scope(caller.as_ref(), named.as_ref())?;
    let base = base_url(req, &app.config)?;
    let (ranking, totals) = match &owner {
        None => (app.store.top_links(query.period, query.limit).await?, None),
        Some(owner) => {
            let (ranking, totals) = app
                .store
                .owner_top_links(owner, query.period, query.limit)
                .await?;
            (ranking, Some(totals))
        }
    };
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
            "owner": owner.as_ref().map(|o| o.as_str()),
            "totals": totals.map(|t| json!({
                "visits": t.visits,
                "bot_visits": t.bot_visits,
                "links": t.links,
            })),
            "updated_at": ranking.updated_at.map(rfc3339),
            "links": links,
        }),
    ))
}
