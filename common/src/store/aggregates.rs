//! All-time totals and rankings, kept off the redirect's path by the `aggregate` function
//! from the table's stream (each counter write comes with its old and new image).
//!
//! - Per link, `pk = <code>, sk = "total"`: `visits` (all human visits), `d` (visits per day,
//!   recent days only) and `w` (per counter item, "YYYY-MM-DD" or "YYYY-MM-DD#<shard>", the
//!   last value of its `visits` that was added in). A counter that went from `old` to `new`
//!   is added as `new - old` on the condition that `w` still says `old`: a batch delivered
//!   twice, or an older record after a newer one, finds `w` ahead and adds nothing, so the
//!   totals are exact and the aggregation idempotent. Entries older than `KEPT_DAYS` before
//!   the newest are dropped (the stream keeps records 24 hours).
//! - Rankings at `pk = "#top"`, `sk = "all"` or `"day#YYYY-MM-DD"`: `e` (code to visits, the
//!   `RANK_KEPT` most visited: `domain::ranking`), `v` (a version for optimistic writes) and
//!   `updated_at`. Reading one is a `GetItem` and one `BatchGetItem` of the links' URLs,
//!   whatever the number of links.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_lambda_events::dynamodb::EventRecord;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::stream::{self, StreamExt};

use super::counters::{day_key, day_of, parse_shard_pk, VISITS};
use super::links::{LINK_SK, URL};
use super::{
    n, number, number_map, s, service_error, text, time, unavailable, Item, Store, StoreError, PK,
    SK,
};
use crate::domain::link::rfc3339;
use crate::domain::ranking::{merge_top, ordered, Period, RANK_KEPT};
use crate::domain::Code;

pub(super) const TOTAL_SK: &str = "total";
const TOP_PK: &str = "#top";
const DAYS: &str = "d";
const SEEN: &str = "w";
const ENTRIES: &str = "e";
const VERSION: &str = "v";
const UPDATED_AT: &str = "updated_at";
/// Days of `d` and `w` kept before the newest: a replayed record is at most a day old.
const KEPT_DAYS: i64 = 2;
/// Links aggregated at once by one invocation.
const CONCURRENCY: usize = 16;
const ATTEMPTS: usize = 8;

/// What one stream record means for the aggregates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChange {
    /// A day counter item's human visits went from `old` to `new`.
    Counter {
        code: Code,
        day: NaiveDate,
        /// "YYYY-MM-DD", or "YYYY-MM-DD#<shard>" for a hot link's other shards.
        source: String,
        old: u64,
        new: u64,
    },
    /// A link was deleted: it leaves the rankings.
    LinkDeleted(Code),
    /// Anything else (links, keys, totals and rankings themselves).
    Ignored,
}

impl StreamChange {
    /// Reads a record of the table's stream (`NEW_AND_OLD_IMAGES`).
    pub fn of_record(record: &EventRecord) -> StreamChange {
        let keys: Item = record.change.keys.clone().into();
        let (Some(pk), Some(sk)) = (text(&keys, PK), text(&keys, SK)) else {
            return StreamChange::Ignored;
        };
        let Some((code, shard)) = parse_shard_pk(pk) else {
            return StreamChange::Ignored;
        };
        if sk == LINK_SK && shard == 0 && record.event_name == "REMOVE" {
            return StreamChange::LinkDeleted(code);
        }
        let Some(Some(day)) = day_of(sk) else {
            return StreamChange::Ignored;
        };
        let visits = |image: &serde_dynamo::Item| {
            let item: Item = image.clone().into();
            number(&item, VISITS).unwrap_or(0)
        };
        let (old, new) = (
            visits(&record.change.old_image),
            visits(&record.change.new_image),
        );
        // A removed counter (its link deleted) takes nothing back; a bot visit moves nothing.
        if record.event_name == "REMOVE" || new <= old {
            return StreamChange::Ignored;
        }
        let source = match shard {
            0 => day_string(day),
            k => format!("{}#{k}", day_string(day)),
        };
        StreamChange::Counter {
            code,
            day,
            source,
            old,
            new,
        }
    }
}

