//! The table's layout: every partition and sort key format and every attribute name the
//! store reads or writes, in one place (docs/architecture.md's data model is this module
//! in prose). One table, `pk` (S) and `sk` (S); the items by partition:
//!
//! | item | pk | sk |
//! | --- | --- | --- |
//! | link | `<code>` | `link` |
//! | day counter, shard 0 | `<code>` | `day#YYYY-MM-DD` |
//! | day counter, shard k | `<code>#<k>` | `day#YYYY-MM-DD` |
//! | the link's total | `<code>` | `total` |
//! | password tries | `<code>` | `tries` |
//! | overflow pointer | `#overflow#<hash>` | `code` |
//! | API key | `#key` | `<key hash>` |
//! | rankings | `#top` | `all`, `date#YYYY-MM-DD` |
//! | an owner's rankings | `#owner#<key id>` | `all`, `date#YYYY-MM-DD` |
//! | an owner's totals (16 shards) | `#owner#<key id>` | `totals#all#<n>`, `totals#YYYY-MM-DD#<n>` |
//! | an owner's questions of an hour | `#owner#<key id>` | `asks#YYYY-MM-DDTHH` |
//! | a queued visit | `spill#p<n>` | `visit#...` |
//!
//! The other modules name no key or attribute of their own: they import them from here.

use chrono::{DateTime, NaiveDate, Utc};

use super::{day_string, parse_day};
use crate::domain::{Code, KeyId, Period};

// ---- Every item

pub const PK: &str = "pk";
pub const SK: &str = "sk";

// ---- The link item

pub const LINK_SK: &str = "link";
pub const URL: &str = "url";
pub const CREATED_AT: &str = "created_at";
pub const KIND: &str = "kind";
pub const OWNER: &str = "owner";
pub const EXPIRES_AT: &str = "expires_at";
/// Epoch seconds of `expires_at` plus `EXPIRED_GRACE`: the table's TTL attribute
/// (DynamoDB removes the item some time after; the functions compare `expires_at`
/// themselves). Until then an expired link answers 410, and its owner can extend it.
pub const EXPIRES_TTL: &str = "expires_ttl";
pub const MAX_VISITS: &str = "max_visits";
pub const CAPPED_VISITS: &str = "capped_visits";
pub const DISABLED: &str = "disabled";
pub const UPDATED_AT: &str = "updated_at";
/// How many counter shards the link's visits are spread over (absent: 1).
pub const COUNTER_SHARDS: &str = "counter_shards";
/// `true` when the visitor's query is forwarded (absent: not).
pub const FORWARD_QUERY: &str = "forward_query";
/// A link's title (absent: none).
pub const TITLE: &str = "title";
/// A link's tags, a list of strings in the order given (absent: none).
pub const TAGS: &str = "tags";
/// The Argon2id hash of a link's password, a PHC string (absent: no password).
pub const PASSWORD_HASH: &str = "password_hash";
/// A link's redirect rules as JSON text (`domain::rules::to_stored`; absent: none).
pub const RULES: &str = "rules";
/// When a `DELETE` of the link began (`Store::delete_link`).
pub const DELETING_AT: &str = "deleting_at";
/// When an admin disabled the link (`Link::taken_down_at`).
pub const TAKEN_DOWN_AT: &str = "taken_down_at";
/// Of a link item: a random token of the put that wrote it (`put_if_absent`).
pub const PUT_TOKEN: &str = "put_token";

// ---- The overflow pointer

/// The partition of the code a URL got when its chain was full (`overflow_pk`): `#` is in
/// no code, so no alias can take or name it.
pub const OVERFLOW_PREFIX: &str = "#overflow#";
pub const OVERFLOW_SK: &str = "code";
pub const OVERFLOW_CODE: &str = "code";

// ---- Day counters

