//! Each link's all-time total, `pk = <code>, sk = "total"`: `visits` (all human visits),
//! `bot_visits`, `d` (visits per day, recent days only), `w` (per counter item,
//! "YYYY-MM-DD" or "YYYY-MM-DD#<shard>", the last value of its `visits` that was added in),
//! `wb` (the same for `bot_visits`), and `link_owner` (the link's owner, "" for none,
//! copied once from the link), and `link_created` (the link's `created_at`, to tell a total
//! of an earlier link of the code apart). A link's stats read its total with the recent
//! days only (`all_time`), so that one request's reads do not grow with the link's age. A
//! counter that went from `old` to `new` is added as `new - w`: a batch delivered twice,
//! or an older record after a newer one, finds `w` ahead and adds nothing, so the totals
//! are exact and the aggregation idempotent. Every write is made on the condition that the item is still the revision
//! (`rev`) it was read at, so what it adds, and the totals it hands on, are exact however
//! many invocations aggregate the same link. Entries older than `KEPT_DAYS` before the
//! newest are dropped (the stream keeps records 24 hours).
//!
//! An owned link's visits are also added to its owner's totals in the same transaction
//! (`owner_totals.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnConsumedCapacity, TransactWriteItem, Update,
};
use chrono::{DateTime, NaiveDate, Utc};

use super::expression::Expression;
use super::layout::{
    BOT_VISITS, CREATED_AT, LINK_CREATED, LINK_OWNER, LINK_SK, OWNER, PK, SK, TOTAL_BOTS_SEEN,
    TOTAL_DAYS, TOTAL_REV, TOTAL_SEEN, TOTAL_SK, UPDATED_AT, VISITS,
};
use super::owner_totals::{owner_shard, owner_updates, OwnerLocks};
use super::stream::SourceChange;
use super::Outcome;
use super::{day_string, n, number, number_map, parse_day, s, text, Item, Store, StoreError};
use crate::domain::link::rfc3339;
use crate::domain::{Code, KeyId};

/// Days of `d` and `w` kept before the newest: a replayed record is at most a day old.
pub(super) const KEPT_DAYS: i64 = 2;
const ATTEMPTS: usize = 8;
/// Counter items added to a total in one write: each sets up to three map entries (`w`,
/// `wb`, `d`), some 60 characters of expression each, well within the 4 KB limit.
const SOURCES_PER_WRITE: usize = 20;

/// A link's aggregate after a change: what the rankings are told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkTotals {
    pub visits: u64,
    pub days: BTreeMap<NaiveDate, u64>,
    /// The link's owner (its visits also rank among the owner's links).
    pub owner: Option<KeyId>,
}

/// What one write adds to a link's total (and its owner's).
pub(super) struct Addition<'a> {
    /// Each counter item that moved, `old`/`bots_old` being what the total holds.
    sources: Vec<(&'a str, SourceChange)>,
    pub(super) visits: u64,
    pub(super) bots: u64,
    /// Per day: human visits, bot visits.
    pub(super) per_day: BTreeMap<NaiveDate, (u64, u64)>,
}