/// A link's aggregate after a change: what the rankings are told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkTotals {
    pub visits: u64,
    pub days: BTreeMap<NaiveDate, u64>,
}

/// What `aggregate` did with a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregated {
    pub links: usize,
    /// The position of the first record not aggregated (to be delivered again), if any.
    pub first_failed: Option<usize>,
}

/// One counter item's change over a batch: `old` of its first record, `new` of its last.
#[derive(Debug, Clone, Copy)]
struct SourceChange {
    day: NaiveDate,
    old: u64,
    new: u64,
}

impl Store {
    /// Aggregates a batch of stream changes (in stream order): each link's total, one
    /// conditional write per link, then each ranking the batch touched. A failure leaves the
    /// position of the first record to deliver again in `first_failed`; delivering again what
    /// was already aggregated changes nothing.
    pub async fn aggregate(&self, changes: &[StreamChange], now: DateTime<Utc>) -> Aggregated {
        let mut per_link: BTreeMap<Code, (usize, BTreeMap<String, SourceChange>)> = BTreeMap::new();
        let mut deleted: Vec<(usize, &Code)> = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            match change {
                StreamChange::Counter {
                    code,
                    day,
                    source,
                    old,
                    new,
                } => {
                    let (_, sources) = per_link.entry(code.clone()).or_insert((i, BTreeMap::new()));
                    let c = sources.entry(source.clone()).or_insert(SourceChange {
                        day: *day,
                        old: *old,
                        new: *new,
                    });
                    c.old = c.old.min(*old);
                    c.new = c.new.max(*new);
                }
                StreamChange::LinkDeleted(code) => deleted.push((i, code)),
                StreamChange::Ignored => {}
            }
        }
        // Built in a loop, not a closure: the futures own their link's data.
        let mut writes = Vec::with_capacity(per_link.len());
        for (code, (first, sources)) in per_link {
            writes.push(async move {
                let days: BTreeSet<NaiveDate> = sources.values().map(|c| c.day).collect();
                let result = self.add_to_total(&code, &sources, now).await;
                (first, code, days, result)
            });
        }
        let results: Vec<_> = stream::iter(writes)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut first_failed: Option<usize> = None;
        let mut fail = |i: usize| first_failed = Some(first_failed.map_or(i, |f| f.min(i)));
        let mut boards: BTreeMap<Period, (usize, Vec<(String, u64)>)> = BTreeMap::new();
        let mut links = 0;
        for (first, code, days, result) in results {
            match result {
                Ok(None) => {}
                Ok(Some(totals)) => {
                    links += 1;
                    let mut add = |period, visits| {
                        let (f, counts) = boards.entry(period).or_insert((first, Vec::new()));
                        *f = (*f).min(first);
                        counts.push((code.to_string(), visits));
                    };
                    add(Period::All, totals.visits);
                    // The rankings of the days this batch counted visits on.
                    for day in days {
                        add(
                            Period::Day(day),
                            totals.days.get(&day).copied().unwrap_or(0),
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(%code, error = %e, "link total not aggregated");
                    fail(first);
                }
            }
        }
        // A deleted link leaves the all-time ranking and those of the last days.
        if let Some(&(first, _)) = deleted.first() {
            let today = now.date_naive();
            let mut periods = vec![Period::All];
            periods
                .extend((0..=KEPT_DAYS).map(|d| Period::Day(today - chrono::Days::new(d as u64))));
            for period in periods {
                boards.entry(period).or_insert((first, Vec::new()));
            }
        }
        let deleted: Vec<String> = deleted.iter().map(|(_, c)| c.to_string()).collect();
        for (period, (first, counts)) in boards {
            match self.update_ranking(period, &counts, &deleted, now).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(?period, error = %e, "ranking not updated");
                    fail(first);
                }
            }
        }
        Aggregated {
            links,
            first_failed,
        }
    }

    /// Adds a link's counter changes to its total: one conditional `UpdateItem` when the
    /// total is where the changes start from; after a failed condition, from what the item
    /// says (a change it already holds adds nothing). Returns the totals now; `None` for a
    /// link deleted meanwhile (its visits are not aggregated: no total outlives its link).
    async fn add_to_total(
        &self,
        code: &Code,
        sources: &BTreeMap<String, SourceChange>,
        now: DateTime<Utc>,
    ) -> Result<Option<LinkTotals>, StoreError> {
        // What the total item is known to hold: `None` not read yet, `Some(None)` absent.
        let mut known: Option<Option<Item>> = None;
        for attempt in 0..ATTEMPTS {
            let seen = |source: &str, change: &SourceChange| match &known {
                None => Some(change.old),
                Some(None) => Some(0),
                Some(Some(item)) => item
                    .get(SEEN)
                    .and_then(|w| w.as_m().ok())
                    .and_then(|w| w.get(source))
                    .and_then(|v| v.as_n().ok()?.parse().ok())
                    .or(Some(0)),
            };
            let pending: Vec<(&str, SourceChange)> = sources
                .iter()
                .filter_map(|(source, c)| {
                    let old = seen(source, c)?;
                    (c.new > old).then_some((source.as_str(), SourceChange { old, ..*c }))
                })
                .collect();
            if pending.is_empty() {
                // All of it is in the total already (a batch delivered again).
                let item = match known {
                    Some(Some(item)) => item,
                    _ => self.get_total(code).await?.unwrap_or_default(),
                };
                return Ok(Some(totals_of(&item)));
            }
            let written = if matches!(known, Some(None)) {
                self.create_total(code, &pending, now).await?
            } else {
                self.write_total(code, &pending, now).await?
            };
            match written {
                TotalWrite::Written(item) => {
                    self.prune_total(code, &item).await?;
                    return Ok(Some(totals_of(&item)));
                }
                TotalWrite::Refused(old) => known = Some(old),
                TotalWrite::LinkGone => return Ok(None),
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(5 << attempt.min(6))).await;
            }
        }
        Err(StoreError::Unavailable(
            format!("total of '{code}' kept changing under {ATTEMPTS} attempts").into(),
        ))
    }

    /// One conditional update of an existing total, from where `pending` says it stands.
    async fn write_total(
        &self,
        code: &Code,
        pending: &[(&str, SourceChange)],
        now: DateTime<Utc>,
    ) -> Result<TotalWrite, StoreError> {
        let (added, per_day) = sums(pending);
        let mut names = HashMap::new();
        let mut values = Item::from([(":now".to_owned(), s(&rfc3339(now)))]);
        let mut sets = vec![format!("{UPDATED_AT} = :now")];
        let mut conditions = vec![format!("attribute_exists({SEEN})")];
        for (i, (source, c)) in pending.iter().enumerate() {
            names.insert(format!("#s{i}"), source.to_string());
            values.insert(format!(":n{i}"), n(c.new));
            sets.push(format!("{SEEN}.#s{i} = :n{i}"));
            if c.old == 0 {
                conditions.push(format!("attribute_not_exists({SEEN}.#s{i})"));
            } else {
                values.insert(format!(":o{i}"), n(c.old));
                conditions.push(format!("{SEEN}.#s{i} = :o{i}"));
            }
        }
        for (i, (day, visits)) in per_day.iter().enumerate() {
            names.insert(format!("#d{i}"), day_string(*day));
            values.insert(format!(":d{i}"), n(*visits));
            sets.push(format!(
                "{DAYS}.#d{i} = if_not_exists({DAYS}.#d{i}, :zero) + :d{i}"
            ));
        }
        values.insert(":zero".into(), n(0));
        values.insert(":added".into(), n(added));
        let expression = format!("SET {} ADD {VISITS} :added", sets.join(", "));
        let condition = conditions.join(" AND ");
        let started = Instant::now();
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(code.as_str()))
            .key(SK, s(TOTAL_SK))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.record(started, &out, |o| o.consumed_capacity());
        match out {
            Ok(out) => Ok(TotalWrite::Written(out.attributes.unwrap_or_default())),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                UpdateItemError::ConditionalCheckFailedException(c) => {
                    self.usage.refused_write();
                    Ok(TotalWrite::Refused(c.item))
                }
                other => Err(service_error(other)),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    /// A link's first total, in one transaction with a check that the link still exists:
    /// visits that arrive after a `DELETE` do not bring a total back (once per link, so the
    /// transaction's double cost is paid once).
    async fn create_total(
        &self,
        code: &Code,
        pending: &[(&str, SourceChange)],
        now: DateTime<Utc>,
    ) -> Result<TotalWrite, StoreError> {
        let (added, per_day) = sums(pending);
        let seen = pending.iter().map(|(src, c)| (src.to_string(), n(c.new)));
        let days = per_day.iter().map(|(d, v)| (day_string(*d), n(*v)));
        let item = Item::from([
            (PK.to_owned(), s(code.as_str())),
            (SK.to_owned(), s(TOTAL_SK)),
            (SEEN.to_owned(), AttributeValue::M(seen.collect())),
            (DAYS.to_owned(), AttributeValue::M(days.collect())),
            (VISITS.to_owned(), n(added)),
            (UPDATED_AT.to_owned(), s(&rfc3339(now))),
        ]);
        let link_exists = ConditionCheck::builder()
            .table_name(&self.table)
            .key(PK, s(code.as_str()))
            .key(SK, s(LINK_SK))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))?;
        let started = Instant::now();
        let out = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(link_exists)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().put(put).build())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.record(started, &out, |o| o.consumed_capacity().first());
        match out {
            Ok(_) => Ok(TotalWrite::Written(item)),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    self.usage.refused_write();
                    let reasons = c.cancellation_reasons();
                    let failed = |i: usize| {
                        reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed")
                    };
                    if failed(0) {
                        Ok(TotalWrite::LinkGone)
                    } else if failed(1) {
                        Ok(TotalWrite::Refused(
                            reasons.get(1).and_then(|r| r.item().cloned()),
                        ))
                    } else {
                        // A conflicting transaction or write in flight: again.
                        Ok(TotalWrite::Refused(None))
                    }
                }
                other => Err(service_error(other)),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Drops the entries of days long past from a total (once a day per link).
    async fn prune_total(&self, code: &Code, item: &Item) -> Result<(), StoreError> {
        let stale = stale_entries(item);
        if stale.is_empty() {
            return Ok(());
        }
        let mut names = HashMap::new();
        let mut paths = Vec::new();
        for (i, (map, key)) in stale.iter().enumerate() {
            names.insert(format!("#p{i}"), key.clone());
            paths.push(format!("{map}.#p{i}"));
        }
        let started = Instant::now();
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(code.as_str()))
            .key(SK, s(TOTAL_SK))
            .update_expression(format!("REMOVE {}", paths.join(", ")))
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(names))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.record(started, &out, |o| o.consumed_capacity());
        match out {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_total(&self, code: &Code) -> Result<Option<Item>, StoreError> {
        self.get_item(code.as_str(), TOTAL_SK, true).await
    }

    /// A link's all-time human visits as the aggregator last counted them (0 before any).
    pub async fn aggregated_visits(&self, code: &Code) -> Result<u64, StoreError> {
        Ok(self
            .get_total(code)
            .await?
            .map_or(0, |item| totals_of(&item).visits))
    }

    /// Merges new counts into a ranking: read, merge, write if changed, on the condition
    /// that nobody wrote it in between (else again).
    async fn update_ranking(
        &self,
        period: Period,
        counts: &[(String, u64)],
        deleted: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sk = ranking_sk(period);
        for attempt in 0..ATTEMPTS {
            let item = self.get_item(TOP_PK, &sk, true).await?;
            let version = item.as_ref().and_then(|i| number(i, VERSION)).unwrap_or(0);
            let mut top = item.as_ref().map(entries_of).unwrap_or_default();
            if !merge_top(&mut top, counts, deleted, RANK_KEPT) {
                return Ok(());
            }
            let entries = top.iter().map(|(c, v)| (c.clone(), n(*v))).collect();
            let started = Instant::now();
            let out = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(PK, s(TOP_PK))
                .item(SK, s(&sk))
                .item(ENTRIES, AttributeValue::M(entries))
                .item(VERSION, n(version + 1))
                .item(UPDATED_AT, s(&rfc3339(now)))
                .condition_expression(if version == 0 {
                    "attribute_not_exists(pk)"
                } else {
                    "v = :v"
                })
                .set_expression_attribute_values(
                    (version > 0).then(|| HashMap::from([(":v".to_owned(), n(version))])),
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            self.record(started, &out, |o| o.consumed_capacity());
            match out {
                Ok(_) => return Ok(()),
                Err(SdkError::ServiceError(e)) => match e.into_err() {
                    PutItemError::ConditionalCheckFailedException(_) => {
                        self.usage.refused_write();
                        // Another invocation wrote it: merge into theirs, after a pause.
                        let pause = fastrand::u64(1..=(10 << attempt.min(5)));
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                    }
                    other => return Err(service_error(other)),
                },
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable(
            format!("ranking {sk} kept changing under {ATTEMPTS} attempts").into(),
        ))
    }

    /// The `limit` most visited links of `period`, most visited first, with their URLs:
    /// one `GetItem` of the ranking and one `BatchGetItem` of the links (one more per round
    /// only when links of the ranking were deleted), whatever the number of links.
    pub async fn top_links(&self, period: Period, limit: usize) -> Result<Ranking, StoreError> {
        let item = self
            .get_item(TOP_PK, &ranking_sk(period), false)
            .await?
            .unwrap_or_default();
        let top = entries_of(&item);
        let mut queue = ordered(&top).into_iter();
        let mut links = Vec::new();
        // Links deleted since they were ranked are skipped; a few rounds at most.
        for _ in 0..3 {
            let wanted: Vec<(&str, u64)> = queue.by_ref().take(limit - links.len()).collect();
            if wanted.is_empty() {
                break;
            }
            let urls = self.urls_of(wanted.iter().map(|(c, _)| *c)).await?;
            for (code, visits) in wanted {
                if let Some(url) = urls.get(code) {
                    links.push(RankedLink {
                        code: code.to_owned(),
                        url: url.clone(),
                        visits,
                    });
                }
            }
            if links.len() == limit {
                break;
            }
        }
        Ok(Ranking {
            links,
            updated_at: time(&item, UPDATED_AT),
        })
    }

    /// The URLs of existing links among `codes` (at most 100), in one `BatchGetItem`, with
    /// what DynamoDB left unprocessed asked again.
    async fn urls_of<'a>(
        &self,
        codes: impl Iterator<Item = &'a str>,
    ) -> Result<HashMap<String, String>, StoreError> {
        let keys: Vec<Item> = codes
            .map(|c| Item::from([(PK.to_owned(), s(c)), (SK.to_owned(), s(LINK_SK))]))
            .collect();
        let mut request = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .projection_expression("pk, #url")
                .expression_attribute_names("#url", URL)
                .build()
                .map_err(|e| StoreError::Unavailable(e.into()))?,
        );
        let mut urls = HashMap::new();
        for attempt in 0..5u32 {
            let Some(req) = request.take() else { break };
            let started = Instant::now();
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, req)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            self.record(started, &out, |o| o.consumed_capacity().first());
            let mut out = out.map_err(unavailable)?;
            for item in out
                .responses
                .as_mut()
                .and_then(|r| r.remove(&self.table))
                .unwrap_or_default()
            {
                if let (Some(pk), Some(url)) = (text(&item, PK), text(&item, URL)) {
                    urls.insert(pk.to_owned(), url.to_owned());
                }
            }
            request = out
                .unprocessed_keys
                .and_then(|mut m| m.remove(&self.table))
                .filter(|k| !k.keys().is_empty());
            if request.is_some() {
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
        }
        if request.is_some() {
            return Err(StoreError::Unavailable(
                "batch read left keys unprocessed".into(),
            ));
        }
        Ok(urls)
    }
}

