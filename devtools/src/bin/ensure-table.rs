//! `ensure-table [--wait SECONDS]`: waits for DynamoDB (Local) to answer, then creates
//! `$TABLE_NAME` with the key schema of template.yaml unless it exists. Idempotent.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use common::store::dynamodb_client;
use common::store::ensure_table;

/// Table creation is a control-plane call: DynamoDB Local persisted to disk may take
/// seconds to create a table and its index on a busy machine (a CreateTable ran past the
/// functions' 3 s budget in a CI run). Generous per-call limits, and the whole is retried
/// until `--wait` runs out.
fn control_plane_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(60))
        .build()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wait_secs = match args.as_slice() {
        [] => 30,
        [flag, secs] if flag == "--wait" => secs.parse()?,
        _ => return Err("usage: ensure-table [--wait SECONDS]".into()),
    };
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    let client = dynamodb_client()?;
    let client = aws_sdk_dynamodb::Client::from_conf(
        client
            .config()
            .to_builder()
            .timeout_config(control_plane_timeouts())
            .build(),
    );

    let deadline = Instant::now() + Duration::from_secs(wait_secs);
    loop {
        match client.list_tables().limit(1).send().await {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                let e = aws_sdk_dynamodb::error::DisplayErrorContext(e);
                return Err(format!("DynamoDB did not answer within {wait_secs} s: {e}").into());
            }
        }
    }
    // A create that timed out may have been applied: the next round finds the table
    // (ResourceInUse) and checks its stream and index instead.
    let created = loop {
        match ensure_table(&client, &table).await {
            Ok(created) => break created,
            Err(e) if Instant::now() < deadline => {
                eprintln!("table {table}: {e:?}; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(format!("table {table} not ready within {wait_secs} s: {e:?}").into())
            }
        }
    };
    println!(
        "table {table}: {}",
        if created { "created" } else { "already exists" }
    );
    Ok(())
}