impl<'a> Addition<'a> {
    fn of(sources: Vec<(&'a str, SourceChange)>) -> Addition<'a> {
        let mut per_day: BTreeMap<NaiveDate, (u64, u64)> = BTreeMap::new();
        for (_, c) in &sources {
            let day = per_day.entry(c.day).or_default();
            day.0 += c.new - c.old;
            day.1 += c.bots_new - c.bots_old;
        }
        Addition {
            visits: per_day.values().map(|d| d.0).sum(),
            bots: per_day.values().map(|d| d.1).sum(),
            per_day,
            sources,
        }
    }
}

/// How a total's write ended.
enum Written {
    Done,
    /// The link does not exist (any more): nothing is aggregated.
    LinkGone,
    /// The total changed since it was read (or a transaction collided): read again.
    Conflict,
}

/// What a batch's first reads found of a link: its total, and its link item when the
/// total does not name the owner (`None` not read, `Some(None)` no link).
#[derive(Debug, Default)]
pub(super) struct Known {
    total: Option<Item>,
    link: Option<Option<Item>>,
}

impl Store {
    /// The totals of a batch's links, and the link items of those whose total does not
    /// name the owner, strongly consistent: two `BatchGetItem`s per 100 links instead of a
    /// `GetItem` or two per link.
    pub(super) async fn prefetch(
        &self,
        codes: &[&Code],
    ) -> Result<HashMap<String, Known>, StoreError> {
        let keys: Vec<(&str, &str)> = codes.iter().map(|c| (c.as_str(), TOTAL_SK)).collect();
        let mut known: HashMap<String, Known> = codes
            .iter()
            .map(|c| (c.to_string(), Known::default()))
            .collect();
        for item in self.batch_read(&keys, None, &[], true).await? {
            if let Some(k) = text(&item, PK).and_then(|pk| known.get_mut(pk)) {
                k.total = Some(item);
            }
        }
        let unowned: Vec<(&str, &str)> = codes
            .iter()
            .filter(|c| {
                known[c.as_str()]
                    .total
                    .as_ref()
                    .and_then(|t| text(t, LINK_OWNER))
                    .is_none()
            })
            .map(|c| (c.as_str(), LINK_SK))
            .collect();
        for (code, _) in &unowned {
            if let Some(k) = known.get_mut(*code) {
                k.link = Some(None);
            }
        }
        for item in self.batch_read(&unowned, None, &[], true).await? {
            if let Some(k) = text(&item, PK).and_then(|pk| known.get_mut(pk)) {
                k.link = Some(Some(item));
            }
        }
        Ok(known)
    }

    /// Adds a link's counter changes to its total (and its owner's), `SOURCES_PER_WRITE`
    /// counter items per write: a batch with many days of one link (a backfill) would
    /// otherwise pass DynamoDB's 4 KB expression limit and fail again at every delivery.
    /// Returns the totals after the last write; `None` for a link deleted meanwhile.
    pub(super) async fn add_to_total(
        &self,
        code: &Code,
        sources: &BTreeMap<String, SourceChange>,
        now: DateTime<Utc>,
        locks: &OwnerLocks,
        known: Option<Known>,
    ) -> Result<Option<LinkTotals>, StoreError> {
        if sources.len() <= SOURCES_PER_WRITE {
            return self.add_some(code, sources, now, locks, known).await;
        }
        let all: Vec<(&String, &SourceChange)> = sources.iter().collect();
        let mut known = known;
        let mut totals = None;
        for chunk in all.chunks(SOURCES_PER_WRITE) {
            let some: BTreeMap<String, SourceChange> =
                chunk.iter().map(|(k, c)| ((*k).clone(), **c)).collect();
            totals = self.add_some(code, &some, now, locks, known.take()).await?;
            if totals.is_none() {
                return Ok(None);
            }
        }
        Ok(totals)
    }

    /// `add_to_total` of at most `SOURCES_PER_WRITE` counter items: read the total (the
    /// first time, what the batch's `prefetch` found), then one conditional write of what
    /// it does not hold yet. Returns the totals now; `None` for a link deleted meanwhile
    /// (its visits are not aggregated: no total outlives its link).
    async fn add_some(
        &self,
        code: &Code,
        sources: &BTreeMap<String, SourceChange>,
        now: DateTime<Utc>,
        locks: &OwnerLocks,
        known: Option<Known>,
    ) -> Result<Option<LinkTotals>, StoreError> {
        let mut known = known;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(5 << attempt.min(6))).await;
            }
            let (held, link) = match known.take() {
                Some(k) => (k.total, k.link),
                None => (self.get_total(code).await?, None),
            };
            let stored_owner = held.as_ref().and_then(|i| text(i, LINK_OWNER));
            let (owner, owner_unknown, link_created) = match stored_owner {
                Some(o) => (KeyId::parse(o), false, None),
                None => {
                    let link = match link {
                        Some(link) => link,
                        None => self.get_item(code.as_str(), LINK_SK, true).await?,
                    };
                    match link {
                        None => return Ok(None),
                        Some(link) => (
                            text(&link, OWNER).and_then(KeyId::parse),
                            true,
                            text(&link, CREATED_AT).map(str::to_owned),
                        ),
                    }
                }
            };
            let empty = Item::new();
            let item = held.as_ref().unwrap_or(&empty);
            let pending = pending(item, sources);
            if pending.is_empty() {
                // All of it is in the total already (a batch delivered again).
                return Ok(Some(totals_of(item, owner)));
            }
            let add = Addition::of(pending);
            let turn = owner.as_ref().map(|o| locks.of(o, owner_shard(code)));
            let guard = match &turn {
                Some(turn) => Some(turn.lock().await),
                None => None,
            };
            let written = self
                .write_total(
                    code,
                    held.as_ref(),
                    (owner.as_ref(), owner_unknown, link_created.as_deref()),
                    &add,
                    now,
                )
                .await;
            drop(guard);
            let written = written?;
            match written {
                Written::Done => {
                    let mut totals = totals_of(item, owner);
                    totals.visits += add.visits;
                    for (day, (visits, _)) in &add.per_day {
                        *totals.days.entry(*day).or_insert(0) += visits;
                    }
                    if let Some(item) = &held {
                        self.prune_total(code, item).await?;
                    }
                    return Ok(Some(totals));
                }
                Written::LinkGone => return Ok(None),
                Written::Conflict => {}
            }
        }
        Err(StoreError::Unavailable(
            format!("total of '{code}' kept changing under {ATTEMPTS} attempts").into(),
        ))
    }

    /// One write of `add`: the link's total (created, on the condition that the link
    /// exists; or updated, on the condition that it is the revision read) and, for an
    /// owned link, its owner's totals, in one transaction.
    async fn write_total(
        &self,
        code: &Code,
        held: Option<&Item>,
        (owner, owner_unknown, link_created): (Option<&KeyId>, bool, Option<&str>),
        add: &Addition<'_>,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let mut actions = Vec::new();
        match held {
            None => {
                let seen = |f: fn(&SourceChange) -> u64| {
                    AttributeValue::M(
                        add.sources
                            .iter()
                            .map(|(src, c)| (src.to_string(), n(f(c))))
                            .collect(),
                    )
                };
                let days = add
                    .per_day
                    .iter()
                    .filter(|(_, (v, _))| *v > 0)
                    .map(|(d, (v, _))| (day_string(*d), n(*v)));
                let mut item = Item::from([
                    (PK.to_owned(), s(code.as_str())),
                    (SK.to_owned(), s(TOTAL_SK)),
                    (TOTAL_SEEN.to_owned(), seen(|c| c.new)),
                    (TOTAL_DAYS.to_owned(), AttributeValue::M(days.collect())),
                    (VISITS.to_owned(), n(add.visits)),
                    (LINK_OWNER.to_owned(), s(owner.map_or("", |o| o.as_str()))),
                    (TOTAL_REV.to_owned(), n(1)),
                    (UPDATED_AT.to_owned(), s(&rfc3339(now))),
                    (TOTAL_BOTS_SEEN.to_owned(), seen(|c| c.bots_new)),
                    (BOT_VISITS.to_owned(), n(add.bots)),
                ]);
                if let Some(created) = link_created {
                    item.insert(LINK_CREATED.to_owned(), s(created));
                }
                actions.push(
                    TransactWriteItem::builder().condition_check(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .key(PK, s(code.as_str()))
                            .key(SK, s(LINK_SK))
                            .condition_expression("attribute_exists(pk)")
                            .build()
                            .map_err(|e| StoreError::Unavailable(e.into()))?,
                    ),
                );
                actions.push(
                    TransactWriteItem::builder().put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(item))
                            .condition_expression("attribute_not_exists(pk)")
                            .build()
                            .map_err(|e| StoreError::Unavailable(e.into()))?,
                    ),
                );
            }
            Some(item) => {
                let mut e = Expression::default();
                e.values.insert(":now".into(), s(&rfc3339(now)));
                e.sets.push(format!("{UPDATED_AT} = :now"));
                match number(item, TOTAL_REV) {
                    Some(rev) => {
                        e.values.insert(":rev".into(), n(rev));
                        e.values.insert(":next".into(), n(rev + 1));
                        e.conditions.push(format!("{TOTAL_REV} = :rev"));
                        e.sets.push(format!("{TOTAL_REV} = :next"));
                    }
                    None => {
                        e.values.insert(":next".into(), n(1));
                        e.conditions.push(format!(
                            "attribute_exists(pk) AND attribute_not_exists({TOTAL_REV})"
                        ));
                        e.sets.push(format!("{TOTAL_REV} = :next"));
                    }
                }
                e.set_entries(
                    item,
                    TOTAL_SEEN,
                    add.sources.iter().map(|(src, c)| (src.to_string(), c.new)),
                );
                e.set_entries(
                    item,
                    TOTAL_BOTS_SEEN,
                    add.sources
                        .iter()
                        .map(|(src, c)| (src.to_string(), c.bots_new)),
                );
                let held_days = number_map(item, TOTAL_DAYS);
                e.set_entries(
                    item,
                    TOTAL_DAYS,
                    add.per_day
                        .iter()
                        .filter(|(_, (v, _))| *v > 0)
                        .map(|(d, (v, _))| {
                            let key = day_string(*d);
                            let now = held_days.get(&key).copied().unwrap_or(0) + v;
                            (key, now)
                        }),
                );
                if owner_unknown {
                    e.values
                        .insert(":owner".into(), s(owner.map_or("", |o| o.as_str())));
                    e.sets.push(format!("{LINK_OWNER} = :owner"));
                }
                e.adds.push((VISITS, add.visits));
                e.adds.push((BOT_VISITS, add.bots));
                actions.push(TransactWriteItem::builder().update(e.update(
                    &self.table,
                    code.as_str(),
                    TOTAL_SK,
                )?));
            }
        }
        if let Some(owner) = owner {
            for update in owner_updates(&self.table, owner, code, held, add, now)? {
                actions.push(TransactWriteItem::builder().update(update));
            }
        }
        let actions: Vec<TransactWriteItem> = actions.into_iter().map(|a| a.build()).collect();
        // A lone update (an anonymous link's existing total) needs no transaction.
        if let [only] = actions.as_slice() {
            if let Some(update) = only.update() {
                return self.update_alone(update.clone()).await;
            }
        }
        Ok(match self.transact(actions).await? {
            Outcome::Applied(()) => Written::Done,
            // The link's condition (the first item of a new total's transaction) refused
            // it: the link is gone. Else the total changed since it was read, or another
            // transaction held one of the items: read again.
            Outcome::Refused(codes)
                if held.is_none()
                    && codes.first().map(String::as_str) == Some("ConditionalCheckFailed") =>
            {
                Written::LinkGone
            }
            Outcome::Refused(_) => Written::Conflict,
        })
    }

    /// An anonymous link's total updated without a transaction (half the cost).
    async fn update_alone(&self, u: Update) -> Result<Written, StoreError> {
        let out = self
            .call(
                self.client
                    .update_item()
                    .table_name(u.table_name())
                    .set_key(Some(u.key().clone()))
                    .update_expression(u.update_expression())
                    .set_condition_expression(u.condition_expression().map(str::to_owned))
                    .set_expression_attribute_names(u.expression_attribute_names().cloned())
                    .set_expression_attribute_values(u.expression_attribute_values().cloned())
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
                |o| o.consumed_capacity(),
            )
            .await?;
        Ok(match out {
            super::Outcome::Applied(_) => Written::Done,
            super::Outcome::Refused(_) => Written::Conflict,
        })
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
                    .update_expression(format!(
                        "SET {TOTAL_REV} = if_not_exists({TOTAL_REV}, :zero) + :one REMOVE {}",
                        paths.join(", ")
                    ))
                    .condition_expression("attribute_exists(pk)")
                    .set_expression_attribute_names(Some(names))
                    .expression_attribute_values(":zero", n(0))
                    .expression_attribute_values(":one", n(1))
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
            .map_or(0, |item| number(&item, VISITS).unwrap_or(0)))
    }
}

