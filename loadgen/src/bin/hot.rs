//! `make hot`'s driver: one link's visits from many concurrent clients (a browser's user
//! agent, so each is a human visit) for `--seconds`, through the throttling emulator in
//! front of DynamoDB Local (`throttle-proxy`, at `--limit` write units a second per
//! partition). Then, once the aggregator has caught up: 302s sent against the visits the
//! stats count, the aggregator's all-time total and today's ranking (all equal: nothing
//! lost, nothing counted twice), 5xx answers (none), latency, and how the link's shard
//! count rose. Written to `--out` (JSON, the keys of issue 29) and printed.
//!
//! Usage: hot --url API --ddb DYNAMODB_LOCAL --proxy EMULATOR --admin-key KEY
//!            --limit WU_PER_S --seconds S --concurrency C --wait S --out FILE [--rate R]
//!
//! `--rate`: visits a second over all clients (each client at its share, evenly spaced);
//! 0, the default, is as fast as the clients go. Unbounded, the load follows the machine:
//! on an idle one 8 clients sent 240 a second, more than 32 shards at the emulated limit
//! take (160), and the queue of what they could not take outlasted the wait.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";
const REFERRERS: [&str; 4] = [
    "",
    "https://news.example/",
    "https://mail.example/",
    "https://social.example/",
];

struct Args {
    url: String,
    ddb: String,
    proxy: String,
    admin_key: String,
    limit: f64,
    seconds: u64,
    concurrency: usize,
    wait: u64,
    out: String,
    rate: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut get = std::collections::HashMap::new();
    while let Some(name) = it.next() {
        let value = it.next().ok_or(format!("{name} needs a value"))?;
        get.insert(name, value);
    }
    let text = |k: &str| get.get(k).cloned().ok_or(format!("{k} is required"));
    let num = |k: &str| -> Result<f64, String> {
        text(k)?
            .parse()
            .map_err(|_| format!("{k} must be a number"))
    };
    Ok(Args {
        url: text("--url")?.trim_end_matches('/').to_owned(),
        ddb: text("--ddb")?.trim_end_matches('/').to_owned(),
        proxy: text("--proxy")?.trim_end_matches('/').to_owned(),
        admin_key: text("--admin-key")?,
        limit: num("--limit")?,
        seconds: num("--seconds")? as u64,
        concurrency: num("--concurrency")? as usize,
        wait: num("--wait")? as u64,
        out: text("--out")?,
        rate: if get.contains_key("--rate") {
            Some(num("--rate")?)
                .filter(|r| r.is_finite() && *r >= 0.0)
                .ok_or("--rate must be 0 or more")?
        } else {
            0.0
        },
    })
}

/// One DynamoDB Local call, straight (not through the emulator, so as not to spend the
/// link's partition's units on looking at it).
async fn dynamodb(client: &Client, ddb: &str, op: &str, body: Value) -> Result<Value, String> {
    let resp = client
        .post(format!("{ddb}/"))
        .header("x-amz-target", format!("DynamoDB_20120810.{op}"))
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let v: Value = resp.json().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(v)
    } else {
        Err(format!("{op}: {status} {v}"))
    }
}

async fn shards_of(client: &Client, ddb: &str, code: &str) -> Option<u64> {
    let v = dynamodb(
        client,
        ddb,
        "GetItem",
        json!({"TableName": "links", "Key": {"pk": {"S": code}, "sk": {"S": "link"}}}),
    )
    .await
    .ok()?;
    Some(
        v.pointer("/Item/counter_shards/N")
            .and_then(Value::as_str)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1),
    )
}

/// Visits still queued for the aggregator (`common/src/store/spill.rs`).
async fn queued(client: &Client, ddb: &str) -> Option<u64> {
    let mut count = 0;
    let mut start: Option<Value> = None;
    loop {
        let mut body = json!({"TableName": "links", "Select": "COUNT",
            "FilterExpression": "begins_with(sk, :v)",
            "ExpressionAttributeValues": {":v": {"S": "visit#"}}});
        if let Some(s) = start.take() {
            body["ExclusiveStartKey"] = s;
        }
        let v = dynamodb(client, ddb, "Scan", body).await.ok()?;
        count += v.get("Count").and_then(Value::as_u64).unwrap_or(0);
        match v.get("LastEvaluatedKey") {
            Some(k) => start = Some(k.clone()),
            None => return Some(count),
        }
    }
}

async fn get_json(client: &Client, url: &str, key: &str) -> Option<Value> {
    let resp = client.get(url).bearer_auth(key).send().await.ok()?;
    (resp.status() == StatusCode::OK).then_some(())?;
    resp.json().await.ok()
}

