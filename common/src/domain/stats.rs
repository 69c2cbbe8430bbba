//! Days, date ranges and the per-day histogram of visits.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::visit::{Dimension, OTHER};

/// A day's breakdown maps: per dimension, key to visits.
pub type DayBreakdowns = BTreeMap<Dimension, BTreeMap<String, u64>>;
/// Keys shown per breakdown; the rest are summed into `other`.
pub const TOP: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("'{param}' must be a date as YYYY-MM-DD")]
    Format { param: &'static str },
    #[error("'from' ({from}) is after 'to' ({to})")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("'from' to 'to' is {days} days; at most {MAX_STATS_DAYS} days are shown at once")]
    TooLong { days: i64 },
}

/// The most days one stats request covers, `from` and `to` included (a year and a day):
/// what one anonymous request may make the store read is bounded by it (docs/security.md).
pub const MAX_STATS_DAYS: i64 = 366;

/// A calendar day in UTC, written `YYYY-MM-DD` and nothing else.
pub fn parse_day(s: &str, param: &'static str) -> Result<NaiveDate, DateError> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(DateError::Format { param });
    }
    super::parse_day(s).ok_or(DateError::Format { param })
}

/// The optional `from`/`to` bounds of a stats request, both inclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl DateRange {
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<DateRange, DateError> {
        let from = from.map(|s| parse_day(s, "from")).transpose()?;
        let to = to.map(|s| parse_day(s, "to")).transpose()?;
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(DateError::Reversed { from, to });
            }
        }
        Ok(DateRange { from, to })
    }

    /// The range with both ends, today being `today`: `to` today and `from` the
    /// `MAX_STATS_DAYS`th day before `to` unless given; `TooLong` past `MAX_STATS_DAYS`.
    pub fn bounded(self, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), DateError> {
        let longest = Days::new(MAX_STATS_DAYS as u64 - 1);
        let (from, to) = match (self.from, self.to) {
            (Some(from), Some(to)) => (from, to),
            (Some(from), None) => (from, today.max(from)),
            (None, Some(to)) => (to.checked_sub_days(longest).unwrap_or(NaiveDate::MIN), to),
            (None, None) => (
                today.checked_sub_days(longest).unwrap_or(NaiveDate::MIN),
                today,
            ),
        };
        let days = (to - from).num_days() + 1;
        if days > MAX_STATS_DAYS {
            return Err(DateError::TooLong { days });
        }
        Ok((from, to))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DailyVisits {
    pub date: NaiveDate,
    pub visits: u64,
    pub bot_visits: u64,
}

/// The first and last day a stats response covers: `max(from, created)` to `min(to, today)`.
pub fn span(created: NaiveDate, today: NaiveDate, range: DateRange) -> (NaiveDate, NaiveDate) {
    (
        range.from.map_or(created, |f| f.max(created)),
        range.to.map_or(today, |t| t.min(today)),
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyVisits {
    pub key: String,
    pub visits: u64,
}

/// One breakdown's keys summed over the days from `start` to `end` (both included; none
/// when `end` is before `start`), `other` among them.
pub fn breakdown_sums(
    days: &BTreeMap<NaiveDate, DayBreakdowns>,
    dim: Dimension,
    start: NaiveDate,
    end: NaiveDate,
) -> BTreeMap<&str, u64> {
    let mut sums: BTreeMap<&str, u64> = BTreeMap::new();
    if start <= end {
        for day in days.range(start..=end).map(|(_, d)| d) {
            for (key, visits) in day.get(&dim).into_iter().flatten() {
                *sums.entry(key.as_str()).or_default() += visits;
            }
        }
    }
    sums
}

/// Each breakdown summed over the days from `start` to `end`: the `TOP` keys with the most
/// visits (ties in key order), then `other` with the rest, the days' own `other` included.
pub fn top_breakdowns(
    days: &BTreeMap<NaiveDate, DayBreakdowns>,
    start: NaiveDate,
    end: NaiveDate,
) -> BTreeMap<&'static str, Vec<KeyVisits>> {
    let mut out = BTreeMap::new();
    for dim in Dimension::ALL {
        let mut sums = breakdown_sums(days, dim, start, end);
        let other = sums.remove(OTHER).unwrap_or(0);
        let mut ranked: Vec<(&str, u64)> = sums.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let rest: u64 = ranked.iter().skip(TOP).map(|(_, v)| v).sum();
        let mut list: Vec<KeyVisits> = ranked
            .into_iter()
            .take(TOP)
            .map(|(key, visits)| KeyVisits {
                key: key.to_owned(),
                visits,
            })
            .collect();
        if other + rest > 0 {
            list.push(KeyVisits {
                key: OTHER.to_owned(),
                visits: other + rest,
            });
        }
        out.insert(dim.name(), list);
    }
    out
}

/// Visits per day from `max(from, created)` to `min(to, today)`, oldest first, with a zero
/// for every day that has no counter. Empty when the range ends before it starts; its
/// length is bounded by the link's age, however wide the requested range.
pub fn histogram(
    counts: &BTreeMap<NaiveDate, u64>,
    bots: &BTreeMap<NaiveDate, u64>,
    created: NaiveDate,
    today: NaiveDate,
    range: DateRange,
) -> Vec<DailyVisits> {
    let (start, end) = span(created, today, range);
    let mut out = Vec::new();
    let mut day = start;
    while day <= end {
        out.push(DailyVisits {
            date: day,
            visits: counts.get(&day).copied().unwrap_or(0),
            bot_visits: bots.get(&day).copied().unwrap_or(0),
        });
        match day.checked_add_days(Days::new(1)) {
            Some(next) => day = next,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_day(s, "t").unwrap()
    }

    #[test]
    fn day_format_is_strict() {
        assert_eq!(
            d("2026-02-28"),
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
        );
        for bad in [
            "2026-2-28",
            "2026-02-30",
            "2026/02/28",
            "20260228",
            "2026-02-28T00:00:00Z",
            " 2026-02-28",
            "+2026-02-2",
            "abcd-ef-gh",
            "",
            "2026-13-01",
        ] {
            assert!(parse_day(bad, "from").is_err(), "{bad}");
        }
        assert!(parse_day("2024-02-29", "from").is_ok());
    }

    #[test]
    fn range_rules() {
        assert_eq!(DateRange::parse(None, None).unwrap(), DateRange::default());
        assert!(DateRange::parse(Some("2026-01-01"), Some("2026-01-01")).is_ok());
        assert!(matches!(
            DateRange::parse(Some("2026-01-02"), Some("2026-01-01")),
            Err(DateError::Reversed { .. })
        ));
        assert_eq!(
            DateRange::parse(Some("x"), None),
            Err(DateError::Format { param: "from" })
        );
        assert_eq!(
            DateRange::parse(None, Some("2026-1-1")),
            Err(DateError::Format { param: "to" })
        );
    }

    #[test]
    fn a_range_is_a_year_and_a_day_at_most() {
        let today = d("2026-12-02");
        let range = |from, to| DateRange::parse(from, to).unwrap().bounded(today);
        assert_eq!(range(None, None), Ok((d("2025-12-02"), today)));
        assert_eq!(
            range(Some("2025-12-02"), Some("2026-12-02")),
            Ok((d("2025-12-02"), today))
        );
        assert_eq!(
            range(Some("2025-12-01"), Some("2026-12-02")),
            Err(DateError::TooLong { days: 367 })
        );
        // `from` alone runs to today; a `from` after today is an empty range, not an error.
        assert_eq!(
            range(Some("2025-12-01"), None),
            Err(DateError::TooLong { days: 367 })
        );
        assert_eq!(
            range(Some("2027-01-01"), None),
            Ok((d("2027-01-01"), d("2027-01-01")))
        );
        assert_eq!(
            range(None, Some("2020-02-29")),
            Ok((d("2019-03-01"), d("2020-02-29")))
        );
        assert!(matches!(
            range(Some("0001-01-01"), Some("9999-12-31")),
            Err(DateError::TooLong { .. })
        ));
        assert!(range(None, Some("0001-01-01")).is_ok());
    }

    #[test]
    fn zero_filled_from_creation_to_today() {
        let counts = BTreeMap::from([(d("2026-01-02"), 5), (d("2026-01-04"), 1)]);
        let h = histogram(
            &counts,
            &BTreeMap::new(),
            d("2026-01-01"),
            d("2026-01-05"),
            DateRange::default(),
        );
        let visits: Vec<u64> = h.iter().map(|x| x.visits).collect();
        assert_eq!(visits, [0, 5, 0, 1, 0]);
        assert_eq!(h[0].date, d("2026-01-01"));
        assert_eq!(h[4].date, d("2026-01-05"));
    }

    #[test]
    fn range_is_clamped_to_creation_and_today() {
        let counts = BTreeMap::from([(d("2026-01-03"), 2)]);
        let wide = DateRange::parse(Some("0001-01-01"), Some("9999-12-31")).unwrap();
        let h = histogram(
            &counts,
            &BTreeMap::new(),
            d("2026-01-02"),
            d("2026-01-04"),
            wide,
        );
        assert_eq!(h.len(), 3);
        let narrow = DateRange::parse(Some("2026-01-03"), Some("2026-01-03")).unwrap();
        let h = histogram(
            &counts,
            &BTreeMap::new(),
            d("2026-01-02"),
            d("2026-01-04"),
            narrow,
        );
        assert_eq!(
            h,
            [DailyVisits {
                date: d("2026-01-03"),
                visits: 2,
                bot_visits: 0,
            }]
        );
    }

    #[test]
    fn empty_when_range_is_outside_the_life_of_the_link() {
        let counts = BTreeMap::new();
        let before = DateRange::parse(Some("2025-01-01"), Some("2025-12-31")).unwrap();
        assert!(histogram(
            &counts,
            &BTreeMap::new(),
            d("2026-01-01"),
            d("2026-02-01"),
            before
        )
        .is_empty());
        let after = DateRange::parse(Some("2027-01-01"), None).unwrap();
        assert!(histogram(
            &counts,
            &BTreeMap::new(),
            d("2026-01-01"),
            d("2026-02-01"),
            after
        )
        .is_empty());
    }

    #[test]
    fn serializes_dates_as_plain_days() {
        let v = serde_json::to_value(DailyVisits {
            date: d("2026-03-04"),
            visits: 7,
            bot_visits: 1,
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"date": "2026-03-04", "visits": 7, "bot_visits": 1})
        );
    }

    #[test]
    fn top_ten_and_other_over_the_range() {
        let mut day1 = DayBreakdowns::new();
        let refs: BTreeMap<String, u64> = (0..12)
            .map(|i| (format!("site{i:02}.example"), 12 - i))
            .chain([("other".to_owned(), 5)])
            .collect();
        day1.insert(Dimension::Referrer, refs);
        day1.insert(
            Dimension::Device,
            BTreeMap::from([("pc".to_owned(), 2), ("smartphone".to_owned(), 2)]),
        );
        let mut day2 = DayBreakdowns::new();
        day2.insert(
            Dimension::Device,
            BTreeMap::from([("smartphone".to_owned(), 1)]),
        );
        let days = BTreeMap::from([(d("2026-01-01"), day1), (d("2026-01-03"), day2)]);

        let all = top_breakdowns(&days, d("2026-01-01"), d("2026-01-03"));
        let refs = &all["referrers"];
        assert_eq!(refs.len(), 11);
        assert_eq!(
            refs[0],
            KeyVisits {
                key: "site00.example".into(),
                visits: 12
            }
        );
        // Two keys past the top ten (2 and 1 visits) and the stored `other` (5).
        assert_eq!(
            refs[10],
            KeyVisits {
                key: "other".into(),
                visits: 8
            }
        );
        assert_eq!(
            all["devices"],
            [
                KeyVisits {
                    key: "smartphone".into(),
                    visits: 3
                },
                KeyVisits {
                    key: "pc".into(),
                    visits: 2
                }
            ]
        );
        assert!(all["countries"].is_empty());
        assert_eq!(all.len(), 5);

        let last = top_breakdowns(&days, d("2026-01-02"), d("2026-01-03"));
        assert_eq!(
            last["devices"],
            [KeyVisits {
                key: "smartphone".into(),
                visits: 1
            }]
        );
        assert!(last["referrers"].is_empty());
        assert!(top_breakdowns(&days, d("2026-01-03"), d("2026-01-01"))["devices"].is_empty());
    }
}
