//! What more than one function shows: a link's stats as the JSON route and the HTML page
//! both present them, read and authorized in one place.

use chrono::{NaiveDate, Utc};
use lambda_http::Request;
use std::collections::BTreeMap;

use crate::auth;
use crate::domain::insights::Mover;
use crate::domain::insights::{self, Counters, Insight};
use crate::domain::link::rfc3339;
use crate::domain::sheet::{Cell, CsvWriter};
use crate::domain::stats::parse_day;
use crate::domain::stats::KeyVisits;
use crate::domain::visit::Dimension;
use crate::domain::{
    day_string, histogram, span, top_breakdowns, DailyVisits, DateRange, DayBreakdowns, Link,
};
use crate::domain::{Code, KeyId, Principal};
use crate::http::{path_code, query_param, ApiError, ErrorCode};
use crate::runtime::App;
use crate::store::{LinkStatsRead, LinkWithHistory, RankedRef};

/// A link's stats over the requested days, as its caller may see them.
pub struct LinkStats {
    pub link: Link,
    /// Whether the caller may see the link's target and rules (`auth::may_see_target`):
    /// read them through `target` and `rules`, never from `link`.
    pub target_visible: bool,
    pub total_visits: u64,
    pub bot_visits: u64,
    pub daily: Vec<DailyVisits>,
    pub breakdowns: BTreeMap<&'static str, Vec<KeyVisits>>,
    /// Each day's breakdowns over the requested days (days without visits absent).
    pub day_breakdowns: BTreeMap<NaiveDate, DayBreakdowns>,
}

/// The link of `code` with the days from `first` to `last` and the last `recent_days`
/// (`Store::stats_for`), if `caller` may read its stats: public for anonymous links; an
/// owned link's owner or an admin otherwise; and whether the caller may see its target
/// (`auth::may_see_target`).
async fn readable_link(
    app: &App,
    code: &Code,
    caller: Option<&Principal>,
    days: (NaiveDate, NaiveDate),
    recent_days: i64,
) -> Result<(LinkStatsRead, bool), ApiError> {
    let found = app
        .store
        .stats_for(code, days, recent_days, Utc::now().date_naive())
        .await?
        .ok_or(ApiError::NotFound)?;
    auth::may_read_stats(caller, &found.found.link)?;
    let visible = auth::may_see_target(caller, &found.found.link);
    Ok((found, visible))
}

/// What a request for a link's stats, `stats.csv`, insights or page names: the days
/// (`?from=&to=`, or the insights' `?date=`), the code and the caller, in that order (a
/// bad range is a 400 before the key is looked up).
pub struct StatsAsk {
    pub code: Code,
    pub caller: Option<Principal>,
    pub days: (NaiveDate, NaiveDate),
}

impl StatsAsk {
    /// `?from=&to=` (`DateRange::bounded`), `{code}` and the caller of `req`.
    pub async fn of_range(app: &App, req: &Request) -> Result<StatsAsk, ApiError> {
        let days = stats_days(req)?;
        StatsAsk::with_days(app, req, days).await
    }

    /// `?date=` of the insights (the week to it) as the days, `{code}` and the caller.
    pub async fn of_insights(app: &App, req: &Request) -> Result<(StatsAsk, NaiveDate), ApiError> {
        let date = insights_date(req)?;
        Ok((
            StatsAsk::with_days(app, req, insight_days(date)).await?,
            date,
        ))
    }

    async fn with_days(
        app: &App,
        req: &Request,
        days: (NaiveDate, NaiveDate),
    ) -> Result<StatsAsk, ApiError> {
        let code = path_code(req)?;
        let caller = app.auth.caller(&app.store, req).await?;
        Ok(StatsAsk { code, caller, days })
    }
}

/// The days a link's insights for the week to `date` read.
pub fn insight_days(date: NaiveDate) -> (NaiveDate, NaiveDate) {
    (date - chrono::Duration::days(insights::LOOKBACK_DAYS), date)
}