pub const DAY_PREFIX: &str = "day#";
pub const VISITS: &str = "visits";
pub const BOT_VISITS: &str = "bot_visits";
pub fn day_key(day: NaiveDate) -> String {
    format!("{DAY_PREFIX}{}", day_string(day))
}
/// The partition of a counter shard: the link's own for shard 0.
pub fn shard_pk(code: &Code, shard: u32) -> String {
    if shard == 0 {
        code.as_str().to_owned()
    } else {
        format!("{code}#{shard}")
    }
}
/// A counter item as the aggregator's watermarks name it (`totals.rs`): its day, and
/// `#<shard>` after it for a shard other than 0.
pub fn counter_source(day: NaiveDate, shard: u32) -> String {
    match shard {
        0 => day_string(day),
        k => format!("{}#{k}", day_string(day)),
    }
}
/// The code and shard of a counter's partition key (`None` for a key that is not a code's).
pub fn parse_shard_pk(pk: &str) -> Option<(Code, u32)> {
    match pk.split_once('#') {
        None => Some((Code::parse(pk)?, 0)),
        Some((code, shard)) => {
            let shard: u32 = shard.parse().ok().filter(|s| *s > 0)?;
            Some((Code::parse(code)?, shard))
        }
    }
}
/// The day of a counter's sort key, `None` for any other item of the partition.
pub fn day_of(sk: &str) -> Option<Option<NaiveDate>> {
    let day = sk.strip_prefix(DAY_PREFIX)?;
    Some(parse_day(day))
}

// ---- Password tries

pub const TRIES_SK: &str = "tries";
/// When the window began (RFC 3339, compared as a string).
pub const TRIES_WINDOW: &str = "window";
/// Tries of the window: the wrong ones and those being checked right now.
pub const TRIES_COUNT: &str = "tries";

// ---- A link's total

pub const TOTAL_SK: &str = "total";
pub const TOTAL_DAYS: &str = "d";
pub const TOTAL_SEEN: &str = "w";
pub const TOTAL_BOTS_SEEN: &str = "wb";
pub const LINK_OWNER: &str = "link_owner";
/// The creation time of the link a total counts, copied from it when the total is made:
/// a total of an earlier link of the code is told apart (`Store::purge_freed`).
pub const LINK_CREATED: &str = "link_created";
pub const TOTAL_REV: &str = "rev";

// ---- An owner's partition

/// Of an owner's totals: how many of the owner's links had human visits in the period.
pub const OWNER_LINKS: &str = "links";
/// The partition of an owner's rankings and totals.
pub fn owner_pk(owner: &KeyId) -> String {
    format!("#owner#{owner}")
}
/// The sort key of one shard of an owner's totals of `period`.
pub fn owner_totals_sk(period: Period, shard: u32) -> String {
    match period {
        Period::All => format!("totals#all#{shard}"),
        Period::Day(day) => format!("totals#{}#{shard}", day_string(day)),
    }
}
/// Questions of the hour, reserved.
pub const QUESTIONS: &str = "questions";
/// The sort key of the counter of `now`'s hour.
pub fn questions_sk(now: DateTime<Utc>) -> String {
    format!("asks#{}", now.format("%Y-%m-%dT%H"))
}

// ---- Rankings

pub const TOP_PK: &str = "#top";
/// Of a day's ranking: never the counters' `day#`.
pub const RANKING_DAY_PREFIX: &str = "date#";
pub const RANKING_ENTRIES: &str = "e";
pub const RANKING_VERSION: &str = "v";
/// The sort key of a period's ranking.
pub fn ranking_sk(period: Period) -> String {
    match period {
        Period::All => "all".to_owned(),
        Period::Day(day) => format!("{RANKING_DAY_PREFIX}{}", day_string(day)),
    }
}

// ---- API keys

pub const KEYS_PK: &str = "#key";
pub const KEY_NAME: &str = "name";
pub const KEY_ROLE: &str = "role";
pub const KEY_REVOKED_AT: &str = "revoked_at";

// ---- The visit queue

pub const SPILL_PK_PREFIX: &str = "spill#p";
pub const SPILL_SK_PREFIX: &str = "visit#";
pub const SPILL_CODE: &str = "code";
pub const SPILL_DAY: &str = "day";
pub const SPILL_BOT: &str = "bot";
pub const SPILL_RAISE: &str = "raise";
/// When the visit was queued: a link created after it (the code freed and taken again)
/// does not get it.
pub const SPILL_AT: &str = "at";

// ---- The owner index

