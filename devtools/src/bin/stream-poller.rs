//! `stream-poller --endpoint URL --table NAME --invoke URL [--checkpoints FILE]`: what
//! Lambda's event source mapping does on AWS, for the local stack. It reads DynamoDB Local's
//! stream of the table and invokes the `aggregate` function through `cargo lambda watch`
//! with each batch, as Lambda would: the records as DynamoDB Streams returns them (plus
//! `eventSourceARN`), only those template.yaml's FilterCriteria let through, a batch
//! delivered again from the failed record on a partial batch response or an error.
//!
//! It speaks the DynamoDB Streams JSON protocol directly (DynamoDB Local checks that a
//! request carries credentials, not its signature): the records reach the function byte for
//! byte as the stream holds them. Where each shard was read up to is saved in the
//! checkpoints file (make dev), so a restart neither skips nor repeats work; without one it
//! starts at the oldest record (make test's fresh table).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, \
                    SignedHeaders=host, Signature=0";
/// Records per invocation at most, as the template's BatchSize.
const BATCH_SIZE: usize = 1000;
const IDLE: Duration = Duration::from_millis(200);

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    endpoint: String,
    table: String,
    invoke: String,
    checkpoints: Option<PathBuf>,
}

fn args() -> Result<Args, Error> {
    let mut map = BTreeMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        map.insert(flag, value);
    }
    let mut take = |k: &str| map.remove(k);
    let usage =
        "usage: stream-poller --endpoint URL --table NAME --invoke URL [--checkpoints FILE]";
    let args = Args {
        endpoint: take("--endpoint").ok_or(usage)?,
        table: take("--table").ok_or(usage)?,
        invoke: take("--invoke").ok_or(usage)?,
        checkpoints: take("--checkpoints").map(PathBuf::from),
    };
    if !map.is_empty() {
        return Err(usage.into());
    }
    Ok(args)
}

struct Poller {
    http: reqwest::Client,
    args: Args,
    /// Shard id to the last sequence number aggregated.
    done_up_to: BTreeMap<String, String>,
    /// Shards read to their end.
    finished: BTreeSet<String>,
    iterators: BTreeMap<String, String>,
}

impl Poller {
    async fn call(&self, target: &str, body: Value) -> Result<Value, Error> {
        let resp = self
            .http
            .post(&self.args.endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", target)
            .header("authorization", AUTH)
            .body(body.to_string())
            .timeout(Duration::from_secs(10))
            .send()
            .await?;
        let status = resp.status();
        let value: Value = serde_json::from_slice(&resp.bytes().await?)?;
        if !status.is_success() {
            return Err(format!("{target}: {status} {value}").into());
        }
        Ok(value)
    }

    async fn stream_arn(&self) -> Result<String, Error> {
        let table = self
            .call(
                "DynamoDB_20120810.DescribeTable",
                json!({"TableName": self.args.table}),
            )
            .await?;
        table["Table"]["LatestStreamArn"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("table {} has no stream", self.args.table).into())
    }

    /// Every shard of the stream: (id, parent).
    async fn shards(&self, arn: &str) -> Result<Vec<(String, Option<String>)>, Error> {
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let mut req = json!({"StreamArn": arn});
            if let Some(s) = &start {
                req["ExclusiveStartShardId"] = json!(s);
            }
            let out = self
                .call("DynamoDBStreams_20120810.DescribeStream", req)
                .await?;
            let desc = &out["StreamDescription"];
            for shard in desc["Shards"].as_array().into_iter().flatten() {
                let id = shard["ShardId"].as_str().unwrap_or_default().to_owned();
                let parent = shard["ParentShardId"].as_str().map(str::to_owned);
                shards.push((id, parent));
            }
            start = desc["LastEvaluatedShardId"].as_str().map(str::to_owned);
            if start.is_none() {
                return Ok(shards);
            }
        }
    }