/// A link's insights for the week to `date`, from its history (which holds
/// `insight_days(date)`).
pub fn insights_of(found: &LinkWithHistory, date: NaiveDate) -> Vec<Insight> {
    insights::of_link(
        &Counters {
            created: found.link.created_at.date_naive(),
            daily: &found.daily,
            bot_daily: &found.bot_daily,
            breakdowns: &found.breakdowns,
        },
        date,
    )
}

/// `?date=` of the insights: the last day of the week looked at; today by default, never
/// after it.
pub fn insights_date(req: &Request) -> Result<NaiveDate, ApiError> {
    let today = Utc::now().date_naive();
    match query_param(req, "date") {
        None => Ok(today),
        Some(d) => {
            let day = parse_day(d, "date")?;
            if day > today {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidDate,
                    "'date' must not be after today (UTC)",
                ));
            }
            Ok(day)
        }
    }
}

/// `GET /links/{code}/insights?date=`: the link and what changed in the week to `date`
/// (`ask.days` = `insight_days(date)`), from the same one `Query` as its stats, with the
/// same access.
pub async fn link_insights(
    app: &App,
    ask: &StatsAsk,
    date: NaiveDate,
) -> Result<(Link, Vec<Insight>), ApiError> {
    let (read, _) = readable_link(app, &ask.code, ask.caller.as_ref(), ask.days, 0).await?;
    let insights = insights_of(&read.found, date);
    Ok((read.found.link, insights))
}

/// `from` and `to` of `req`, both set (`DateRange::bounded`: at most `MAX_STATS_DAYS`).
fn stats_days(req: &Request) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let range = DateRange::parse(query_param(req, "from"), query_param(req, "to"))?;
    Ok(range.bounded(Utc::now().date_naive())?)
}

/// A link's stats over `ask.days`, for `ask.caller`: one `Query` (two for a range that
/// ends before the last few days). Public for anonymous links; an owned link's owner or an
/// admin otherwise.
pub async fn link_stats(app: &App, ask: &StatsAsk) -> Result<LinkStats, ApiError> {
    let (read, visible) = readable_link(app, &ask.code, ask.caller.as_ref(), ask.days, 0).await?;
    Ok(stats_of(read, ask.days, visible))
}

/// What the stats page shows: `link_stats`, and what changed in the last 7 days to today,
/// from the same reads.
pub async fn link_stats_and_insights(
    app: &App,
    ask: &StatsAsk,
) -> Result<(LinkStats, Vec<Insight>), ApiError> {
    let today = Utc::now().date_naive();
    let (read, visible) = readable_link(
        app,
        &ask.code,
        ask.caller.as_ref(),
        ask.days,
        insights::LOOKBACK_DAYS,
    )
    .await?;
    let insights = insights_of(&read.found, today);
    Ok((stats_of(read, ask.days, visible), insights))
}

/// A link's stats over `from..=to` from what `Store::stats_for` read (days before the
/// link's creation left out: they counted an earlier link of its code).
pub fn stats_of(
    read: LinkStatsRead,
    (from, to): (NaiveDate, NaiveDate),
    target_visible: bool,
) -> LinkStats {
    let LinkStatsRead {
        found,
        visits,
        bot_visits,
    } = read;
    let range = DateRange {
        from: Some(from),
        to: Some(to),
    };
    let today = Utc::now().date_naive();
    let created = found.link.created_at.date_naive();
    let (start, end) = span(created, today, range);
    let day_breakdowns = if start <= end {
        found
            .breakdowns
            .range(start..=end)
            .map(|(d, b)| (*d, b.clone()))
            .collect()
    } else {
        BTreeMap::new()
    };
    LinkStats {
        target_visible,
        day_breakdowns,
        total_visits: visits,
        bot_visits,
        daily: histogram(&found.daily, &found.bot_daily, created, today, range),
        breakdowns: top_breakdowns(&found.breakdowns, start, end),
        link: found.link,
    }
}

impl LinkStats {
    /// The link's target, if the caller may see it.
    pub fn target(&self) -> Option<&str> {
        self.target_visible.then(|| self.link.url.as_str())
    }

