//! The fake Lambda Runtime API each bootstrap polls.

use std::convert::Infallible;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::{BoxError, TIMEOUT};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Mutex};

pub(crate) struct Outcome {
    pub(crate) body: Result<Bytes, String>,
}

pub(crate) struct RuntimeState {
    pub(crate) events: Mutex<mpsc::Receiver<(String, Bytes)>>,
    pub(crate) results: mpsc::Sender<Outcome>,
    pub(crate) first_next: StdMutex<Option<oneshot::Sender<Instant>>>,
}

pub(crate) async fn runtime_api(
    state: Arc<RuntimeState>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let reply = |status: StatusCode| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = status;
        Ok(r)
    };
    if method == Method::GET && path.ends_with("/runtime/invocation/next") {
        if let Some(tx) = state.first_next.lock().unwrap().take() {
            let _ = tx.send(Instant::now());
        }
        let next = state.events.lock().await.recv().await;
        let Some((id, event)) = next else {
            return reply(StatusCode::GONE);
        };
        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + TIMEOUT;
        let resp = Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", id)
            .header(
                "lambda-runtime-deadline-ms",
                deadline.as_millis().to_string(),
            )
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0",
            )
            .body(Full::new(event))
            .unwrap();
        return Ok(resp);
    }
    if method == Method::POST && path.contains("/runtime/") {
        let body = req.into_body().collect().await.map(|b| b.to_bytes());
        let body = body.unwrap_or_default();
        let outcome = if path.ends_with("/response") {
            Outcome { body: Ok(body) }
        } else {
            Outcome {
                body: Err(String::from_utf8_lossy(&body).into_owned()),
            }
        };
        let _ = state.results.send(outcome).await;
        return reply(StatusCode::ACCEPTED);
    }
    reply(StatusCode::NOT_FOUND)
}

pub(crate) struct FakeRuntime {
    pub(crate) addr: String,
    pub(crate) events: mpsc::Sender<(String, Bytes)>,
    pub(crate) results: mpsc::Receiver<Outcome>,
    pub(crate) first_next: oneshot::Receiver<Instant>,
}

pub(crate) async fn start_runtime() -> Result<FakeRuntime, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let (events_tx, events_rx) = mpsc::channel(1);
    let (results_tx, results_rx) = mpsc::channel(1);
    let (first_tx, first_rx) = oneshot::channel();
    let state = Arc::new(RuntimeState {
        events: Mutex::new(events_rx),
        results: results_tx,
        first_next: StdMutex::new(Some(first_tx)),
    });
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| runtime_api(state.clone(), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(FakeRuntime {
        addr,
        events: events_tx,
        results: results_rx,
        first_next: first_rx,
    })
}
