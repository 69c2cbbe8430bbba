//! Days, date ranges and the per-day histogram of visits.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("'{param}' must be a date as YYYY-MM-DD")]
    Format { param: &'static str },
    #[error("'from' ({from}) is after 'to' ({to})")]
    Reversed { from: NaiveDate, to: NaiveDate },
}

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
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| DateError::Format { param })
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DailyVisits {
    pub date: NaiveDate,
    pub visits: u64,
}

/// Visits per day from `max(from, created)` to `min(to, today)`, oldest first, with a zero
/// for every day that has no counter. Empty when the range ends before it starts; its
/// length is bounded by the link's age, however wide the requested range.
pub fn histogram(
    counts: &BTreeMap<NaiveDate, u64>,
    created: NaiveDate,
    today: NaiveDate,
    range: DateRange,
) -> Vec<DailyVisits> {
    let start = range.from.map_or(created, |f| f.max(created));
    let end = range.to.map_or(today, |t| t.min(today));
    let mut out = Vec::new();
    let mut day = start;
    while day <= end {
        out.push(DailyVisits {
            date: day,
            visits: counts.get(&day).copied().unwrap_or(0),
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
    fn zero_filled_from_creation_to_today() {
        let counts = BTreeMap::from([(d("2026-01-02"), 5), (d("2026-01-04"), 1)]);
        let h = histogram(
            &counts,
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
        let h = histogram(&counts, d("2026-01-02"), d("2026-01-04"), wide);
        assert_eq!(h.len(), 3);
        let narrow = DateRange::parse(Some("2026-01-03"), Some("2026-01-03")).unwrap();
        let h = histogram(&counts, d("2026-01-02"), d("2026-01-04"), narrow);
        assert_eq!(
            h,
            [DailyVisits {
                date: d("2026-01-03"),
                visits: 2
            }]
        );
    }

    #[test]
    fn empty_when_range_is_outside_the_life_of_the_link() {
        let counts = BTreeMap::new();
        let before = DateRange::parse(Some("2025-01-01"), Some("2025-12-31")).unwrap();
        assert!(histogram(&counts, d("2026-01-01"), d("2026-02-01"), before).is_empty());
        let after = DateRange::parse(Some("2027-01-01"), None).unwrap();
        assert!(histogram(&counts, d("2026-01-01"), d("2026-02-01"), after).is_empty());
    }

    #[test]
    fn serializes_dates_as_plain_days() {
        let v = serde_json::to_value(DailyVisits {
            date: d("2026-03-04"),
            visits: 7,
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"date": "2026-03-04", "visits": 7}));
    }
}