    /// The link's rules, if the caller may see them (none otherwise).
    pub fn rules(&self) -> &[crate::domain::rules::Rule] {
        if self.target_visible {
            &self.link.rules
        } else {
            &[]
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.link.code.as_str(),
            "url": self.target(),
            "created_at": rfc3339(self.link.created_at),
            "total_visits": self.total_visits,
            "bot_visits": self.bot_visits,
            "daily": self.daily,
            "breakdowns": self.breakdowns,
        })
    }

    /// `GET /links/{code}/stats.csv`: `date,dimension,key,visits`, a row per day and
    /// breakdown key, oldest day first; each day with visits opens with its `total` rows
    /// (`visits` and `bot_visits`), then each breakdown's keys, most visited first.
    pub fn to_csv(&self) -> String {
        let mut out = CsvWriter::new(&["date", "dimension", "key", "visits"]);
        for day in &self.daily {
            if day.visits == 0 && day.bot_visits == 0 {
                continue;
            }
            let date = day_string(day.date);
            let mut row = |dimension: &str, key: &str, visits: u64| {
                out.row([
                    Cell::Plain(date.clone()),
                    Cell::Text(dimension),
                    Cell::Text(key),
                    Cell::Plain(visits.to_string()),
                ])
            };
            row("total", "visits", day.visits);
            row("total", "bot_visits", day.bot_visits);
            let Some(maps) = self.day_breakdowns.get(&day.date) else {
                continue;
            };
            for dim in Dimension::ALL {
                let mut keys: Vec<(&String, &u64)> = maps.get(&dim).into_iter().flatten().collect();
                keys.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                for (key, visits) in keys {
                    row(dim.name(), key, *visits);
                }
            }
        }
        out.finish()
    }
}

/// An owner's week as `GET /insights` and the questions see it: the day rankings from
/// `first` to `date`, the week's risers, fallers and most visited links (against the week
/// before), and the URLs of those links.
pub struct OwnerWeek {
    /// Visits per day and code (an earlier link of a code left out).
    pub days: BTreeMap<NaiveDate, BTreeMap<String, u64>>,
    pub risers: Vec<Mover>,
    pub fallers: Vec<Mover>,
    pub top: Vec<Mover>,
    /// The movers' links (a deleted link has none).
    pub urls: std::collections::HashMap<String, RankedRef>,
}

/// `owner`'s (all links' for `None`) day rankings from `first` (at most 13 days before
/// `date`: the two weeks the movers compare) to `date`, in one `BatchGetItem`, and the
/// movers' links in one more. A mover whose link was created within those days had entries
/// of an earlier link of its code before that day: they are left out and the movers picked
/// again (at most three rounds), their links read once more.
pub async fn owner_week(
    app: &App,
    owner: Option<&KeyId>,
    first: NaiveDate,
    date: NaiveDate,
) -> Result<OwnerWeek, ApiError> {
    let first = first.min(date - chrono::Days::new(13));
    let mut days = app.store.day_rankings(owner, first, date).await?;
    let mut urls = std::collections::HashMap::new();
    let mut rounds = 0;
    let (risers, fallers, top) = loop {
        rounds += 1;
        let (risers, fallers, top) = insights::movers(&days, date);
        let unread: Vec<String> = risers
            .iter()
            .chain(&fallers)
            .chain(&top)
            .map(|m| m.code.clone())
            .filter(|c| !urls.contains_key(c))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if unread.is_empty() || rounds > 3 {
            break (risers, fallers, top);
        }
        urls.extend(
            app.store
                .urls_of(unread.iter().map(String::as_str), owner)
                .await?,
        );
        let mut earlier_link = false;
        for (day, counts) in days.iter_mut() {
            counts.retain(|code, _| {
                let stale = urls.get(code).is_some_and(|l: &RankedRef| l.created > *day);
                earlier_link |= stale;
                !stale
            });
        }
        if !earlier_link {
            break (risers, fallers, top);
        }
    };
    Ok(OwnerWeek {
        days,
        risers,
        fallers,
        top,
        urls,
    })
}