/// A link's all-time visits and bot visits: what its total holds, and what the `recent`
/// counter items (each `(source, visits, bot_visits)`, every item of the last `KEPT_DAYS`
/// and today) hold beyond what was added to it (`w`, `wb`). Older counters are in the
/// total already: the aggregator runs behind by seconds, and the stream keeps 24 hours.
pub(super) fn all_time(total: Option<&Item>, recent: &[(String, u64, u64)]) -> (u64, u64) {
    let empty = Item::new();
    let total = total.unwrap_or(&empty);
    let (seen, bots_seen) = (
        number_map(total, TOTAL_SEEN),
        number_map(total, TOTAL_BOTS_SEEN),
    );
    recent.iter().fold(
        (
            number(total, VISITS).unwrap_or(0),
            number(total, BOT_VISITS).unwrap_or(0),
        ),
        |(visits, bots), (source, v, b)| {
            let added = seen.get(source).copied().unwrap_or(0);
            let bots_added = bots_seen.get(source).copied().unwrap_or(0);
            (
                visits + v.saturating_sub(added),
                bots + b.saturating_sub(bots_added),
            )
        },
    )
}

/// What of `sources` (counter item -> its change in a batch) the total `item` does not
/// hold yet: from the total's watermarks (`w`, `wb`) to what the records say, never
/// backwards, so that an older record after a newer one adds nothing and lowers no
/// watermark. Empty: all of it is in the total already (a batch delivered again).
fn pending<'a>(
    item: &Item,
    sources: &'a BTreeMap<String, SourceChange>,
) -> Vec<(&'a str, SourceChange)> {
    let seen = |map: &str, source: &str| {
        item.get(map)
            .and_then(|w| w.as_m().ok())
            .and_then(|w| w.get(source))
            .and_then(|v| v.as_n().ok()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    sources
        .iter()
        .filter_map(|(source, c)| {
            let old = seen(TOTAL_SEEN, source);
            let bots_old = seen(TOTAL_BOTS_SEEN, source);
            let bots_new = c.bots_new.max(bots_old);
            let change = SourceChange {
                day: c.day,
                old,
                new: c.new.max(old),
                bots_old,
                bots_new,
            };
            (change.new > old || bots_new > bots_old).then_some((source.as_str(), change))
        })
        .collect()
}

fn totals_of(item: &Item, owner: Option<KeyId>) -> LinkTotals {
    LinkTotals {
        visits: number(item, VISITS).unwrap_or(0),
        days: number_map(item, TOTAL_DAYS)
            .into_iter()
            .filter_map(|(d, v)| Some((parse_day(&d)?, v)))
            .collect(),
        owner,
    }
}

/// The `(map, key)` entries of a total that are older than `KEPT_DAYS` before its newest day.
fn stale_entries(item: &Item) -> Vec<(&'static str, String)> {
    let day_of_key = |k: &str| parse_day(k.split('#').next()?);
    let keys: Vec<(&'static str, String)> = [TOTAL_SEEN, TOTAL_BOTS_SEEN, TOTAL_DAYS]
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

    fn change(day: NaiveDate, new: u64, bots_new: u64) -> SourceChange {
        SourceChange {
            day,
            old: 0,
            new,
            bots_old: 0,
            bots_new,
        }
    }

    fn watermarks(seen: &[(&str, u64)], bots: &[(&str, u64)]) -> Item {
        let map = |m: &[(&str, u64)]| {
            AttributeValue::M(m.iter().map(|(k, v)| (k.to_string(), n(*v))).collect())
        };
        Item::from([
            (TOTAL_SEEN.to_owned(), map(seen)),
            (TOTAL_BOTS_SEEN.to_owned(), map(bots)),
        ])
    }

    /// From the total's watermarks to what the records say, never backwards: a batch
    /// delivered again adds nothing, an older record lowers nothing, and a counter item
    /// the total has not seen is added whole.
    #[test]
    fn pending_is_what_the_total_does_not_hold_yet() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let sources = BTreeMap::from([
            ("2026-12-03".to_owned(), change(d, 10, 2)),
            ("2026-12-03#1".to_owned(), change(d, 5, 0)),
        ]);
        // A new total: everything, from 0.
        let all = pending(&Item::new(), &sources);
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].1.old, all[0].1.new, all[0].1.bots_new), (0, 10, 2));
        // The same batch again: nothing.
        let held = watermarks(
            &[("2026-12-03", 10), ("2026-12-03#1", 5)],
            &[("2026-12-03", 2)],
        );
        assert!(pending(&held, &sources).is_empty());
        // The total is ahead on one item (a newer record came first) and behind on the
        // other: only the second is pending, and the first's watermark is not lowered.
        let held = watermarks(
            &[("2026-12-03", 12), ("2026-12-03#1", 3)],
            &[("2026-12-03", 2)],
        );
        let some = pending(&held, &sources);
        assert_eq!(some.len(), 1);
        assert_eq!(some[0].0, "2026-12-03#1");
        assert_eq!((some[0].1.old, some[0].1.new), (3, 5));
        // Only bot visits are new: pending, with the human count unchanged.
        let held = watermarks(
            &[("2026-12-03", 10), ("2026-12-03#1", 5)],
            &[("2026-12-03", 1)],
        );
        let bots = pending(&held, &sources);
        assert_eq!(bots.len(), 1);
        let c = &bots[0].1;
        assert_eq!((c.old, c.new, c.bots_old, c.bots_new), (10, 10, 1, 2));
    }

    #[test]
    fn stale_entries_are_those_of_days_long_past() {
        let m =
            |keys: &[&str]| AttributeValue::M(keys.iter().map(|k| (k.to_string(), n(1))).collect());
        let item = Item::from([
            (
                TOTAL_SEEN.to_owned(),
                m(&["2026-11-20", "2026-11-21#3", "2026-11-23", "bad"]),
            ),
            (
                TOTAL_DAYS.to_owned(),
                m(&["2026-11-20", "2026-11-21", "2026-11-23"]),
            ),
        ]);
        assert_eq!(
            stale_entries(&item),
            vec![
                (TOTAL_DAYS, "2026-11-20".to_owned()),
                (TOTAL_SEEN, "2026-11-20".to_owned()),
                (TOTAL_SEEN, "bad".to_owned()),
            ]
        );
        assert!(stale_entries(&Item::new()).is_empty());
    }

    #[test]
    fn all_time_is_the_total_and_what_the_recent_counters_hold_beyond_it() {
        let m = |pairs: &[(&str, u64)]| {
            AttributeValue::M(pairs.iter().map(|(k, v)| (k.to_string(), n(*v))).collect())
        };
        let total = Item::from([
            (VISITS.to_owned(), n(100)),
            (BOT_VISITS.to_owned(), n(7)),
            (
                TOTAL_SEEN.to_owned(),
                m(&[("2026-12-01", 10), ("2026-12-02", 4)]),
            ),
            (TOTAL_BOTS_SEEN.to_owned(), m(&[("2026-12-02", 1)])),
        ]);
        let recent = [
            ("2026-12-01".to_owned(), 10, 0),  // all of it added
            ("2026-12-02".to_owned(), 6, 3),   // 2 visits and 2 bot visits not yet
            ("2026-12-02#1".to_owned(), 5, 0), // a shard the aggregator has not seen
        ];
        assert_eq!(all_time(Some(&total), &recent), (107, 9));
        // Never aggregated: the recent counters are all there is.
        assert_eq!(all_time(None, &recent), (21, 3));
        // A counter behind its watermark (never: counters only grow) adds nothing.
        assert_eq!(
            all_time(Some(&total), &[("2026-12-01".to_owned(), 3, 0)]),
            (100, 7)
        );
    }
}
