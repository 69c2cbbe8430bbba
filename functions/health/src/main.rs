//! `GET /health`: 200 `{"status":"ok"}` when the table answers its cheapest read (one
//! eventually consistent `GetItem` of a key no item has), 503 otherwise. No key needed,
//! no visit counted, no Scan or DescribeTable.
//!
//! Also the API's `$default` route: every path no other route declares (`/`, `/a/b`)
//! gets the API's JSON 404, not API Gateway's `{"message":"Not Found"}`.

use common::http::{json_response, require_method, ApiError, NO_STORE};
use common::App;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

common::lambda_main!("health", health);

async fn health(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    if req.uri().path().trim_end_matches('/') != "/health" {
        return Err(ApiError::NotFound);
    }
    require_method(&req, &[Method::GET, Method::HEAD])?;
    app.store.ping().await?;
    let mut resp = json_response(StatusCode::OK, &json!({"status": "ok"}));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    Ok(resp)
}
