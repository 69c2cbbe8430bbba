//! Visits that could not be counted in time: the queue behind a hot link's counter.
//!
//! When a visit's counter write is still throttled after the SDK's retries (its shard over
//! DynamoDB's per-partition limit before the shard count caught up, or a table or account
//! limit), the redirect does not refuse the visitor: it writes the visit, whole, as an item
//! of its own in one of `SPILL_PARTITIONS` partitions chosen at random (`spill#p<n>`, sort
//! key `visit#<code>#<day>#<nonce>`), and answers the 302. A throttled write was not
//! applied, so the visit is in exactly one place: the counter or the queue.
//!
//! The aggregator reads the queue from the table's stream (the item's `INSERT`) and moves
//! each visit to a counter shard in one transaction: the queue item deleted on condition
//! that it still exists, and the counter updated as the redirect would have. A record
//! delivered twice finds its item gone and changes nothing; a throttled transaction changes
//! nothing and the record is delivered again. So each spilled visit is counted once, a few
//! seconds late. A shard count the redirect could not raise (its write was throttled too)
//! travels with the visit (`raise`) and the aggregator raises it first.

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::StreamExt;
use serde_json::Value;

use super::counters::{human_update, map_attr, DayMaps, Plan, ATTEMPTS};
use super::layout::{
    day_key, shard_pk, BOT_VISITS, COUNTER_SHARDS, CREATED_AT, LINK_SK, PK, SK, SPILL_AT,
    SPILL_BOT, SPILL_CODE, SPILL_DAY, SPILL_PK_PREFIX, SPILL_RAISE, SPILL_SK_PREFIX, VISITS,
};
use super::Outcome;

use super::stream::Unreadable;
use super::{n, number, s, time, Item, Store, StoreError};
use crate::domain::link::rfc3339;
use crate::domain::visit::{Breakdown, Dimension};
use crate::domain::{day_string, parse_day, Code, Visit};

/// Queued visits of one link counted at once by the aggregator.
const APPLY_CONCURRENCY: usize = 16;
/// Partitions of the queue: spilled visits of one hot link spread over all of them.
pub const SPILL_PARTITIONS: u32 = 32;

/// A visit in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spilled {
    pub pk: String,
    pub sk: String,
    pub code: Code,
    pub day: NaiveDate,
    pub visit: Visit,
    /// The shard count the redirect wanted and could not write.
    pub raise: Option<u32>,
    /// When it was queued (a moment after the visit).
    pub at: Option<DateTime<Utc>>,
}

/// What `apply_spilled` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Counted on this shard.
    Counted(u32),
    /// Counted before (a record delivered again).
    Already,
    /// Its link's shards were all throttled: back in the queue as a new item, which the
    /// stream delivers again.
    Requeued,
    /// The link is gone, or the code was taken by a link created after the visit's day:
    /// the visit was of a link that no longer exists.
    Dropped,
}

/// The keys of a new queue item: a partition at random, a sort key of its own.
pub(super) fn queue_keys(code: &Code, day: NaiveDate) -> (String, String) {
    let pk = format!("{SPILL_PK_PREFIX}{}", fastrand::u32(0..SPILL_PARTITIONS));
    let sk = format!(
        "{SPILL_SK_PREFIX}{code}#{}#{:016x}",
        day_string(day),
        fastrand::u64(..)
    );
    (pk, sk)
}

/// The queue item of a spilled visit.
fn spill_item(
    code: &Code,
    day: NaiveDate,
    visit: &Visit,
    raise: Option<u32>,
) -> (String, String, Item) {
    let (pk, sk) = queue_keys(code, day);
    let mut item = Item::from([
        (PK.to_owned(), s(&pk)),
        (SK.to_owned(), s(&sk)),
        (SPILL_CODE.to_owned(), s(code.as_str())),
        (SPILL_DAY.to_owned(), s(&day_string(day))),
        (SPILL_AT.to_owned(), s(&rfc3339(Utc::now()))),
    ]);
    match visit {
        Visit::Bot => {
            item.insert(SPILL_BOT.to_owned(), AttributeValue::Bool(true));
        }
        Visit::Human(b) => {
            for (dim, key) in b.keys() {
                item.insert(map_attr(dim).to_owned(), s(key));
            }
        }
    }
    if let Some(r) = raise {
        item.insert(SPILL_RAISE.to_owned(), n(r as u64));
    }
    (pk, sk, item)
}

