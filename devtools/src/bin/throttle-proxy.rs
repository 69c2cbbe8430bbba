//! `throttle-proxy --listen PORT --upstream URL --write-units N`: DynamoDB's throttling in
//! front of DynamoDB Local (devtools/src/throttle.rs): each request is admitted and passed
//! on, or refused as DynamoDB refuses it (HTTP 400 and its `ThrottlingReasons`) without
//! reaching DynamoDB Local. Point the functions' `AWS_ENDPOINT_URL` at it.
//!
//! Its own routes: `POST /_throttle/force` with `{"kind": "write"|"read", "reason":
//! "TableWriteAccountLimitExceeded", "count": N}` refuses the next N requests of that kind
//! with that reason (a table-level throttle); `GET /_throttle/stats` says what was admitted
//! and refused (per reason, and per partition key value for the key-range refusals).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use devtools::throttle::{access, refusal_body, Force, Kind, Limiter};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    limiter: Mutex<Limiter>,
    table_arn: String,
    key: String,
    admitted: AtomicU64,
    passed: AtomicU64,
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &str, body: Vec<u8>) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

impl Proxy {
    async fn handle(&self, req: Request<Incoming>) -> Reply {
        let (parts, body) = req.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return reply(StatusCode::BAD_REQUEST, "text/plain", e.to_string().into()),
        };
        match parts.uri.path() {
            "/_throttle/force" => return self.force(&body),
            "/_throttle/stats" => return self.stats(),
            _ => {}
        }
        let operation = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("")
            .to_owned();
        let mut json: Option<Value> = serde_json::from_slice(&body).ok();
        let touched = json.as_ref().and_then(|j| access(&operation, j, &self.key));
        let mut forwarded = body.clone();
        if let Some(touched) = &touched {
            let admitted = self.limiter.lock().unwrap().admit(touched, Instant::now());
            if let Err(refusal) = admitted {
                let body = refusal_body(&refusal, &self.table_arn);
                let exception = body["__type"].as_str().unwrap_or("").rsplit('#').next();
                let mut resp = reply(
                    StatusCode::BAD_REQUEST,
                    "application/x-amz-json-1.0",
                    body.to_string().into_bytes(),
                );
                if let Some(e) = exception.and_then(|e| e.parse().ok()) {
                    resp.headers_mut().insert("x-amzn-errortype", e);
                }
                return resp;
            }
            self.admitted.fetch_add(1, Ordering::Relaxed);
            // What it consumed, to settle: asked of DynamoDB Local when the caller did not.
            if let Some(j) = json.as_mut().and_then(Value::as_object_mut) {
                if !j.contains_key("ReturnConsumedCapacity") {
                    j.insert("ReturnConsumedCapacity".into(), json!("TOTAL"));
                    forwarded = Bytes::from(Value::Object(j.clone()).to_string());
                }
            }
        } else {
            self.passed.fetch_add(1, Ordering::Relaxed);
        }
        let mut upstream = self
            .client
            .request(
                parts.method.clone(),
                format!("{}{}", self.upstream, parts.uri),
            )
            .body(forwarded);
        for (name, value) in &parts.headers {
            if name != "host" && name != "content-length" {
                upstream = upstream.header(name, value);
            }
        }
        let resp = match upstream.send().await {
            Ok(r) => r,
            Err(e) => {
                return reply(StatusCode::BAD_GATEWAY, "text/plain", e.to_string().into());
            }
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap_or_default();
        if let (Some(touched), true) = (&touched, status.is_success()) {
            let consumed = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
                v.pointer("/ConsumedCapacity/CapacityUnits")
                    .and_then(Value::as_f64)
            });
            if let Some(units) = consumed {
                self.limiter
                    .lock()
                    .unwrap()
                    .settle(touched, units, Instant::now());
            }
        }
        let mut out = Response::builder().status(status);
        for (name, value) in &headers {
            if name != "content-length" && name != "transfer-encoding" {
                out = out.header(name, value);
            }
        }
        out.body(Full::new(bytes)).expect("a valid response")
    }

    fn force(&self, body: &[u8]) -> Reply {
        let parsed: Option<Force> = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
            let kind = match v.get("kind")?.as_str()? {
                "write" => Kind::Write,
                "read" => Kind::Read,
                _ => return None,
            };
            Some(Force {
                kind,
                reason: v.get("reason")?.as_str()?.to_owned(),
                count: v.get("count")?.as_u64()?.max(1),
            })
        });
        match parsed {
            Some(force) => {
                self.limiter.lock().unwrap().force(force);
                reply(StatusCode::OK, "application/json", b"{}".to_vec())
            }
            None => reply(
                StatusCode::BAD_REQUEST,
                "application/json",
                br#"{"error":"expected {\"kind\": \"write\"|\"read\", \"reason\": \"...\", \"count\": N}"}"#.to_vec(),
            ),
        }
    }

    fn stats(&self) -> Reply {
        let (refused, partitions) = {
            let limiter = self.limiter.lock().unwrap();
            (limiter.refused.clone(), limiter.refused_partitions.clone())
        };
        let body = json!({
            "admitted": self.admitted.load(Ordering::Relaxed),
            "passed_through": self.passed.load(Ordering::Relaxed),
            "refused": refused,
            "refused_partitions": partitions,
        });
        reply(
            StatusCode::OK,
            "application/json",
            body.to_string().into_bytes(),
        )
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: throttle-proxy --listen PORT --upstream http://127.0.0.1:8000 --write-units N [--table links]";
    let port: u16 = arg(&args, "--listen")
        .and_then(|p| p.parse().ok())
        .ok_or(usage)?;
    let upstream = arg(&args, "--upstream").ok_or(usage)?;
    let write_units: f64 = arg(&args, "--write-units")
        .and_then(|w| w.parse().ok())
        .filter(|w: &f64| *w > 0.0)
        .ok_or(usage)?;
    let table = arg(&args, "--table").unwrap_or_else(|| "links".into());
    let proxy = Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_owned(),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?,
        limiter: Mutex::new(Limiter::new(write_units)),
        table_arn: format!("arn:aws:dynamodb:us-east-1:000000000000:table/{table}"),
        key: "pk".into(),
        admitted: AtomicU64::new(0),
        passed: AtomicU64::new(0),
    });
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    eprintln!(
        "throttle-proxy on 127.0.0.1:{port} -> {upstream}: {write_units} write units and {} read units a second per partition key",
        3.0 * write_units
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(proxy.handle(req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
