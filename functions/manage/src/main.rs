//! Link management, with an API key: `GET /links` (the caller's links, newest first, by
//! tag or text), `GET /links/{code}` (metadata), `PATCH /links/{code}` (JSON merge of url,
//! expires_at, max_visits, disabled, forward_query, title, tags, password, rules; a new
//! password is hashed only after the key may manage the link and every field passed),
//! `DELETE /links/{code}` (the link, its counters and its password tries), and
//! `GET /links/export` (the caller's links with their visits, as CSV or JSON), and
//! `GET /keys/me` (who the caller's key is: what the console signs in with).

use chrono::Utc;
use common::auth;
use common::domain::link::{check_tags, rfc3339, MAX_FILTER_TEXT};
use common::domain::sheet::{Cell, CsvWriter, EXPORT_HEADER};
use common::domain::{Code, Link, LinkPatch, ListCursor, ListFilter, Principal, Role};
use common::http::{
    base_url, csv_response, json_object, json_response, link_response, listed_link_json, path_code,
    query_param, request_hosts, require_method, require_method_of_path, ApiError, ErrorCode,
    LINKS_PATH_METHODS, NO_STORE,
};
use common::store::{LinksPage, Updated};
use common::App;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

common::lambda_main!("manage", manage);

const DEFAULT_PAGE: u16 = 20;
const MAX_PAGE: u16 = 100;
/// Links per page of an export (and its default).
const MAX_EXPORT_PAGE: u16 = 1000;

async fn manage(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let on_a_link = req
        .path_parameters_ref()
        .is_some_and(|p| p.first("code").is_some());
    if !on_a_link {
        if req.raw_http_path() == "/keys/me" {
            return whoami(app, req).await;
        }
        if req.raw_http_path().ends_with("/links/export") {
            return export(app, req).await;
        }
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

    let admin = caller.role == Role::Admin;
    match *req.method() {
        Method::DELETE => {
            if history.link.taken_down_at.is_some() && !admin {
                return Err(ApiError::TakenDown);
            }
            changed(app.store.delete_link(&history.link, admin).await?)?;
            let mut resp = Response::new(Body::Empty);
            *resp.status_mut() = StatusCode::NO_CONTENT;
            Ok(resp)
        }
        Method::PATCH => {
            let body = json_object(&req)?;
            let hosts = request_hosts(&req, &base, &app.config);
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
            if history.link.taken_down_at.is_some() && !admin && patch.touches_takedown() {
                return Err(ApiError::TakenDown);
            }
            let link = changed(
                app.store
                    .update_link(&history.link, &patch, admin, total, Utc::now())
                    .await?,
            )?;
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

/// A change the store refused: the link that was authorized is gone (deleted, or deleted
/// and made again: never write to a link the caller was not authorized for), or an admin
/// took it down meanwhile.
fn changed(outcome: Updated) -> Result<Link, ApiError> {
    match outcome {
        Updated::Applied(link) => Ok(*link),
        Updated::Gone => Err(ApiError::NotFound),
        Updated::TakenDown => Err(ApiError::TakenDown),
    }
}

/// `GET /keys/me`: the caller's key id, name and role (one `GetItem` of the key, never
/// cached, so a revoked key is told so at once); 401 without a key or with a revoked one.
async fn whoami(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::GET])?;
    let record = auth::key_record(&app.store, &req).await?;
    let mut resp = json_response(
        StatusCode::OK,
        &json!({
            "id": record.id().as_str(),
            "name": record.name,
            "role": record.role.as_str(),
            "created_at": rfc3339(record.created_at),
        }),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    Ok(resp)
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

/// `limit` of a listing: 1 to `max`, `default` when absent.
fn page_limit(req: &Request, default: u16, max: u16) -> Result<u16, ApiError> {
    match query_param(req, "limit") {
        None => Ok(default),
        Some(l) => l
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidLimit,
                    format!("'limit' must be 1 to {max}"),
                )
            }),
    }
}

/// `cursor` of a listing: one this API handed out.
fn page_cursor(req: &Request) -> Result<Option<ListCursor>, ApiError> {
    query_param(req, "cursor")
        .map(|c| {
            ListCursor::decode(c).ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidCursor,
                    "'cursor' is not one this API handed out",
                )
            })
        })
        .transpose()
}

