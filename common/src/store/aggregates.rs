//! All-time totals and rankings, kept off the redirect's path by the `aggregate` function
//! from the table's stream (each counter write comes with its old and new image): a batch
//! is read (`stream.rs`), folded per link (`stream::plan`, pure), added to each link's
//! total and its owner's (`totals.rs`), then merged into each ranking it touched, all
//! links' and each owner's (`rankings.rs`).

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::stream::{self as futures_stream, StreamExt};

use super::owner_totals::OwnerLocks;
use super::spill::Applied;
use super::stream::{boards, plan, StreamChange};
use super::totals::KEPT_DAYS;
use super::Store;
use crate::domain::Code;

/// Links aggregated at once by one invocation.
const CONCURRENCY: usize = 16;

/// What `aggregate` did with a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregated {
    pub links: usize,
    /// The position of the first record not aggregated (to be delivered again), if any.
    pub first_failed: Option<usize>,
}

impl Store {
    /// Aggregates a batch of stream changes (in stream order): each link's total, one
    /// conditional write per link, then each ranking the batch touched. A failure leaves the
    /// position of the first record to deliver again in `first_failed`; delivering again what
    /// was already aggregated changes nothing.
    pub async fn aggregate(&self, changes: &[StreamChange], now: DateTime<Utc>) -> Aggregated {
        let plan = plan(changes);
        let locks = OwnerLocks::default();
        let locks = &locks;
        let codes: Vec<&Code> = plan.links.keys().collect();
        // Read ahead for the whole batch; if that fails, each link reads its own.
        let mut known = match self.prefetch(&codes).await {
            Ok(known) => known,
            Err(e) => {
                tracing::warn!(error = %e, "batch read of totals failed, reading per link");
                Default::default()
            }
        };
        // Built in a loop, not a closure: the futures own their link's data.
        let mut writes = Vec::with_capacity(plan.links.len());
        for (code, (first, sources)) in plan.links {
            let known = known.remove(code.as_str());
            writes.push(async move {
                let mut days: Vec<NaiveDate> = sources.values().map(|c| c.day).collect();
                days.sort_unstable();
                days.dedup();
                let result = self.add_to_total(&code, &sources, now, locks, known).await;
                (first, code, days, result)
            });
        }
        let results: Vec<_> = futures_stream::iter(writes)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut first_failed: Option<usize> = None;
        let mut fail = |i: usize| first_failed = Some(first_failed.map_or(i, |f| f.min(i)));
        let mut totals = Vec::with_capacity(results.len());
        for (first, code, days, result) in results {
            match result {
                // The link was deleted meanwhile: nothing to rank.
                Ok(None) => {}
                Ok(Some(t)) => totals.push((first, code, days, t)),
                Err(e) => {
                    tracing::warn!(%code, error = %e, "link total not aggregated");
                    fail(first);
                }
            }
        }
        let links = totals.len();
        let today = now.date_naive();
        let boards = boards(&totals, &plan.deleted, today, KEPT_DAYS as u64);
        // Each ranking is one item read and written whole: several at once, each alone.
        let updates = boards
            .into_iter()
            .map(|((scope, period), change)| async move {
                let result = self
                    .update_ranking(scope.as_ref(), period, &change.counts, &change.deleted, now)
                    .await;
                (scope, period, change.first, result)
            });
        let results: Vec<_> = futures_stream::iter(updates)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (scope, period, first, result) in results {
            if let Err(e) = result {
                let owner = scope.as_ref().map(|o| o.as_str());
                tracing::warn!(?period, owner, error = %e, "ranking not updated");
                fail(first);
            }
        }
        // What a removed link left in its partitions (all of it after a TTL removal),
        // after its counters above: a new link of the code starts clean.
        let mut purges = Vec::with_capacity(plan.freed.len());
        for (first, code, shards) in plan.freed {
            purges.push(async move {
                let result = self.purge_freed(&code, shards).await;
                (first, code, result)
            });
        }
        let results: Vec<_> = futures_stream::iter(purges)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (first, code, result) in results {
            match result {
                Ok(0) => {}
                Ok(items) => tracing::info!(%code, items, "purged what a removed link left"),
                Err(e) => {
                    tracing::warn!(%code, error = %e, "removed link not purged");
                    fail(first);
                }
            }
        }
        // Queued visits (`spill.rs`): each counted on a shard in one transaction, once,
        // or put back in the queue when its link's shards are all busy.
        let (positions, spilled): (Vec<usize>, Vec<_>) = plan.spilled.into_iter().unzip();
        let results = self.apply_queued(&spilled).await;
        let (mut counted, mut requeued) = (0, 0);
        for ((first, spilled), result) in positions.into_iter().zip(&spilled).zip(results) {
            match result {
                Ok(Applied::Counted(_)) => counted += 1,
                Ok(Applied::Requeued) => requeued += 1,
                Ok(Applied::Already) => {}
                Ok(Applied::Dropped) => {
                    tracing::info!(code = %spilled.code, "queued visit of a link that is gone dropped")
                }
                Err(e) => {
                    tracing::warn!(code = %spilled.code, error = %e, "queued visit not counted yet");
                    fail(first);
                }
            }
        }
        if counted + requeued > 0 {
            tracing::info!(visits = counted, requeued, "queued visits counted");
        }
        Aggregated {
            links,
            first_failed,
        }
    }
}
