//! The DynamoDB store: the only module that knows attribute names and expressions.
//!
//! One table, key `pk` + `sk`:
//! - a link at `pk = <code>, sk = "link"` (`links.rs`), listed per owner through the sparse
//!   index `by-owner` (only owned links carry `owner`: `listing.rs`), its visit cap counted
//!   by a conditional write on it (`caps.rs`);
//! - one visit counter per link and UTC day at `sk = "day#YYYY-MM-DD"` (`counters.rs`);
//! - per link its all-time total at `sk = "total"` (`totals.rs`), and the rankings at
//!   `pk = "#top"`, `sk = "all" | "date#YYYY-MM-DD"` (`rankings.rs`), kept by the `aggregate`
//!   function from the table's stream (`stream.rs` reads it, `aggregates.rs` applies it);
//! - the tries of a password link's current lockout window at `sk = "tries"` (`tries.rs`);
//! - API keys at `pk = "#key", sk = <hash>` (`keys.rs`): `#` never occurs in a code;
//! - the questions a key asked the analytics model this hour, at
//!   `pk = "#owner#<key id>", sk = "asks#YYYY-MM-DDTHH"` (`questions.rs`);
//! - the table's definition, as template.yaml has it (`schema.rs`);
//! - the SDK client every function shares (`client.rs`).
//!
//! Every access pattern is one request in the common case.

mod aggregates;
mod caps;
pub mod client;
mod counters;
mod expression;
mod keys;
mod layout;
mod links;
mod listing;
mod owner_totals;
mod questions;
mod rankings;
mod schema;
pub mod spill;
pub mod stream;
mod totals;
mod tries;

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, KeysAndAttributes, ReturnConsumedCapacity,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, NaiveDate, Utc};

use crate::cache::TtlCache;
use crate::domain::{day_string, parse_day};
use layout::{PK, SK};

pub use aggregates::Aggregated;
pub use caps::VisitGate;
pub use client::{dynamodb_client, dynamodb_client_from};
pub use counters::{Counted, MAX_COUNTER_SHARDS};
pub use keys::RevokeError;
pub use layout::OWNER_INDEX;
pub use links::{
    CreateError, Created, LinkHistory, LinkOptions, LinkStatsRead, LinkWithHistory, Updated,
    EXPIRED_GRACE,
};
pub use listing::{LinksPage, ListedExtras};
pub use owner_totals::OwnerTotals;
pub use questions::{seconds_to_next_hour, QuestionGate};
pub use rankings::{RankedLink, RankedRef, Ranking};
pub use schema::{ensure_table, example_keys, key_schema, ItemKind};
pub use stream::StreamChange;
pub use totals::LinkTotals;
pub use tries::TryGate;

/// Days remembered: a day's maps only grow, so what was learnt stays true for the day.
const DAY_MAPS_CAPACITY: usize = 10_000;
const DAY_MAPS_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

type BoxError = Box<dyn StdError + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB could not be reached, timed out, throttled or failed: worth a retry.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// DynamoDB throttled the request after the SDK's retries; a 503 like `Unavailable`.
    /// `key_range`: one partition key value was over its limit (a hot link's counter: more
    /// counter shards help, `counters.rs`); otherwise a table or account limit, which more
    /// partitions cannot help.
    #[error("store throttled: {cause}")]
    Throttled {
        key_range: bool,
        #[source]
        cause: BoxError,
    },
    /// An item that this code did not write, or wrote differently.
    #[error("malformed item for '{code}': {what}")]
    Malformed { code: String, what: &'static str },
}

fn unavailable<E: StdError + Send + Sync + 'static>(e: SdkError<E>) -> StoreError {
    // The full chain (service error, connector error, timeout) goes to the log, not the client.
    StoreError::Unavailable(DisplayErrorContext(e).to_string().into())
}

/// Error codes of DynamoDB's throttling: a partition's, the table's or the account's limit.
const THROTTLE_CODES: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
];

