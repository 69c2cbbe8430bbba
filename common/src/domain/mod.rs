//! Domain types and rules. Every value that passed its rules has its own type, built only
//! through `parse`, so the rest of the code never checks it again.

pub mod code;
pub mod key;
pub mod link;
pub mod ranking;
pub mod stats;
pub mod url;
pub mod visit;

pub use code::{generated_candidates, Alias, AliasError, Code};
pub use key::{ApiKey, KeyHash, KeyId, KeyRecord, Principal, Role};
pub use link::{Gone, Link, LinkKind, LinkPatch, ListCursor, PatchError};
pub use ranking::{Period, RankingError, RankingQuery};
pub use stats::{
    histogram, span, top_breakdowns, DailyVisits, DateError, DateRange, DayBreakdowns,
};
pub use url::{LongUrl, UrlError, UrlPolicy};
pub use visit::{Visit, VisitRequest};
