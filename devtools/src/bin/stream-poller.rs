//! `stream-poller --endpoint URL --table NAME --invoke URL --template FILE --failures FILE
//! [--checkpoints FILE]`: what Lambda's event source mapping does on AWS, for the local
//! stack. It reads DynamoDB Local's stream of the table and invokes the `aggregate`
//! function through `cargo lambda watch` with each batch, as Lambda would, with the
//! settings of template.yaml's stream event: the records as DynamoDB Streams returns them
//! (plus `eventSourceARN`), only those its FilterCriteria let through
//! (`devtools::filter`), at most BatchSize at once, a batch delivered again from the failed
//! record on a partial batch response, split in two on a function error, and a record that
//! still fails after MaximumRetryAttempts retries written to the failures file (the
//! stand-in for the AggregateFailures queue) so that the stream moves on
//! (`devtools::delivery`).
//!
//! It speaks the DynamoDB Streams JSON protocol directly (DynamoDB Local checks that a
//! request carries credentials, not its signature): the records reach the function byte for
//! byte as the stream holds them. Where each shard was read up to is saved in the
//! checkpoints file (make dev), so a restart neither skips nor repeats work; without one it
//! starts at the oldest record (make test's fresh table).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use devtools::delivery::{self, Answer, GivenUp, Settings};
use devtools::filter;
use serde_json::{json, Value};

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, \
                    SignedHeaders=host, Signature=0";
/// Records per GetRecords call (DynamoDB Streams' maximum).
const READ_LIMIT: usize = 1000;
const IDLE: Duration = Duration::from_millis(200);

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    endpoint: String,
    table: String,
    invoke: String,
    template: PathBuf,
    failures: PathBuf,
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
    let usage = "usage: stream-poller --endpoint URL --table NAME --invoke URL \
                 --template FILE --failures FILE [--checkpoints FILE]";
    let args = Args {
        endpoint: take("--endpoint").ok_or(usage)?,
        table: take("--table").ok_or(usage)?,
        invoke: take("--invoke").ok_or(usage)?,
        template: take("--template").ok_or(usage)?.into(),
        failures: take("--failures").ok_or(usage)?.into(),
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
    patterns: Vec<Value>,
    settings: Settings,
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

    /// An iterator after the last record aggregated, or at the oldest for a new shard.
    async fn iterator(&self, arn: &str, shard: &str) -> Result<String, Error> {
        let mut req = json!({"StreamArn": arn, "ShardId": shard});
        match self.done_up_to.get(shard) {
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

    /// Invokes the function with `records`: its verdict, or `Err` when it could not be
    /// reached (no verdict on the records).
    async fn invoke(&self, arn: &str, records: Vec<Value>) -> Result<Answer, Error> {
        let records: Vec<Value> = records
            .into_iter()
            .map(|mut r| {
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
        let bytes = resp.bytes().await?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let failures = body.get("batchItemFailures").and_then(Value::as_array);
        if !status.is_success() || body.get("errorType").is_some() || failures.is_none() {
            let text = String::from_utf8_lossy(&bytes);
            return Ok(Answer::FunctionError(format!("{status} {text}")));
        }
        Ok(
            match failures
                .and_then(|f| f.first())
                .and_then(|f| f["itemIdentifier"].as_str())
            {
                Some(seq) => Answer::FailedFrom(seq.to_owned()),
                None => Answer::Done,
            },
        )
    }

    /// The local stand-in for the AggregateFailures queue: one JSON line per give-up.
    fn give_up(&self, g: &GivenUp) -> Result<(), Error> {
        use std::io::Write;
        let first = g
            .records
            .first()
            .map(|r| r["dynamodb"]["SequenceNumber"].clone());
        eprintln!(
            "stream-poller: gave up on {} record(s) from {} after {} attempts ({}); written to {}",
            g.records.len(),
            first.clone().unwrap_or(Value::Null),
            g.attempts,
            g.reason,
            self.args.failures.display()
        );
        let line = json!({
            "time": chrono::Utc::now().to_rfc3339(),
            "reason": g.reason,
            "attempts": g.attempts,
            "records": g.records,
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.args.failures)?;
        writeln!(file, "{line}")?;
        Ok(())
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
                None => self.iterator(arn, id).await?,
            };
            let out = self
                .call(
                    "DynamoDBStreams_20120810.GetRecords",
                    json!({"ShardIterator": iterator, "Limit": READ_LIMIT}),
                )
                .await?;
            let records = out["Records"].as_array().cloned().unwrap_or_default();
            let wanted: Vec<Value> = records
                .iter()
                .filter(|r| filter::passes(&self.patterns, r))
                .cloned()
                .collect();
            if !wanted.is_empty() {
                let this = &*self;
                let given_up =
                    delivery::deliver(&wanted, &self.settings, |batch| this.invoke(arn, batch))
                        .await?;
                for g in &given_up {
                    self.give_up(g)?;
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args = args()?;
    let done_up_to = match &args.checkpoints {
        Some(p) if p.exists() => serde_json::from_slice(&std::fs::read(p)?)?,
        _ => BTreeMap::new(),
    };
    let template = std::fs::read_to_string(&args.template)
        .map_err(|e| format!("{}: {e}", args.template.display()))?;
    let mut poller = Poller {
        http: reqwest::Client::builder().tcp_nodelay(true).build()?,
        patterns: filter::template_patterns(&template)?,
        settings: Settings::from_template(&template)?,
        args,
        done_up_to,
        finished: BTreeSet::new(),
        iterators: BTreeMap::new(),
    };
    eprintln!(
        "stream-poller: {} -> {} ({} filter patterns, batches of {}, {} retries, bisect {}; \
         failures to {})",
        poller.args.table,
        poller.args.invoke,
        poller.patterns.len(),
        poller.settings.batch_size,
        poller.settings.max_retries,
        poller.settings.bisect,
        poller.args.failures.display()
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
