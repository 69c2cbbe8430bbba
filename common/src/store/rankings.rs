//! The rankings at `pk = "#top"`, `sk = "all"` or `"date#YYYY-MM-DD"`: `e` (code to visits,
//! the `RANK_KEPT` most visited: `domain::ranking`), `v` (a version for optimistic writes)
//! and `updated_at`. Reading one is a `GetItem` and one `BatchGetItem` of the links' URLs,
//! whatever the number of links.
//!
//! A day's ranking is not at `"day#..."`: the stream filter of the aggregator lets day
//! counters through by that prefix, and a ranking write must never invoke it again.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use chrono::{DateTime, NaiveDate, Utc};

use super::layout::{
    owner_pk, owner_totals_sk, ranking_sk, CREATED_AT, LINK_SK, OWNER, PK, RANKING_ENTRIES,
    RANKING_VERSION, SK, TOP_PK, UPDATED_AT, URL,
};
use super::owner_totals::{owner_totals_of, OwnerTotals, OWNER_TOTAL_SHARDS};
use super::{n, number, number_map, s, text, time, Item, Outcome, Store, StoreError};
use crate::domain::link::rfc3339;
use crate::domain::ranking::{merge_top, ordered, Period, RANK_KEPT};
use crate::domain::KeyId;

const ATTEMPTS: usize = 8;

