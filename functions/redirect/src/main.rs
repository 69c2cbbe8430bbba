//! `GET /{code}`: redirect and count the visit, as a human visit with its breakdowns or as
//! a bot visit (README: bot policy); `HEAD /{code}`: the same headers, not counted. An
//! expired, used-up or disabled link answers 410 and counts nothing.

use chrono::Utc;
use common::domain::{Gone, Visit, VisitRequest};
use common::http::{header_str, path_code, query_param, require_method, ApiError, NO_STORE};
use common::metrics::BotVisit;
use common::store::VisitGate;
use common::App;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};

common::lambda_main!("redirect", redirect);

async fn redirect(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
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
    // A HEAD or a bot does not use up a capped link (a link preview must not spend a
    // one-time link): it is answered from this copy of the link.
    if !matches!(visit, Some(Visit::Human(_))) && link.cap_reached() {
        return Err(ApiError::Gone(Gone::VisitLimit));
    }
    let bot = matches!(visit, Some(Visit::Bot));
    if let Some(visit) = visit {
        // Only a capped link pays a second write: the exact, conditional count of its cap.
        if link.max_visits.is_some() && matches!(visit, Visit::Human(_)) {
            match app.store.gate_visit(&code, now).await? {
                VisitGate::Admitted | VisitGate::Uncapped => {}
                VisitGate::Closed(gone) => {
                    app.links.remove(&code);
                    return Err(ApiError::Gone(gone));
                }
                VisitGate::Missing => {
                    app.links.remove(&code);
                    return Err(ApiError::NotFound);
                }
            }
        }
        // Written before answering: a Lambda is frozen once it returns.
        let counted = app
            .store
            .count_visit(&code, link.counter_shards, now.date_naive(), &visit)
            .await?;
        if counted.counter_shards != link.counter_shards {
            // A hot link's counter was spread: this copy writes to the new shards too.
            let mut raised = link.clone();
            raised.counter_shards = counted.counter_shards;
            app.links
                .put(code.clone(), Some(raised), std::time::Instant::now());
        }
    }
    let location = HeaderValue::from_str(link.url.as_str())
        .map_err(|_| ApiError::Internal(format!("stored URL of '{code}' is not a header value")))?;
    let status = StatusCode::from_u16(app.config.redirect_status)
        .map_err(|_| ApiError::Internal("redirect status".into()))?;
    let mut resp = Response::builder()
        .status(status)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, NO_STORE)
        .body(Body::Empty)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if bot {
        resp.extensions_mut().insert(BotVisit);
    }
    Ok(resp)
}