impl Spilled {
    /// From the stream record of its `INSERT` (`None` for a record that is not a queue item).
    pub fn of_record(record: &Value) -> Option<Result<Spilled, Unreadable>> {
        let image = record.pointer("/dynamodb/NewImage")?;
        let string = |name: &str| image.get(name)?.get("S")?.as_str();
        let sk = string(SK)?;
        if !sk.starts_with(SPILL_SK_PREFIX) {
            return None;
        }
        Some((|| {
            let pk = string(PK).ok_or(Unreadable("a queued visit without pk"))?;
            let code = string(SPILL_CODE)
                .and_then(Code::parse)
                .ok_or(Unreadable("a queued visit without its code"))?;
            let day = string(SPILL_DAY)
                .and_then(parse_day)
                .ok_or(Unreadable("a queued visit without its day"))?;
            let bot = image.pointer("/bot/BOOL").and_then(Value::as_bool) == Some(true);
            let visit = if bot {
                Visit::Bot
            } else {
                let key = |d: Dimension| string(map_attr(d)).map(str::to_owned);
                Visit::Human(Breakdown {
                    referrer: key(Dimension::Referrer).unwrap_or_default(),
                    source: key(Dimension::Source).unwrap_or_default(),
                    device: key(Dimension::Device).unwrap_or_default(),
                    browser: key(Dimension::Browser).unwrap_or_default(),
                    country: key(Dimension::Country),
                })
            };
            let raise = image
                .pointer("/raise/N")
                .and_then(Value::as_str)
                .and_then(|r| r.parse().ok());
            let at = string(SPILL_AT)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            Ok(Spilled {
                pk: pk.to_owned(),
                sk: sk.to_owned(),
                code,
                day,
                visit,
                raise,
                at,
            })
        })())
    }
}

impl Store {
    /// Queues a visit that could not be counted in time (one `PutItem`, 1 write unit, to a
    /// partition chosen at random).
    pub async fn spill_visit(
        &self,
        code: &Code,
        day: NaiveDate,
        visit: &Visit,
        raise: Option<u32>,
    ) -> Result<(), StoreError> {
        let (_, _, item) = spill_item(code, day, visit, raise);
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        self.call_plain(request, |o| o.consumed_capacity()).await?;
        Ok(())
    }

    /// Counts a queued visit on one of its link's counter shards and removes it from the
    /// queue, in one transaction (see the module's comment). `apply_queued` does it for a
    /// batch, reading each link once.
    pub async fn apply_spilled(&self, spilled: &Spilled) -> Result<Applied, StoreError> {
        if let Some(wanted) = spilled.raise {
            self.raise_counter_shards_to(&spilled.code, wanted).await?;
        }
        let link = self.get_item(spilled.code.as_str(), LINK_SK, true).await?;
        self.apply_spilled_to(spilled, link.as_ref()).await
    }

