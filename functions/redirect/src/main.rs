//! `GET /{code}`: redirect and count the visit, as a human visit with its breakdowns or as
//! a bot visit (README: bot policy); `HEAD /{code}`: the same headers, not counted. An
//! expired, used-up or disabled link answers 410 and counts nothing. A link with
//! `forward_query` passes the visitor's query string on (`domain::forward`).

use std::borrow::Cow;

use chrono::Utc;
use common::domain::forward::forward_query;
use common::domain::{Visit, VisitRequest};
use common::http::{header_str, path_code, query_param, require_method, ApiError, NO_STORE};
use common::metrics::BotVisit;
use common::App;
use lambda_http::http::{header, HeaderValue, Method};
use lambda_http::{Body, Request, Response};

// The bot matcher is a large regular expression: built during Init.
common::lambda_main!("redirect", redirect, init = common::domain::visit::prepare);

async fn redirect(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::GET, Method::HEAD])?;
    let code = path_code(&req)?;
    let link = app.link(&code).await?.ok_or(ApiError::NotFound)?;
    let now = Utc::now();
    link.check_open(now).map_err(ApiError::Gone)?;
    let visit = (req.method() == Method::GET).then(|| {
        Visit::classify(VisitRequest {
            user_agent: header_str(&req, "user-agent"),
            referer: header_str(&req, "referer"),
            purpose: header_str(&req, "sec-purpose").or_else(|| header_str(&req, "purpose")),
            utm_source: query_param(&req, "utm_source"),
            country: header_str(&req, "cloudfront-viewer-country"),
        })
    });
    let bot = matches!(visit, Some(Visit::Bot));
    // Before the count: a target too long to send counts nothing.
    let target = if link.forward_query {
        forward_query(link.url.as_str(), req.uri().query())?
    } else {
        Cow::Borrowed(link.url.as_str())
    };
    app.count_visit(&code, &link, visit.as_ref(), now).await?;
    let location = HeaderValue::from_str(&target)
        .map_err(|_| ApiError::Internal(format!("stored URL of '{code}' is not a header value")))?;
    let mut resp = Response::builder()
        .status(app.config.redirect_status)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, NO_STORE)
        .body(Body::Empty)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if bot {
        resp.extensions_mut().insert(BotVisit);
    }
    Ok(resp)
}
