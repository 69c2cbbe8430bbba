//! Visit counters: one item per link and UTC day. A human visit bumps `visits` and its key
//! in each breakdown map (`ref`, `src`, `dev`, `brw`, `cty`) in one conditional
//! `UpdateItem`; a bot bumps `bot_visits` alone.
//!
//! Each map holds at most `Dimension::cap` keys, `other` included: a new key is written
//! only while the map has room for it and `other`, and the condition that says so is part
//! of the write, so concurrent visits cannot overfill it. When the condition fails, the
//! old item comes back with the failure and the next attempt is built from it (create a
//! missing map, or count under `other`); each attempt either applies in full or not at
//! all, so nothing is counted twice. The warm function remembers what it learnt of each
//! day's maps (they only grow during a day), so a normal visit is one write, a visit past
//! a full map included; a warm function's first visit of a day takes one more.
//!
//! Hot links: DynamoDB takes at most about 1,000 writes per second on one partition. When it
//! throttles a counter write, the link's `counter_shards` is raised (doubled, up to
//! `MAX_COUNTER_SHARDS`) and the visit is written to a new shard item, in a partition of
//! its own (`<code>#<shard>`, day key unchanged): a throttled write was not applied, so
//! nothing is counted twice or lost. Shard 0 is the link's own partition, so a normal link
//! keeps one item per day and one write per visit. Stats and the aggregator sum the shards.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure,
};
use chrono::NaiveDate;

use super::layout::{day_key, shard_pk, BOT_VISITS, PK, SK, VISITS};
use super::{n, number, number_map, s, Item, Outcome, Store, StoreError};
use crate::domain::visit::{Dimension, Visit, OTHER};
use crate::domain::Code;

/// Shards of a hot link's day counter at most: some 32,000 counted visits per second.
pub const MAX_COUNTER_SHARDS: u32 = 32;
/// Attempts of a human visit's write before it is counted without its breakdowns (only
/// a storm of concurrent first visits of a day gets there).
pub(super) const ATTEMPTS: usize = 4;

/// The attribute of a breakdown map (short: it counts against the day item's size).
pub(super) fn map_attr(dim: Dimension) -> &'static str {
    match dim {
        Dimension::Referrer => "ref",
        Dimension::Source => "src",
        Dimension::Device => "dev",
        Dimension::Browser => "brw",
        Dimension::Country => "cty",
    }
}

/// What this process knows of one breakdown map of a day item.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MapState {
    Absent,
    /// The keys it holds (at least these: others may have been added since).
    Present(BTreeSet<String>),
}

/// What this process knows of a day item's maps; a dimension it has not seen is presumed
/// present with room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct DayMaps(BTreeMap<Dimension, MapState>);

impl DayMaps {
    /// From the item as DynamoDB returned it with a failed condition.
    pub(super) fn of_item(item: Option<&Item>) -> DayMaps {
        DayMaps(
            Dimension::ALL
                .into_iter()
                .map(|dim| {
                    let map = item
                        .and_then(|i| i.get(map_attr(dim)))
                        .and_then(|v| v.as_m().ok());
                    let state = match map {
                        None => MapState::Absent,
                        Some(m) => MapState::Present(m.keys().cloned().collect()),
                    };
                    (dim, state)
                })
                .collect(),
        )
    }

    /// The write of one dimension's key.
    pub(super) fn plan(&self, dim: Dimension, wanted: &str) -> Plan {
        match self.0.get(&dim) {
            None => Plan::Bump(wanted.to_owned()),
            Some(MapState::Absent) => Plan::Create(wanted.to_owned()),
            Some(MapState::Present(keys)) if keys.contains(wanted) => Plan::Bump(wanted.to_owned()),
            // Room for it and `other`: a map holds at most `cap` keys.
            Some(MapState::Present(keys)) if keys.len() + 1 < dim.cap() => {
                Plan::Bump(wanted.to_owned())
            }
            Some(MapState::Present(_)) => Plan::Other,
        }
    }

    /// Whether a write of `plans` would teach nothing new (every key already known).
    fn knows(&self, plans: &[(Dimension, Plan)]) -> bool {
        plans.iter().all(|(dim, plan)| {
            let key = match plan {
                Plan::Bump(k) | Plan::Create(k) => k.as_str(),
                Plan::Other => OTHER,
            };
            matches!(self.0.get(dim), Some(MapState::Present(keys)) if keys.contains(key))
        })
    }

