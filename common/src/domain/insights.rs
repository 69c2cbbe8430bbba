//! Insights without a model: fixed rules over the day counters the stats already read,
//! each stating what changed with its figures. The week is the 7 days ending on the day
//! asked for (`date`, today by default), compared with the 7 days before it and with the
//! 28 days before it as a baseline. Every rule is pure and deterministic: the same counters
//! give the same insights in the same order (rule order, then newest or biggest first).
//! A breakdown's `other` bucket, and a referrer's `direct`, are never named.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::Serialize;
use serde_json::{json, Value};

use super::day_string;
use super::stats::{breakdown_sums, DayBreakdowns};
use super::visit::{Dimension, OTHER};

/// A day's visits at least this many, and at least `SPIKE_FACTOR` times the median of the
/// 28 days before it, is a spike.
pub const SPIKE_MIN_VISITS: u64 = 20;
pub const SPIKE_FACTOR: u64 = 5;
/// Days of the link's life before a day that a spike's median needs.
pub const SPIKE_MIN_HISTORY: usize = 7;
/// A week at most this share (percent) of the week before, which had at least
/// `DROP_MIN_VISITS`, is a drop.
pub const DROP_MAX_PERCENT: u64 = 50;
pub const DROP_MIN_VISITS: u64 = 20;
/// Both weeks need this many visits before their top keys are compared.
pub const TOP_CHANGE_MIN_VISITS: u64 = 10;
/// A referrer absent the 28 days before the week is new with at least this share
/// (percent) of the week's visits and this many visits.
pub const NEW_REFERRER_MIN_PERCENT: u64 = 10;
pub const NEW_REFERRER_MIN_VISITS: u64 = 5;
/// The week's best day is the link's best day ever, with at least this many visits.
pub const PEAK_MIN_VISITS: u64 = 20;
/// At least this share (percent) of the week's visits by bots, of at least
/// `BOT_SHARE_MIN_VISITS` visits in all.
pub const BOT_SHARE_MIN_PERCENT: u64 = 50;
pub const BOT_SHARE_MIN_VISITS: u64 = 20;

/// The days before `date` that a link's insights look at: a peak day is the best of the
/// year to `date` (and a new referrer one not seen in the 4 weeks before the week).
pub const LOOKBACK_DAYS: i64 = 365;

/// Which rule found an insight (its `type` in the API: openapi.json's `Insight`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InsightKind {
    Spike,
    Drop,
    TopReferrerChanged,
    TopSourceChanged,
    TopCountryChanged,
    NewReferrer,
    PeakDay,
    BotShareHigh,
}

impl InsightKind {
    pub const ALL: [InsightKind; 8] = [
        InsightKind::Spike,
        InsightKind::Drop,
        InsightKind::TopReferrerChanged,
        InsightKind::TopSourceChanged,
        InsightKind::TopCountryChanged,
        InsightKind::NewReferrer,
        InsightKind::PeakDay,
        InsightKind::BotShareHigh,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InsightKind::Spike => "spike",
            InsightKind::Drop => "drop",
            InsightKind::TopReferrerChanged => "top_referrer_changed",
            InsightKind::TopSourceChanged => "top_source_changed",
            InsightKind::TopCountryChanged => "top_country_changed",
            InsightKind::NewReferrer => "new_referrer",
            InsightKind::PeakDay => "peak_day",
            InsightKind::BotShareHigh => "bot_share_high",
        }
    }
}

impl PartialEq<&str> for InsightKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What changed, in words and in figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insight {
    #[serde(rename = "type")]
    pub kind: InsightKind,
    pub message: String,
    pub figures: Value,
}

/// A link's counters as the stats read them.
pub struct Counters<'a> {
    pub created: NaiveDate,
    /// Human visits per day.
    pub daily: &'a BTreeMap<NaiveDate, u64>,
    pub bot_daily: &'a BTreeMap<NaiveDate, u64>,
    pub breakdowns: &'a BTreeMap<NaiveDate, DayBreakdowns>,
}

fn back(day: NaiveDate, days: u64) -> NaiveDate {
    day.checked_sub_days(Days::new(days))
        .unwrap_or(NaiveDate::MIN)
}

