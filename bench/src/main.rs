//! `make bench`: runs each function's release `bootstrap` the way Lambda runs it, driven by a
//! small fake Lambda Runtime API on loopback, against DynamoDB Local; and the same for a
//! Python reference of the redirect (boto3 + awslambdaric). Writes target/bench/report.json
//! and prints a table.
//!
//! Usage: bench --endpoint URL --table NAME --lambda-dir DIR [--invocations N]
//!              [--python PYTHON --python-dir DIR] [--out FILE]

use std::convert::Infallible;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use chrono::Utc;
use common::domain::{Alias, LongUrl, UrlPolicy, Visit, VisitRequest};
use common::Store;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, Mutex};

const BENCH_CODE: &str = "bench-link";
/// Rounds of the calls a first redirect makes, sent to DynamoDB Local before measuring (see
/// `seed`). 3,000 left a first redirect at 2 to 12 ms in six runs on a fresh emulator;
/// 10,000 (with `FRESH_CONNECTIONS`) at 1.5 to 2.4 ms in four.
const WARM_ROUNDS: usize = 10_000;
/// New connections opened before measuring: each bootstrap opens one during Init, and the
/// emulator's accept path is as cold as the rest.
const FRESH_CONNECTIONS: usize = 200;
/// In every URL the create benchmark posts: a log line containing it has logged a body.
const BODY_MARKER: &str = "body-marker-7f3a";
const BENCH_TARGET: &str = "https://example.com/bench-target";
const HISTORY_DAYS: u64 = 365;
const TIMEOUT: Duration = Duration::from_secs(30);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    endpoint: String,
    table: String,
    lambda_dir: PathBuf,
    invocations: usize,
    python: Option<PathBuf>,
    python_dir: Option<PathBuf>,
    out: PathBuf,
    /// Only these functions (all when empty).
    only: Vec<String>,
    /// The I/O floor bootstrap (`io_floor`), measured last when given.
    floor: Option<PathBuf>,
    /// The crates floor bootstrap (`crates_floor`), measured after the I/O floor when given.
    crates_floor: Option<PathBuf>,
    /// A command each bootstrap runs under (strace, valgrind) for profiling runs.
    wrap: Vec<String>,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut args = std::env::args().skip(1);
    let (mut endpoint, mut table, mut lambda_dir) = (None, None, None);
    let (mut python, mut python_dir) = (None, None);
    let mut invocations = 5000;
    let mut out = PathBuf::from("target/bench/report.json");
    let (mut only, mut wrap) = (Vec::new(), Vec::new());
    let (mut floor, mut crates_floor) = (None, None);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--endpoint" => endpoint = Some(value()?),
            "--table" => table = Some(value()?),
            "--lambda-dir" => lambda_dir = Some(PathBuf::from(value()?)),
            "--invocations" => invocations = value()?.parse()?,
            "--python" => python = Some(PathBuf::from(value()?)),
            "--python-dir" => python_dir = Some(PathBuf::from(value()?)),
            "--out" => out = PathBuf::from(value()?),
            "--only" => only = words(&value()?),
            "--floor" => floor = Some(PathBuf::from(value()?)),
            "--crates-floor" => crates_floor = Some(PathBuf::from(value()?)),
            "--wrap" => wrap = words(&value()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(Args {
        endpoint: endpoint.ok_or("--endpoint is required")?,
        table: table.ok_or("--table is required")?,
        lambda_dir: lambda_dir.ok_or("--lambda-dir is required")?,
        invocations: invocations.max(1),
        python,
        python_dir,
        out,
        only,
        floor,
        crates_floor,
        wrap,
    })
}

/// `program`, or `program` run under the `--wrap` command, with an environment like
/// Lambda's: its own few variables, not the caller's, so that nothing of this shell
/// (SSL_CERT_FILE, AWS_CA_BUNDLE, AWS_PROFILE...) changes what is measured.
fn wrapped(wrap: &[String], program: &std::path::Path) -> Command {
    let mut cmd = match wrap.split_first() {
        Some((wrapper, rest)) => {
            let mut cmd = Command::new(wrapper);
            cmd.args(rest).arg(program);
            cmd
        }
        None => Command::new(program),
    };
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC");
    cmd
}

