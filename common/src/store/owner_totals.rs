//! An owner's totals, `pk = "#owner#<key id>"`, `sk = "totals#all#<shard>"` and
//! `"totals#YYYY-MM-DD#<shard>"`: `visits`, `bot_visits` and `links` (the owner's links with
//! human visits in the period). An owned link's visits are added to them in one
//! transaction with the link's total (`totals.rs`), so that they are exactly the sums of the
//! owner's links' counters. Two transactions on one item at once cancel each other, so an
//! owner's totals are spread over `OWNER_TOTAL_SHARDS` items by a hash of the code, and
//! within one invocation the writes to one shard take turns (`OwnerLocks`); reading them
//! sums the shards, in the same request as the owner's ranking (`rankings.rs`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::Update;
use chrono::{DateTime, Utc};

use super::expression::Expression;
use super::layout::{
    owner_pk, owner_totals_sk, BOT_VISITS, OWNER_LINKS, TOTAL_DAYS, UPDATED_AT, VISITS,
};
use super::totals::Addition;
use super::{day_string, number, number_map, s, Item, StoreError};
use crate::domain::link::rfc3339;
use crate::domain::{Code, KeyId, Period};

/// An owner's totals over a period, as `GET /stats` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerTotals {
    pub visits: u64,
    pub bot_visits: u64,
    /// The owner's links with human visits in the period.
    pub links: u64,
}

/// Items an owner's totals of a period are spread over.
pub(super) const OWNER_TOTAL_SHARDS: u32 = 16;

/// The shard of an owner's totals a link adds to: FNV-1a of its code.
pub(super) fn owner_shard(code: &Code) -> u32 {
    let hash = code.as_str().bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % OWNER_TOTAL_SHARDS
}

/// Turns for the writes to each shard of an owner's totals within one invocation.
#[derive(Default)]
pub(super) struct OwnerLocks(std::sync::Mutex<HashMap<(KeyId, u32), Turn>>);

pub(super) type Turn = std::sync::Arc<tokio::sync::Mutex<()>>;

impl OwnerLocks {
    pub(super) fn of(&self, owner: &KeyId, shard: u32) -> Turn {
        let mut locks = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry((owner.clone(), shard)).or_default().clone()
    }
}

/// An owner's totals: the sum of its shards' items.
pub(super) fn owner_totals_of<'a>(shards: impl Iterator<Item = &'a Item>) -> OwnerTotals {
    shards.fold(OwnerTotals::default(), |t, item| OwnerTotals {
        visits: t.visits + number(item, VISITS).unwrap_or(0),
        bot_visits: t.bot_visits + number(item, BOT_VISITS).unwrap_or(0),
        links: t.links + number(item, OWNER_LINKS).unwrap_or(0),
    })
}

/// The updates of `owner`'s totals that a write of `add` to the total of `code` (`held`:
/// the total as it was read, `None` for a new one) makes in the same transaction: all time
/// and each day of the addition; `links` counts the link once per period, at its first
/// human visit of the period.
pub(super) fn owner_updates(
    table: &str,
    owner: &KeyId,
    code: &Code,
    held: Option<&Item>,
    add: &Addition<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<Update>, StoreError> {
    let held_visits = held.and_then(|i| number(i, VISITS)).unwrap_or(0);
    let held_days = held.map(|i| number_map(i, TOTAL_DAYS)).unwrap_or_default();
    let mut periods = vec![(
        Period::All,
        add.visits,
        add.bots,
        held_visits == 0 && add.visits > 0,
    )];
    for (day, (visits, bots)) in &add.per_day {
        let first = held_days.get(&day_string(*day)).copied().unwrap_or(0) == 0;
        periods.push((Period::Day(*day), *visits, *bots, first && *visits > 0));
    }
    periods
        .into_iter()
        .map(|(period, visits, bots, new_link)| {
            let mut e = Expression::default();
            e.values.insert(":now".into(), s(&rfc3339(now)));
            e.sets.push(format!("{UPDATED_AT} = :now"));
            e.adds.push((VISITS, visits));
            e.adds.push((BOT_VISITS, bots));
            e.adds.push((OWNER_LINKS, u64::from(new_link)));
            e.update(
                table,
                &owner_pk(owner),
                &owner_totals_sk(period, owner_shard(code)),
            )
        })
        .collect()
}
