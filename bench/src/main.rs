//! `make bench`: runs each function's release `bootstrap` the way Lambda runs it, driven by a
//! small fake Lambda Runtime API on loopback, against DynamoDB Local; and the same for a
//! Python reference of the redirect (boto3 + awslambdaric). Writes target/bench/report.json
//! and prints a table.
//!
//! Usage: bench --endpoint URL --table NAME --lambda-dir DIR [--invocations N]
//!              [--python PYTHON --python-dir DIR] [--out FILE]

mod args;
mod events;
mod measure;
mod password;
mod runtime_api;
mod seed;

use std::time::Duration;

use chrono::Utc;
use common::Store;
use serde_json::{json, Value};

use args::{parse_args, wrapped};
use events::events_for;
use measure::measure;
use seed::seed;

pub(crate) const BENCH_CODE: &str = "bench-link";
/// Rounds of the calls a first redirect makes, sent to DynamoDB Local before measuring (see
/// `seed`). 3,000 left a first redirect at 2 to 12 ms in six runs on a fresh emulator;
/// 10,000 (with `FRESH_CONNECTIONS`) at 1.5 to 2.4 ms in four.
pub(crate) const WARM_ROUNDS: usize = 10_000;
/// New connections opened before measuring: each bootstrap opens one during Init, and the
/// emulator's accept path is as cold as the rest.
pub(crate) const FRESH_CONNECTIONS: usize = 200;
/// In every URL the create benchmark posts: a log line containing it has logged a body.
pub(crate) const BODY_MARKER: &str = "body-marker-7f3a";
pub(crate) const BENCH_TARGET: &str = "https://example.com/bench-target";
pub(crate) const HISTORY_DAYS: u64 = 365;
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
    // A smoke run (make test: a few invocations, figures not checked) warms a tenth as
    // long: the warm-up was nine tenths of its minutes in the debug build.
    let warm_rounds = if args.invocations < 100 {
        WARM_ROUNDS / 10
    } else {
        WARM_ROUNDS
    };
    seed(&store, warm_rounds).await?;

    let env = vec![
        ("TABLE_NAME", args.table.clone()),
        ("AWS_ENDPOINT_URL", args.endpoint.clone()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("PUBLIC_BASE_URL", "https://sho.rt".to_owned()),
        // As behind the edge: the visits' countries count (events.rs sends the secret).
        ("EDGE_SECRET", crate::events::EDGE_SECRET.to_owned()),
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

    let want_password = args.only.is_empty() || args.only.iter().any(|o| o == "password");
    let password = want_password.then(|| {
        eprintln!("bench: password verify (Argon2id)");
        password::measure(if args.invocations < 100 { 3 } else { 15 })
    });

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
        "password_verify": password,
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
