//! The floor of a warm redirect built on the crates the project uses (lambda_http, the SDK), under `make bench`:
//! the redirect's bootstrap with the project's own work taken out. Per event, lambda_http
//! (lambda_runtime) reads `/next` and turns the API Gateway event into a request, the
//! project's DynamoDB client (`common::runtime`, the same configuration, allocator and timer
//! heartbeat as the functions) sends the redirect's `UpdateItem ADD`, one fixed log line is
//! written, and lambda_http posts a fixed 302. No routing, no validation, no lookup cache,
//! no tracing: what is left is what `lambda_http` and `aws-sdk-dynamodb` cost per
//! invocation on top of the I/O floor (`io_floor`), a cost the redirect cannot go under
//! while it is built on them. Not a function to deploy.

use std::io::Write;

use chrono::Utc;
use common::domain::{Code, Visit};
use common::App;
use lambda_http::http::{header, StatusCode};
use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The same line as `io_floor` writes, so that the two floors do the same I/O.
const LOG_LINE: &[u8] =
    b"{\"level\":\"INFO\",\"fields\":{\"message\":\"request\",\"route\":\"crates-floor\",\"ddb_requests\":1,\"ddb_capacity_units\":1.0}}\n";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = App::from_env()?;
    let code = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "bench-link".into());
    let code = Code::parse(&code).ok_or("not a code")?;
    app.store.warm_up().await;
    tokio::spawn(common::runtime::timer_heartbeat());
    run(service_fn(|_: Request| async {
        // A bot visit: the plain `ADD` of one counter, with no breakdowns to plan.
        app.store
            .record_visit(&code, 0, Utc::now().date_naive(), &Visit::Bot)
            .await?;
        let mut out = std::io::stdout().lock();
        out.write_all(LOG_LINE)?;
        out.flush()?;
        let resp = Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, "https://example.com/bench-target")
            .header(header::CACHE_CONTROL, "private, no-store, max-age=0")
            .body(Body::Empty)?;
        Ok::<_, Error>(resp)
    }))
    .await
}