fn words(s: &str) -> Vec<String> {
    s.split([' ', ','])
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------------------
// The fake Runtime API: GET .../invocation/next hands out the next event, POST
// .../response and .../error hand back the result. TCP_NODELAY on every socket.

struct Outcome {
    body: Result<Bytes, String>,
}

struct RuntimeState {
    events: Mutex<mpsc::Receiver<(String, Bytes)>>,
    results: mpsc::Sender<Outcome>,
    first_next: StdMutex<Option<oneshot::Sender<Instant>>>,
}

async fn runtime_api(
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

struct FakeRuntime {
    addr: String,
    events: mpsc::Sender<(String, Bytes)>,
    results: mpsc::Receiver<Outcome>,
    first_next: oneshot::Receiver<Instant>,
}

async fn start_runtime() -> Result<FakeRuntime, BoxError> {
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

// ---------------------------------------------------------------------------------------
// Events, as API Gateway (HTTP API, payload 2.0) sends them.

fn api_event(
    method: &str,
    path: &str,
    route: &str,
    code: Option<&str>,
    body: Option<Value>,
) -> Bytes {
    let mut event = json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "host": "abc123xyz.execute-api.us-east-1.amazonaws.com",
            "x-forwarded-proto": "https",
            "user-agent": "bench",
        },
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123xyz", "stage": "$default",
            "domainName": "abc123xyz.execute-api.us-east-1.amazonaws.com",
            "requestId": "bench", "routeKey": route, "time": "22/Nov/2026:19:00:00 +0000",
            "timeEpoch": 1795374000000u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "bench"},
        },
        "isBase64Encoded": false,
    });
    if let Some(code) = code {
        event["pathParameters"] = json!({ "code": code });
    }
    if let Some(body) = body {
        event["headers"]["content-type"] = json!("application/json");
        event["body"] = json!(body.to_string());
    }
    Bytes::from(event.to_string())
}

const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
const EDGE_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15";

/// Visitors of the redirect benchmark: User-Agent, Referer, utm_source, country.
type Visitor = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);
const VISITORS: &[Visitor] = &[
    (
        CHROME_WIN,
        Some("https://www.google.com/"),
        None,
        Some("US"),
    ),
    (
        SAFARI_IPHONE,
        Some("https://t.co/abc"),
        Some("twitter"),
        Some("US"),
    ),
    (FIREFOX_LINUX, None, Some("newsletter"), Some("DE")),
    (
        CHROME_ANDROID,
        Some("https://m.facebook.com/"),
        Some("facebook"),
        Some("BR"),
    ),
    (
        EDGE_WIN,
        Some("https://www.bing.com/search?q=x"),
        None,
        Some("GB"),
    ),
    (
        SAFARI_MAC,
        Some("https://news.ycombinator.com/"),
        None,
        Some("FR"),
    ),
    (
        CHROME_WIN,
        Some("https://www.reddit.com/r/rust/"),
        Some("reddit"),
        Some("IN"),
    ),
    (
        SAFARI_IPHONE,
        Some("https://l.instagram.com/"),
        Some("instagram"),
        Some("JP"),
    ),
    (
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        None,
        None,
        Some("US"),
    ),
    (
        CHROME_WIN,
        Some("https://duckduckgo.com/"),
        None,
        Some("CA"),
    ),
    (FIREFOX_LINUX, Some("https://lobste.rs/"), None, Some("NL")),
    (
        CHROME_ANDROID,
        Some("https://www.linkedin.com/feed/"),
        Some("linkedin"),
        Some("IN"),
    ),
    (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        None,
        None,
        None,
    ),
    (
        EDGE_WIN,
        Some("https://github.com/awslabs"),
        None,
        Some("SE"),
    ),
    (
        SAFARI_MAC,
        Some("https://mail.google.com/"),
        Some("gmail"),
        Some("AU"),
    ),
    (
        CHROME_WIN,
        Some("https://example.org/blog"),
        None,
        Some("ES"),
    ),
];

