//! Shared by the integration tests: clients for the real DynamoDB Local and the API that
//! `make test` started. Nothing here is a mock.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use aws_sdk_dynamodb::Client;

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: these tests run against the local stack, through `make test`")
    })
}

pub fn dynamodb_endpoint() -> String {
    required("DYNAMODB_ENDPOINT")
}

pub fn api_url() -> String {
    required("API_URL")
}

/// The table that `make test` created and the API serves.
pub fn api_table() -> String {
    required("TABLE_NAME")
}

/// A client with the functions' own settings (timeouts, retries, HTTP client).
pub fn dynamodb_at(endpoint: &str) -> Client {
    common::store::dynamodb_client_from(|k| match k {
        "AWS_REGION" => Some("us-east-1".into()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("local".into()),
        "AWS_ENDPOINT_URL" => Some(endpoint.into()),
        _ => None,
    })
    .expect("client")
}

pub fn dynamodb() -> Client {
    dynamodb_at(&dynamodb_endpoint())
}

/// A name no other test or run uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{nanos:x}{}", N.fetch_add(1, Ordering::Relaxed))
}

/// A table of one test, deleted when the guard is dropped: at the end of the test, and
/// when it panics (DynamoDB Local slows down with every table left, and make dev's is
/// persisted). Derefs to its name.
pub struct Table {
    name: String,
}

impl std::ops::Deref for Table {
    type Target = str;
    fn deref(&self) -> &str {
        &self.name
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // Drop cannot await: a thread of its own with a runtime of its own, joined.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the table's deletion");
            runtime.block_on(async {
                if let Err(e) = dynamodb().delete_table().table_name(&name).send().await {
                    eprintln!("table {name} not deleted: {e}");
                }
            });
        })
        .join();
    }
}

/// A fresh table with the production key schema, deleted when the guard goes.
pub async fn fresh_table(client: &Client) -> Table {
    let name = unique("t-");
    // `false` (it exists) only when the SDK sent the create again after a timeout on a
    // loaded machine: the name is this test's alone.
    common::store::ensure_table(client, &name).await.unwrap();
    Table { name }
}

/// The items requests write: the aggregator's totals and rankings (written from the
/// stream, seconds after earlier tests' visits) are left out.
pub async fn count_items(client: &Client, table: &str) -> i32 {
    let mut total = 0;
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .select(Select::Count)
            .filter_expression("sk <> :total AND pk <> :top")
            .expression_attribute_values(":total", AttributeValue::S("total".into()))
            .expression_attribute_values(":top", AttributeValue::S("#top".into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        total += out.count;
        start = out.last_evaluated_key;
        if start.is_none() {
            return total;
        }
    }
}

/// A key of `role` stored the way `make key` stores it (its hash only): the secret to
/// send, and the record.
pub async fn issue_key(
    store: &common::store::Store,
    role: common::domain::Role,
) -> (String, common::domain::KeyRecord) {
    let key = common::domain::ApiKey::generate().unwrap();
    let record = common::domain::KeyRecord {
        hash: key.hash(),
        name: unique("test-"),
        role,
        created_at: chrono::Utc::now(),
        revoked_at: None,
    };
    store.put_key(&record).await.unwrap();
    (key.reveal().to_owned(), record)
}

/// The User-Agent the tests' HTTP client sends: a desktop browser, so that its visits
/// count as human ones (a tool's or no User-Agent is a bot visit).
pub const BROWSER_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// The tests' HTTP client. With `EDGE_SECRET` (make test gives the watch one), every
/// request carries it, as the CloudFront edge adds it in a deployment with the edge, so
/// that `CloudFront-Viewer-Country` counts; `http_around_edge` sends none.
pub fn http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Ok(secret) = std::env::var("EDGE_SECRET") {
        headers.insert("x-origin-verify", secret.parse().unwrap());
    }
    client_with(headers)
}

/// A client that reaches the API around the edge: no edge secret.
pub fn http_around_edge() -> reqwest::Client {
    client_with(reqwest::header::HeaderMap::new())
}

fn client_with(headers: reqwest::header::HeaderMap) -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(headers)
        .user_agent(BROWSER_UA)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// An API answer as the tests read it: status, headers, JSON body (`Null` when empty).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