/// Whether a throttle was one partition key value's limit (`...KeyRangeThroughputExceeded`
/// among its `ThrottlingReasons`). A `ProvisionedThroughputExceededException` without
/// reasons (DynamoDB before it sent them) is taken as one: this table is on demand, where
/// that exception has no other cause.
fn key_range_throttle(code: &str, reasons: &[String]) -> bool {
    if reasons.is_empty() {
        code == "ProvisionedThroughputExceededException"
    } else {
        reasons
            .iter()
            .any(|r| r.ends_with("KeyRangeThroughputExceeded"))
    }
}

/// A service error other than the one the caller handles, with DynamoDB's code and
/// message for the log (a `ValidationException` says which expression it refused);
/// throttling as `Throttled`, with its reasons.
fn service_error<E: MaybeRefused>(e: E) -> StoreError {
    let code = e.code().unwrap_or("unknown").to_owned();
    let message = e.message().unwrap_or("").to_owned();
    let reasons = e.throttling_reasons();
    if THROTTLE_CODES.contains(&code.as_str()) {
        let cause = format!("{code} {reasons:?}: {message}").into();
        StoreError::Throttled {
            key_range: key_range_throttle(&code, &reasons),
            cause,
        }
    } else {
        StoreError::Unavailable(format!("{code}: {message}").into())
    }
}

/// What a request with a condition did.
#[derive(Debug)]
pub(crate) enum Outcome<T, R = Option<Item>> {
    Applied(T),
    /// Its condition refused it: for one item, the item as it was when the request asked
    /// for it (`ReturnValuesOnConditionCheckFailure=ALL_OLD`); for a transaction, each
    /// item's cancellation reason code, in the order of its items.
    Refused(R),
}

/// An operation's error that may be a refused condition.
pub(crate) trait MaybeRefused:
    aws_sdk_dynamodb::error::ProvideErrorMetadata + StdError + Send + Sync + Sized + 'static
{
    /// What a refusal carries (`Outcome::Refused`).
    type Refusal;

    /// `Ok(what the refusal carries)` when a condition refused the request, else `Err(self)`.
    fn refused(self) -> Result<Self::Refusal, Self>;

    /// The `ThrottlingReasons` of a throttle (`TableWriteKeyRangeThroughputExceeded`, ...).
    fn throttling_reasons(&self) -> Vec<String>;
}

/// The reasons of the three throttling exceptions every data operation can answer.
macro_rules! throttling_reasons {
    ($($module:ident::$error:ident),*) => {$(
        impl ThrottleReasons for aws_sdk_dynamodb::operation::$module::$error {
            fn reasons(&self) -> Vec<String> {
                let reasons = match self {
                    Self::ProvisionedThroughputExceededException(e) => e.throttling_reasons(),
                    Self::ThrottlingException(e) => e.throttling_reasons(),
                    Self::RequestLimitExceeded(e) => e.throttling_reasons(),
                    _ => &[],
                };
                reasons.iter().filter_map(|r| r.reason().map(str::to_owned)).collect()
            }
        }
    )*};
}

trait ThrottleReasons {
    fn reasons(&self) -> Vec<String>;
}

throttling_reasons!(
    put_item::PutItemError,
    update_item::UpdateItemError,
    delete_item::DeleteItemError,
    get_item::GetItemError,
    query::QueryError,
    batch_get_item::BatchGetItemError,
    batch_write_item::BatchWriteItemError,
    transact_write_items::TransactWriteItemsError
);

macro_rules! refused_by_condition {
    ($($module:ident::$error:ident),*) => {$(
        impl MaybeRefused for aws_sdk_dynamodb::operation::$module::$error {
            type Refusal = Option<Item>;
            fn refused(self) -> Result<Option<Item>, Self> {
                match self {
                    Self::ConditionalCheckFailedException(c) => Ok(c.item),
                    other => Err(other),
                }
            }
            fn throttling_reasons(&self) -> Vec<String> {
                self.reasons()
            }
        }
    )*};
}
refused_by_condition!(
    put_item::PutItemError,
    update_item::UpdateItemError,
    delete_item::DeleteItemError
);
macro_rules! never_refused {
    ($($module:ident::$error:ident),*) => {$(
        impl MaybeRefused for aws_sdk_dynamodb::operation::$module::$error {
            type Refusal = std::convert::Infallible;
            fn refused(self) -> Result<std::convert::Infallible, Self> {
                Err(self)
            }
            fn throttling_reasons(&self) -> Vec<String> {
                self.reasons()
            }
        }
    )*};
}
never_refused!(
    get_item::GetItemError,
    query::QueryError,
    batch_get_item::BatchGetItemError,
    batch_write_item::BatchWriteItemError
);

