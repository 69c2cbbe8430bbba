//! A short link: what the store keeps and the API returns.

use chrono::{DateTime, SecondsFormat, Utc};

use super::code::Code;
use super::url::LongUrl;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Generated,
    Alias,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Generated => "generated",
            LinkKind::Alias => "alias",
        }
    }

    pub fn parse(s: &str) -> Option<LinkKind> {
        match s {
            "generated" => Some(LinkKind::Generated),
            "alias" => Some(LinkKind::Alias),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub code: Code,
    pub url: LongUrl,
    pub created_at: DateTime<Utc>,
    pub kind: LinkKind,
}

/// RFC 3339 in UTC with milliseconds and a `Z`, the one format timestamps are written in.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
