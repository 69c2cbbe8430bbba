//! Domain types and rules. Every value that passed its rules has its own type, built only
//! through `parse`, so the rest of the code never checks it again.

pub mod code;
pub mod link;
pub mod stats;
pub mod url;

pub use code::{generated_candidates, Alias, AliasError, Code};
pub use link::{Link, LinkKind};
pub use stats::{histogram, DailyVisits, DateError, DateRange};
pub use url::{LongUrl, UrlError, UrlPolicy};
