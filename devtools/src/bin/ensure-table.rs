//! `ensure-table [--wait SECONDS]`: waits for DynamoDB (Local) to answer, then creates
//! `$TABLE_NAME` with the key schema of template.yaml unless it exists. Idempotent.

use std::time::{Duration, Instant};

use common::store::dynamodb_client;
use common::store::ensure_table;

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

    let deadline = Instant::now() + Duration::from_secs(wait_secs);
    loop {
        match client.list_tables().limit(1).send().await {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                let e = aws_sdk_dynamodb::error::DisplayErrorContext(e);
                return Err(format!("DynamoDB did not answer within {wait_secs} s: {e}").into());
            }
        }
    }
    let created = ensure_table(&client, &table).await?;
    println!(
        "table {table}: {}",
        if created { "created" } else { "already exists" }
    );
    Ok(())
}