/// What a write of a total did.
enum TotalWrite {
    /// The total as it is now.
    Written(Item),
    /// Its condition failed: the total as it was (`None`: there is none).
    Refused(Option<Item>),
    /// The link does not exist (any more).
    LinkGone,
}

/// The visits `pending` adds, in all and per day.
fn sums(pending: &[(&str, SourceChange)]) -> (u64, BTreeMap<NaiveDate, u64>) {
    let mut per_day: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    for (_, c) in pending {
        *per_day.entry(c.day).or_insert(0) += c.new - c.old;
    }
    (per_day.values().sum(), per_day)
}

/// A ranking as `GET /stats` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranking {
    pub links: Vec<RankedLink>,
    /// When the aggregator last changed it (`None`: never).
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankedLink {
    pub code: String,
    pub url: String,
    pub visits: u64,
}

fn ranking_sk(period: Period) -> String {
    match period {
        Period::All => "all".to_owned(),
        Period::Day(day) => day_key(day),
    }
}

fn day_string(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn entries_of(item: &Item) -> BTreeMap<String, u64> {
    number_map(item, ENTRIES)
}

fn totals_of(item: &Item) -> LinkTotals {
    LinkTotals {
        visits: number(item, VISITS).unwrap_or(0),
        days: number_map(item, DAYS)
            .into_iter()
            .filter_map(|(d, v)| Some((NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()?, v)))
            .collect(),
    }
}

/// The `(map, key)` entries of a total that are older than `KEPT_DAYS` before its newest day.
fn stale_entries(item: &Item) -> Vec<(&'static str, String)> {
    let day_of_key = |k: &str| NaiveDate::parse_from_str(k.split('#').next()?, "%Y-%m-%d").ok();
    let keys: Vec<(&'static str, String)> = [SEEN, DAYS]
        .into_iter()
        .flat_map(|map| number_map(item, map).into_keys().map(move |k| (map, k)))
        .collect();
    let Some(newest) = keys.iter().filter_map(|(_, k)| day_of_key(k)).max() else {
        return Vec::new();
    };
    let oldest_kept = newest - chrono::Days::new(KEPT_DAYS as u64);
    let stale: BTreeSet<(&'static str, String)> = keys
        .into_iter()
        .filter(|(_, k)| day_of_key(k).is_none_or(|d| d < oldest_kept))
        .collect();
    stale.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_entries_are_those_of_days_long_past() {
        let m =
            |keys: &[&str]| AttributeValue::M(keys.iter().map(|k| (k.to_string(), n(1))).collect());
        let item = Item::from([
            (
                SEEN.to_owned(),
                m(&["2026-11-20", "2026-11-21#3", "2026-11-23", "bad"]),
            ),
            (
                DAYS.to_owned(),
                m(&["2026-11-20", "2026-11-21", "2026-11-23"]),
            ),
        ]);
        assert_eq!(
            stale_entries(&item),
            vec![
                (DAYS, "2026-11-20".to_owned()),
                (SEEN, "2026-11-20".to_owned()),
                (SEEN, "bad".to_owned()),
            ]
        );
        assert!(stale_entries(&Item::new()).is_empty());
    }
}
