//! One function's run: cold start, warm invocations, and the figures read from /proc and its log.

use std::process::Stdio;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use crate::runtime_api::start_runtime;
use crate::{BoxError, BODY_MARKER, TIMEOUT};
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Nanoseconds on CPU, summed over the process's threads.
pub(crate) fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

pub(crate) fn peak_rss_kb(pid: u32) -> u64 {
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
pub(crate) fn usage_in(line: &str) -> Option<(f64, f64)> {
    fn find(v: &Value) -> Option<(f64, f64)> {
        if let (Some(r), Some(c)) = (v.get("ddb_requests"), v.get("ddb_capacity_units")) {
            return Some((r.as_f64()?, c.as_f64()?));
        }
        v.as_object()?.values().find_map(find)
    }
    find(&serde_json::from_str(line.trim()).ok()?)
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

// ---------------------------------------------------------------------------------------

pub(crate) async fn measure(
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