/// A transaction is refused when DynamoDB cancels it: each item's reason code
/// (`ConditionalCheckFailed`, `TransactionConflict`, a throttle, or `None` for an item that
/// was not the cause), in the order of the items.
impl MaybeRefused for aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError {
    type Refusal = Vec<String>;
    fn refused(self) -> Result<Vec<String>, Self> {
        match self {
            Self::TransactionCanceledException(c) => Ok(c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect()),
            other => Err(other),
        }
    }
    fn throttling_reasons(&self) -> Vec<String> {
        self.reasons()
    }
}

/// DynamoDB requests made and capacity units consumed, as DynamoDB reports them
/// (`ReturnConsumedCapacity=TOTAL` on every call), for the per-request log line.
#[derive(Debug, Default)]
struct Usage {
    requests: AtomicU64,
    milli_units: AtomicU64,
    /// Time spent waiting on DynamoDB, retries included.
    micros: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UsageSnapshot {
    pub requests: u64,
    pub capacity_units: f64,
    pub store_micros: u64,
}

impl UsageSnapshot {
    pub fn since(self, earlier: UsageSnapshot) -> UsageSnapshot {
        UsageSnapshot {
            requests: self.requests - earlier.requests,
            capacity_units: self.capacity_units - earlier.capacity_units,
            store_micros: self.store_micros - earlier.store_micros,
        }
    }
}

impl Usage {
    /// A write refused by its condition: DynamoDB reports no capacity with the error, but
    /// bills it as a write of the item (at least 1 WRU), so it is counted as one.
    fn refused_write(&self) {
        self.milli_units.fetch_add(1000, Ordering::Relaxed);
    }

