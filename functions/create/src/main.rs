//! `POST /links`: a short link for an http(s) URL, the same code every time for the same
//! URL, owner and settings (a password link: a new random code every time). With
//! `Authorization: Bearer <key>` the link is the key's to manage.
//!
//! `POST /links/bulk` (a key needed): up to 100 of the same, each created exactly as a
//! single create would be, with a result per item in input order.
//!
//! `POST /links/import` (a key needed): up to 1,000 rows of a CSV file in Shlink's export
//! columns, each created as a bulk item, with the same results.

use chrono::Utc;
use common::auth;
use common::domain::link::{check_tags, check_title};
use common::domain::password::Password;
use common::domain::sheet::{parse_import, MAX_IMPORT_BYTES};
use common::domain::{rules, Alias, KeyId, Link, LongUrl};
use common::http::{
    base_url, body_of_type, json_body, json_body_of_at_most, json_response, link_json,
    link_response, query_param, request_hosts, require_method, require_method_of_path, ApiError,
    ErrorCode, LINKS_PATH_METHODS,
};
use common::store::{Created, LinkOptions};
use common::App;
use futures_util::stream::{self, StreamExt};
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Deserialize;
use serde_json::{json, Value};

common::lambda_main!("create", create);

/// Most links in one `POST /links/bulk`.
const MAX_BULK_LINKS: usize = 100;
/// Largest `POST /links/bulk` body.
const MAX_BULK_BYTES: usize = 512 * 1024;
/// Items of a batch (bulk or import) created at once, each one or a few conditional
/// writes: 1,000 import rows are 63 rounds of 16.
const BATCH_CONCURRENCY: usize = 16;
/// Password links one batch may make: each costs a hash (about 0.3 s of a 128 MB
/// function's CPU), and the batch must end well within the function's timeout.
const MAX_BULK_PASSWORDS: usize = 10;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateLink {
    url: String,
    #[serde(default)]
    alias: Option<String>,
    /// Merge the visitor's query string into the target's (default false).
    #[serde(default)]
    forward_query: Option<bool>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    /// Visitors must enter it (4 to 128 characters); only its hash is kept.
    #[serde(default)]
    password: Option<String>,
    /// Where some visitors go instead (`domain::rules`).
    #[serde(default)]
    rules: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkCreate {
    links: Vec<Value>,
}

async fn create(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let path = req.raw_http_path();
    if path.ends_with("/bulk") {
        return bulk(app, req).await;
    }
    if path.ends_with("/import") {
        return import(app, req).await;
    }
    require_method_of_path(&req, &[Method::POST], LINKS_PATH_METHODS)?;
    let caller = app.auth.caller(&app.store, &req).await?;
    if app.config.create_requires_key {
        auth::require(caller.clone())?;
    }
    let input: CreateLink = json_body(&req)?;
    let base = base_url(&req, &app.config)?;
    let hosts = request_hosts(&req, &base, &app.config);
    let owner = caller.as_ref().map(|p| &p.key_id);
    let (link, created) = create_one(app, input, owner, &hosts).await?;

    let short_url = base.short_url(link.code.as_str());
    let mut resp = link_response(status_of(created), &link, &base, None);
    let location = HeaderValue::from_str(&short_url)
        .map_err(|_| ApiError::Internal(format!("short URL is not a header value: {short_url}")))?;
    resp.headers_mut().insert(header::LOCATION, location);
    Ok(resp)
}

fn status_of(created: Created) -> StatusCode {
    match created {
        Created::New => StatusCode::CREATED,
        Created::Existing => StatusCode::OK,
    }
}

/// One create: every field checked (nothing written on a refusal), the password hashed
/// last, then the store's conditional writes.
async fn create_one(
    app: &App,
    input: CreateLink,
    owner: Option<&KeyId>,
    hosts: &[String],
) -> Result<(Link, Created), ApiError> {
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let url = LongUrl::parse(&input.url, &app.config.url_policy, &hosts)?;
    let alias = input.alias.as_deref().map(Alias::parse).transpose()?;
    let title = match input.title.as_deref() {
        Some(t) => check_title(t)?,
        None => None,
    };
    let tags = check_tags(input.tags.as_deref().unwrap_or_default())?;
    let rules = match &input.rules {
        Some(r) => rules::parse(r, &app.config.url_policy, &hosts)?,
        None => Vec::new(),
    };
    // Hashed last, once everything else passed: a refused create costs no hash.
    let password_hash = match input.password.as_deref() {
        Some(p) => Some(Password::parse(p)?.hash()?),
        None => None,
    };
    let options = LinkOptions {
        forward_query: input.forward_query.unwrap_or(false),
        title,
        tags,
        password_hash,
        rules,
    };
    Ok(app
        .store
        .create_or_get_with(&url, alias.as_ref(), owner, options, Utc::now())
        .await?)
}

/// `POST /links/bulk`: `{"links": [1..100 creates]}` -> 200 `{"results": [...]}`, one
/// result per item in input order: `{"index", "status", "link"}` or `{"index", "status",
/// "error"}`. An item that fails (refused, taken, throttled) fails alone.
async fn bulk(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::POST])?;
    let caller = auth::require(app.auth.caller(&app.store, &req).await?)?;
    let input: BulkCreate = json_body_of_at_most(&req, MAX_BULK_BYTES)?;
    if !(1..=MAX_BULK_LINKS).contains(&input.links.len()) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidBatchSize,
            format!("'links' must hold 1 to {MAX_BULK_LINKS} links"),
        ));
    }
    let mut passwords = 0;
    let items = input
        .links
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let has_password = item.get("password").is_some_and(|p| !p.is_null());
            passwords += usize::from(has_password);
            let job = match serde_json::from_value::<CreateLink>(item) {
                Ok(_) if has_password && passwords > MAX_BULK_PASSWORDS => {
                    Job::Refused(ApiError::bad_request(
                        ErrorCode::InvalidPassword,
                        format!(
                        "at most {MAX_BULK_PASSWORDS} password links per batch (each costs a hash)"
                    ),
                    ))
                }
                Ok(input) => Job::Create {
                    input,
                    on_conflict: OnConflict::Skip,
                },
                Err(e) => Job::Refused(ApiError::bad_request(
                    ErrorCode::InvalidJson,
                    format!("invalid link: {e}"),
                )),
            };
            (index, job)
        })
        .collect();
    create_all(app, &req, &caller.key_id, items).await
}