impl Reply {
    /// Sends `req` and reads the answer; a non-JSON body fails the test.
    pub async fn of(req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("the API answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Every error has the API's JSON shape (`{"error": {"code", "message"}}`, openapi.json); a 401 says how to authenticate.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.error_code(), code, "{}", self.body);
        assert!(self.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        assert!(self.header("content-type").starts_with("application/json"));
        if status == 401 {
            assert_eq!(self.header("www-authenticate"), "Bearer");
        }
    }
}

/// An answer read as text, whatever its type (an HTML form, a CSV document).
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A client of the API under test, with the store behind it (to issue keys as `make key`
/// does). Each test file adds the helpers of its own routes in an `impl Api` of its own.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub store: common::Store,
}

impl Api {
    pub fn new() -> Api {
        Api {
            base: api_url(),
            http: http(),
            store: common::Store::new(dynamodb(), api_table()),
        }
    }

    /// A request with an optional key (`Authorization: Bearer`) and JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        Reply::of(req).await
    }

    /// Sends `req` and reads the answer as text.
    pub async fn page(&self, req: reqwest::RequestBuilder) -> Page {
        let resp = req.send().await.expect("the API answers");
        Page {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            text: resp.text().await.unwrap(),
        }
    }

    /// A request with any content type and body, as a hostile client sends them.
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        Reply::of(req).await
    }

    /// A key stored the way `make key` stores it (hash only): the secret and its record.
    pub async fn issue_key(
        &self,
        role: common::domain::Role,
    ) -> (String, common::domain::KeyRecord) {
        issue_key(&self.store, role).await
    }

    /// Every item of the link's partition (link, counters), read consistently.
    /// The items of a link's partition that requests write: the aggregator's `total`
    /// (written from the stream, seconds after earlier visits) is left out.
    pub async fn partition(
        &self,
        code: &str,
    ) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let out = dynamodb()
            .query()
            .table_name(api_table())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(code.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        let mut items = out.items.unwrap_or_default();
        items.retain(|i| i.get("sk") != Some(&AttributeValue::S("total".into())));
        items
    }

    /// Whether the code a create of `url` would take first is still free: a refused create
    /// must have written nothing there.
    pub async fn first_code_is_free(&self, url: &str) -> bool {
        use common::domain::{generated_candidates, LongUrl, UrlPolicy};
        let url = LongUrl::parse(url, &UrlPolicy::default(), &[]).unwrap();
        let code = generated_candidates(&url).next().unwrap();
        self.partition(code.as_str()).await.is_empty()
    }
}

/// A URL no other test uses.
pub fn unique_url(prefix: &str) -> String {
    format!("https://example.com/{}", unique(prefix))
}

/// The lifetime of a warm function's copy of a link, as `make test` set it.
pub fn link_cache() -> Duration {
    let secs = std::env::var("LINK_CACHE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// Polls `check` until it holds; returns how long that took. Panics after `limit`.
pub async fn within<F, Fut>(limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Aggregates a batch as Lambda delivers it: when the aggregator reports a first failed
/// record (a store timeout on a loaded machine), the batch is delivered again from there,
/// at most `rounds` times. Returns the deliveries it took.
pub async fn aggregate_as_lambda(
    store: &common::Store,
    changes: &[common::store::StreamChange],
    now: chrono::DateTime<chrono::Utc>,
) -> usize {
    let mut from = 0;
    for round in 1..=20 {
        match store.aggregate(&changes[from..], now).await.first_failed {
            None => return round,
            Some(i) => {
                eprintln!(
                    "delivery {round}: failed from record {}, delivered again",
                    from + i
                );
                from += i;
                // As Lambda backs off: a loaded machine's store needs longer each time.
                tokio::time::sleep(Duration::from_millis(500 * round.min(8) as u64)).await;
            }
        }
    }
    panic!("the batch still failed after 20 deliveries");
}

/// A fresh table without its stream, for tests that hand the aggregator its records
/// themselves: DynamoDB Local slows down for every test after one that leaves tens of
/// thousands of stream records behind.
pub async fn quiet_table(client: &Client) -> Table {
    let table = fresh_table(client).await;
    let disabled = client
        .update_table()
        .table_name(&*table)
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(false)
                .build()
                .unwrap(),
        )
        .send()
        .await;
    if let Err(e) = disabled {
        // On a loaded machine the SDK may send the update again after an attempt timed out
        // while DynamoDB Local applied it: the second one finds no stream to disable.
        let described = client
            .describe_table()
            .table_name(&*table)
            .send()
            .await
            .unwrap();
        let streaming = described
            .table()
            .and_then(|t| t.stream_specification())
            .is_some_and(|s| s.stream_enabled());
        assert!(!streaming, "the stream of {} is still on: {e:?}", &*table);
    }
    table
}

/// Removes the link item of `code` alone, as DynamoDB's TTL does (its counters, total and
/// tries stay; the stream's REMOVE tells the aggregator).
pub async fn remove_link_as_ttl(client: &Client, table: &str, code: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    client
        .delete_item()
        .table_name(table)
        .key("pk", AttributeValue::S(code.to_owned()))
        .key("sk", AttributeValue::S("link".into()))
        .send()
        .await
        .unwrap();
}
