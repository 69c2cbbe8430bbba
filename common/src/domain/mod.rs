//! Domain types and rules. Every value that passed its rules has its own type, built only
//! through `parse`, so the rest of the code never checks it again.

pub mod bots;
pub mod code;
pub mod forward;
pub mod insights;
pub mod key;
pub mod link;
pub mod password;
pub mod ranking;
pub mod rules;
pub mod sheet;
pub mod stats;
pub mod url;
pub mod visit;

pub use code::{generated_candidates, Alias, AliasError, Code};
pub use key::{ApiKey, KeyHash, KeyId, KeyRecord, Principal, Role};
pub use link::{Gone, Link, LinkKind, LinkPatch, ListCursor, ListFilter, PatchError};
pub use ranking::{Period, RankingError, RankingQuery};
pub use stats::{
    histogram, span, top_breakdowns, DailyVisits, DateError, DateRange, DayBreakdowns,
};
pub use url::{LongUrl, UrlError, UrlPolicy};
pub use visit::{Visit, VisitRequest};

use chrono::NaiveDate;

/// How a UTC day is written everywhere: keys, JSON, query parameters.
pub const DAY_FORMAT: &str = "%Y-%m-%d";

/// `2026-11-22`.
pub fn day_string(day: NaiveDate) -> String {
    day.format(DAY_FORMAT).to_string()
}

/// The day of a `YYYY-MM-DD` string.
pub fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, DAY_FORMAT).ok()
}