    /// A batch's queued visits, link by link: a shard count a redirect could not raise is
    /// raised, the link read once, then each visit counted. A visit whose transaction is
    /// throttled (its link's shards are all busy) goes back to the queue, as a new item
    /// the stream delivers again later, rather than failing the batch: the records behind
    /// it in the stream are not held up by a hot link. Each visit's result, in order.
    pub async fn apply_queued(&self, spilled: &[Spilled]) -> Vec<Result<Applied, StoreError>> {
        let mut results: Vec<Option<Result<Applied, StoreError>>> =
            (0..spilled.len()).map(|_| None).collect();
        let mut by_code: std::collections::BTreeMap<&Code, Vec<usize>> = Default::default();
        for (i, s) in spilled.iter().enumerate() {
            by_code.entry(&s.code).or_default().push(i);
        }
        for (code, indexes) in by_code {
            let wanted = indexes.iter().filter_map(|i| spilled[*i].raise).max();
            let link = match wanted {
                Some(w) => match self.raise_counter_shards_to(code, w).await {
                    // The link's partition still hot (the visits before the first raise):
                    // counted on the shards there are, or back in the queue with the raise.
                    Err(StoreError::Throttled { .. }) => Ok(()),
                    other => other.map(|_| ()),
                },
                None => Ok(()),
            };
            let link = match link {
                Ok(()) => self.get_item(code.as_str(), LINK_SK, true).await,
                Err(e) => Err(e),
            };
            let link = match link {
                Ok(link) => link,
                Err(e) => {
                    let why = e.to_string();
                    for i in indexes {
                        results[i] = Some(Err(StoreError::Unavailable(why.clone().into())));
                    }
                    continue;
                }
            };
            let link = link.as_ref();
            let applied: Vec<(usize, Result<Applied, StoreError>)> =
                futures_util::stream::iter(indexes.into_iter().map(|i| async move {
                    let s = &spilled[i];
                    let result = match self.apply_spilled_to(s, link).await {
                        Err(StoreError::Throttled { .. }) => self.requeue(s).await,
                        other => other,
                    };
                    (i, result)
                }))
                .buffer_unordered(APPLY_CONCURRENCY)
                .collect()
                .await;
            for (i, result) in applied {
                results[i] = Some(result);
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every visit applied"))
            .collect()
    }

    /// `apply_spilled` with the link as read (`None`: gone).
    async fn apply_spilled_to(
        &self,
        spilled: &Spilled,
        link: Option<&Item>,
    ) -> Result<Applied, StoreError> {
        let code = &spilled.code;
        let link = link.filter(|l| {
            time(l, CREATED_AT).is_some_and(|c| match spilled.at {
                Some(at) => c <= at,
                None => c.date_naive() <= spilled.day,
            })
        });
        let Some(link) = link else {
            self.delete_queued(spilled).await?;
            return Ok(Applied::Dropped);
        };
        let shards = number(link, COUNTER_SHARDS).map_or(1, |n| n.max(1) as u32);
        let shard = super::counters::pick_shard(shards);
        let pk = shard_pk(code, shard);
        let sk = day_key(spilled.day);
        let breakdown = match &spilled.visit {
            Visit::Bot => {
                // No condition on the counter: done or done before.
                return match self
                    .transact_spilled(spilled, &pk, &sk, bump(BOT_VISITS))
                    .await?
                {
                    Transacted::Already => Ok(Applied::Already),
                    _ => Ok(Applied::Counted(shard)),
                };
            }
            Visit::Human(b) => b,
        };
        // First as if the day's maps were there with room (no read; the usual case on a
        // hot link's shard), then from the item as it is.
        let mut known = DayMaps::default();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                let current = self.get_item(&pk, &sk, true).await?;
                known = DayMaps::of_item(current.as_ref());
            }
            let plans: Vec<(Dimension, Plan)> = breakdown
                .keys()
                .map(|(d, k)| (d, known.plan(d, k)))
                .collect();
            match self
                .transact_spilled(spilled, &pk, &sk, human_update(&plans))
                .await?
            {
                Transacted::Done => return Ok(Applied::Counted(shard)),
                Transacted::Already => return Ok(Applied::Already),
                // A map missing, full, or changed since the read: read it (again).
                Transacted::CounterRefused => continue,
            }
        }
        tracing::warn!(%code, "queued visit counted without its breakdowns after {ATTEMPTS} attempts");
        match self
            .transact_spilled(spilled, &pk, &sk, bump(VISITS))
            .await?
        {
            Transacted::Already => Ok(Applied::Already),
            _ => Ok(Applied::Counted(shard)),
        }
    }

