//! A hot link's counter through DynamoDB's throttling: the store on the real DynamoDB Local
//! behind the throttling emulator (`throttle-proxy`, devtools), started here on a port of
//! its own at 5 write units a second per partition key value. Each of the four weak points
//! of issue 29 has its test: the raise is not throttled by the partition it relieves (a
//! raised link leaves its own partition), only a key-range throttle raises the count, a
//! throttled visit is never refused (queued, then counted once), and the API's own
//! throttle is a parameter of the template.
mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use common::domain::{Code, LongUrl, UrlPolicy, Visit};
use common::store::spill::{Applied, Spilled};
use common::store::Store;
use serde_json::{json, Value};

const LIMIT: u32 = 5;

/// The emulator in front of `make test`'s DynamoDB Local, stopped when dropped.
struct Emulator {
    child: Child,
    url: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary(name: &str) -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        std::path::PathBuf::from,
    );
    target.join("debug").join(name)
}

async fn emulator() -> Emulator {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = binary("throttle-proxy");
    assert!(
        path.exists(),
        "{} is missing: make test builds it (cargo build -p devtools --bins)",
        path.display()
    );
    let child = Command::new(path)
        .args(["--listen", &port.to_string()])
        .args(["--upstream", &support::dynamodb_endpoint()])
        .args(["--write-units", &LIMIT.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("throttle-proxy starts");
    let url = format!("http://127.0.0.1:{port}");
    let emulator = Emulator { child, url };
    support::within(Duration::from_secs(20), "the emulator listens", || async {
        support::http()
            .get(format!("{}/_throttle/stats", emulator.url))
            .send()
            .await
            .is_ok()
    })
    .await;
    emulator
}

impl Emulator {
    async fn stats(&self) -> Value {
        support::http()
            .get(format!("{}/_throttle/stats", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn force(&self, reason: &str, count: u64) {
        let resp = support::http()
            .post(format!("{}/_throttle/force", self.url))
            .json(&json!({"kind": "write", "reason": reason, "count": count}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    async fn refused_on(&self, partition: &str) -> u64 {
        self.stats().await["refused_partitions"][partition]
            .as_u64()
            .unwrap_or(0)
    }
}

/// A link on a fresh table, a store reaching it through the emulator, and one reaching
/// DynamoDB Local directly (to look without spending the partition's units).
async fn hot_link(
    emulator: &Emulator,
) -> (Store, Store, aws_sdk_dynamodb::Client, support::Table, Code) {
    let direct = support::dynamodb();
    let table = support::fresh_table(&direct).await;
    let throttled = Store::new(support::dynamodb_at(&emulator.url), &*table);
    let plain = Store::new(direct.clone(), &*table);
    let url = LongUrl::parse(
        &support::unique_url("https://example.com/hot/"),
        &UrlPolicy::default(),
        &[],
    )
    .unwrap();
    let (link, _) = plain
        .create_or_get(&url, None, None, Utc::now())
        .await
        .unwrap();
    (throttled, plain, direct, table, link.code)
}

/// `n` human visits from `clients` concurrent callers that know the link with `shards`
/// counter shards (as a redirect's cached link does), each answered (never an error).
async fn visit(store: &Store, code: &Code, shards: u32, n: usize, clients: usize) -> (usize, u32) {
    let store = Arc::new(store.clone());
    let shards = Arc::new(std::sync::atomic::AtomicU32::new(shards));
    let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (store, code, shards, queued) =
            (store.clone(), code.clone(), shards.clone(), queued.clone());
        tasks.push(tokio::spawn(async move {
            for _ in (c..n).step_by(clients) {
                let seen = shards.load(std::sync::atomic::Ordering::Relaxed);
                let visit = Visit::Human(common::domain::visit::Breakdown {
                    referrer: "news.example".into(),
                    source: "none".into(),
                    device: "desktop".into(),
                    browser: "Firefox".into(),
                    country: None,
                });
                let counted = store
                    .count_visit(&code, seen, Utc::now().date_naive(), &visit)
                    .await
                    .expect("a throttled visit is never an error");
                shards.fetch_max(counted.counter_shards, std::sync::atomic::Ordering::Relaxed);
                if counted.queued {
                    queued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (
        queued.load(std::sync::atomic::Ordering::Relaxed),
        shards.load(std::sync::atomic::Ordering::Relaxed),
    )
}

/// The queue items of the table, as the stream delivers their INSERT.
async fn queue(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<Spilled> {
    let items = client
        .scan()
        .table_name(table)
        .filter_expression("begins_with(sk, :v)")
        .expression_attribute_values(":v", AttributeValue::S("visit#".into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    items
        .iter()
        .map(|item| {
            let mut image = serde_json::Map::new();
            for (k, v) in item {
                let v = match v {
                    AttributeValue::S(s) => json!({"S": s}),
                    AttributeValue::N(n) => json!({"N": n}),
                    AttributeValue::Bool(b) => json!({"BOOL": b}),
                    other => panic!("{other:?}"),
                };
                image.insert(k.clone(), v);
            }
            let record = json!({"eventName": "INSERT", "dynamodb": {"NewImage": image}});
            Spilled::of_record(&record).unwrap().unwrap()
        })
        .collect()
}

/// What the aggregator does with the queue's records (delivered twice here, as Lambda may).
async fn drain(store: &Store, client: &aws_sdk_dynamodb::Client, table: &str) -> usize {
    let spilled = queue(client, table).await;
    let mut counted = 0;
    for s in &spilled {
        for delivery in 0..2 {
            let applied = loop {
                match store.apply_spilled(s).await {
                    Ok(a) => break a,
                    Err(e) => {
                        eprintln!("retried as the stream would: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            };
            match (delivery, applied) {
                (0, Applied::Counted(_)) => counted += 1,
                (1, Applied::Already) => {}
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(queue(client, table).await.is_empty(), "the queue is empty");
    counted
}

async fn human_visits(store: &Store, code: &Code) -> (u64, u32) {
    let found = store.history(code, true).await.unwrap().unwrap();
    (found.total_visits(), found.link.counter_shards)
}

/// The partition key of a link's own partition (shard 0) is its code.
async fn shard0_count(store: &Store, code: &Code) -> u64 {
    let client = support::dynamodb();
    let day = format!("day#{}", Utc::now().date_naive());
    client
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(code.to_string()))
        .key("sk", AttributeValue::S(day))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .and_then(|i| {
            i.get("visits")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Weak points 1 and 3: past its partition's limit, every visit is answered and counted
/// exactly once (on the counters, or queued and counted once from the queue, however often
/// the stream delivers it); once raised the link's own partition takes no more counter
/// writes, so a later raise (a write of the link item there) is not throttled.
#[tokio::test]
async fn a_hot_link_counts_every_visit_once_and_leaves_its_own_partition() {
    let emulator = emulator().await;
    let (store, plain, client, table, code) = hot_link(&emulator).await;
    let started = Instant::now();
    let (queued, shards) = visit(&store, &code, 1, 300, 8).await;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "300 visits in {secs:.1} s ({:.0}/s, limit {LIMIT}), {queued} queued, {shards} shards",
        300.0 / secs
    );
    assert!(shards > 1, "the shard count was raised");
    let counted_from_queue = drain(&plain, &client, &table).await;
    assert_eq!(counted_from_queue, queued);
    let (visits, stored_shards) = human_visits(&plain, &code).await;
    assert_eq!(visits, 300, "every visit counted once");
    assert!(stored_shards >= shards);

    // Raised: the link's own partition takes no more counter writes, and is not throttled.
    let own = shard0_count(&plain, &code).await;
    let refused_own = emulator.refused_on(code.as_str()).await;
    let (queued, _) = visit(&store, &code, stored_shards, 200, 8).await;
    drain(&plain, &client, &table).await;
    assert_eq!(
        shard0_count(&plain, &code).await,
        own,
        "no visit on shard 0"
    );
    assert_eq!(
        emulator.refused_on(code.as_str()).await,
        refused_own,
        "shard 0 not throttled again"
    );
    let raised = store
        .raise_counter_shards(&code, stored_shards)
        .await
        .expect("a raise is not throttled");
    assert!(raised > stored_shards || raised == common::store::MAX_COUNTER_SHARDS);
    let (visits, _) = human_visits(&plain, &code).await;
    assert_eq!(
        visits, 500,
        "every visit counted once ({queued} of the last 200 queued)"
    );
}

/// Weak point 2: a table's or account's limit raises nothing (more partitions would not
/// help); the visit is queued, then counted.
#[tokio::test]
async fn a_table_level_throttle_queues_the_visit_and_raises_nothing() {
    let emulator = emulator().await;
    let (store, plain, client, table, code) = hot_link(&emulator).await;
    for reason in [
        "TableWriteAccountLimitExceeded",
        "TableWriteMaxOnDemandThroughputExceeded",
    ] {
        // The counter's two attempts (the visit counter tries a throttle once more).
        emulator.force(reason, 2).await;
        let counted = store
            .count_visit(&code, 1, Utc::now().date_naive(), &Visit::Bot)
            .await
            .expect("not refused");
        assert!(counted.queued, "{reason}");
        assert_eq!(counted.counter_shards, 1, "{reason}: not raised");
        assert_eq!(emulator.stats().await["refused"][reason], 2);
    }
    let (_, shards) = human_visits(&plain, &code).await;
    assert_eq!(shards, 1, "the stored count was not raised");
    assert_eq!(drain(&plain, &client, &table).await, 2);
    let found = plain.history(&code, true).await.unwrap().unwrap();
    assert_eq!(found.total_bot_visits(), 2);
}

/// A visit queued for a link that was deleted, and whose code was taken again, goes to
/// nobody: the new link starts clean.
#[tokio::test]
async fn a_queued_visit_of_a_deleted_link_is_dropped() {
    let emulator = emulator().await;
    let (store, plain, client, table, code) = hot_link(&emulator).await;
    emulator.force("TableWriteAccountLimitExceeded", 2).await;
    let counted = store
        .count_visit(&code, 1, Utc::now().date_naive(), &Visit::Bot)
        .await
        .unwrap();
    assert!(counted.queued);
    let link = plain.find_link(&code).await.unwrap().unwrap();
    plain.delete_link(&link, true).await.unwrap();
    let spilled = queue(&client, &table).await;
    assert_eq!(spilled.len(), 1);
    assert_eq!(
        plain.apply_spilled(&spilled[0]).await.unwrap(),
        Applied::Dropped
    );
    assert!(queue(&client, &table).await.is_empty());
}

/// Weak point 4: the API's own throttle (API Gateway's default route) is the template's
/// `ThrottlingRateLimit` and `ThrottlingBurstLimit`, up to 10,000 and 5,000 a second.
#[test]
fn the_apis_throttle_is_a_parameter() {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&template).unwrap();
    let settings = &doc["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"];
    for (setting, parameter, max) in [
        ("ThrottlingRateLimit", "ThrottlingRateLimit", 10_000),
        ("ThrottlingBurstLimit", "ThrottlingBurstLimit", 5_000),
    ] {
        assert!(
            format!("{:?}", settings[setting]).contains(parameter),
            "{setting}"
        );
        assert_eq!(doc["Parameters"][parameter]["MaxValue"].as_u64(), Some(max));
    }
}
