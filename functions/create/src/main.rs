//! `POST /links`: a short link for an http(s) URL, the same code every time for the same
//! URL and owner. With `Authorization: Bearer <key>` the link is the key's to manage.

use chrono::Utc;
use common::auth;
use common::domain::link::{check_tags, check_title};
use common::domain::{Alias, LongUrl};
use common::http::{
    base_url, json_body, link_response, request_hosts, require_method_of_path, ApiError,
    LINKS_PATH_METHODS,
};
use common::store::{Created, LinkOptions};
use common::App;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

common::lambda_main!("create", create);

#[derive(Deserialize)]
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
}

async fn create(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method_of_path(&req, &[Method::POST], LINKS_PATH_METHODS)?;
    let caller = app.auth.caller(&app.store, &req).await?;
    if app.config.create_requires_key {
        auth::require(caller.clone())?;
    }
    let input: CreateLink = json_body(&req)?;
    let base = base_url(&req, &app.config)?;
    let hosts = request_hosts(&req, &base);
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let url = LongUrl::parse(&input.url, &app.config.url_policy, &hosts)?;
    let alias = input.alias.as_deref().map(Alias::parse).transpose()?;
    let title = match input.title.as_deref() {
        Some(t) => check_title(t)?,
        None => None,
    };
    let tags = check_tags(input.tags.as_deref().unwrap_or_default())?;

    let owner = caller.as_ref().map(|p| &p.key_id);
    let (link, created) = app
        .store
        .create_or_get_with(
            &url,
            alias.as_ref(),
            owner,
            LinkOptions {
                forward_query: input.forward_query.unwrap_or(false),
                title,
                tags,
            },
            Utc::now(),
        )
        .await?;

    let status = match created {
        Created::New => StatusCode::CREATED,
        Created::Existing => StatusCode::OK,
    };
    let short_url = base.short_url(link.code.as_str());
    let mut resp = link_response(status, &link, &base, None);
    let location = HeaderValue::from_str(&short_url)
        .map_err(|_| ApiError::Internal(format!("short URL is not a header value: {short_url}")))?;
    resp.headers_mut().insert(header::LOCATION, location);
    Ok(resp)
}