/// `POST /links/import?on_conflict=skip|generate` (`text/csv`): a row per link in the
/// columns of Shlink's export (`domain::sheet`), each created as a bulk item is, its
/// `index` the data row's number (1 for the first after the header). A short code taken
/// by another link (or reserved) is that row's 409 (or 400) with `skip`; with `generate`
/// the link gets its own code.
/// Importing the same file again finds every link already there and changes nothing.
async fn import(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::POST])?;
    let caller = auth::require(app.auth.caller(&app.store, &req).await?)?;
    let on_conflict = match query_param(&req, "on_conflict") {
        None | Some("skip") => OnConflict::Skip,
        Some("generate") => OnConflict::Generate,
        Some(_) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidOnConflict,
                "'on_conflict' must be skip or generate",
            ))
        }
    };
    let rows = parse_import(body_of_type(&req, "text/csv", MAX_IMPORT_BYTES)?)?;
    let items = rows
        .into_iter()
        .map(|row| {
            let input = CreateLink {
                url: row.url,
                alias: row.short_code,
                forward_query: None,
                title: row.title,
                tags: Some(row.tags),
                password: None,
                rules: None,
            };
            (row.number, Job::Create { input, on_conflict })
        })
        .collect();
    create_all(app, &req, &caller.key_id, items).await
}

/// What a bulk item or an import row does with a code that is taken.
#[derive(Debug, Clone, Copy)]
enum OnConflict {
    /// The item fails with 409 `alias_taken` (400 `reserved_alias`).
    Skip,
    /// The link is created without the code, under one of its own.
    Generate,
}

/// One item of a batch: a create to make, or a refusal found while reading it.
enum Job {
    Create {
        input: CreateLink,
        on_conflict: OnConflict,
    },
    Refused(ApiError),
}

/// Runs a batch's creates, `BATCH_CONCURRENCY` at a time, each failing alone: 200
/// `{"results": [...]}` in input order.
async fn create_all(
    app: &App,
    req: &Request,
    owner: &KeyId,
    items: Vec<(usize, Job)>,
) -> Result<Response<Body>, ApiError> {
    let base = base_url(req, &app.config)?;
    let hosts = request_hosts(req, &base, &app.config);
    let (hosts, base) = (&hosts, &base);
    let results: Vec<Value> = stream::iter(items)
        .map(|(index, job)| async move {
            let created = match job {
                Job::Refused(e) => Err(e),
                Job::Create { input, on_conflict } => {
                    let retry = match on_conflict {
                        OnConflict::Generate if input.alias.is_some() => Some(CreateLink {
                            alias: None,
                            ..input.clone()
                        }),
                        _ => None,
                    };
                    match (create_one(app, input, Some(owner), hosts).await, retry) {
                        (Err(e), Some(retry))
                            if matches!(
                                e.code(),
                                ErrorCode::AliasTaken | ErrorCode::ReservedAlias
                            ) =>
                        {
                            create_one(app, retry, Some(owner), hosts).await
                        }
                        (result, _) => result,
                    }
                }
            };
            match created {
                Ok((link, created)) => json!({
                    "index": index,
                    "status": status_of(created).as_u16(),
                    "link": link_json(&link, base, None),
                }),
                Err(e) => {
                    if let Some(cause) = e.cause() {
                        tracing::warn!(index, cause, "batch item failed");
                    }
                    json!({
                        "index": index,
                        "status": e.status().as_u16(),
                        "error": e.detail(),
                    })
                }
            }
        })
        .buffered(BATCH_CONCURRENCY)
        .collect()
        .await;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "results": results }),
    ))
}
