//! What every function does once per cold start, behind one call: the allocator, logging,
//! configuration, the store and its warm-up, the timer heartbeat, and the request wrapper.
//! A function's `main.rs` is its handler and `common::lambda_main!("route", handler);`.

use std::future::Future;
use std::time::{Duration, Instant};

use lambda_http::{service_fn, Body, Request, RequestExt, Response};

pub use lambda_http::Error;
pub use mimalloc::MiMalloc;

use crate::auth::Authenticator;
use crate::cache::{TtlCache, DEFAULT_CAPACITY};
use crate::config::Config;

use crate::domain::{Code, Link};
use crate::http::ApiError;
use crate::metrics::{emit, request_line, BotVisit, RequestRecord};
use crate::store::client::CONNECT_TIMEOUT;
use crate::store::{dynamodb_client, Store, StoreError};

/// The state a handler needs, built once per cold start.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub store: Store,
    /// The redirect's copies of links, kept `LINK_CACHE_SECONDS`.
    pub links: TtlCache<Code, Link>,
    pub auth: Authenticator,
}

impl App {
    /// Reads the configuration and builds the DynamoDB client. The endpoint comes from
    /// `AWS_ENDPOINT_URL` when set (DynamoDB Local), credentials from the environment.
    pub fn from_env() -> Result<App, Error> {
        let config = Config::from_env()?;
        let store = Store::new(dynamodb_client()?, config.table_name.clone());
        Ok(App::new(config, store))
    }

    /// The link behind `code` as this warm function last read it (for at most
    /// `LINK_CACHE_SECONDS`), else from the store: the redirect's and the QR code's lookup.
    pub async fn link(&self, code: &Code) -> Result<Option<Link>, StoreError> {
        if let Some(hit) = self.links.get(code, Instant::now()) {
            return Ok(hit);
        }
        let found = self.store.find_link(code).await?;
        self.links.put(code.clone(), found.clone(), Instant::now());
        Ok(found)
    }

    pub fn new(config: Config, store: Store) -> App {
        App {
            links: TtlCache::new(DEFAULT_CAPACITY, config.link_cache_ttl),
            auth: Authenticator::new(config.key_cache_ttl),
            config,
            store,
        }
    }
}

/// A Lambda function's whole `main`: mimalloc as the global allocator (about 15% fewer
/// instructions per invocation than the system's, measured with callgrind on the
/// redirect: the SDK allocates a lot per request) and `serve`.
#[macro_export]
macro_rules! lambda_main {
    ($route:literal, $handler:path) => {
        $crate::lambda_main!($route, $handler, init = $crate::runtime::no_init);
    };
    // `init` runs once during Init (which has a CPU boost on Lambda), before any request.
    ($route:literal, $handler:path, init = $init:path) => {
        #[global_allocator]
        static GLOBAL: $crate::runtime::MiMalloc = $crate::runtime::MiMalloc;

        fn main() -> Result<(), $crate::runtime::Error> {
            $crate::runtime::serve($route, $init, $handler)
        }
    };
}

/// The init hook of a function that needs none.
pub fn no_init() {}

/// `lambda_main!` for a function fed by an event source instead of HTTP (the table's
/// stream): `common::lambda_events_main!("aggregate", handler)`.
#[macro_export]
macro_rules! lambda_events_main {
    ($name:literal, $handler:path) => {
        #[global_allocator]
        static GLOBAL: $crate::runtime::MiMalloc = $crate::runtime::MiMalloc;

        fn main() -> Result<(), $crate::runtime::Error> {
            $crate::runtime::serve_events($name, $handler)
        }
    };
}

