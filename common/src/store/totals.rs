//! Each link's all-time total, `pk = <code>, sk = "total"`: `visits` (all human visits),
//! `d` (visits per day, recent days only) and `w` (per counter item, "YYYY-MM-DD" or
//! "YYYY-MM-DD#<shard>", the last value of its `visits` that was added in). A counter that
//! went from `old` to `new` is added as `new - old` on the condition that `w` still says
//! `old`: a batch delivered twice, or an older record after a newer one, finds `w` ahead and
//! adds nothing, so the totals are exact and the aggregation idempotent. Entries older than
//! `KEPT_DAYS` before the newest are dropped (the stream keeps records 24 hours).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, NaiveDate, Utc};

use super::counters::VISITS;
use super::links::LINK_SK;
use super::stream::SourceChange;
use super::{
    day_string, n, number, number_map, parse_day, s, service_error, text, unavailable, Item,
    Outcome, Store, StoreError, PK, SK,
};
use crate::domain::link::rfc3339;
use crate::domain::Code;

pub(super) const TOTAL_SK: &str = "total";
const DAYS: &str = "d";
const SEEN: &str = "w";
const UPDATED_AT: &str = "updated_at";
/// Days of `d` and `w` kept before the newest: a replayed record is at most a day old.
pub(super) const KEPT_DAYS: i64 = 2;
const ATTEMPTS: usize = 8;

/// A link's aggregate after a change: what the rankings are told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkTotals {
    pub visits: u64,
    pub days: BTreeMap<NaiveDate, u64>,
}

impl Store {
    /// Adds a link's counter changes to its total: one conditional `UpdateItem` when the
    /// total is where the changes start from; after a failed condition, from what the item
    /// says (a change it already holds adds nothing). Returns the totals now; `None` for a
    /// link deleted meanwhile (its visits are not aggregated: no total outlives its link).
    pub(super) async fn add_to_total(
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
                Some(self.write_total(code, &pending, now).await?)
            };
            match written {
                Some(Outcome::Applied(item)) => {
                    self.prune_total(code, &item).await?;
                    return Ok(Some(totals_of(&item)));
                }
                // Its condition failed: the total as it was (`None`: there is none).
                Some(Outcome::Refused(old)) => known = Some(old),
                // The link does not exist (any more).
                None => return Ok(None),
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
    ) -> Result<Outcome<Item>, StoreError> {
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
        let out = self
            .call(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key(PK, s(code.as_str()))
                    .key(SK, s(TOTAL_SK))
                    .update_expression(expression)
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(values))
                    .return_values(ReturnValue::AllNew)
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
                |o| o.consumed_capacity(),
            )
            .await?;
        Ok(match out {
            Outcome::Applied(o) => Outcome::Applied(o.attributes.unwrap_or_default()),
            Outcome::Refused(item) => Outcome::Refused(item),
        })
    }

    /// A link's first total, in one transaction with a check that the link still exists:
    /// visits that arrive after a `DELETE` do not bring a total back (once per link, so the
    /// transaction's double cost is paid once).
    async fn create_total(
        &self,
        code: &Code,
        pending: &[(&str, SourceChange)],
        now: DateTime<Utc>,
    ) -> Result<Option<Outcome<Item>>, StoreError> {
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
        // The one request not sent through `Store::call`: a cancelled transaction says which
        // of its conditions refused it, and the first one means the link is gone.
        match out {
            Ok(_) => Ok(Some(Outcome::Applied(item))),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    self.usage.refused_write();
                    let reasons = c.cancellation_reasons();
                    let failed = |i: usize| {
                        reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed")
                    };
                    if failed(0) {
                        Ok(None)
                    } else if failed(1) {
                        Ok(Some(Outcome::Refused(
                            reasons.get(1).and_then(|r| r.item().cloned()),
                        )))
                    } else {
                        // A conflicting transaction or write in flight: again.
                        Ok(Some(Outcome::Refused(None)))
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
        let out = self
            .call(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key(PK, s(code.as_str()))
                    .key(SK, s(TOTAL_SK))
                    .update_expression(format!("REMOVE {}", paths.join(", ")))
                    .condition_expression("attribute_exists(pk)")
                    .set_expression_attribute_names(Some(names))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
                |o| o.consumed_capacity(),
            )
            .await?;
        // Refused: the total is gone with its link; nothing to prune.
        let _ = out;
        Ok(())
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

    /// The all-time human visits of each of `codes` as the aggregator last counted them
    /// (absent: none yet), by code: one `BatchGetItem` per 100 links.
    pub async fn aggregated_visits_of(
        &self,
        codes: &[&Code],
    ) -> Result<HashMap<String, u64>, StoreError> {
        let keys: Vec<(&str, &str)> = codes.iter().map(|c| (c.as_str(), TOTAL_SK)).collect();
        let items = self.batch_get(&keys, "pk, #v", &[("#v", VISITS)]).await?;
        Ok(items
            .iter()
            .filter_map(|item| Some((text(item, PK)?.to_owned(), number(item, VISITS)?)))
            .collect())
    }
}

/// The visits `pending` adds, in all and per day.
fn sums(pending: &[(&str, SourceChange)]) -> (u64, BTreeMap<NaiveDate, u64>) {
    let mut per_day: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    for (_, c) in pending {
        *per_day.entry(c.day).or_insert(0) += c.new - c.old;
    }
    (per_day.values().sum(), per_day)
}

fn totals_of(item: &Item) -> LinkTotals {
    LinkTotals {
        visits: number(item, VISITS).unwrap_or(0),
        days: number_map(item, DAYS)
            .into_iter()
            .filter_map(|(d, v)| Some((parse_day(&d)?, v)))
            .collect(),
    }
}

/// The `(map, key)` entries of a total that are older than `KEPT_DAYS` before its newest day.
fn stale_entries(item: &Item) -> Vec<(&'static str, String)> {
    let day_of_key = |k: &str| parse_day(k.split('#').next()?);
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