/// The link's visits in a ranking (`None`: not in it).
fn ranked(v: &Value, code: &str) -> Option<u64> {
    v.get("links")?
        .as_array()?
        .iter()
        .find(|l| l.get("code").and_then(Value::as_str) == Some(code))?
        .get("visits")?
        .as_u64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hot: {e}");
            return ExitCode::from(2);
        }
    };
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let target = format!("https://example.com/hot/{}", fastrand::u64(..));
    let created = client
        .post(format!("{}/links", args.url))
        .json(&json!({ "url": target }))
        .send()
        .await;
    let code = match created {
        Ok(r) if r.status().is_success() => r
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned)),
        _ => None,
    };
    let Some(code) = code else {
        eprintln!("hot: could not create the link");
        return ExitCode::FAILURE;
    };
    let pace = if args.rate > 0.0 {
        format!("{} visits/s in all", args.rate)
    } else {
        "as fast as they go".to_owned()
    };
    eprintln!(
        "hot: /{code} for {} s, {} clients ({pace}), emulated limit {} write units/s per partition",
        args.seconds, args.concurrency, args.limit
    );

    let sent_302 = Arc::new(AtomicU64::new(0));
    let errors_5xx = Arc::new(AtomicU64::new(0));
    let other = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, url) = (client.clone(), format!("{}/{code}", args.url));
        let (sent_302, errors_5xx, other, latencies, stop) = (
            sent_302.clone(),
            errors_5xx.clone(),
            other.clone(),
            latencies.clone(),
            stop.clone(),
        );
        // Each client's spacing at its share of --rate (none when unbounded); a late
        // visit is sent at once and the next spaced from it, never a burst to catch up.
        let period =
            (args.rate > 0.0).then(|| Duration::from_secs_f64(args.concurrency as f64 / args.rate));
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut ticks = period.map(|p| {
                let mut t = tokio::time::interval(p);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            while !stop.load(Ordering::Relaxed) {
                if let Some(t) = ticks.as_mut() {
                    t.tick().await;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                let mut req = client.get(&url).header("user-agent", BROWSER_UA);
                let referrer = REFERRERS[fastrand::usize(..REFERRERS.len())];
                if !referrer.is_empty() {
                    req = req.header("referer", referrer);
                }
                let t = Instant::now();
                match req.send().await {
                    Ok(r) if r.status() == StatusCode::FOUND => {
                        sent_302.fetch_add(1, Ordering::Relaxed);
                        mine.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(r) if r.status().is_server_error() => {
                        errors_5xx.fetch_add(1, Ordering::Relaxed);
                        eprintln!("hot: {} {:?}", r.status(), r.text().await.ok());
                    }
                    _ => {
                        other.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }
    // The shard count, once a second.
    let mut timeline = Vec::new();
    let mut last = 0;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let t = started.elapsed().as_secs();
        let shards = shards_of(&client, &args.ddb, &code).await.unwrap_or(0);
        let sent = sent_302.load(Ordering::Relaxed);
        if t % 10 == 0 {
            eprintln!(
                "hot: {t:>4} s  {sent:>7} redirects  {:>6.1}/s  {shards} shards",
                (sent - last) as f64 / 10.0
            );
            last = sent;
        }
        if timeline.last().map(|(_, s)| *s) != Some(shards) {
            timeline.push((t, shards));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let sent = sent_302.load(Ordering::Relaxed);
    let proxy_stats = get_json(&client, &format!("{}/_throttle/stats", args.proxy), "")
        .await
        .unwrap_or(Value::Null);

    // Until the aggregator has counted every queued visit and the totals agree.
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let today = chrono::Utc::now().date_naive();
    let (mut stats, mut total, mut ranking, mut queue);
    loop {
        queue = queued(&client, &args.ddb).await;
        stats = get_json(
            &client,
            &format!("{}/links/{code}/stats", args.url),
            &args.admin_key,
        )
        .await
        .and_then(|v| v.get("total_visits").and_then(Value::as_u64));
        total = get_json(
            &client,
            &format!("{}/stats?period=all&limit=10", args.url),
            &args.admin_key,
        )
        .await
        .and_then(|v| ranked(&v, &code));
        ranking = get_json(
            &client,
            &format!("{}/stats?period=day&date={today}&limit=10", args.url),
            &args.admin_key,
        )
        .await
        .and_then(|v| ranked(&v, &code));
        let settled =
            queue == Some(0) && stats == Some(sent) && total == Some(sent) && ranking == Some(sent);
        if settled || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let counted = stats.unwrap_or(0);
    let shards = timeline.last().map_or(1, |(_, s)| *s);
    let report = json!({
        "code": code,
        "limit_wu_per_s": args.limit,
        "seconds": (seconds * 10.0).round() / 10.0,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "sent_302": sent,
        "counted_stats": stats,
        "counted_total": total,
        "counted_ranking": ranking,
        "counted_per_s": (counted as f64 / seconds * 10.0).round() / 10.0,
        "ratio": (counted as f64 / seconds / args.limit * 100.0).round() / 100.0,
        "errors_5xx": errors_5xx.load(Ordering::Relaxed),
        "other_answers": other.load(Ordering::Relaxed),
        "p50_ms": (percentile(&lat, 0.5) * 10.0).round() / 10.0,
        "p99_ms": (percentile(&lat, 0.99) * 10.0).round() / 10.0,
        "max_ms": (lat.last().copied().unwrap_or(0.0) * 10.0).round() / 10.0,
        "shards": shards,
        "shards_over_time": timeline.iter().map(|(t, s)| json!({"second": t, "shards": s})).collect::<Vec<_>>(),
        "queued_left": queue,
        "emulator": proxy_stats,
    });
    let text = serde_json::to_string_pretty(&report).expect("JSON");
    if let Err(e) = std::fs::write(&args.out, &text) {
        eprintln!("hot: could not write {}: {e}", args.out);
    }
    println!("{text}");
    let mut misses = Vec::new();
    for (what, got) in [
        ("stats", stats),
        ("aggregator's total", total),
        ("today's ranking", ranking),
    ] {
        if got != Some(sent) {
            misses.push(format!(
                "{what} counted {got:?}, {sent} redirects were sent"
            ));
        }
    }
    if errors_5xx.load(Ordering::Relaxed) > 0 {
        misses.push(format!(
            "{} answers were 5xx",
            errors_5xx.load(Ordering::Relaxed)
        ));
    }
    if queue != Some(0) {
        misses.push(format!("{queue:?} visits still queued"));
    }
    for m in &misses {
        println!("MISS {m}");
    }
    if misses.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
