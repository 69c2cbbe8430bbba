//! `load`: the load generator of `make load N=... C=...`.
//!
//! Per run, a pool of 3 random strings; each link is an alias of 1 to 6 segments drawn from
//! the pool and joined by `-` (at most 1,092 links). It creates the links the run will
//! visit, sends N `GET /{alias}` at random among them with C in flight (redirects are not
//! followed; a browser User-Agent, so that each is a counted human visit), shows progress,
//! then prints throughput, latency percentiles and status counts, and checks that every
//! link's stats count exactly the redirects it got and that the rankings (`GET /stats`, kept
//! by the aggregator from the table's stream) agree, once the aggregator has caught up.
//! Exits non-zero on any mismatch.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use loadgen::{check_ranking, RANKING_LIMIT};
use reqwest::{redirect, Client, StatusCode};
use serde_json::{json, Value};

const USAGE: &str =
    "usage: load [--url BASE] [-n REQUESTS] [-c IN_FLIGHT] [--key API_KEY] [--wait SECONDS]
  --url   the API (default http://127.0.0.1:9000)
  -n      GET requests to send (default 1000)
  -c      requests in flight (default 16)
  --key   an admin API key (default $LOAD_API_KEY): the rankings are an admin's
  --wait  how long to wait for the aggregator to catch up (default 60 s)";
const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                          Chrome/124.0 Safari/537.36";
const POOL: usize = 3;
const SEGMENT_LEN: usize = 8;

struct Args {
    url: String,
    requests: usize,
    in_flight: usize,
    key: Option<String>,
    wait: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: "http://127.0.0.1:9000".into(),
        requests: 1000,
        in_flight: 16,
        key: std::env::var("LOAD_API_KEY").ok().filter(|k| !k.is_empty()),
        wait: Duration::from_secs(60),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let value = it.next().ok_or(format!("{flag} needs a value\n{USAGE}"))?;
        let number = |v: &str| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!("{flag} must be a positive whole number"))
        };
        match flag.as_str() {
            "--url" => args.url = value.trim_end_matches('/').to_owned(),
            "-n" => args.requests = number(&value)?,
            "-c" => args.in_flight = number(&value)?,
            "--key" => args.key = Some(value).filter(|k| !k.is_empty()),
            "--wait" => args.wait = Duration::from_secs(number(&value)? as u64),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn random_segment() -> String {
    (0..SEGMENT_LEN)
        .map(|_| {
            let i = fastrand::usize(0..36);
            char::from_digit(i as u32, 36).expect("below 36")
        })
        .collect()
}

/// One path: 1 to 6 segments from the pool, joined by `-`.
fn random_alias(pool: &[String]) -> String {
    let segments = fastrand::usize(1..=6);
    (0..segments)
        .map(|_| pool[fastrand::usize(0..pool.len())].as_str())
        .collect::<Vec<_>>()
        .join("-")
}

fn authorized(req: reqwest::RequestBuilder, key: &Option<String>) -> reqwest::RequestBuilder {
    match key {
        Some(k) => req.bearer_auth(k),
        None => req,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<bool, String> {
    let client = Client::builder()
        .redirect(redirect::Policy::none())
        .user_agent(BROWSER_UA)
        .pool_max_idle_per_host(args.in_flight)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let pool: Vec<String> = (0..POOL).map(|_| random_segment()).collect();
    let plan: Vec<String> = (0..args.requests).map(|_| random_alias(&pool)).collect();
    let mut links: Vec<String> = plan.clone();
    links.sort();
    links.dedup();
    println!(
        "load: {} GET {} with {} in flight; pool {:?}, {} links",
        args.requests,
        args.url,
        args.in_flight,
        pool,
        links.len()
    );

    create_links(&client, &args, &links).await?;
    let day_before = chrono::Utc::now().date_naive();
    let (results, elapsed) = send_visits(&client, &args, plan).await?;
    let day_after = chrono::Utc::now().date_naive();
    let sent = summarize(results, elapsed, args.requests);
    let mut ok = check_stats(&client, &args, &links, &sent).await;
    ok &= check_rankings(&client, &args, &sent, day_before, day_after).await?;
    println!("{}", if ok { "load: OK" } else { "load: FAILED" });
    Ok(ok)
}

/// The links, created with C in flight.
async fn create_links(client: &Client, args: &Args, links: &[String]) -> Result<(), String> {
    let created: Vec<Result<(), String>> = stream::iter(links.iter())
        .map(|alias| {
            let req = client.post(format!("{}/links", args.url)).json(&json!({
                "url": format!("https://example.com/load/{alias}"),
                "alias": alias,
            }));
            let req = authorized(req, &args.key);
            async move {
                let resp = req.send().await.map_err(|e| format!("POST /links: {e}"))?;
                match resp.status() {
                    StatusCode::CREATED | StatusCode::OK => Ok(()),
                    s => Err(format!(
                        "POST /links for {alias}: {s} {}",
                        resp.text().await.unwrap_or_default()
                    )),
                }
            }
        })
        .buffer_unordered(args.in_flight)
        .collect()
        .await;
    if let Some(Err(e)) = created.into_iter().find(|r| r.is_err()) {
        return Err(e);
    }

    Ok(())
}

type Visited = Vec<(String, Result<StatusCode, String>, Duration)>;

/// The visits, C in flight, with a progress bar: each one's status and latency.
async fn send_visits(
    client: &Client,
    args: &Args,
    plan: Vec<String>,
) -> Result<(Visited, Duration), String> {
    let bar = ProgressBar::new(args.requests as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} eta {eta}",
        )
        .map_err(|e| e.to_string())?,
    );
    let bar = Arc::new(bar);
    let started = Instant::now();
    let results: Vec<(String, Result<StatusCode, String>, Duration)> = stream::iter(plan)
        .map(|alias| {
            let client = client.clone();
            let bar = bar.clone();
            let url = format!("{}/{alias}", args.url);
            async move {
                let t = Instant::now();
                let status = client
                    .get(url)
                    .send()
                    .await
                    .map(|r| r.status())
                    .map_err(|e| e.to_string());
                let took = t.elapsed();
                bar.inc(1);
                (alias, status, took)
            }
        })
        .buffer_unordered(args.in_flight)
        .collect()
        .await;
    let elapsed = started.elapsed();
    bar.finish();
    Ok((results, elapsed))
}

/// Prints throughput, latency percentiles and statuses; the visits each link was answered.
fn summarize(results: Visited, elapsed: Duration, requests: usize) -> HashMap<String, u64> {
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut sent: HashMap<String, u64> = HashMap::new();
    let mut latencies: Vec<Duration> = Vec::with_capacity(results.len());
    for (alias, status, took) in results {
        latencies.push(took);
        match status {
            Ok(s) => {
                *statuses.entry(s.as_u16().to_string()).or_default() += 1;
                if s.is_redirection() {
                    *sent.entry(alias).or_default() += 1;
                }
            }
            Err(e) => {
                let kind = if e.contains("timed out") {
                    "timeout"
                } else {
                    "error"
                };
                *statuses.entry(kind.to_owned()).or_default() += 1;
            }
        }
    }
    latencies.sort_unstable();
    println!(
        "throughput: {:.0} requests/s ({} in {:.2} s)",
        requests as f64 / elapsed.as_secs_f64(),
        requests,
        elapsed.as_secs_f64()
    );
    println!(
        "latency: p50 {}, p90 {}, p99 {}, max {}",
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 90.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    let counts: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    println!("statuses: {}", counts.join(", "));

    sent
}

/// Each link's stats: read from its counters directly, exact at once.
async fn check_stats(
    client: &Client,
    args: &Args,
    links: &[String],
    sent: &HashMap<String, u64>,
) -> bool {
    let mut ok = true;
    let mismatches: Vec<String> = stream::iter(links.iter())
        .map(|alias| {
            let req = authorized(
                client.get(format!("{}/links/{alias}/stats", args.url)),
                &args.key,
            );
            let expected = sent.get(alias).copied().unwrap_or(0);
            async move {
                let body: Value = match req.send().await {
                    Ok(r) if r.status() == StatusCode::OK => r.json().await.unwrap_or(Value::Null),
                    Ok(r) => return Some(format!("{alias}: stats answered {}", r.status())),
                    Err(e) => return Some(format!("{alias}: stats: {e}")),
                };
                let got = body["total_visits"].as_u64();
                (got != Some(expected))
                    .then(|| format!("{alias}: stats say {got:?} visits, {expected} were sent"))
            }
        })
        .buffer_unordered(args.in_flight)
        .filter_map(|m| async move { m })
        .collect()
        .await;
    if mismatches.is_empty() {
        println!(
            "stats: all {} links count exactly what was sent",
            links.len()
        );
    } else {
        ok = false;
        for m in mismatches.iter().take(20) {
            println!("MISMATCH {m}");
        }
        println!(
            "stats: {} of {} links differ",
            mismatches.len(),
            links.len()
        );
    }

    ok
}

/// The rankings, once the aggregator has caught up.
async fn check_rankings(
    client: &Client,
    args: &Args,
    sent: &HashMap<String, u64>,
    day_before: chrono::NaiveDate,
    day_after: chrono::NaiveDate,
) -> Result<bool, String> {
    let mut ok = true;
    let mut periods = vec![("all", None)];
    if day_before == day_after {
        periods.push(("day", Some(day_after.format("%Y-%m-%d").to_string())));
    } else {
        println!("ranking of the day: skipped (the run crossed midnight UTC)");
    }
    for (period, date) in periods {
        let waited = Instant::now();
        let mut last = String::new();
        loop {
            let mut url = format!("{}/stats?period={period}&limit={RANKING_LIMIT}", args.url);
            if let Some(d) = &date {
                url.push_str(&format!("&date={d}"));
            }
            let resp = authorized(client.get(url), &args.key).send().await;
            let body: Value = match resp {
                Ok(r) if r.status() == StatusCode::OK => r.json().await.unwrap_or(Value::Null),
                Ok(r) => {
                    let status = r.status();
                    return Err(format!(
                        "GET /stats answered {status}: {} (an admin key is needed: --key or LOAD_API_KEY)",
                        r.text().await.unwrap_or_default()
                    ));
                }
                Err(e) => return Err(format!("GET /stats: {e}")),
            };
            match check_ranking(&body, sent) {
                Ok(shown) => {
                    println!(
                        "ranking {period}: matches after {:.1} s ({shown} of this run's links in the top {RANKING_LIMIT})",
                        waited.elapsed().as_secs_f64()
                    );
                    break;
                }
                Err(why) if waited.elapsed() < args.wait => {
                    last = why;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(why) => {
                    let why = if why.is_empty() { last.clone() } else { why };
                    println!(
                        "MISMATCH ranking {period} after {} s: {why}",
                        args.wait.as_secs()
                    );
                    ok = false;
                    break;
                }
            }
        }
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_one_to_six_segments_of_the_pool() {
        let pool: Vec<String> = (0..POOL).map(|_| random_segment()).collect();
        for _ in 0..500 {
            let alias = random_alias(&pool);
            let parts: Vec<&str> = alias.split('-').collect();
            assert!((1..=6).contains(&parts.len()), "{alias}");
            assert!(parts.iter().all(|p| pool.iter().any(|s| s == p)), "{alias}");
            assert!(alias.len() <= 64, "an alias is at most 64 characters");
        }
    }

    #[test]
    fn percentiles() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&d, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&d[..1], 90.0), Duration::from_millis(1));
    }

    #[test]
    fn ranking_checks() {
        let sent: HashMap<String, u64> = [("a", 3), ("b", 2), ("c", 1)]
            .into_iter()
            .map(|(c, n)| (c.to_owned(), n))
            .collect();
        let ranking = |v: &[(&str, u64)]| json!({"links": v.iter().map(|(c, n)| json!({"code": c, "visits": n})).collect::<Vec<_>>()});
        assert_eq!(
            check_ranking(&ranking(&[("x", 9), ("a", 3), ("b", 2), ("c", 1)]), &sent),
            Ok(3)
        );
        assert!(
            check_ranking(&ranking(&[("a", 3), ("c", 1)]), &sent).is_err(),
            "b missing"
        );
        assert!(check_ranking(&ranking(&[("a", 2), ("b", 2), ("c", 1)]), &sent).is_err());
        assert!(check_ranking(&ranking(&[("b", 2), ("a", 3), ("c", 1)]), &sent).is_err());
    }
}