    /// Moves a queued visit to a new queue item (one transaction: the old one deleted if
    /// it is still there, the new one put): its `INSERT` comes through the stream again.
    async fn requeue(&self, spilled: &Spilled) -> Result<Applied, StoreError> {
        let (_, _, mut item) =
            spill_item(&spilled.code, spilled.day, &spilled.visit, spilled.raise);
        if let Some(at) = spilled.at {
            item.insert(SPILL_AT.to_owned(), s(&rfc3339(at)));
        }
        let delete = self.dequeue(spilled)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))?;
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        match self.transact_queued(items).await? {
            Transacted::Already => Ok(Applied::Already),
            _ => Ok(Applied::Requeued),
        }
    }

    /// A transaction's delete of a queued visit, on condition that it is still queued.
    fn dequeue(&self, spilled: &Spilled) -> Result<Delete, StoreError> {
        Delete::builder()
            .table_name(&self.table)
            .key(PK, s(&spilled.pk))
            .key(SK, s(&spilled.sk))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))
    }

    /// Removes a queued visit (its link gone).
    async fn delete_queued(&self, spilled: &Spilled) -> Result<(), StoreError> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(&spilled.pk))
            .key(SK, s(&spilled.sk))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        self.call(request, |o| o.consumed_capacity()).await?;
        Ok(())
    }

    /// One transaction: the queue item deleted if it is still there, and the counter
    /// updated with `update` (expression, condition, names, values).
    async fn transact_spilled(
        &self,
        spilled: &Spilled,
        pk: &str,
        sk: &str,
        update: CounterUpdate,
    ) -> Result<Transacted, StoreError> {
        let (expression, condition, names, values) = update;
        let delete = self.dequeue(spilled)?;
        let counter = Update::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression(expression)
            .set_condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None)
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))?;
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().update(counter).build(),
        ];
        self.transact_queued(items).await
    }

    /// Sends a transaction of two items, the queue item's delete first, and says what it
    /// did: cancelled on the first item's condition (the visit left the queue before),
    /// on the second's, or throttled.
    async fn transact_queued(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Transacted, StoreError> {
        let codes = match self.transact(items).await? {
            Outcome::Applied(()) => return Ok(Transacted::Done),
            Outcome::Refused(codes) => codes,
        };
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        match codes.as_slice() {
            ["ConditionalCheckFailed", ..] => Ok(Transacted::Already),
            [_, "ConditionalCheckFailed"] => Ok(Transacted::CounterRefused),
            _ if codes
                .iter()
                .any(|c| c.contains("Throttl") || c.contains("ProvisionedThroughput")) =>
            {
                Err(StoreError::Throttled {
                    key_range: true,
                    cause: format!("transaction throttled: {codes:?}").into(),
                })
            }
            _ => Err(StoreError::Unavailable(
                format!("transaction cancelled: {codes:?}").into(),
            )),
        }
    }
}

/// `ADD <attribute> :one`, without a condition, as a transaction's update.
fn bump(attribute: &str) -> CounterUpdate {
    (
        format!("ADD {attribute} :one"),
        None,
        Default::default(),
        Item::from([(":one".to_owned(), n(1))]),
    )
}

/// A counter's update expression, condition, names and values (`counters::human_update`).
type CounterUpdate = (
    String,
    Option<String>,
    std::collections::HashMap<String, String>,
    Item,
);

/// What a transaction of `apply_spilled` did.
enum Transacted {
    Done,
    Already,
    CounterRefused,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn as_stream_image(item: &Item) -> Value {
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
        Value::Object(image)
    }

    #[test]
    fn a_queued_visit_reads_back_from_its_stream_record() {
        let code = Code::parse("hot").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let human = Visit::Human(Breakdown {
            referrer: "news.example".into(),
            source: "mail".into(),
            device: "desktop".into(),
            browser: "Firefox".into(),
            country: Some("FR".into()),
        });
        for (visit, raise) in [(human, Some(8)), (Visit::Bot, None)] {
            let (pk, sk, item) = spill_item(&code, day, &visit, raise);
            assert!(pk.starts_with("spill#p"));
            assert!(sk.starts_with("visit#hot#2026-12-03#"));
            // Never a counter partition of a code (`hot#3`), nor a day counter's key.
            assert_eq!(super::super::layout::parse_shard_pk(&pk), None);
            let record =
                json!({"eventName": "INSERT", "dynamodb": {"NewImage": as_stream_image(&item)}});
            let read = Spilled::of_record(&record).unwrap().unwrap();
            let at = read.at.expect("the time it was queued");
            assert!((Utc::now() - at).num_seconds().abs() < 5);
            let expected = Spilled {
                pk,
                sk,
                code: code.clone(),
                day,
                visit,
                raise,
                at: Some(at),
            };
            assert_eq!(read, expected);
        }
        let counter = json!({"eventName": "MODIFY", "dynamodb": {"NewImage": {"pk": {"S": "hot"}, "sk": {"S": "day#2026-12-03"}}}});
        assert!(Spilled::of_record(&counter).is_none());
    }
}