fn events_for(function: &str) -> Box<dyn FnMut(usize) -> (Bytes, u16) + Send> {
    match function {
        "create" => {
            let run = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis();
            Box::new(move |i| {
                let url = format!("https://example.com/bench/{BODY_MARKER}/{run}/{i}");
                let event = api_event(
                    "POST",
                    "/links",
                    "ANY /links",
                    None,
                    Some(json!({ "url": url })),
                );
                (event, 201)
            })
        }
        "stats" => Box::new(|_| {
            let path = format!("/links/{BENCH_CODE}/stats");
            (
                api_event(
                    "GET",
                    &path,
                    "ANY /links/{code}/stats",
                    Some(BENCH_CODE),
                    None,
                ),
                200,
            )
        }),
        _ => Box::new(|i| {
            let path = format!("/{BENCH_CODE}");
            let mut event: Value = serde_json::from_slice(&api_event(
                "GET",
                &path,
                "ANY /{code}",
                Some(BENCH_CODE),
                None,
            ))
            .expect("an event is JSON");
            // A realistic spread: browsers and devices, a dozen referrers (more than a
            // day's cap, so `other` is written too), campaign sources, countries, and a
            // share of bots and prefetches.
            let (ua, referer, source, country) = VISITORS[i % VISITORS.len()];
            let headers = &mut event["headers"];
            headers["user-agent"] = json!(ua);
            if let Some(r) = referer {
                headers["referer"] = json!(r);
            }
            if let Some(c) = country {
                headers["cloudfront-viewer-country"] = json!(c);
            }
            if i % 25 == 24 {
                headers["sec-purpose"] = json!("prefetch");
            }
            if let Some(s) = source {
                event["rawQueryString"] = json!(format!("utm_source={s}"));
                event["queryStringParameters"] = json!({ "utm_source": s });
            }
            (Bytes::from(event.to_string()), 302)
        }),
    }
}

// ---------------------------------------------------------------------------------------
// Process figures from /proc.