/// Visits of the days from `first` to `last`, both included.
fn sum(map: &BTreeMap<NaiveDate, u64>, first: NaiveDate, last: NaiveDate) -> u64 {
    if first > last {
        return 0;
    }
    map.range(first..=last).map(|(_, v)| v).sum()
}

/// The median of `values` (the lower of the two middle ones for an even count: a whole
/// number of visits).
fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values
        .get(values.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0)
}

fn percent(part: u64, whole: u64) -> u64 {
    (part * 100).checked_div(whole).unwrap_or(0)
}

/// One breakdown summed over the days from `first` to `last`, `other` left out.
fn keys_over<'a>(
    c: &Counters<'a>,
    dim: Dimension,
    first: NaiveDate,
    last: NaiveDate,
) -> BTreeMap<&'a str, u64> {
    let mut sums = breakdown_sums(c.breakdowns, dim, first, last);
    sums.remove(OTHER);
    sums
}

/// The most visited key (ties: the first in key order).
fn top<'a>(keys: &BTreeMap<&'a str, u64>) -> Option<(&'a str, u64)> {
    keys.iter()
        .map(|(k, v)| (*k, *v))
        .fold(None, |best: Option<(&str, u64)>, (k, v)| match best {
            Some((_, bv)) if bv >= v => best,
            _ => Some((k, v)),
        })
        .filter(|(_, v)| *v > 0)
}

/// The insights of a link's counters for the week ending on `date`.
pub fn of_link(c: &Counters<'_>, date: NaiveDate) -> Vec<Insight> {
    let mut out = Vec::new();
    let week_start = back(date, 6);
    let prev_start = back(date, 13);
    let prev_end = back(date, 7);
    let this_week = sum(c.daily, week_start, date);
    let last_week = sum(c.daily, prev_start, prev_end);

    // spike: each day of the week, newest first.
    let mut day = date;
    while day >= week_start && day >= c.created {
        let visits = c.daily.get(&day).copied().unwrap_or(0);
        let from = back(day, 28).max(c.created);
        let mut before: Vec<u64> = std::iter::successors(Some(from), |d| d.succ_opt())
            .take_while(|d| *d < day)
            .map(|d| c.daily.get(&d).copied().unwrap_or(0))
            .collect();
        if before.len() >= SPIKE_MIN_HISTORY {
            let median = median(&mut before);
            if visits >= SPIKE_MIN_VISITS && visits >= SPIKE_FACTOR * median {
                out.push(Insight {
                    kind: InsightKind::Spike,
                    message: format!(
                        "{visits} visits on {}, {} times the median day of the 28 before ({median})",
                        day_string(day),
                        if median == 0 {
                            "many".to_owned()
                        } else {
                            format!("{:.1}", visits as f64 / median as f64)
                        }
                    ),
                    figures: json!({"date": day_string(day), "visits": visits, "median": median}),
                });
            }
        }
        match day.pred_opt() {
            Some(d) => day = d,
            None => break,
        }
    }

    // drop: this week against the one before.
    if last_week >= DROP_MIN_VISITS && this_week * 100 <= last_week * DROP_MAX_PERCENT {
        out.push(Insight {
            kind: InsightKind::Drop,
            message: format!(
                "{this_week} visits in the last 7 days, down {}% from {last_week} the 7 days before",
                100 - percent(this_week, last_week)
            ),
            figures: json!({"visits": this_week, "previous_visits": last_week,
                            "change_percent": percent(this_week, last_week) as i64 - 100}),
        });
    }

    // top_*_changed: the week's top key is not the week before's.
    if this_week >= TOP_CHANGE_MIN_VISITS && last_week >= TOP_CHANGE_MIN_VISITS {
        for (kind, dim, what) in [
            (
                InsightKind::TopReferrerChanged,
                Dimension::Referrer,
                "referrer",
            ),
            (InsightKind::TopSourceChanged, Dimension::Source, "source"),
            (
                InsightKind::TopCountryChanged,
                Dimension::Country,
                "country",
            ),
        ] {
            let now = keys_over(c, dim, week_start, date);
            let before = keys_over(c, dim, prev_start, prev_end);
            if let (Some((now_key, now_visits)), Some((before_key, before_visits))) =
                (top(&now), top(&before))
            {
                if now_key != before_key {
                    out.push(Insight {
                        kind,
                        message: format!(
                            "top {what} is now {now_key} ({now_visits} visits in the last 7 days), was {before_key} ({before_visits} the 7 days before)"
                        ),
                        figures: json!({"current": now_key, "current_visits": now_visits,
                                        "previous": before_key, "previous_visits": before_visits}),
                    });
                }
            }
        }
    }

    // new_referrer: absent the 28 days before the week, a real part of it now.
    let earlier = keys_over(c, Dimension::Referrer, back(date, 34), prev_end);
    let mut fresh: Vec<(&str, u64)> = keys_over(c, Dimension::Referrer, week_start, date)
        .into_iter()
        .filter(|(key, visits)| {
            *key != "direct"
                && !earlier.contains_key(key)
                && *visits >= NEW_REFERRER_MIN_VISITS
                && *visits * 100 >= this_week * NEW_REFERRER_MIN_PERCENT
        })
        .collect();
    fresh.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (key, visits) in fresh {
        out.push(Insight {
            kind: InsightKind::NewReferrer,
            message: format!(
                "new referrer {key}: {visits} visits in the last 7 days ({}% of them), none in the 28 days before",
                percent(visits, this_week)
            ),
            figures: json!({"referrer": key, "visits": visits,
                            "share_percent": percent(visits, this_week)}),
        });
    }

    // peak_day: the week's best day is the best the link had in the year to `date`.
    let week_best = c
        .daily
        .range(week_start..=date)
        .map(|(d, v)| (*d, *v))
        .fold(None, |best: Option<(NaiveDate, u64)>, (d, v)| match best {
            Some((_, bv)) if bv > v => best,
            _ => Some((d, v)),
        });
    if let Some((day, visits)) = week_best {
        let before_best = c
            .daily
            .range(back(date, LOOKBACK_DAYS as u64)..week_start)
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0);
        if visits >= PEAK_MIN_VISITS && visits > before_best {
            out.push(Insight {
                kind: InsightKind::PeakDay,
                message: format!(
                    "{} was the best day of the year: {visits} visits (the best before: {before_best})",
                    day_string(day)
                ),
                figures: json!({"date": day_string(day), "visits": visits,
                                "previous_best": before_best}),
            });
        }
    }

    // bot_share_high: most of the week's traffic is bots.
    let bots = sum(c.bot_daily, week_start, date);
    let all = bots + this_week;
    if all >= BOT_SHARE_MIN_VISITS && bots * 100 >= all * BOT_SHARE_MIN_PERCENT {
        out.push(Insight {
            kind: InsightKind::BotShareHigh,
            message: format!(
                "{}% of the last 7 days' visits were bots ({bots} of {all})",
                percent(bots, all)
            ),
            figures: json!({"bot_visits": bots, "visits": all,
                            "share_percent": percent(bots, all)}),
        });
    }
    out
}