    fn record(&self, started: Instant, consumed: Option<&ConsumedCapacity>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let micros = started.elapsed().as_micros() as u64;
        self.micros.fetch_add(micros, Ordering::Relaxed);
        if let Some(units) = consumed.and_then(|c| c.capacity_units) {
            let milli = (units * 1000.0).round() as u64;
            self.milli_units.fetch_add(milli, Ordering::Relaxed);
        }
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    /// The same client (HTTP connections included) with `single_attempt_window` and
    /// `counter_retry_config`, built once:
    /// an override per call would cost some 80 us of CPU per visit.
    counter_client: Client,
    table: String,
    usage: Arc<Usage>,
    /// What this process learnt of each link's day maps (see `counters.rs`).
    /// Keyed by the counter's partition (the code, or the code and shard) and day.
    days: Arc<TtlCache<(String, NaiveDate), Arc<counters::DayMaps>>>,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Store {
        let counter_config = client
            .config()
            .to_builder()
            .timeout_config(client::single_attempt_window())
            .retry_config(client::counter_retry_config())
            .build();
        Store {
            counter_client: Client::from_conf(counter_config),
            client,
            table: table.into(),
            usage: Arc::default(),
            days: Arc::new(TtlCache::new(DAY_MAPS_CAPACITY, DAY_MAPS_TTL)),
        }
    }

    /// What this store (and its clones) used so far; diff two snapshots for one request.
    pub fn usage(&self) -> UsageSnapshot {
        UsageSnapshot {
            requests: self.usage.requests.load(Ordering::Relaxed),
            capacity_units: self.usage.milli_units.load(Ordering::Relaxed) as f64 / 1000.0,
            store_micros: self.usage.micros.load(Ordering::Relaxed),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn record<T>(
        &self,
        started: Instant,
        result: &Result<T, impl Sized>,
        consumed: impl Fn(&T) -> Option<&ConsumedCapacity>,
    ) {
        self.usage
            .record(started, result.as_ref().ok().and_then(consumed));
    }

    /// One DynamoDB request, the only way the store sends one: timed and its capacity
    /// counted for the request's log line (a refused write as the unit AWS bills); a
    /// condition that refused it is `Outcome::Refused`, any other error a `StoreError`.
    async fn call<O, E>(
        &self,
        request: impl std::future::Future<Output = Result<O, SdkError<E>>>,
        capacity: impl Fn(&O) -> Option<&ConsumedCapacity>,
    ) -> Result<Outcome<O, E::Refusal>, StoreError>
    where
        E: MaybeRefused,
    {
        let started = Instant::now();
        let out = request.await;
        self.record(started, &out, capacity);
        match out {
            Ok(o) => Ok(Outcome::Applied(o)),
            Err(SdkError::ServiceError(e)) => match e.into_err().refused() {
                Ok(item) => {
                    self.usage.refused_write();
                    Ok(Outcome::Refused(item))
                }
                Err(other) => Err(service_error(other)),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    /// A transaction of `items`, through `call` as every other request: `Refused` with each
    /// item's cancellation reason code when DynamoDB cancels it.
    async fn transact(
        &self,
        items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> Result<Outcome<(), Vec<String>>, StoreError> {
        let request = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        Ok(
            match self
                .call(request, |o| o.consumed_capacity().first())
                .await?
            {
                Outcome::Applied(_) => Outcome::Applied(()),
                Outcome::Refused(codes) => Outcome::Refused(codes),
            },
        )
    }

    /// `call` for a request without a condition.
    async fn call_plain<O, E>(
        &self,
        request: impl std::future::Future<Output = Result<O, SdkError<E>>>,
        capacity: impl Fn(&O) -> Option<&ConsumedCapacity>,
    ) -> Result<O, StoreError>
    where
        E: MaybeRefused,
    {
        match self.call(request, capacity).await? {
            Outcome::Applied(o) => Ok(o),
            Outcome::Refused(_) => Err(StoreError::Unavailable(
                "a request without a condition was refused by one".into(),
            )),
        }
    }

    /// Every item of the partition `pk` (a link with its counters, or the keys), in as
    /// many `Query` pages as it takes (one below 1 MB). `projection` limits the attributes.
    async fn query_partition(
        &self,
        pk: &str,
        projection: Option<&str>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_sorted(pk, SortRange::All, projection, consistent)
            .await
    }

    /// The items of the partition `pk` whose sort keys are in `range`, in as many `Query`
    /// pages as it takes.
    async fn query_sorted(
        &self,
        pk: &str,
        range: SortRange<'_>,
        projection: Option<&str>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        let (condition, bounds) = match range {
            SortRange::All => ("pk = :pk", vec![]),
            SortRange::From(low) => ("pk = :pk AND sk >= :low", vec![(":low", low)]),
            SortRange::Between(low, high) => (
                "pk = :pk AND sk BETWEEN :low AND :high",
                vec![(":low", low), (":high", high)],
            ),
        };
        loop {
            let mut values = std::collections::HashMap::from([(":pk".to_owned(), s(pk))]);
            for (name, value) in &bounds {
                values.insert((*name).to_owned(), s(value));
            }
            let request = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values))
                .set_projection_expression(projection.map(str::to_owned))
                .consistent_read(consistent)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send();
            let out = self.call_plain(request, |o| o.consumed_capacity()).await?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// One `GetItem`: eventually consistent (half the cost) unless `consistent`.
    async fn get_item(
        &self,
        pk: &str,
        sk: &str,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let request = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            // Only sent when true: an eventually consistent read is the same request as before.
            .set_consistent_read(consistent.then_some(true))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        Ok(self
            .call_plain(request, |o| o.consumed_capacity())
            .await?
            .item)
    }

    /// The items at `keys` (`pk`, `sk`) that exist, with the attributes of `projection`
    /// (`names` its `#placeholders`): one `BatchGetItem` per 100 keys, with what DynamoDB
    /// left unprocessed asked again. In no particular order.
    async fn batch_get(
        &self,
        keys: &[(&str, &str)],
        projection: &str,
        names: &[(&str, &str)],
    ) -> Result<Vec<Item>, StoreError> {
        self.batch_read(keys, Some(projection), names, false).await
    }

    /// `batch_get` of whole items (`projection` `None`), strongly consistent if asked.
    async fn batch_read(
        &self,
        keys: &[(&str, &str)],
        projection: Option<&str>,
        names: &[(&str, &str)],
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|(pk, sk)| Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))]))
                .collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .set_projection_expression(projection.map(str::to_owned))
                    .set_consistent_read(consistent.then_some(true))
                    .set_expression_attribute_names((!names.is_empty()).then(|| {
                        names
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect()
                    }))
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.into()))?,
            );
            for attempt in 0..5u32 {
                let Some(req) = request.take() else { break };
                let mut out = self
                    .call_plain(
                        self.client
                            .batch_get_item()
                            .request_items(&self.table, req)
                            .return_consumed_capacity(ReturnConsumedCapacity::Total)
                            .send(),
                        |o| o.consumed_capacity().first(),
                    )
                    .await?;
                found.extend(
                    out.responses
                        .as_mut()
                        .and_then(|r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                request = out
                    .unprocessed_keys
                    .and_then(|mut m| m.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
                if request.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                }
            }
            if request.is_some() {
                return Err(StoreError::Unavailable(
                    "batch read left keys unprocessed".into(),
                ));
            }
        }
        Ok(found)
    }