/// Nanoseconds on CPU, summed over the process's threads.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The `ddb_requests` / `ddb_capacity_units` of a log line, wherever the formatter nests them.
fn usage_in(line: &str) -> Option<(f64, f64)> {
    fn find(v: &Value) -> Option<(f64, f64)> {
        if let (Some(r), Some(c)) = (v.get("ddb_requests"), v.get("ddb_capacity_units")) {
            return Some((r.as_f64()?, c.as_f64()?));
        }
        v.as_object()?.values().find_map(find)
    }
    find(&serde_json::from_str(line.trim()).ok()?)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

// ---------------------------------------------------------------------------------------

async fn measure(
    name: &str,
    mut cmd: Command,
    env: &[(&str, String)],
    mut events: Box<dyn FnMut(usize) -> (Bytes, u16) + Send>,
    invocations: usize,
) -> Result<Value, BoxError> {
    let mut rt = start_runtime().await?;
    cmd.env("AWS_LAMBDA_RUNTIME_API", &rt.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }

    let spawned = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id().ok_or("no pid")?;
    let usage: Arc<StdMutex<Vec<(f64, f64)>>> = Arc::default();
    let log_tail: Arc<StdMutex<Vec<String>>> = Arc::default();
    // Every line, for checks on what is logged (one line per request, never a body).
    let all_lines: Arc<StdMutex<Vec<String>>> = Arc::default();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let (usage, log_tail, all_lines) = (usage.clone(), log_tail.clone(), all_lines.clone());
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                all_lines.lock().unwrap().push(line.clone());
                match usage_in(&line) {
                    Some(u) => usage.lock().unwrap().push(u),
                    None => {
                        let mut tail = log_tail.lock().unwrap();
                        if tail.len() < 20 {
                            tail.push(line);
                        }
                    }
                }
            }
        });
    }

    let first_next = tokio::time::timeout(TIMEOUT, &mut rt.first_next).await;
    let first_next = first_next.map_err(|_| {
        format!(
            "{name}: no call to /next within {TIMEOUT:?}: {:?}",
            log_tail.lock().unwrap()
        )
    })??;
    let init = first_next - spawned;
    // The process waits on `/next` from here: its CPU time so far is the Init's own work.
    let init_cpu = cpu_ns(pid);

    let mut invoke = |i: usize| {
        let (event, expected) = events(i);
        let events_tx = rt.events.clone();
        async move {
            let started = Instant::now();
            events_tx
                .send((format!("req-{i}"), event))
                .await
                .map_err(|_| "runtime closed")?;
            Ok::<_, BoxError>((started, expected))
        }
    };

    let mut latencies = Vec::with_capacity(invocations);
    let mut first = Duration::ZERO;
    let mut cpu_start = 0;
    for i in 0..=invocations {
        if i == 1 {
            cpu_start = cpu_ns(pid);
        }
        let (started, expected) = invoke(i).await?;
        let outcome = tokio::time::timeout(TIMEOUT, rt.results.recv())
            .await
            .map_err(|_| format!("{name}: invocation {i} timed out"))?
            .ok_or("runtime closed")?;
        let elapsed = started.elapsed();
        let body = outcome
            .body
            .map_err(|e| format!("{name}: invocation {i} failed: {e}"))?;
        let resp: Value = serde_json::from_slice(&body)?;
        if resp["statusCode"].as_u64() != Some(u64::from(expected)) {
            return Err(format!("{name}: invocation {i}: expected {expected}, got {resp}").into());
        }
        if i == 0 {
            first = elapsed;
        } else {
            latencies.push(elapsed.as_secs_f64() * 1e3);
        }
    }
    let cpu_total = cpu_ns(pid).saturating_sub(cpu_start);
    let rss_kb = peak_rss_kb(pid);
    // SIGTERM first, as Lambda ends an environment, so a profiler wrapping the bootstrap
    // can write its report; then SIGKILL.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await;
    if tokio::time::timeout(TIMEOUT, child.wait()).await.is_err() {
        child.kill().await?;
    }
    // Let the log readers drain.
    tokio::time::sleep(Duration::from_millis(200)).await;

    latencies.sort_by(f64::total_cmp);
    let usage = usage.lock().unwrap().clone();
    let warm_usage = &usage[usage.len().min(1)..];
    let mean = |f: fn(&(f64, f64)) -> f64| {
        if warm_usage.is_empty() {
            f64::NAN
        } else {
            warm_usage.iter().map(f).sum::<f64>() / warm_usage.len() as f64
        }
    };
    let all_lines = all_lines.lock().unwrap();
    let request_line = all_lines.iter().find(|l| usage_in(l).is_some()).cloned();
    let bodies_logged = all_lines.iter().filter(|l| l.contains(BODY_MARKER)).count();
    Ok(json!({
        "sample_request_log_line": request_line,
        "log_lines_with_request_body": bodies_logged,
        "init_ms": init.as_secs_f64() * 1e3,
        "first_invocation_ms": first.as_secs_f64() * 1e3,
        // CPU of the process itself, without the time spent waiting on DynamoDB Local (a
        // young JVM on this harness, unlike DynamoDB).
        "init_cpu_ms": init_cpu as f64 / 1e6,
        "first_invocation_cpu_ms": cpu_start.saturating_sub(init_cpu) as f64 / 1e6,
        "warm_p50_ms": percentile(&latencies, 0.50),
        "warm_p99_ms": percentile(&latencies, 0.99),
        "warm_invocations": latencies.len(),
        "cpu_us_per_warm_invocation": cpu_total as f64 / 1e3 / invocations as f64,
        "peak_rss_mb": rss_kb as f64 / 1024.0,
        "ddb_requests_first": usage.first().map(|u| u.0),
        "ddb_requests_per_warm_invocation": mean(|u| u.0),
        "ddb_capacity_units_per_warm_invocation": mean(|u| u.1),
        "logged_invocations": usage.len(),
    }))
}