    async fn iterator(&self, arn: &str, shard: &str, at: Option<&str>) -> Result<String, Error> {
        let mut req = json!({"StreamArn": arn, "ShardId": shard});
        match at.or(self.done_up_to.get(shard).map(String::as_str)) {
            Some(seq) if at.is_some() => {
                req["ShardIteratorType"] = json!("AT_SEQUENCE_NUMBER");
                req["SequenceNumber"] = json!(seq);
            }
            Some(seq) => {
                req["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
                req["SequenceNumber"] = json!(seq);
            }
            None => req["ShardIteratorType"] = json!("TRIM_HORIZON"),
        }
        let out = self
            .call("DynamoDBStreams_20120810.GetShardIterator", req)
            .await?;
        out["ShardIterator"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no shard iterator".into())
    }

    /// Invokes the function with `records`; `Ok(None)` all aggregated, `Ok(Some(seq))` the
    /// first record to deliver again.
    async fn invoke(&self, arn: &str, records: &[Value]) -> Result<Option<String>, Error> {
        let records: Vec<Value> = records
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r["eventSourceARN"] = json!(arn);
                r
            })
            .collect();
        let resp = self
            .http
            .post(&self.args.invoke)
            .json(&json!({ "Records": records }))
            // The first invocation may wait for cargo lambda watch to compile the function.
            .timeout(Duration::from_secs(600))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = serde_json::from_slice(&resp.bytes().await?).unwrap_or(Value::Null);
        if !status.is_success() || body.get("errorType").is_some() || body.is_null() {
            return Err(format!("aggregate failed: {status} {body}").into());
        }
        Ok(body["batchItemFailures"]
            .as_array()
            .and_then(|f| f.first())
            .and_then(|f| f["itemIdentifier"].as_str())
            .map(str::to_owned))
    }

    fn save(&self) -> Result<(), Error> {
        if let Some(path) = &self.args.checkpoints {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, serde_json::to_vec(&self.done_up_to)?)?;
            std::fs::rename(tmp, path)?;
        }
        Ok(())
    }

    /// One pass over the readable shards; returns how many records it aggregated.
    async fn pass(&mut self, arn: &str) -> Result<usize, Error> {
        let shards = self.shards(arn).await?;
        let known: BTreeSet<&str> = shards.iter().map(|(id, _)| id.as_str()).collect();
        let mut handled = 0;
        for (id, parent) in &shards {
            // A child shard is read after its parent, as Lambda does.
            let parent_pending = parent
                .as_deref()
                .is_some_and(|p| known.contains(p) && !self.finished.contains(p));
            if self.finished.contains(id) || parent_pending {
                continue;
            }
            let iterator = match self.iterators.remove(id) {
                Some(it) => it,
                None => self.iterator(arn, id, None).await?,
            };
            let out = self
                .call(
                    "DynamoDBStreams_20120810.GetRecords",
                    json!({"ShardIterator": iterator, "Limit": BATCH_SIZE}),
                )
                .await?;
            let records = out["Records"].as_array().cloned().unwrap_or_default();
            let wanted: Vec<Value> = records
                .iter()
                .filter(|r| passes_filter(r))
                .cloned()
                .collect();
            if !wanted.is_empty() {
                if let Some(again) = self.invoke(arn, &wanted).await? {
                    // Deliver again from the failed record, after a pause.
                    eprintln!("stream-poller: aggregate reported a failure at {again}; retrying");
                    let it = self.iterator(arn, id, Some(&again)).await?;
                    self.iterators.insert(id.clone(), it);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                handled += wanted.len();
            }
            if let Some(last) = records.last() {
                if let Some(seq) = last["dynamodb"]["SequenceNumber"].as_str() {
                    self.done_up_to.insert(id.clone(), seq.to_owned());
                    self.save()?;
                }
            }
            match out["NextShardIterator"].as_str() {
                Some(next) => {
                    self.iterators.insert(id.clone(), next.to_owned());
                }
                None => {
                    self.finished.insert(id.clone());
                }
            }
        }
        Ok(handled)
    }
}

/// template.yaml's FilterCriteria: day counters, and deleted links.
fn passes_filter(record: &Value) -> bool {
    let sk = record["dynamodb"]["Keys"]["sk"]["S"]
        .as_str()
        .unwrap_or_default();
    sk.starts_with("day#") || (record["eventName"] == "REMOVE" && sk == "link")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args = args()?;
    let done_up_to = match &args.checkpoints {
        Some(p) if p.exists() => serde_json::from_slice(&std::fs::read(p)?)?,
        _ => BTreeMap::new(),
    };
    let mut poller = Poller {
        http: reqwest::Client::builder().tcp_nodelay(true).build()?,
        args,
        done_up_to,
        finished: BTreeSet::new(),
        iterators: BTreeMap::new(),
    };
    eprintln!(
        "stream-poller: {} -> {}",
        poller.args.table, poller.args.invoke
    );
    let mut arn = None;
    loop {
        let result = async {
            let current = match &arn {
                Some(a) => a,
                None => arn.insert(poller.stream_arn().await?),
            };
            poller.pass(current).await
        }
        .await;
        match result {
            Ok(0) => tokio::time::sleep(IDLE).await,
            Ok(_) => {}
            Err(e) => {
                // DynamoDB Local restarting, the watch compiling: keep trying, from scratch.
                eprintln!("stream-poller: {e}");
                arn = None;
                poller.iterators.clear();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