    /// Opens the connection to DynamoDB (TCP, TLS, credentials, signing) during Init, which
    /// runs with more CPU than an invocation, so that the first request does not pay for it.
    /// A failure only means the first request connects.
    pub async fn warm_up(&self) {
        if let Err(e) = self.ping().await {
            tracing::warn!(error = %e, "warm-up read failed");
        }
    }

    /// The cheapest read there is: an eventually consistent `GetItem` of a key no item
    /// has (0.5 read units). The health check and the Init warm-up.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.get_item("#health", "ping", false).await.map(|_| ())
    }
}

type Item = HashMap<String, AttributeValue>;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// A map attribute of numbers (a breakdown, a total's days, a ranking), keys as stored;
/// empty when absent.
/// The sort keys a `Query` reads within its partition.
#[derive(Debug, Clone, Copy)]
enum SortRange<'a> {
    All,
    /// This key and every one after it.
    From(&'a str),
    /// From the first to the second key, both included.
    Between(&'a str, &'a str),
}

fn number_map(item: &Item, name: &str) -> std::collections::BTreeMap<String, u64> {
    item.get(name)
        .and_then(|m| m.as_m().ok())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_n().ok()?.parse().ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

fn time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text(item, name)?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Code;
    use crate::http::ApiError;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    use aws_sdk_dynamodb::types::error::{
        ProvisionedThroughputExceededException, RequestLimitExceeded,
    };
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    #[tokio::test]
    async fn throttling_is_unavailable_and_a_503() {
        let throttled_read = mock!(Client::get_item).then_error(|| {
            GetItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder()
                    .message("slow down")
                    .build(),
            )
        });
        let throttled_write = mock!(Client::update_item).then_error(|| {
            UpdateItemError::RequestLimitExceeded(
                RequestLimitExceeded::builder()
                    .message("account limit")
                    .build(),
            )
        });
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&throttled_read, &throttled_write]
        );
        let store = Store::new(client, "links");
        let code = Code::parse("abc").unwrap();

        let read = store.find_link(&code).await.unwrap_err();
        assert!(matches!(read, StoreError::Unavailable(_)), "{read:?}");
        let resp = ApiError::from(read).into_response();
        assert_eq!(resp.status(), 503);
        assert!(resp.headers().contains_key("retry-after"));

        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let write = store
            .record_visit(&code, 0, day, &crate::domain::Visit::Bot)
            .await
            .unwrap_err();
        assert!(matches!(write, StoreError::Unavailable(_)), "{write:?}");
        assert_eq!(ApiError::from(write).status(), 503);

        let health = store.ping().await.unwrap_err();
        assert!(matches!(health, StoreError::Unavailable(_)), "{health:?}");
    }
    fn key_of(
        input: &aws_sdk_dynamodb::operation::update_item::UpdateItemInput,
    ) -> (String, String) {
        let get = |k: &str| {
            input
                .key()
                .and_then(|key| key.get(k))
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        (get(PK), get(SK))
    }

    fn hot() -> UpdateItemError {
        UpdateItemError::ProvisionedThroughputExceededException(
            // As the SDK parses it: the code in the error's metadata.
            ProvisionedThroughputExceededException::builder()
                .message("hot item")
                .meta(
                    aws_sdk_dynamodb::error::ErrorMetadata::builder()
                        .code("ProvisionedThroughputExceededException")
                        .message("hot item")
                        .build(),
                )
                .build(),
        )
    }

    /// DynamoDB Local never throttles: the throttle of a hot link's counter is mocked.
    #[tokio::test]
    async fn a_throttled_counter_raises_the_shards_and_counts_on_a_new_shard() {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
        // Shard 0 (the link's own partition) is throttled, the others are not.
        let throttled = mock!(Client::update_item)
            .match_requests(|r| {
                let (pk, sk) = key_of(r);
                pk == "hot" && sk.starts_with("day#")
            })
            .then_error(hot);
        let raise = mock!(Client::update_item)
            .match_requests(|r| key_of(r).1 == "link")
            .then_output(|| UpdateItemOutput::builder().build());
        let shards = mock!(Client::update_item)
            .match_requests(|r| key_of(r).0.starts_with("hot#"))
            .then_output(|| {
                UpdateItemOutput::builder()
                    .attributes("bot_visits", n(1))
                    .build()
            });
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&throttled, &raise, &shards]
        );
        let store = Store::new(client, "links");
        let code = Code::parse("hot").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();

        let counted = store
            .count_visit(&code, 1, day, &crate::domain::Visit::Bot)
            .await
            .unwrap();
        assert_eq!(
            counted,
            Counted {
                counter_shards: 3,
                queued: false
            }
        );
        assert!(throttled.num_calls() >= 1);
        assert_eq!(raise.num_calls(), 1, "the shard count raised once");
        assert_eq!(
            shards.num_calls(),
            1,
            "the visit written once, to shard 1 or 2"
        );
    }

    /// The put of a queued visit (`spill.rs`): its partition and what it carries.
    fn queued_item(input: &aws_sdk_dynamodb::operation::put_item::PutItemInput) -> Item {
        input.item().cloned().unwrap_or_default()
    }

    /// At the most shards, a visit still throttled is queued for the aggregator: the
    /// visitor is not refused, and the visit is written once, to the queue.
    #[tokio::test]
    async fn a_counter_throttled_at_the_most_shards_is_queued_not_refused() {
        use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
        use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
        let counters = mock!(Client::update_item)
            .match_requests(|r| key_of(r).1.starts_with("day#"))
            .then_error(hot);
        // Not raised past the most: no write.
        let raise = mock!(Client::update_item)
            .match_requests(|r| key_of(r).1 == "link")
            .then_output(|| UpdateItemOutput::builder().build());
        let queue = mock!(Client::put_item)
            .match_requests(|r| {
                let item = queued_item(r);
                text(&item, PK).is_some_and(|pk| pk.starts_with("spill#p"))
                    && text(&item, "code") == Some("hot")
                    && item.contains_key("bot")
                    && !item.contains_key("raise")
            })
            .then_output(|| PutItemOutput::builder().build());
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&counters, &raise, &queue]
        );
        let store = Store::new(client, "links");
        let code = Code::parse("hot").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let counted = store
            .count_visit(&code, MAX_COUNTER_SHARDS, day, &crate::domain::Visit::Bot)
            .await
            .unwrap();
        assert_eq!(
            counted,
            Counted {
                counter_shards: MAX_COUNTER_SHARDS,
                queued: true
            }
        );
        assert_eq!(raise.num_calls(), 0);
        assert_eq!(queue.num_calls(), 1);
        // The SDK retries a throttle (it wrote nothing) within the same budget.
        assert_eq!(
            counters.num_calls(),
            client::COUNTER_ATTEMPTS as usize,
            "its shard, tried twice"
        );
    }

    fn throttled_with(exception: &str, reason: &str) -> UpdateItemError {
        use aws_sdk_dynamodb::types::error::ThrottlingException;
        use aws_sdk_dynamodb::types::ThrottlingReason;
        let meta = aws_sdk_dynamodb::error::ErrorMetadata::builder()
            .code(exception)
            .message("throttled")
            .build();
        let why = ThrottlingReason::builder().reason(reason).build();
        match exception {
            "RequestLimitExceeded" => UpdateItemError::RequestLimitExceeded(
                RequestLimitExceeded::builder()
                    .message("throttled")
                    .throttling_reasons(why)
                    .meta(meta)
                    .build(),
            ),
            _ => UpdateItemError::ThrottlingException(
                ThrottlingException::builder()
                    .message("throttled")
                    .throttling_reasons(why)
                    .meta(meta)
                    .build(),
            ),
        }
    }

    /// A table's or account's limit is not a hot partition: more shards would not help,
    /// so the count is not raised; the visit is queued.
    #[tokio::test]
    async fn a_table_level_throttle_queues_the_visit_and_raises_nothing() {
        use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
        use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
        for (exception, reason) in [
            ("RequestLimitExceeded", "TableWriteAccountLimitExceeded"),
            (
                "ThrottlingException",
                "TableWriteMaxOnDemandThroughputExceeded",
            ),
        ] {
            let counters = mock!(Client::update_item)
                .match_requests(|r| key_of(r).1.starts_with("day#"))
                .then_error(move || throttled_with(exception, reason));
            let raise = mock!(Client::update_item)
                .match_requests(|r| key_of(r).1 == "link")
                .then_output(|| UpdateItemOutput::builder().build());
            let queue = mock!(Client::put_item).then_output(|| PutItemOutput::builder().build());
            let client = mock_client!(
                aws_sdk_dynamodb,
                RuleMode::MatchAny,
                [&counters, &raise, &queue]
            );
            let store = Store::new(client, "links");
            let code = Code::parse("hot").unwrap();
            let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
            let counted = store
                .count_visit(&code, 1, day, &crate::domain::Visit::Bot)
                .await
                .unwrap();
            assert_eq!(
                counted,
                Counted {
                    counter_shards: 1,
                    queued: true
                },
                "{reason}"
            );
            assert_eq!(raise.num_calls(), 0, "{reason}: not raised");
            assert_eq!(queue.num_calls(), 1, "{reason}");
        }
    }

    /// The first raise writes the link's own partition, the hot one: when it is throttled
    /// too, the visit is queued with the raise, for the aggregator to make.
    #[tokio::test]
    async fn a_throttled_raise_travels_with_the_queued_visit() {
        use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
        let hot_partition = mock!(Client::update_item)
            .match_requests(|r| key_of(r).0 == "hot")
            .then_error(hot);
        let queue = mock!(Client::put_item)
            .match_requests(|r| number(&queued_item(r), "raise") == Some(3))
            .then_output(|| PutItemOutput::builder().build());
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&hot_partition, &queue]
        );
        let store = Store::new(client, "links");
        let code = Code::parse("hot").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let counted = store
            .count_visit(&code, 1, day, &crate::domain::Visit::Bot)
            .await
            .unwrap();
        assert!(counted.queued);
        assert_eq!(queue.num_calls(), 1);
    }

    #[test]
    fn a_hot_link_leaves_its_own_partition_and_raises_by_doubling() {
        use super::counters::{next_shard_count, pick_shard};
        assert_eq!(pick_shard(1), 0);
        for _ in 0..100 {
            let s = pick_shard(3);
            assert!((1..3).contains(&s), "{s}");
        }
        assert_eq!(next_shard_count(1), 3);
        assert_eq!(next_shard_count(3), 6);
        assert_eq!(next_shard_count(24), MAX_COUNTER_SHARDS);
        assert_eq!(next_shard_count(MAX_COUNTER_SHARDS), MAX_COUNTER_SHARDS);
    }
}