/// The link the redirect and stats benchmarks read: created a year ago, with a counter for
/// every day since (the "year of history" that stats must still read in one request).
async fn seed(store: &Store) -> Result<(), BoxError> {
    let url = LongUrl::parse(BENCH_TARGET, &UrlPolicy::default(), None)?;
    let alias = Alias::parse(BENCH_CODE)?;
    let created = Utc::now() - chrono::Duration::days(HISTORY_DAYS as i64);
    let (link, _) = store
        .create_or_get(&url, Some(&alias), None, created)
        .await?;
    let today = Utc::now().date_naive();
    for back in 0..=HISTORY_DAYS {
        let day = today - chrono::Days::new(back);
        store
            .record_visit(&link.code, 0, day, &seed_visit(back))
            .await?;
    }
    // DynamoDB Local runs on a JVM that compiles a path after thousands of calls: warm the
    // calls a first redirect makes (GetItem, UpdateItem ADD) and the stats Query, so that
    // "init" and "first invocation" measure the function's cold path, not the emulator's
    // (DynamoDB is no young JVM). The counter writes go to another link, so the benchmarked
    // link's history stays a year long.
    let warm = Alias::parse("bench-warm-up")?;
    let (other, _) = store
        .create_or_get(&url, Some(&warm), None, created)
        .await?;
    for _ in 0..WARM_ROUNDS {
        store.find_link(&link.code).await?;
        store
            .record_visit(&other.code, 0, today, &seed_visit(0))
            .await?;
    }
    for _ in 0..300 {
        store.stats_for(&link.code).await?;
    }
    // A new client, so a new connection, for each round.
    for _ in 0..FRESH_CONNECTIONS {
        let fresh = Store::new(common::store::dynamodb_client()?, store.table());
        fresh.find_link(&link.code).await?;
        fresh
            .record_visit(&other.code, 0, today, &seed_visit(0))
            .await?;
    }
    Ok(())
}

/// A human visit of the seeded history, one of the benchmark's visitors.
fn seed_visit(i: u64) -> Visit {
    let (ua, referer, source, country) = VISITORS[i as usize % VISITORS.len()];
    match Visit::classify(VisitRequest {
        user_agent: Some(ua),
        referer,
        utm_source: source,
        country,
        purpose: None,
    }) {
        Visit::Bot => Visit::classify(VisitRequest {
            user_agent: Some(CHROME_WIN),
            ..Default::default()
        }),
        human => human,
    }
}