impl Store {
    /// Merges new counts into a ranking: read, merge, write if changed, on the condition
    /// that nobody wrote it in between (else again).
    pub(super) async fn update_ranking(
        &self,
        owner: Option<&KeyId>,
        period: Period,
        counts: &[(String, u64)],
        deleted: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let pk = ranking_pk(owner);
        let sk = ranking_sk(period);
        for attempt in 0..ATTEMPTS {
            let item = self.get_item(&pk, &sk, true).await?;
            let version = item
                .as_ref()
                .and_then(|i| number(i, RANKING_VERSION))
                .unwrap_or(0);
            let mut top = item.as_ref().map(entries_of).unwrap_or_default();
            if !merge_top(&mut top, counts, deleted, RANK_KEPT) {
                return Ok(());
            }
            let entries = top.iter().map(|(c, v)| (c.clone(), n(*v))).collect();
            let request = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(PK, s(&pk))
                .item(SK, s(&sk))
                .item(RANKING_ENTRIES, AttributeValue::M(entries))
                .item(RANKING_VERSION, n(version + 1))
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
                .send();
            match self.call(request, |o| o.consumed_capacity()).await? {
                Outcome::Applied(_) => return Ok(()),
                Outcome::Refused(_) => {
                    // Another invocation wrote it: merge into theirs, after a pause.
                    let pause = fastrand::u64(1..=(10 << attempt.min(5)));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
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
        self.ranked(item, limit, None, period).await
    }

    /// `top_links` among one owner's links, with the owner's totals of the period: the
    /// ranking and the totals' shards in one `BatchGetItem`, the links in one more.
    pub async fn owner_top_links(
        &self,
        owner: &KeyId,
        period: Period,
        limit: usize,
    ) -> Result<(Ranking, OwnerTotals), StoreError> {
        let pk = owner_pk(owner);
        let ranking = ranking_sk(period);
        let shards: Vec<String> = (0..OWNER_TOTAL_SHARDS)
            .map(|shard| owner_totals_sk(period, shard))
            .collect();
        let keys: Vec<(&str, &str)> = std::iter::once(ranking.as_str())
            .chain(shards.iter().map(String::as_str))
            .map(|sk| (pk.as_str(), sk))
            .collect();
        let items = self
            .batch_get(
                &keys,
                "#sk, #e, #v, #b, #l, #u",
                &[
                    ("#sk", SK),
                    ("#e", RANKING_ENTRIES),
                    ("#v", "visits"),
                    ("#b", "bot_visits"),
                    ("#l", "links"),
                    ("#u", UPDATED_AT),
                ],
            )
            .await?;
        let (ranked, totals): (Vec<Item>, Vec<Item>) = items
            .into_iter()
            .partition(|i| text(i, SK) == Some(ranking.as_str()));
        let totals = owner_totals_of(totals.iter());
        let item = ranked.into_iter().next().unwrap_or_default();
        Ok((self.ranked(item, limit, Some(owner), period).await?, totals))
    }

    /// The first `limit` links of a ranking item that still exist (and, for an owner's
    /// ranking, are still that owner's; for a day's, were created by that day: an entry of
    /// a day before a link's creation counted an earlier link of its code), with their URLs.
    async fn ranked(
        &self,
        item: Item,
        limit: usize,
        owner: Option<&KeyId>,
        period: Period,
    ) -> Result<Ranking, StoreError> {
        let top = entries_of(&item);
        let mut queue = ordered(&top).into_iter();
        let mut links = Vec::new();
        // Links deleted since they were ranked are skipped; a few rounds at most.
        for _ in 0..3 {
            let wanted: Vec<(&str, u64)> = queue.by_ref().take(limit - links.len()).collect();
            if wanted.is_empty() {
                break;
            }
            let urls = self.urls_of(wanted.iter().map(|(c, _)| *c), owner).await?;
            for (code, visits) in wanted {
                let Some(link) = urls.get(code) else { continue };
                if matches!(period, Period::Day(day) if link.created > day) {
                    continue;
                }
                links.push(RankedLink {
                    code: code.to_owned(),
                    url: link.url.clone(),
                    visits,
                });
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

    /// The day rankings of the days from `first` to `last` (at most 100 days), all links'
    /// or one owner's, by day: one `BatchGetItem`. A day nobody visited is absent.
    pub async fn day_rankings(
        &self,
        owner: Option<&KeyId>,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<BTreeMap<NaiveDate, BTreeMap<String, u64>>, StoreError> {
        let pk = ranking_pk(owner);
        let days: Vec<NaiveDate> = first
            .iter_days()
            .take_while(|d| *d <= last)
            .take(100)
            .collect();
        let sks: Vec<String> = days.iter().map(|d| ranking_sk(Period::Day(*d))).collect();
        let keys: Vec<(&str, &str)> = sks.iter().map(|sk| (pk.as_str(), sk.as_str())).collect();
        let items = self
            .batch_get(&keys, "#sk, #e", &[("#sk", SK), ("#e", RANKING_ENTRIES)])
            .await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let sk = text(item, SK)?;
                let day = days.iter().zip(&sks).find(|(_, s)| s.as_str() == sk)?.0;
                Some((*day, entries_of(item)))
            })
            .collect())
    }

    /// The URLs and creation days of existing links among `codes`, in one `BatchGetItem`
    /// per 100. With `owner`, only that owner's: an owner's ranking may name a code that
    /// was freed and taken again by someone else, whose link is none of this owner's
    /// business.
    pub async fn urls_of<'a>(
        &self,
        codes: impl Iterator<Item = &'a str>,
        owner: Option<&KeyId>,
    ) -> Result<HashMap<String, RankedRef>, StoreError> {
        let keys: Vec<(&str, &str)> = codes.map(|c| (c, LINK_SK)).collect();
        let items = self
            .batch_get(
                &keys,
                "pk, #url, #owner, #created",
                &[("#url", URL), ("#owner", OWNER), ("#created", CREATED_AT)],
            )
            .await?;
        Ok(items
            .iter()
            .filter(|item| owner.is_none_or(|o| text(item, OWNER) == Some(o.as_str())))
            .filter_map(|item| {
                let link = RankedRef {
                    url: text(item, URL)?.to_owned(),
                    created: time(item, CREATED_AT)?.date_naive(),
                };
                Some((text(item, PK)?.to_owned(), link))
            })
            .collect())
    }
}

/// What a ranking shows of a ranked code's current link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankedRef {
    pub url: String,
    /// The link's creation day: a day ranking's entries of days before it counted an
    /// earlier link of the code.
    pub created: NaiveDate,
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

/// The partition of a ranking: all links', or an owner's.
fn ranking_pk(owner: Option<&KeyId>) -> String {
    owner.map_or_else(|| TOP_PK.to_owned(), owner_pk)
}

fn entries_of(item: &Item) -> BTreeMap<String, u64> {
    number_map(item, RANKING_ENTRIES)
}