    /// After a write that applied: each written key is now in its map.
    fn learn(&mut self, plans: &[(Dimension, Plan)]) {
        for (dim, plan) in plans {
            let key = match plan {
                Plan::Bump(k) | Plan::Create(k) => k.as_str(),
                Plan::Other => OTHER,
            };
            match self.0.entry(*dim).or_insert(MapState::Absent) {
                MapState::Present(keys) => {
                    keys.insert(key.to_owned());
                }
                state @ MapState::Absent => *state = MapState::Present([key.to_owned()].into()),
            }
        }
    }
}

/// How one dimension is written in an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Plan {
    /// Bump the key in the existing map, if it is there or there is room for it.
    Bump(String),
    /// Bump `other` (the map is full).
    Other,
    /// The map does not exist yet: create it with the key at 1.
    Create(String),
}

/// The update and condition expressions of one attempt, with their names and values.
pub(super) fn human_update(
    plans: &[(Dimension, Plan)],
) -> (String, Option<String>, HashMap<String, String>, Item) {
    let mut sets = Vec::new();
    let mut conditions = Vec::new();
    let mut names = HashMap::new();
    let mut values = Item::from([(":one".to_owned(), n(1))]);
    for (i, (dim, plan)) in plans.iter().enumerate() {
        let (m, k) = (format!("#m{i}"), format!("#k{i}"));
        names.insert(m.clone(), map_attr(*dim).to_owned());
        match plan {
            Plan::Bump(key) => {
                names.insert(k.clone(), key.clone());
                sets.push(format!("{m}.{k} = if_not_exists({m}.{k}, :zero) + :one"));
                // Room for this key and `other`: the map holds at most `cap` keys.
                values.insert(format!(":room{i}"), n((dim.cap() - 1) as u64));
                conditions.push(format!(
                    "(attribute_exists({m}.{k}) OR size({m}) < :room{i})"
                ));
            }
            Plan::Other => {
                names.insert(k.clone(), OTHER.to_owned());
                sets.push(format!("{m}.{k} = if_not_exists({m}.{k}, :zero) + :one"));
                conditions.push(format!("attribute_exists({m})"));
            }
            Plan::Create(key) => {
                let map = AttributeValue::M([(key.clone(), n(1))].into_iter().collect());
                values.insert(format!(":new{i}"), map);
                sets.push(format!("{m} = :new{i}"));
                conditions.push(format!("attribute_not_exists({m})"));
            }
        }
    }
    // DynamoDB refuses a value that no expression uses.
    if plans.iter().any(|(_, p)| !matches!(p, Plan::Create(_))) {
        values.insert(":zero".to_owned(), n(0));
    }
    let expression = format!("ADD {VISITS} :one SET {}", sets.join(", "));
    let condition = (!conditions.is_empty()).then(|| conditions.join(" AND "));
    (expression, condition, names, values)
}

/// A visit counted by `count_visit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// The link's shard count as it is now: more than the caller's after a throttle.
    pub counter_shards: u32,
    /// Queued for the aggregator (`spill.rs`) rather than counted now.
    pub queued: bool,
}

/// The shard a visit of a link with `shards` counter shards is written to: 0 (the link's
/// own partition) for a link that was never hot; once raised, one of 1 to `shards - 1` at
/// random, so that the link's own partition carries no more counter writes and a later
/// raise (a write of the link item) is never throttled by the visits it relieves.
pub(super) fn pick_shard(shards: u32) -> u32 {
    if shards <= 1 {
        0
    } else {
        fastrand::u32(1..shards)
    }
}

/// The shard count after a raise from `seen`: 3 from 1 (two fresh shards, shard 0 left
/// out), then doubled, at most `MAX_COUNTER_SHARDS`.
pub(super) fn next_shard_count(seen: u32) -> u32 {
    if seen <= 1 {
        3
    } else {
        (seen * 2).min(MAX_COUNTER_SHARDS)
    }
}

/// What a counter write asks DynamoDB to send back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Returned {
    /// Nothing: the redirect needs no count, and the updated breakdown maps would come back
    /// with it (parsing them cost about a tenth of a warm redirect's instructions).
    Nothing,
    /// The day's new count (`record_visit`).
    Count,
}

