//! The DynamoDB store: the only module that knows attribute names and expressions.
//!
//! One table, key `pk` (the code) + `sk`: the link at `sk = "link"`, one visit counter per
//! UTC day at `sk = "day#YYYY-MM-DD"`. Every access pattern is one request in the common case.

use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConsumedCapacity, KeySchemaElement, KeyType,
    ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};

use crate::domain::link::rfc3339;
use crate::domain::{generated_candidates, Alias, Code, Link, LinkKind, LongUrl};

const PK: &str = "pk";
const SK: &str = "sk";
const LINK_SK: &str = "link";
const DAY_PREFIX: &str = "day#";

type BoxError = Box<dyn StdError + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB could not be reached, timed out, throttled or failed: worth a retry.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// An item that this code did not write, or wrote differently.
    #[error("malformed item for code '{code}': {what}")]
    Malformed { code: String, what: &'static str },
}

fn unavailable<E: StdError + Send + Sync + 'static>(e: SdkError<E>) -> StoreError {
    // The full chain (service error, connector error, timeout) goes to the log, not the client.
    StoreError::Unavailable(DisplayErrorContext(e).to_string().into())
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("alias '{0}' already points to another URL")]
    AliasTaken(String),
    #[error("every code for this URL is taken by another URL")]
    CodesExhausted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `create_or_get` wrote a new link or found the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    Existing,
}

/// A link with its visits per day, as one `Query` returns them.
#[derive(Debug, Clone)]
pub struct LinkHistory {
    pub link: Link,
    pub daily: BTreeMap<NaiveDate, u64>,
}

impl LinkHistory {
    pub fn total_visits(&self) -> u64 {
        self.daily.values().sum()
    }
}

enum PutOutcome {
    Written,
    Taken(Link),
}

/// DynamoDB requests made and capacity units consumed, as DynamoDB reports them
/// (`ReturnConsumedCapacity=TOTAL` on every call), for the per-request log line.
#[derive(Debug, Default)]
struct Usage {
    requests: AtomicU64,
    milli_units: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UsageSnapshot {
    pub requests: u64,
    pub capacity_units: f64,
}

impl UsageSnapshot {
    pub fn since(self, earlier: UsageSnapshot) -> UsageSnapshot {
        UsageSnapshot {
            requests: self.requests - earlier.requests,
            capacity_units: self.capacity_units - earlier.capacity_units,
        }
    }
}

impl Usage {
    fn record(&self, consumed: Option<&ConsumedCapacity>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(units) = consumed.and_then(|c| c.capacity_units) {
            let milli = (units * 1000.0).round() as u64;
            self.milli_units.fetch_add(milli, Ordering::Relaxed);
        }
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    /// The same client (HTTP connections included) with `single_attempt_window`, built once:
    /// an override per call would cost some 80 us of CPU per visit.
    counter_client: Client,
    table: String,
    usage: Arc<Usage>,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Store {
        let counter_config = client
            .config()
            .to_builder()
            .timeout_config(crate::runtime::single_attempt_window())
            .build();
        Store {
            counter_client: Client::from_conf(counter_config),
            client,
            table: table.into(),
            usage: Arc::default(),
        }
    }

    /// What this store (and its clones) used so far; diff two snapshots for one request.
    pub fn usage(&self) -> UsageSnapshot {
        UsageSnapshot {
            requests: self.usage.requests.load(Ordering::Relaxed),
            capacity_units: self.usage.milli_units.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The link for `url`: a new one, or the one it already has. With an alias the code is
    /// the alias (taken by another URL: `AliasTaken`); without, the first code of the
    /// URL's collision chain that is free or already its own. Each step is one conditional
    /// write, so concurrent creates of the same URL or alias end with one item.
    pub async fn create_or_get(
        &self,
        url: &LongUrl,
        alias: Option<&Alias>,
        now: DateTime<Utc>,
    ) -> Result<(Link, Created), CreateError> {
        // Stored with millisecond precision: the new link equals the one read back later.
        let created_at = now.trunc_subsecs(3);
        let link = |code: Code, kind| Link {
            code,
            url: url.clone(),
            created_at,
            kind,
        };
        if let Some(alias) = alias {
            let link = link(alias.code().clone(), LinkKind::Alias);
            return match self.put_if_absent(&link).await? {
                PutOutcome::Written => Ok((link, Created::New)),
                PutOutcome::Taken(old) if old.url == *url => Ok((old, Created::Existing)),
                PutOutcome::Taken(_) => Err(CreateError::AliasTaken(link.code.to_string())),
            };
        }
        for code in generated_candidates(url) {
            let link = link(code, LinkKind::Generated);
            match self.put_if_absent(&link).await? {
                PutOutcome::Written => return Ok((link, Created::New)),
                PutOutcome::Taken(old) if old.url == *url => return Ok((old, Created::Existing)),
                PutOutcome::Taken(old) => {
                    tracing::warn!(code = %old.code, "code collision, trying a longer prefix");
                }
            }
        }
        Err(CreateError::CodesExhausted)
    }

    /// One conditional `PutItem`; on a failed condition the item that holds the code comes
    /// back in the same call.
    async fn put_if_absent(&self, link: &Link) -> Result<PutOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(link.code.as_str()))
            .item(SK, s(LINK_SK))
            .item("url", s(link.url.as_str()))
            .item("created_at", s(&rfc3339(link.created_at)))
            .item("kind", s(link.kind.as_str()))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        // A failed condition is still a write request; its capacity is not reported.
        self.usage
            .record(result.as_ref().ok().and_then(|o| o.consumed_capacity()));
        match result {
            Ok(_) => Ok(PutOutcome::Written),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                PutItemError::ConditionalCheckFailedException(c) => {
                    let item = c.item.ok_or(StoreError::Malformed {
                        code: link.code.to_string(),
                        what: "condition failed without the old item",
                    })?;
                    Ok(PutOutcome::Taken(link_from_item(&link.code, &item)?))
                }
                other => Err(StoreError::Unavailable(Box::new(other))),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The link behind `code`, with an eventually consistent read (half the cost; a link
    /// never changes once written).
    pub async fn find_link(&self, code: &Code) -> Result<Option<Link>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(code.as_str()))
            .key(SK, s(LINK_SK))
            .projection_expression("#u, created_at, kind")
            .expression_attribute_names("#u", "url")
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.usage
            .record(out.as_ref().ok().and_then(|o| o.consumed_capacity()));
        let out = out.map_err(unavailable)?;
        out.item.map(|item| link_from_item(code, &item)).transpose()
    }

    /// Opens the connection to DynamoDB (TCP, TLS, credentials, signing) during Init, which
    /// runs with more CPU than an invocation, so that the first request does not pay for it.
    /// Reads a key no link can have; a failure only means the first request connects.
    pub async fn warm_up(&self) {
        let result = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s("~warm-up"))
            .key(SK, s(LINK_SK))
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %DisplayErrorContext(e), "warm-up read failed");
        }
    }