/// The page of the caller's links that `limit` (`default`, at most `max`), `cursor` and
/// the filters of `req` ask for: one `Query` of the owner index.
async fn caller_page(
    app: &App,
    req: &Request,
    caller: &Principal,
    default: u16,
    max: u16,
) -> Result<LinksPage, ApiError> {
    let limit = page_limit(req, default, max)?;
    let cursor = page_cursor(req)?;
    let filter = list_filter(req)?;
    Ok(app
        .store
        .links_of(&caller.key_id, limit, cursor.as_ref(), &filter)
        .await?)
}

/// `GET /links/export?format=csv|json&limit=1..1000&cursor=` (and `GET /links`' filters):
/// a page of the caller's links, newest first, with their all-time visits: one `Query` of
/// the owner index and one `BatchGetItem` of the totals per 100 links; the next page's
/// cursor in `X-Next-Cursor`. CSV in the import's columns (an export imports back as the
/// same links), text cells neutralized against formula injection.
async fn export(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::GET])?;
    let caller = auth::require(app.auth.caller(&app.store, &req).await?)?;
    let csv = match query_param(&req, "format") {
        None | Some("csv") => true,
        Some("json") => false,
        Some(_) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidFormat,
                "'format' must be csv or json",
            ))
        }
    };
    let page = caller_page(app, &req, &caller, MAX_EXPORT_PAGE, MAX_EXPORT_PAGE).await?;
    let base = base_url(&req, &app.config)?;
    let codes: Vec<&Code> = page.links.iter().map(|l| &l.code).collect();
    let extras = app.store.listed_extras_of(&codes).await?;
    let visits_of = |link: &Link| extras.get(link.code.as_str()).map_or(0, |e| e.visits);
    let next = page.next.map(|c| c.encode());
    let mut resp = if csv {
        let mut out = CsvWriter::new(&EXPORT_HEADER);
        for link in &page.links {
            let tags = link.tags.join("|");
            out.row([
                Cell::Text(link.url.as_str()),
                Cell::Text(link.code.as_str()),
                Cell::Text(link.title.as_deref().unwrap_or("")),
                Cell::Text(&tags),
                Cell::Text(&base.short_url(link.code.as_str())),
                Cell::Plain(rfc3339(link.created_at)),
                Cell::Plain(visits_of(link).to_string()),
            ]);
        }
        csv_response(out.finish(), "links.csv")
    } else {
        let links: Vec<_> = page
            .links
            .iter()
            .map(|l| listed_link_json(l, &base, extras.get(l.code.as_str())))
            .collect();
        let mut resp = json_response(
            StatusCode::OK,
            &json!({"links": links, "next_cursor": next}),
        );
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
        resp
    };
    if let Some(next) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        resp.headers_mut().insert("x-next-cursor", next);
    }
    Ok(resp)
}

/// `GET /links?limit=&cursor=&tag=&tags_mode=&q=`: one page of the caller's links.
async fn list(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method_of_path(&req, &[Method::GET], LINKS_PATH_METHODS)?;
    let caller = auth::require(app.auth.caller(&app.store, &req).await?)?;
    let page = caller_page(app, &req, &caller, DEFAULT_PAGE, MAX_PAGE).await?;
    let base = base_url(&req, &app.config)?;
    let codes: Vec<&Code> = page.links.iter().map(|l| &l.code).collect();
    let extras = app.store.listed_extras_of(&codes).await?;
    let links: Vec<_> = page
        .links
        .iter()
        .map(|l| listed_link_json(l, &base, extras.get(l.code.as_str())))
        .collect();
    let body = json!({
        "links": links,
        "next_cursor": page.next.map(|c| c.encode()),
    });
    Ok(json_response(StatusCode::OK, &body))
}
