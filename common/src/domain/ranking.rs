//! The ranking of links by visits: what `GET /stats` asks for, and the rule that keeps a
//! ranking exact while it holds only the most visited links.
//!
//! A ranking keeps the `RANK_KEPT` most visited links of a period with their counts. Counts
//! only grow, and every growth of a link's count reaches the ranking with the link's new
//! count (the aggregator sends it), so a link outside the kept set can only enter when its
//! own count changes, and is considered then: the kept set is always the true top.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::stats::{parse_day, DateError};

/// Links a ranking keeps: twice the largest `limit`, so that links deleted from the top
/// still leave a full answer.
pub const RANK_KEPT: usize = 200;
pub const MAX_RANK_LIMIT: usize = 100;
pub const DEFAULT_RANK_LIMIT: usize = 10;

/// Which visits a ranking counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    /// Every visit since each link was made.
    All,
    /// The visits of one UTC day.
    Day(NaiveDate),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RankingError {
    #[error("'period' must be 'day' or 'all'")]
    Period,
    #[error("'date' goes with period=day only")]
    DateWithAll,
    #[error(transparent)]
    Date(#[from] DateError),
    #[error("'limit' must be a whole number from 1 to {MAX_RANK_LIMIT}")]
    Limit,
}

/// A ranking request: `period=day|all` (default `day`), `date=YYYY-MM-DD` (default
/// `today`, with `day` only), `limit=1..100` (default 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankingQuery {
    pub period: Period,
    pub limit: usize,
}

impl RankingQuery {
    pub fn parse(
        period: Option<&str>,
        date: Option<&str>,
        limit: Option<&str>,
        today: NaiveDate,
    ) -> Result<RankingQuery, RankingError> {
        let limit = match limit {
            None => DEFAULT_RANK_LIMIT,
            // Digits only: Rust would also read "+5".
            Some(l) if l.bytes().all(|b| b.is_ascii_digit()) => l
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=MAX_RANK_LIMIT).contains(l))
                .ok_or(RankingError::Limit)?,
            Some(_) => return Err(RankingError::Limit),
        };
        let period = match (period.unwrap_or("day"), date) {
            ("all", None) => Period::All,
            ("all", Some(_)) => return Err(RankingError::DateWithAll),
            ("day", None) => Period::Day(today),
            ("day", Some(d)) => Period::Day(parse_day(d, "date")?),
            _ => return Err(RankingError::Period),
        };
        Ok(RankingQuery { period, limit })
    }
}

/// Brings a kept ranking (code to visits) up to date with links' new counts and the links
/// deleted since, keeping the `kept` most visited (ties: the smaller code stays). A count
/// never goes down here: an older count arriving late does not undo a newer one. Returns
/// whether anything changed.
pub fn merge_top(
    top: &mut BTreeMap<String, u64>,
    counts: &[(String, u64)],
    deleted: &[String],
    kept: usize,
) -> bool {
    let before = top.clone();
    for (code, visits) in counts {
        if *visits == 0 {
            continue;
        }
        let entry = top.entry(code.clone()).or_insert(0);
        *entry = (*entry).max(*visits);
    }
    for code in deleted {
        top.remove(code);
    }
    while top.len() > kept {
        let last = ordered(top).last().map(|(c, _)| c.to_string());
        if let Some(code) = last {
            top.remove(&code);
        }
    }
    *top != before
}

/// Most visited first; equal counts by code, so that an answer is stable.
pub fn ordered(top: &BTreeMap<String, u64>) -> Vec<(&str, u64)> {
    let mut v: Vec<(&str, u64)> = top.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn queries() {
        let today = day("2026-11-23");
        let q = |p, d, l| RankingQuery::parse(p, d, l, today);
        assert_eq!(
            q(None, None, None),
            Ok(RankingQuery {
                period: Period::Day(today),
                limit: 10
            })
        );
        assert_eq!(q(Some("all"), None, Some("100")).unwrap().limit, 100);
        assert_eq!(
            q(Some("day"), Some("2026-01-02"), Some("1"))
                .unwrap()
                .period,
            Period::Day(day("2026-01-02"))
        );
        for bad in [
            "0",
            "101",
            "-1",
            "+5",
            "1.0",
            "",
            "ten",
            "99999999999999999999",
        ] {
            assert_eq!(q(None, None, Some(bad)), Err(RankingError::Limit), "{bad}");
        }
        assert_eq!(q(Some("week"), None, None), Err(RankingError::Period));
        assert_eq!(q(Some(""), None, None), Err(RankingError::Period));
        assert_eq!(
            q(Some("all"), Some("2026-01-02"), None),
            Err(RankingError::DateWithAll)
        );
        assert!(matches!(
            q(Some("day"), Some("2026-02-30"), None),
            Err(RankingError::Date(_))
        ));
    }

    fn counts(v: &[(&str, u64)]) -> Vec<(String, u64)> {
        v.iter().map(|(c, n)| (c.to_string(), *n)).collect()
    }

    #[test]
    fn merging_keeps_the_true_top() {
        let mut top = BTreeMap::new();
        assert!(merge_top(
            &mut top,
            &counts(&[("a", 5), ("b", 3), ("c", 1)]),
            &[],
            2
        ));
        assert_eq!(ordered(&top), vec![("a", 5), ("b", 3)]);
        // `c` grows past `b`: it enters with its new count, `b` leaves.
        assert!(merge_top(&mut top, &counts(&[("c", 4)]), &[], 2));
        assert_eq!(ordered(&top), vec![("a", 5), ("c", 4)]);
        // A late, older count changes nothing; the same batch twice changes nothing.
        assert!(!merge_top(&mut top, &counts(&[("a", 2)]), &[], 2));
        assert!(!merge_top(&mut top, &counts(&[("c", 4)]), &[], 2));
        // Ties: the smaller code stays.
        assert!(merge_top(&mut top, &counts(&[("b", 4)]), &[], 2));
        assert_eq!(ordered(&top), vec![("a", 5), ("b", 4)]);
        // A deleted link leaves.
        assert!(merge_top(&mut top, &[], &["a".to_string()], 2));
        assert_eq!(ordered(&top), vec![("b", 4)]);
        // Zero counts are not links worth ranking.
        assert!(!merge_top(&mut top, &counts(&[("z", 0)]), &[], 2));
    }

    #[test]
    fn merging_in_any_order_gives_the_same_top() {
        // Links 0..50 with counts i*7 % 53, sent in two different orders and groupings.
        let all: Vec<(String, u64)> = (0..50u64)
            .map(|i| (format!("l{i:02}"), i * 7 % 53))
            .collect();
        let mut one = BTreeMap::new();
        merge_top(&mut one, &all, &[], 10);
        let mut two = BTreeMap::new();
        for chunk in all.iter().rev().cloned().collect::<Vec<_>>().chunks(3) {
            merge_top(&mut two, chunk, &[], 10);
        }
        assert_eq!(one, two);
        let mut expected: Vec<u64> = all.iter().map(|(_, n)| *n).collect();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        let got: Vec<u64> = ordered(&one).iter().map(|(_, n)| *n).collect();
        assert_eq!(got, expected[..10]);
    }
}