impl Store {
    /// Counts one visit of a link with `shards` counter shards (`pick_shard`), and never
    /// refuses it for a throttle: a write throttled on its partition's limit raises the
    /// shard count and goes to a new shard once; a visit still throttled then, or
    /// throttled by a table or account limit (which more shards cannot help), is queued
    /// (`spill.rs`) and counted by the aggregator a few seconds later. Only an unreachable
    /// store is an error.
    pub async fn count_visit(
        &self,
        code: &Code,
        shards: u32,
        day: NaiveDate,
        visit: &Visit,
    ) -> Result<Counted, StoreError> {
        let shards = shards.clamp(1, MAX_COUNTER_SHARDS);
        let shard = pick_shard(shards);
        let key_range = match self
            .write_visit(code, shard, day, visit, Returned::Nothing)
            .await
        {
            Err(StoreError::Throttled { key_range, .. }) => key_range,
            other => {
                return other.map(|_| Counted {
                    counter_shards: shards,
                    queued: false,
                })
            }
        };
        let mut raised = shards;
        let mut raise_later = None;
        if key_range && shards < MAX_COUNTER_SHARDS {
            match self.raise_counter_shards(code, shards).await {
                Ok(now) => raised = now,
                // The raise is a write to the link's own partition (shard 0), which is the
                // throttled one only before the first raise (`pick_shard`): the aggregator
                // makes it with the queued visit.
                Err(StoreError::Throttled { .. }) => {
                    raise_later = Some(next_shard_count(shards));
                }
                Err(e) => return Err(e),
            }
        }
        if raised > shards {
            tracing::warn!(%code, from = shards, to = raised, "counter throttled: shards raised");
            // A fresh shard, one no other visit has written yet.
            let shard = fastrand::u32(shards.max(1)..raised);
            match self
                .write_visit(code, shard, day, visit, Returned::Nothing)
                .await
            {
                Ok(_) => {
                    return Ok(Counted {
                        counter_shards: raised,
                        queued: false,
                    })
                }
                Err(StoreError::Throttled { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        tracing::warn!(%code, shards = raised, key_range, raise = raise_later, "counter throttled: visit queued");
        self.spill_visit(code, day, visit, raise_later).await?;
        Ok(Counted {
            counter_shards: raised,
            queued: true,
        })
    }

    /// Counts one visit on `day`: a human visit in `visits` and its breakdowns, a bot in
    /// `bot_visits`. Returns the day's new count of that kind. `ADD` is not idempotent, so a
    /// slow attempt is never retried (see `single_attempt_window`); a failed condition
    /// wrote nothing, so the next attempt cannot count twice.
    pub async fn record_visit(
        &self,
        code: &Code,
        shard: u32,
        day: NaiveDate,
        visit: &Visit,
    ) -> Result<u64, StoreError> {
        let count = self
            .write_visit(code, shard, day, visit, Returned::Count)
            .await?;
        count.ok_or(StoreError::Malformed {
            code: code.to_string(),
            what: "visit counter",
        })
    }

    /// `record_visit`, returning the count only when asked for.
    async fn write_visit(
        &self,
        code: &Code,
        shard: u32,
        day: NaiveDate,
        visit: &Visit,
        returned: Returned,
    ) -> Result<Option<u64>, StoreError> {
        let pk = shard_pk(code, shard);
        let breakdown = match visit {
            Visit::Bot => return self.bump(&pk, day, BOT_VISITS, returned).await,
            Visit::Human(b) => b,
        };
        let cache_key = (pk, day);
        // Shared, not copied: a warm function's usual visit changes nothing it knows.
        let mut known: Arc<DayMaps> = self
            .days
            .get(&cache_key, Instant::now())
            .flatten()
            .unwrap_or_default();
        // Whether `known` came from a refused write: then it is news even if the write
        // that applied taught nothing more.
        let mut refreshed = false;
        for _ in 0..ATTEMPTS {
            let plans: Vec<(Dimension, Plan)> = breakdown
                .keys()
                .map(|(d, k)| (d, known.plan(d, k)))
                .collect();
            match self.try_human(&cache_key.0, day, &plans, returned).await? {
                Outcome::Applied(visits) => {
                    if !known.knows(&plans) {
                        let mut learnt = (*known).clone();
                        learnt.learn(&plans);
                        known = Arc::new(learnt);
                    } else if !refreshed {
                        return Ok(visits);
                    }
                    self.days.put(cache_key, Some(known), Instant::now());
                    return Ok(visits);
                }
                Outcome::Refused(old) => {
                    known = Arc::new(DayMaps::of_item(old.as_ref()));
                    refreshed = true;
                }
            }
        }
        tracing::warn!(%code, "visit counted without its breakdowns after {ATTEMPTS} attempts");
        if refreshed {
            self.days
                .put(cache_key.clone(), Some(known), Instant::now());
        }
        self.bump(&cache_key.0, day, VISITS, returned).await
    }

    /// One attempt: applied (with the count when asked for), or refused by its condition
    /// (with the item as it was).
    async fn try_human(
        &self,
        pk: &str,
        day: NaiveDate,
        plans: &[(Dimension, Plan)],
        returned: Returned,
    ) -> Result<Outcome<Option<u64>>, StoreError> {
        let (expression, condition, names, values) = human_update(plans);
        let out = self
            .call(
                self.counter_client
                    .update_item()
                    .table_name(&self.table)
                    .key(PK, s(pk))
                    .key(SK, s(&day_key(day)))
                    .update_expression(expression)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(values))
                    .return_values(return_value(returned))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
                |o| o.consumed_capacity(),
            )
            .await?;
        Ok(match out {
            Outcome::Applied(o) => Outcome::Applied(o.attributes.and_then(|a| number(&a, VISITS))),
            Outcome::Refused(item) => Outcome::Refused(item),
        })
    }

    /// `ADD <attribute> :1` on the day's item, no condition.
    async fn bump(
        &self,
        pk: &str,
        day: NaiveDate,
        attribute: &str,
        returned: Returned,
    ) -> Result<Option<u64>, StoreError> {
        let out = self
            .call_plain(
                self.counter_client
                    .update_item()
                    .table_name(&self.table)
                    .key(PK, s(pk))
                    .key(SK, s(&day_key(day)))
                    .update_expression(format!("ADD {attribute} :one"))
                    .expression_attribute_values(":one", n(1))
                    .return_values(return_value(returned))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
                |o| o.consumed_capacity(),
            )
            .await?;
        Ok(out.attributes.and_then(|a| number(&a, attribute)))
    }
}

fn return_value(returned: Returned) -> ReturnValue {
    match returned {
        Returned::Nothing => ReturnValue::None,
        Returned::Count => ReturnValue::UpdatedNew,
    }
}

/// A day's breakdown maps as stored: per dimension, key to visits.
pub(super) fn breakdowns_of(item: &Item) -> BTreeMap<Dimension, BTreeMap<String, u64>> {
    Dimension::ALL
        .into_iter()
        .filter(|dim| item.get(map_attr(*dim)).is_some_and(|v| v.as_m().is_ok()))
        .map(|dim| (dim, number_map(item, map_attr(dim))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(maps: &[(Dimension, &[&str])]) -> Item {
        maps.iter()
            .map(|(d, keys)| {
                let m = keys.iter().map(|k| (k.to_string(), n(1))).collect();
                (map_attr(*d).to_owned(), AttributeValue::M(m))
            })
            .collect()
    }

    #[test]
    fn planning_from_what_is_known() {
        let d = Dimension::Source; // cap 6: five keys and `other`
        let replan = |old: Option<&Item>, dim, key| DayMaps::of_item(old).plan(dim, key);
        assert_eq!(DayMaps::default().plan(d, "a"), Plan::Bump("a".into()));
        assert_eq!(replan(None, d, "a"), Plan::Create("a".into()));
        let old = item(&[(d, &["a", "b", "c", "d"])]);
        assert_eq!(replan(Some(&old), d, "a"), Plan::Bump("a".into()));
        assert_eq!(replan(Some(&old), d, "e"), Plan::Bump("e".into()));
        let full = item(&[(d, &["a", "b", "c", "d", "e"])]);
        assert_eq!(replan(Some(&full), d, "f"), Plan::Other);
        assert_eq!(replan(Some(&full), d, "e"), Plan::Bump("e".into()));
        assert_eq!(
            replan(Some(&full), Dimension::Country, "DE"),
            Plan::Create("DE".into())
        );
        // What a write taught: the next visit plans `other` for a new key at once.
        let mut known = DayMaps::of_item(Some(&old));
        known.learn(&[
            (d, Plan::Bump("e".into())),
            (Dimension::Country, Plan::Create("DE".into())),
        ]);
        assert_eq!(known.plan(d, "f"), Plan::Other);
        assert_eq!(
            known.plan(Dimension::Country, "FR"),
            Plan::Bump("FR".into())
        );
        known.learn(&[(d, Plan::Other)]);
        assert_eq!(known.plan(d, "other"), Plan::Bump("other".into()));
    }

    #[test]
    fn expressions_name_every_key_through_placeholders() {
        let plans = [
            (Dimension::Referrer, Plan::Bump("evil.com".into())),
            (Dimension::Source, Plan::Other),
            (Dimension::Country, Plan::Create("DE".into())),
        ];
        let (update, condition, names, values) = human_update(&plans);
        assert_eq!(
            update,
            "ADD visits :one SET #m0.#k0 = if_not_exists(#m0.#k0, :zero) + :one, \
             #m1.#k1 = if_not_exists(#m1.#k1, :zero) + :one, #m2 = :new2"
        );
        let condition = condition.unwrap();
        assert!(condition.contains("size(#m0) < :room0"));
        assert!(!update.contains("evil") && !condition.contains("evil"));
        assert_eq!(names["#k0"], "evil.com");
        assert_eq!(names["#k1"], OTHER);
        assert_eq!(values[":room0"], n(7));
        assert!(values.contains_key(":new2"));
    }
}
