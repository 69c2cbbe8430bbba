//! Link management, with an API key: `GET /links` (the caller's links, newest first, by
//! tag or text), `GET /links/{code}` (metadata), `PATCH /links/{code}` (JSON merge of url,
//! expires_at, max_visits, disabled, forward_query, title, tags, password, rules; a new
//! password is hashed only after the key may manage the link and every field passed),
//! `DELETE /links/{code}` (the link, its counters and its password tries).

use chrono::Utc;
use common::auth;
use common::domain::link::{check_tags, MAX_FILTER_TEXT};
use common::domain::{LinkPatch, ListCursor, ListFilter};
use common::http::{
    base_url, json_object, json_response, link_response, listed_link_json, path_code, query_param,
    request_hosts, require_method, require_method_of_path, ApiError, ErrorCode, LINKS_PATH_METHODS,
};
use common::App;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

common::lambda_main!("manage", manage);

const DEFAULT_PAGE: u16 = 20;
const MAX_PAGE: u16 = 100;

async fn manage(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let on_a_link = req
        .path_parameters_ref()
        .is_some_and(|p| p.first("code").is_some());
    if !on_a_link {
        return list(app, req).await;
    }
    require_method(&req, &[Method::GET, Method::PATCH, Method::DELETE])?;
    let code = path_code(&req)?;
    let caller = auth::require(app.auth.caller(&app.store, &req).await?)?;
    let base = base_url(&req, &app.config)?;
    // Consistent: an owner sees their own last change.
    let history = app
        .store
        .history(&code, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    auth::may_manage(Some(&caller), &history.link)?;
    let total = history.total_visits();

    match *req.method() {
        Method::DELETE => {
            app.store.delete_link(&code).await?;
            let mut resp = Response::new(Body::Empty);
            *resp.status_mut() = StatusCode::NO_CONTENT;
            Ok(resp)
        }
        Method::PATCH => {
            let body = json_object(&req)?;
            let hosts = request_hosts(&req, &base);
            let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
            let patch = LinkPatch::parse(&body, &app.config.url_policy, &hosts)?;
            if patch.is_empty() {
                return Ok(link_response(
                    StatusCode::OK,
                    &history.link,
                    &base,
                    Some(total),
                ));
            }
            let link = app
                .store
                .update_link(&code, &patch, total, Utc::now())
                .await?
                .ok_or(ApiError::NotFound)?;
            Ok(link_response(StatusCode::OK, &link, &base, Some(total)))
        }
        _ => Ok(link_response(
            StatusCode::OK,
            &history.link,
            &base,
            Some(total),
        )),
    }
}

/// `?tag=a&tag=b&tags_mode=any|all&q=text` of `GET /links`.
fn list_filter(req: &Request) -> Result<ListFilter, ApiError> {
    let tags: Vec<&str> = req
        .query_string_parameters_ref()
        .and_then(|q| q.all("tag"))
        .unwrap_or_default();
    let tags = check_tags(&tags)?;
    let all_tags = match query_param(req, "tags_mode") {
        None | Some("any") => false,
        Some("all") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidFilter,
                "'tags_mode' must be any or all",
            ))
        }
    };
    let text = match query_param(req, "q") {
        None | Some("") => None,
        Some(q) if q.chars().count() <= MAX_FILTER_TEXT => Some(q.to_owned()),
        Some(_) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidFilter,
                format!("'q' must be at most {MAX_FILTER_TEXT} characters"),
            ))
        }
    };
    Ok(ListFilter {
        tags,
        all_tags,
        text,
    })
}

/// `GET /links?limit=&cursor=&tag=&tags_mode=&q=`: one page of the caller's links.
async fn list(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method_of_path(&req, &[Method::GET], LINKS_PATH_METHODS)?;
    let caller = auth::require(app.auth.caller(&app.store, &req).await?)?;
    let limit = match query_param(&req, "limit") {
        None => DEFAULT_PAGE,
        Some(l) => l
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidLimit,
                    format!("'limit' must be 1 to {MAX_PAGE}"),
                )
            })?,
    };
    let cursor = query_param(&req, "cursor")
        .map(|c| {
            ListCursor::decode(c).ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidCursor,
                    "'cursor' is not one this API handed out",
                )
            })
        })
        .transpose()?;
    let filter = list_filter(&req)?;
    let base = base_url(&req, &app.config)?;
    let page = app
        .store
        .links_of(&caller.key_id, limit, cursor.as_ref(), &filter)
        .await?;
    let links: Vec<_> = page
        .links
        .iter()
        .map(|l| listed_link_json(l, &base))
        .collect();
    let body = json!({
        "links": links,
        "next_cursor": page.next.map(|c| c.encode()),
    });
    Ok(json_response(StatusCode::OK, &body))
}