    /// Counts one visit on `day` with an atomic `ADD`; returns the day's new count. `ADD` is
    /// not idempotent, so a slow attempt is never retried (see `single_attempt_window`).
    pub async fn record_visit(&self, code: &Code, day: NaiveDate) -> Result<u64, StoreError> {
        let out = self
            .counter_client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(code.as_str()))
            .key(SK, s(&day_key(day)))
            .update_expression("ADD visits :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.usage
            .record(out.as_ref().ok().and_then(|o| o.consumed_capacity()));
        let out = out.map_err(unavailable)?;
        let attrs = out.attributes.unwrap_or_default();
        number(&attrs, "visits").ok_or(StoreError::Malformed {
            code: code.to_string(),
            what: "visits",
        })
    }

    /// The link and all its day counters in one `Query` on its partition (more round trips
    /// only past 1 MB of results, decades of history).
    pub async fn stats_for(&self, code: &Code) -> Result<Option<LinkHistory>, StoreError> {
        let mut link = None;
        let mut daily = BTreeMap::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(code.as_str()))
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            self.usage
                .record(out.as_ref().ok().and_then(|o| o.consumed_capacity()));
            let out = out.map_err(unavailable)?;
            for item in out.items.unwrap_or_default() {
                let sk = item.get(SK).and_then(|v| v.as_s().ok());
                match sk.map(String::as_str) {
                    Some(LINK_SK) => link = Some(link_from_item(code, &item)?),
                    Some(sk) if sk.starts_with(DAY_PREFIX) => {
                        let malformed = StoreError::Malformed {
                            code: code.to_string(),
                            what: "day counter",
                        };
                        let day = NaiveDate::parse_from_str(&sk[DAY_PREFIX.len()..], "%Y-%m-%d")
                            .map_err(|_| malformed)?;
                        let visits = number(&item, "visits").unwrap_or(0);
                        *daily.entry(day).or_insert(0) += visits;
                    }
                    _ => {}
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(link.map(|link| LinkHistory { link, daily }))
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn day_key(day: NaiveDate) -> String {
    format!("{DAY_PREFIX}{}", day.format("%Y-%m-%d"))
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn link_from_item(code: &Code, item: &HashMap<String, AttributeValue>) -> Result<Link, StoreError> {
    let malformed = |what| StoreError::Malformed {
        code: code.to_string(),
        what,
    };
    let text = |name| item.get(name).and_then(|v| v.as_s().ok());
    let url = text("url").ok_or_else(|| malformed("url"))?;
    let created_at = text("created_at")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .ok_or_else(|| malformed("created_at"))?
        .with_timezone(&Utc);
    let kind = text("kind")
        .and_then(|k| LinkKind::parse(k))
        .ok_or_else(|| malformed("kind"))?;
    Ok(Link {
        code: code.clone(),
        url: LongUrl::from_stored(url.clone()),
        created_at,
        kind,
    })
}

/// The table's key schema, as in template.yaml (a test checks that the two agree).
pub fn key_schema() -> (Vec<AttributeDefinition>, Vec<KeySchemaElement>) {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .expect("name and type are set")
    };
    (
        vec![attr(PK), attr(SK)],
        vec![key(PK, KeyType::Hash), key(SK, KeyType::Range)],
    )
}

/// Creates the table if it does not exist (local set-up and tests; SAM creates it on AWS).
/// Returns whether it was created.
pub async fn ensure_table(client: &Client, table: &str) -> Result<bool, StoreError> {
    let (attrs, keys) = key_schema();
    let result = client
        .create_table()
        .table_name(table)
        .set_attribute_definitions(Some(attrs))
        .set_key_schema(Some(keys))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(e)) if e.err().is_resource_in_use_exception() => Ok(false),
        Err(e) => Err(unavailable(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let write = store.record_visit(&code, day).await.unwrap_err();
        assert!(matches!(write, StoreError::Unavailable(_)), "{write:?}");
        assert_eq!(ApiError::from(write).status(), 503);
    }
}