/// The sparse index of owned links, newest first per owner.
pub const OWNER_INDEX: &str = "by-owner";

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/architecture.md's data model is this module in prose: every key, prefix and
    /// attribute named here is in its table (a field added here and not there fails).
    #[test]
    fn the_data_model_in_the_docs_names_every_key_and_attribute() {
        let doc = include_str!("../../../docs/architecture.md");
        let start = doc.find("### Data model").expect("a data model section");
        let model = &doc[start..];
        let model = &model[..model[4..].find("\n#").map_or(model.len(), |i| i + 4)];
        let exact = [
            PK,
            SK,
            LINK_SK,
            URL,
            CREATED_AT,
            KIND,
            OWNER,
            EXPIRES_AT,
            EXPIRES_TTL,
            MAX_VISITS,
            CAPPED_VISITS,
            DISABLED,
            UPDATED_AT,
            COUNTER_SHARDS,
            FORWARD_QUERY,
            TITLE,
            TAGS,
            PASSWORD_HASH,
            RULES,
            DELETING_AT,
            TAKEN_DOWN_AT,
            PUT_TOKEN,
            OVERFLOW_SK,
            OVERFLOW_CODE,
            VISITS,
            BOT_VISITS,
            TRIES_SK,
            TRIES_WINDOW,
            TRIES_COUNT,
            TOTAL_SK,
            TOTAL_DAYS,
            TOTAL_SEEN,
            TOTAL_BOTS_SEEN,
            LINK_OWNER,
            LINK_CREATED,
            TOTAL_REV,
            OWNER_LINKS,
            QUESTIONS,
            TOP_PK,
            RANKING_ENTRIES,
            RANKING_VERSION,
            KEYS_PK,
            KEY_NAME,
            KEY_ROLE,
            KEY_REVOKED_AT,
            SPILL_CODE,
            SPILL_DAY,
            SPILL_BOT,
            SPILL_RAISE,
            SPILL_AT,
            OWNER_INDEX,
        ];
        for name in exact {
            assert!(
                model.contains(&format!("`{name}`")),
                "`{name}` is not in the data model"
            );
        }
        let day = NaiveDate::from_ymd_opt(2026, 12, 3).expect("a day");
        let owner = KeyId::parse("AAAAAAAAAAAA").expect("a key id");
        let prefixes = [
            OVERFLOW_PREFIX.to_owned(),
            DAY_PREFIX.to_owned(),
            RANKING_DAY_PREFIX.to_owned(),
            SPILL_PK_PREFIX.to_owned(),
            SPILL_SK_PREFIX.to_owned(),
            owner_pk(&owner).replace(owner.as_str(), ""),
            owner_totals_sk(Period::All, 0).replace('0', ""),
            questions_sk(day.and_hms_opt(5, 0, 0).expect("a time").and_utc())[..5].to_owned(),
        ];
        for prefix in prefixes {
            assert!(
                model.contains(&format!("`{prefix}")),
                "`{prefix}...` is not in the data model"
            );
        }
    }

    /// The sort keys of one code's partition never take one another's form, and a shard's
    /// partition is told from a code's.
    #[test]
    fn keys_of_one_partition_are_told_apart() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 3).expect("a day");
        let code = Code::parse("abc1234").expect("a code");
        assert_eq!(day_key(day), "day#2026-12-03");
        assert_eq!(day_of(&day_key(day)), Some(Some(day)));
        for other in [LINK_SK, TOTAL_SK, TRIES_SK] {
            assert_eq!(day_of(other), None, "{other}");
        }
        assert_eq!(ranking_sk(Period::Day(day)), "date#2026-12-03");
        assert_eq!(day_of(&ranking_sk(Period::Day(day))), None);
        assert_eq!(shard_pk(&code, 0), "abc1234");
        assert_eq!(shard_pk(&code, 3), "abc1234#3");
        assert_eq!(parse_shard_pk(&shard_pk(&code, 3)), Some((code.clone(), 3)));
        assert_eq!(parse_shard_pk(&shard_pk(&code, 0)), Some((code, 0)));
        for not_a_code in [
            TOP_PK,
            KEYS_PK,
            "spill#p3",
            "#overflow#x",
            "#owner#AAAAAAAAAAAA",
        ] {
            assert_eq!(parse_shard_pk(not_a_code), None, "{not_a_code}");
        }
        assert_eq!(
            owner_totals_sk(Period::Day(day), 15),
            "totals#2026-12-03#15"
        );
        let hour = day.and_hms_opt(5, 59, 59).expect("a time").and_utc();
        assert_eq!(questions_sk(hour), "asks#2026-12-03T05");
    }
}
