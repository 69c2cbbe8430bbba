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
use chrono::{DateTime, Utc};

use super::links::{LINK_SK, URL};
use super::{
    day_string, n, number, number_map, s, text, time, Item, Outcome, Store, StoreError, PK, SK,
};
use crate::domain::link::rfc3339;
use crate::domain::ranking::{merge_top, ordered, Period, RANK_KEPT};

pub(super) const TOP_PK: &str = "#top";
/// Of a day's ranking: never the counters' `day#`.
const RANKING_DAY_PREFIX: &str = "date#";
const ENTRIES: &str = "e";
const VERSION: &str = "v";
const UPDATED_AT: &str = "updated_at";
const ATTEMPTS: usize = 8;

impl Store {
    /// Merges new counts into a ranking: read, merge, write if changed, on the condition
    /// that nobody wrote it in between (else again).
    pub(super) async fn update_ranking(
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
            let request = self
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

    /// The URLs of existing links among `codes`, in one `BatchGetItem` per 100.
    async fn urls_of<'a>(
        &self,
        codes: impl Iterator<Item = &'a str>,
    ) -> Result<HashMap<String, String>, StoreError> {
        let keys: Vec<(&str, &str)> = codes.map(|c| (c, LINK_SK)).collect();
        let items = self.batch_get(&keys, "pk, #url", &[("#url", URL)]).await?;
        Ok(items
            .iter()
            .filter_map(|item| Some((text(item, PK)?.to_owned(), text(item, URL)?.to_owned())))
            .collect())
    }
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

/// The sort key of a period's ranking.
pub(super) fn ranking_sk(period: Period) -> String {
    match period {
        Period::All => "all".to_owned(),
        Period::Day(day) => format!("{RANKING_DAY_PREFIX}{}", day_string(day)),
    }
}

fn entries_of(item: &Item) -> BTreeMap<String, u64> {
    number_map(item, ENTRIES)
}