/// The sums of a link's visits over the week ending on `date` and the week before.
pub fn weeks(daily: &BTreeMap<NaiveDate, u64>, date: NaiveDate) -> (u64, u64) {
    (
        sum(daily, back(date, 6), date),
        sum(daily, back(date, 13), back(date, 7)),
    )
}

/// Links that moved most week over week, and the most visited of the week.
pub const MOVERS: usize = 5;
pub const TOP_LINKS: usize = 3;

/// A link's visits this week and the week before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mover {
    pub code: String,
    pub visits: u64,
    pub previous_visits: u64,
}

impl Mover {
    pub fn change(&self) -> i64 {
        self.visits as i64 - self.previous_visits as i64
    }
}

/// From day rankings (code to visits per day): the `MOVERS` biggest risers and fallers of
/// the week ending on `date` against the week before (ties by code), and the `TOP_LINKS`
/// most visited links of the week.
pub fn movers(
    days: &BTreeMap<NaiveDate, BTreeMap<String, u64>>,
    date: NaiveDate,
) -> (Vec<Mover>, Vec<Mover>, Vec<Mover>) {
    let (week_start, prev_start, prev_end) = (back(date, 6), back(date, 13), back(date, 7));
    let mut links: BTreeMap<&str, Mover> = BTreeMap::new();
    for (day, counts) in days.range(prev_start..=date) {
        for (code, visits) in counts {
            let m = links.entry(code).or_insert_with(|| Mover {
                code: code.clone(),
                visits: 0,
                previous_visits: 0,
            });
            if *day >= week_start {
                m.visits += visits;
            } else if *day <= prev_end {
                m.previous_visits += visits;
            }
        }
    }
    let all: Vec<Mover> = links.into_values().collect();
    let pick = |keep: &dyn Fn(&Mover) -> bool, key: &dyn Fn(&Mover) -> i64, n: usize| {
        let mut v: Vec<Mover> = all.iter().filter(|m| keep(m)).cloned().collect();
        v.sort_by(|a, b| key(b).cmp(&key(a)).then(a.code.cmp(&b.code)));
        v.truncate(n);
        v
    };
    (
        pick(&|m| m.change() > 0, &|m| m.change(), MOVERS),
        pick(&|m| m.change() < 0, &|m| -m.change(), MOVERS),
        pick(&|m| m.visits > 0, &|m| m.visits as i64, TOP_LINKS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// A link created `age` days before 2026-06-30 (the day asked for), with `daily`
    /// visits per day counted back from that day (`daily[0]` is 2026-06-30).
    struct Link {
        created: NaiveDate,
        daily: BTreeMap<NaiveDate, u64>,
        bots: BTreeMap<NaiveDate, u64>,
        breakdowns: BTreeMap<NaiveDate, DayBreakdowns>,
    }

    const DATE: &str = "2026-06-30";

    impl Link {
        fn new(age: u64, daily_back: &[u64]) -> Link {
            let date = d(DATE);
            Link {
                created: back(date, age),
                daily: daily_back
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v > 0)
                    .map(|(i, v)| (back(date, i as u64), *v))
                    .collect(),
                bots: BTreeMap::new(),
                breakdowns: BTreeMap::new(),
            }
        }

        /// `visits` of `key` in `dim` on the day `days_back` before the date.
        fn key(mut self, days_back: u64, dim: Dimension, key: &str, visits: u64) -> Link {
            let day = back(d(DATE), days_back);
            *self
                .breakdowns
                .entry(day)
                .or_default()
                .entry(dim)
                .or_default()
                .entry(key.to_owned())
                .or_insert(0) += visits;
            self
        }

        fn insights(&self) -> Vec<Insight> {
            of_link(
                &Counters {
                    created: self.created,
                    daily: &self.daily,
                    bot_daily: &self.bots,
                    breakdowns: &self.breakdowns,
                },
                d(DATE),
            )
        }

        fn kinds(&self) -> Vec<&'static str> {
            self.insights().iter().map(|i| i.kind.as_str()).collect()
        }
    }

    /// `n` days of `v` visits.
    fn days(n: usize, v: u64) -> Vec<u64> {
        vec![v; n]
    }

    #[test]
    fn a_link_without_history_or_created_today_has_nothing_to_say() {
        assert!(Link::new(0, &[]).insights().is_empty());
        assert!(Link::new(100, &[]).insights().is_empty());
        // Created today with a few visits: below every threshold.
        assert!(Link::new(0, &[12]).insights().is_empty());
        // Created today with many: its best day yet, and no spike (no history to compare).
        assert_eq!(Link::new(0, &[25]).kinds(), ["peak_day"]);
    }

    #[test]
    fn spike_at_its_thresholds() {
        // 28 days of 4 before today: median 4, so 20 is exactly 5 times and 20 visits.
        let mut history = vec![20];
        history.extend(days(28, 4));
        let l = Link::new(60, &history);
        let spike = &l.insights()[0];
        assert_eq!(spike.kind, "spike");
        assert_eq!(
            spike.figures,
            json!({"date": DATE, "visits": 20, "median": 4})
        );
        history[0] = 19;
        assert!(!Link::new(60, &history).kinds().contains(&"spike"));
        // Median 5: 24 is under 5 times, 25 is not.
        let mut history = vec![24];
        history.extend(days(28, 5));
        assert!(!Link::new(60, &history).kinds().contains(&"spike"));
        history[0] = 25;
        assert!(Link::new(60, &history).kinds().contains(&"spike"));
        // Median 0 (a quiet link): 20 visits is a spike, 19 is not.
        let mut quiet = vec![20];
        quiet.extend(days(28, 0));
        assert!(Link::new(60, &quiet).kinds().contains(&"spike"));
        quiet[0] = 19;
        assert!(!Link::new(60, &quiet).kinds().contains(&"spike"));
        // Six days of life before the day: not enough to call it a spike; seven are.
        assert!(!Link::new(6, &[40, 1, 1, 1, 1, 1, 1])
            .kinds()
            .contains(&"spike"));
        assert!(Link::new(7, &[40, 1, 1, 1, 1, 1, 1, 1])
            .kinds()
            .contains(&"spike"));
    }

    #[test]
    fn drop_at_its_thresholds() {
        // Last week 10, the one before 20: 50%, a drop.
        let week = |total: u64| {
            let mut v = days(7, total / 7);
            v[0] += total % 7;
            v
        };
        let history = [week(10), week(20)].concat();
        let l = Link::new(60, &history);
        let drop = l.insights().into_iter().find(|i| i.kind == "drop").unwrap();
        assert_eq!(
            drop.figures,
            json!({"visits": 10, "previous_visits": 20, "change_percent": -50})
        );
        assert!(!Link::new(60, &[week(11), week(20)].concat())
            .kinds()
            .contains(&"drop"));
        // The week before had 19: too few to speak of a drop.
        assert!(!Link::new(60, &[week(0), week(19)].concat())
            .kinds()
            .contains(&"drop"));
        assert!(Link::new(60, &[week(0), week(20)].concat())
            .kinds()
            .contains(&"drop"));
    }

    #[test]
    fn top_keys_that_changed_never_naming_other() {
        let base = [days(7, 2), days(7, 2)].concat(); // 14 and 14 visits
        let l = Link::new(60, &base)
            .key(1, Dimension::Referrer, "news.example", 9)
            .key(1, Dimension::Referrer, OTHER, 50)
            .key(20, Dimension::Referrer, "news.example", 1)
            .key(9, Dimension::Referrer, "google.com", 8)
            .key(2, Dimension::Source, "newsletter", 3)
            .key(10, Dimension::Source, "newsletter", 3)
            .key(3, Dimension::Country, "DE", 5)
            .key(11, Dimension::Country, "US", 5)
            .key(11, Dimension::Country, "DE", 5);
        let got = l.insights();
        let kinds: Vec<_> = got.iter().map(|i| i.kind.as_str()).collect();
        assert_eq!(kinds, ["top_referrer_changed"]);
        assert_eq!(
            got[0].figures,
            json!({"current": "news.example", "current_visits": 9,
                   "previous": "google.com", "previous_visits": 8})
        );
        // Ties go to the first key in order: DE both weeks, no change.
        assert!(!got.iter().any(|i| i.message.contains("other")));
        // Below 10 visits in a week: no comparison.
        let thin = [days(7, 1), days(7, 2)].concat(); // 7 and 14
        let l = Link::new(60, &thin)
            .key(1, Dimension::Referrer, "a.example", 5)
            .key(9, Dimension::Referrer, "b.example", 5);
        assert!(!l.kinds().contains(&"top_referrer_changed"));
        let enough = [vec![4, 1, 1, 1, 1, 1, 1], days(7, 2)].concat(); // 10 and 14
        let l = Link::new(60, &enough)
            .key(1, Dimension::Referrer, "a.example", 5)
            .key(9, Dimension::Referrer, "b.example", 5);
        assert!(l.kinds().contains(&"top_referrer_changed"));
    }

    #[test]
    fn new_referrer_at_its_thresholds() {
        // 50 visits this week: 5 from a new referrer is exactly 10%.
        let history = [vec![8, 7, 7, 7, 7, 7, 7], days(28, 1)].concat();
        let with = |visits: u64, earlier: bool| {
            let mut l = Link::new(60, &history)
                .key(0, Dimension::Referrer, "new.example", visits)
                .key(0, Dimension::Referrer, "direct", 30);
            if earlier {
                l = l.key(34, Dimension::Referrer, "new.example", 1);
            }
            l
        };
        let got = with(5, false).insights();
        let fresh: Vec<_> = got.iter().filter(|i| i.kind == "new_referrer").collect();
        assert_eq!(fresh.len(), 1, "direct is never new");
        assert_eq!(
            fresh[0].figures,
            json!({"referrer": "new.example", "visits": 5, "share_percent": 10})
        );
        assert!(!with(4, false).kinds().contains(&"new_referrer"));
        // Seen 34 days ago (within the 28 before the week): not new.
        assert!(!with(5, true).kinds().contains(&"new_referrer"));
        // 5 visits but under 10%: 60 visits this week.
        let busy = [vec![18, 7, 7, 7, 7, 7, 7], days(28, 1)].concat();
        let l = Link::new(60, &busy).key(0, Dimension::Referrer, "new.example", 5);
        assert!(!l.kinds().contains(&"new_referrer"));
    }

    #[test]
    fn peak_day_and_bot_share_at_their_thresholds() {
        let l = Link::new(60, &[0, 20, 0, 0, 0, 0, 0, 0, 19]);
        let peak = l
            .insights()
            .into_iter()
            .find(|i| i.kind == "peak_day")
            .unwrap();
        assert_eq!(
            peak.figures,
            json!({"date": "2026-06-29", "visits": 20, "previous_best": 19})
        );
        // Equal to an earlier best: not a new peak; under 20: not worth saying.
        assert!(!Link::new(60, &[0, 20, 0, 0, 0, 0, 0, 0, 20])
            .kinds()
            .contains(&"peak_day"));
        assert!(!Link::new(60, &[19]).kinds().contains(&"peak_day"));

        let mut l = Link::new(60, &[10]);
        l.bots.insert(d(DATE), 10);
        let share = l
            .insights()
            .into_iter()
            .find(|i| i.kind == "bot_share_high")
            .unwrap();
        assert_eq!(
            share.figures,
            json!({"bot_visits": 10, "visits": 20, "share_percent": 50})
        );
        let mut l = Link::new(60, &[10]);
        l.bots.insert(d(DATE), 9);
        assert!(!l.kinds().contains(&"bot_share_high"));
        let mut l = Link::new(60, &[9]);
        l.bots.insert(d(DATE), 11);
        assert!(l.kinds().contains(&"bot_share_high"));
        // A country that became the top one.
        let l = Link::new(60, &[days(7, 2), days(7, 2)].concat())
            .key(3, Dimension::Country, "FR", 6)
            .key(11, Dimension::Country, "DE", 5);
        assert_eq!(l.kinds(), ["top_country_changed"]);
        let mut l = Link::new(60, &[]);
        l.bots.insert(d(DATE), 19);
        assert!(!l.kinds().contains(&"bot_share_high"), "19 visits in all");
    }

    #[test]
    fn movers_week_over_week() {
        let date = d(DATE);
        let day = |n: u64, counts: &[(&str, u64)]| {
            (
                back(date, n),
                counts
                    .iter()
                    .map(|(c, v)| (c.to_string(), *v))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        let days: BTreeMap<NaiveDate, BTreeMap<String, u64>> = [
            day(0, &[("up", 10), ("flat", 3), ("new", 4)]),
            day(6, &[("up", 5)]),
            day(7, &[("up", 1), ("down", 9), ("flat", 3)]),
            day(13, &[("down", 6), ("tie", 1)]),
            day(14, &[("down", 100)]), // outside both weeks
            day(3, &[("tie", 0)]),
        ]
        .into_iter()
        .collect();
        let (risers, fallers, top) = movers(&days, date);
        let names = |v: &[Mover]| v.iter().map(|m| m.code.clone()).collect::<Vec<_>>();
        assert_eq!(names(&risers), ["up", "new"]);
        assert_eq!(
            risers[0],
            Mover {
                code: "up".into(),
                visits: 15,
                previous_visits: 1
            }
        );
        assert_eq!(names(&fallers), ["down", "tie"]);
        assert_eq!(fallers[0].change(), -15);
        assert_eq!(names(&top), ["up", "new", "flat"]);
        assert_eq!(movers(&BTreeMap::new(), date), (vec![], vec![], vec![]));
    }

    #[test]
    fn order_is_rule_then_newest() {
        // Two spikes this week, a drop-free week, a peak.
        let mut history = vec![30, 0, 25];
        history.extend(days(30, 1));
        let got = Link::new(60, &history).insights();
        let kinds: Vec<_> = got.iter().map(|i| i.kind.as_str()).collect();
        assert_eq!(kinds, ["spike", "spike", "peak_day"]);
        assert_eq!(got[0].figures["date"], DATE);
        assert_eq!(got[1].figures["date"], "2026-06-28");
        assert_eq!(Link::new(60, &history).insights(), got, "deterministic");
        assert_eq!(weeks(&Link::new(60, &history).daily, d(DATE)), (59, 7));
    }
}