fn fmt(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) if x >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
        None => "-".into(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let client = common::store::dynamodb_client()?;
    common::store::ensure_table(&client, &args.table).await?;
    let store = Store::new(client, args.table.clone());
    seed(&store).await?;

    let env = vec![
        ("TABLE_NAME", args.table.clone()),
        ("AWS_ENDPOINT_URL", args.endpoint.clone()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("PUBLIC_BASE_URL", "https://sho.rt".to_owned()),
    ];
    let mut functions = serde_json::Map::new();
    for name in ["create", "redirect", "stats"] {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == name) {
            continue;
        }
        let dir = args.lambda_dir.join(name);
        let cmd = wrapped(&args.wrap, &dir.join("bootstrap"));
        eprintln!("bench: {name} ({} invocations)", args.invocations);
        let mut report = measure(name, cmd, &env, events_for(name), args.invocations).await?;
        let zip = std::fs::metadata(dir.join("bootstrap.zip"))
            .map(|m| m.len())
            .ok();
        report["bootstrap_zip_mb"] = json!(zip.map(|b| b as f64 / 1_048_576.0));
        functions.insert(name.to_owned(), report);
    }

    let want_reference = args.only.is_empty() || args.only.iter().any(|o| o == "python");
    let reference = match (&args.python, &args.python_dir) {
        (Some(python), Some(dir)) if want_reference => {
            eprintln!("bench: python reference ({} invocations)", args.invocations);
            let mut cmd = wrapped(&args.wrap, python);
            cmd.args(["-m", "awslambdaric", "handler.redirect"])
                .current_dir(dir)
                .env("LAMBDA_TASK_ROOT", dir)
                .env("PYTHONDONTWRITEBYTECODE", "1");
            Some(
                measure(
                    "python-redirect",
                    cmd,
                    &env,
                    events_for("redirect"),
                    args.invocations,
                )
                .await?,
            )
        }
        _ => None,
    };

    // The two floors of a warm redirect: its I/O alone, and its I/O through the crates it
    // is built on (see bench/src/bin/io_floor.rs and crates_floor.rs).
    let mut floors = serde_json::Map::new();
    for (name, path, label) in [
        ("floor", &args.floor, "I/O floor"),
        ("crates-floor", &args.crates_floor, "crates floor"),
    ] {
        let wanted = args.only.is_empty() || args.only.iter().any(|o| o == name);
        if let (Some(path), true) = (path, wanted) {
            eprintln!("bench: {label} ({} invocations)", args.invocations);
            let cmd = wrapped(&args.wrap, path);
            let events = events_for("redirect");
            let report = measure(name, cmd, &env, events, args.invocations).await?;
            floors.insert(name.to_owned(), report);
        }
    }

    let redirect = functions.get("redirect");
    let ratio = |key: &str| -> Value {
        let r = reference.as_ref().and_then(|p| p[key].as_f64());
        let rust = redirect.and_then(|r| r[key].as_f64());
        match (r, rust) {
            (Some(p), Some(r)) if r > 0.0 => json!(p / r),
            _ => Value::Null,
        }
    };
    let ratios = json!({
        "init": ratio("init_ms"),
        "first_invocation": ratio("first_invocation_ms"),
        "warm_p50": ratio("warm_p50_ms"),
        "cpu_per_warm_invocation": ratio("cpu_us_per_warm_invocation"),
        "peak_rss": ratio("peak_rss_mb"),
    });
    let report = json!({
        "date": Utc::now().to_rfc3339(),
        "invocations": args.invocations,
        "machine": {"cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "functions": functions,
        "python_reference_redirect": reference,
        "io_floor_redirect": floors.get("floor"),
        "crates_floor_redirect": floors.get("crates-floor"),
        "ratios_python_over_rust_redirect": ratios,
    });
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&report)?)?;

    println!(
        "| function | init ms (CPU) | first ms (CPU) | warm p50 ms | warm p99 ms | CPU us/warm | peak RSS MB | DDB req/warm | DDB CU/warm | zip MB |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut rows: Vec<(&str, &Value)> = functions.iter().map(|(k, v)| (k.as_str(), v)).collect();
    if let Some(r) = &reference {
        rows.push(("python redirect (reference)", r));
    }
    if let Some(r) = floors.get("floor") {
        rows.push(("I/O floor of a redirect (no processing)", r));
    }
    if let Some(r) = floors.get("crates-floor") {
        rows.push((
            "crates floor of a redirect (lambda_http + SDK UpdateItem only)",
            r,
        ));
    }
    for (name, r) in rows {
        println!(
            "| {name} | {} ({}) | {} ({}) | {} | {} | {} | {} | {} | {} | {} |",
            fmt(&r["init_ms"]),
            fmt(&r["init_cpu_ms"]),
            fmt(&r["first_invocation_ms"]),
            fmt(&r["first_invocation_cpu_ms"]),
            fmt(&r["warm_p50_ms"]),
            fmt(&r["warm_p99_ms"]),
            fmt(&r["cpu_us_per_warm_invocation"]),
            fmt(&r["peak_rss_mb"]),
            fmt(&r["ddb_requests_per_warm_invocation"]),
            fmt(&r["ddb_capacity_units_per_warm_invocation"]),
            fmt(&r["bootstrap_zip_mb"]),
        );
    }
    if reference.is_some() {
        println!(
            "\npython / rust (redirect): init {}x, first {}x, warm p50 {}x, CPU {}x, peak RSS {}x",
            fmt(&ratios["init"]),
            fmt(&ratios["first_invocation"]),
            fmt(&ratios["warm_p50"]),
            fmt(&ratios["cpu_per_warm_invocation"]),
            fmt(&ratios["peak_rss"]),
        );
    }
    println!("\nreport: {}", args.out.display());
    Ok(())
}
