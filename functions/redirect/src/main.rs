//! `GET /{code}`: redirect and count the visit; `HEAD /{code}`: the same headers, not counted.

use std::time::Instant;

use chrono::Utc;
use common::cache::{LinkCache, DEFAULT_CAPACITY};
use common::http::{path_code, require_method, respond, ApiError};
use common::App;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{run, service_fn, Body, Error, Request, Response};

/// mimalloc: about 15% fewer instructions per invocation than the system allocator,
/// measured with callgrind on the redirect (the SDK allocates a lot per request).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps browsers and shared caches from storing the redirect, so every visit reaches
/// the function and is counted.
const NO_STORE: &str = "private, no-store, max-age=0";

async fn redirect(app: &App, cache: &LinkCache, req: Request) -> Result<Response<Body>, ApiError> {
    require_method(&req, &[Method::GET, Method::HEAD], "GET, HEAD")?;
    let code = path_code(&req)?;
    let now = Instant::now();
    let link = match cache.get(&code, now) {
        Some(hit) => hit,
        None => {
            let found = app.store.find_link(&code).await?;
            cache.put(code.clone(), found.clone(), now);
            found
        }
    };
    let link = link.ok_or(ApiError::NotFound)?;
    if req.method() == Method::GET {
        // Written before answering: a Lambda is frozen once it returns.
        app.store
            .record_visit(&code, Utc::now().date_naive())
            .await?;
    }
    let location = HeaderValue::from_str(link.url.as_str())
        .map_err(|_| ApiError::Internal(format!("stored URL of '{code}' is not a header value")))?;
    let status = StatusCode::from_u16(app.config.redirect_status)
        .map_err(|_| ApiError::Internal("redirect status".into()))?;
    let resp = Response::builder()
        .status(status)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, NO_STORE)
        .body(Body::Empty)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(resp)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    common::runtime::init_logging();
    let app = App::from_env()?;
    let cache = LinkCache::new(DEFAULT_CAPACITY);
    app.store.warm_up().await;
    tokio::spawn(common::runtime::timer_heartbeat());
    run(service_fn(|req| async {
        let handler = |req| redirect(&app, &cache, req);
        Ok::<_, Error>(respond("redirect", &app.store, req, handler).await)
    }))
    .await
}
