//! `bedrock-standin --listen PORT`: Amazon Bedrock's Converse API on 127.0.0.1 for `make dev`
//! and `make test` (devtools/src/standin.rs): the ask function's SDK client reaches it
//! through `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`. Every answer is marked as the stand-in's.
//!
//! Its own routes, for tests:
//! - `POST /_standin/force` with `{"fault": "throttling"|"unavailable"|"not_ready"|
//!   "model_timeout"|"access_denied"|"not_found"|"validation"|"internal"` or `"delay_ms": N`,
//!   `"count": N, "match": "text"}`: the next N requests whose user turn holds `match`
//!   (any request without it) get Bedrock's error of that kind, or their answer late;
//! - `GET /_standin/requests?match=text`: the requests received (newest last, at most 500),
//!   each with its path, whether it was signed, its body as sent, and the status answered.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use devtools::standin::{check, converse_response, error_answer, Fault};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

const KEPT_REQUESTS: usize = 500;

/// What the next matching requests get instead of an answer.
#[derive(Debug, Clone)]
struct Forced {
    fault: Option<Fault>,
    delay: Duration,
    left: u64,
    matching: String,
}

#[derive(Default)]
struct State {
    forced: Vec<Forced>,
    requests: Vec<Value>,
}

type Reply = Response<Full<Bytes>>;

fn reply(status: u16, headers: &[(&str, &str)], body: &Value) -> Reply {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    for (name, value) in headers {
        b = b.header(*name, *value);
    }
    b.body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

fn bedrock_error(fault_type: &str, status: u16, message: &str) -> Reply {
    let (body, error_type) = error_answer(fault_type, message);
    reply(
        status,
        &[
            ("x-amzn-errortype", &error_type),
            ("x-amzn-requestid", "standin"),
        ],
        &body,
    )
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    if path == "/_standin/force" {
        return force(&state, &body);
    }
    if path == "/_standin/requests" {
        let matching = parts
            .uri
            .query()
            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("match=")))
            .map(|m| m.replace("%20", " ").replace('+', " "))
            .unwrap_or_default();
        let state = state.lock().unwrap();
        let found: Vec<&Value> = state
            .requests
            .iter()
            .filter(|r| r["body"].to_string().contains(&matching))
            .collect();
        return reply(200, &[], &json!({ "requests": found }));
    }
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let sent: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let text = String::from_utf8_lossy(&body).into_owned();
    // The first forced behaviour this request matches, used up by one.
    let forced = {
        let mut state = state.lock().unwrap();
        let hit = state
            .forced
            .iter_mut()
            .find(|f| f.left > 0 && text.contains(&f.matching));
        hit.map(|f| {
            f.left -= 1;
            f.clone()
        })
    };
    let (status, resp) = if parts.method != hyper::Method::POST {
        (
            404,
            bedrock_error("UnknownOperationException", 404, "unknown operation"),
        )
    } else {
        match check(&path, authorization.as_deref(), &body) {
            Err(reason) => (400, bedrock_error("ValidationException", 400, &reason)),
            Ok(converse) => match forced.as_ref() {
                Some(Forced {
                    fault: Some(fault), ..
                }) => {
                    let (status, ty, message) = fault.shape();
                    (status, bedrock_error(ty, status, message))
                }
                other => {
                    if let Some(f) = other {
                        tokio::time::sleep(f.delay).await;
                    }
                    (200, reply(200, &[], &converse_response(&converse)))
                }
            },
        }
    };
    let mut state = state.lock().unwrap();
    if state.requests.len() == KEPT_REQUESTS {
        state.requests.remove(0);
    }
    state.requests.push(json!({
        "path": path,
        "signed": authorization.is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256 ")),
        "body": sent,
        "status": status,
    }));
    resp
}

fn force(state: &Mutex<State>, body: &[u8]) -> Reply {
    let parsed = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        let fault = match v.get("fault") {
            Some(f) => Some(Fault::parse(f.as_str()?)?),
            None => None,
        };
        let delay = Duration::from_millis(v.get("delay_ms").and_then(Value::as_u64).unwrap_or(0));
        if fault.is_none() && delay.is_zero() {
            return None;
        }
        Some(Forced {
            fault,
            delay,
            left: v.get("count").and_then(Value::as_u64).unwrap_or(1).max(1),
            matching: v
                .get("match")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        })
    });
    match parsed {
        Some(f) => {
            state.lock().unwrap().forced.push(f);
            reply(200, &[], &json!({}))
        }
        None => reply(
            400,
            &[],
            &json!({"error": "expected {\"fault\": \"throttling\"|... or \"delay_ms\": N, \"count\": N, \"match\": \"text\"}"}),
        ),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse().ok())
        .ok_or("usage: bedrock-standin --listen PORT")?;
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    eprintln!("bedrock-standin on 127.0.0.1:{port}: Converse answered from the facts it is sent (not a model)");
    let state = Arc::new(Mutex::new(State::default()));
    loop {
        let (stream, _) = listener.accept().await?;
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(state, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