/// `serve` for events: the same set-up, then `handler` for every event, with one log line
/// per invocation (what the handler reports, the DynamoDB requests and capacity it used).
pub fn serve_events<E, R, F, Fut>(name: &'static str, handler: F) -> Result<(), Error>
where
    E: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + std::fmt::Debug,
    F: Fn(&'static App, E) -> Fut + Sync,
    Fut: Future<Output = Result<R, Error>> + Send,
{
    runtime()?.block_on(async {
        let app = start().await?;
        let handler = &handler;
        lambda_http::lambda_runtime::run(lambda_http::lambda_runtime::service_fn(
            |event: lambda_http::lambda_runtime::LambdaEvent<E>| async move {
                let started = Instant::now();
                let before = app.store.usage();
                let result = handler(app, event.payload).await;
                let used = app.store.usage().since(before);
                tracing::info!(
                    function = name,
                    request_id = %event.context.request_id,
                    latency_us = started.elapsed().as_micros() as u64,
                    ddb_requests = used.requests,
                    ddb_capacity_units = used.capacity_units,
                    outcome = ?result.as_ref().map_err(|e| e.to_string()),
                    "event"
                );
                result
            },
        ))
        .await
    })
}

/// Runs `handler` for every request of this Lambda function on a current-thread runtime.
/// Logging, the store (its connection opened during Init) and the heartbeat are set up
/// once; each request goes through `respond` (one log line, errors to statuses).
pub fn serve<F, Fut>(route: &'static str, init: fn(), handler: F) -> Result<(), Error>
where
    F: Fn(&'static App, Request) -> Fut + Sync,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + Send,
{
    runtime()?.block_on(async {
        let app = start().await?;
        init();
        let handler = &handler;
        lambda_http::run(service_fn(|req: Request| async move {
            // With the edge on, nothing is answered around it (not even a preflight).
            if app.config.edge_only && !crate::http::through_edge(&req, &app.config) {
                let namespace = &app.config.metrics_namespace;
                let refused = respond(route, namespace, &app.store, req, |_| async {
                    Err(ApiError::EdgeOnly)
                });
                return Ok::<_, Error>(refused.await);
            }
            let cors = &app.config.cors;
            if let Some(preflight) = cors.preflight(req.method(), req.headers()) {
                return Ok::<_, Error>(preflight);
            }
            // Only what decorating needs is kept of the request (CORS off: nothing).
            let origin = cors
                .is_enabled()
                .then(|| {
                    req.headers()
                        .get(lambda_http::http::header::ORIGIN)
                        .cloned()
                })
                .flatten();
            let namespace = &app.config.metrics_namespace;
            let mut resp =
                respond(route, namespace, &app.store, req, |req| handler(app, req)).await;
            if let Some(origin) = origin {
                let mut headers = lambda_http::http::HeaderMap::new();
                headers.insert(lambda_http::http::header::ORIGIN, origin);
                cors.decorate(&headers, &mut resp);
            }
            Ok(resp)
        }))
        .await
    })
}

/// Runs a handler and turns its result into the response, with one structured log line
/// per request (never the body) that is also its metrics (`metrics`), and the hidden
/// cause of any 5xx.
async fn respond<F, Fut>(
    route: &'static str,
    namespace: &str,
    store: &Store,
    req: Request,
    handler: F,
) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let started = Instant::now();
    let usage_before = store.usage();
    let method = req.method().clone();
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    let code = req
        .path_parameters_ref()
        .and_then(|p| p.first("code"))
        .map(|c| c.chars().take(80).collect::<String>());
    let resp = match handler(req).await {
        Ok(resp) => resp,
        Err(e) => {
            if let Some(cause) = e.cause() {
                tracing::error!(route, %request_id, error = cause, "request failed");
            }
            e.into_response()
        }
    };
    let usage = store.usage().since(usage_before);
    let line = request_line(&RequestRecord {
        namespace,
        route,
        method: method.as_str(),
        code: code.as_deref(),
        status: resp.status(),
        latency_us: started.elapsed().as_micros() as u64,
        usage,
        bot_visit: resp.extensions().get::<BotVisit>().is_some(),
        request_id: &request_id,
        timestamp_ms: chrono::Utc::now().timestamp_millis(),
    });
    emit(&line);
    resp
}

/// The current-thread runtime every function runs on.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Once per cold start, on the runtime: logging, the `App` (it lives as long as the
/// process: handlers borrow it for 'static), the store's connection and the heartbeat.
async fn start() -> Result<&'static App, Error> {
    init_logging();
    let app: &'static App = Box::leak(Box::new(App::from_env()?));
    app.store.warm_up().await;
    tokio::spawn(timer_heartbeat());
    Ok(app)
}

/// A timer that always fires within `HEARTBEAT`, spawned once per process.
///
/// Each SDK call arms two timers (operation and attempt timeout, 1 to 3 s away). When a new
/// timer is earlier than the runtime's next planned wake-up, tokio wakes its I/O driver
/// through an eventfd: a `write` and an extra `epoll_wait` per timer, on every request. With
/// a timer always due sooner than any SDK timeout, inserting one never moves the wake-up
/// earlier. The price is one wake-up per `HEARTBEAT` while the process is idle (none on
/// Lambda, where an idle environment is frozen).
pub async fn timer_heartbeat() {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
    }
}

/// Shorter than every SDK timeout (`CONNECT_TIMEOUT` is the shortest).
pub const HEARTBEAT: Duration = Duration::from_millis(250);
const _: () = assert!(HEARTBEAT.as_millis() < CONNECT_TIMEOUT.as_millis());

/// JSON logs in Lambda (`AWS_LAMBDA_LOG_FORMAT=JSON`), level from `AWS_LAMBDA_LOG_LEVEL`
/// or `RUST_LOG` (INFO by default), as `lambda_http::tracing::init_default_subscriber`,
/// but cheaper per request: the runtime's per-invocation span is not created (our request
/// line carries the request id) and no span is serialized into each line. That span cost
/// about 20,000 instructions per invocation. Call once per process.
pub fn init_logging() {
    use lambda_http::tracing::subscriber::{self, filter::LevelFilter, EnvFilter};
    let level = crate::config::env_var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| crate::config::env_var("RUST_LOG"))
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy()
        .add_directive(RUNTIME_SPAN_DIRECTIVE.parse().expect("a valid directive"));
    let fmt = subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let json = crate::config::env_var("AWS_LAMBDA_LOG_FORMAT")
        .is_some_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        fmt.json()
            .with_current_span(false)
            .with_span_list(false)
            .init();
    } else {
        fmt.init();
    }
}

/// lambda_runtime's "Lambda runtime invoke" span lives in this module; its errors are
/// logged elsewhere, at ERROR.
const RUNTIME_SPAN_DIRECTIVE: &str = "lambda_runtime::layers::trace=warn";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_span_directive_is_valid() {
        use lambda_http::tracing::subscriber::filter::Directive;
        assert!(RUNTIME_SPAN_DIRECTIVE.parse::<Directive>().is_ok());
    }
}
