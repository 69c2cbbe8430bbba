//! Links: create (one conditional write), look up, change (PATCH) and delete with their
//! counters. Listing per owner is `listing.rs`; the gate of a capped link is `caps.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};

use super::counters::{breakdowns_of, MAX_COUNTER_SHARDS};
use super::expression::Expression;
use super::layout::{
    counter_source, day_key, day_of, shard_pk, BOT_VISITS, CAPPED_VISITS, COUNTER_SHARDS,
    CREATED_AT, DELETING_AT, DISABLED, EXPIRES_AT, EXPIRES_TTL, FORWARD_QUERY, KIND, LINK_CREATED,
    LINK_SK, MAX_VISITS, OVERFLOW_CODE, OVERFLOW_PREFIX, OVERFLOW_SK, OWNER, PASSWORD_HASH, PK,
    PUT_TOKEN, RULES, SK, TAGS, TAKEN_DOWN_AT, TITLE, TOTAL_SK, TRIES_SK, UPDATED_AT, URL, VISITS,
};
use super::totals::{all_time, KEPT_DAYS};

use super::{n, number, s, text, time, Item, Outcome, SortRange, Store, StoreError};
use crate::domain::link::rfc3339;
use crate::domain::{
    generated_candidates, Alias, Code, DayBreakdowns, KeyId, Link, LinkKind, LinkPatch, LongUrl,
};
use crate::domain::{password, rules, rules::Rule};

pub const EXPIRED_GRACE: chrono::Duration = chrono::Duration::days(7);

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("alias '{0}' already points to another URL")]
    AliasTaken(String),
    #[error("every code for this URL is taken by another URL")]
    CodesExhausted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `create_or_get` wrote a new link or found the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    Existing,
}

/// A link's visits per day, as one `Query` returns them with the link.
#[derive(Debug, Clone, Default)]
pub struct LinkHistory {
    /// Human visits per day.
    pub daily: BTreeMap<NaiveDate, u64>,
    pub bot_daily: BTreeMap<NaiveDate, u64>,
    pub breakdowns: BTreeMap<NaiveDate, DayBreakdowns>,
}

impl LinkHistory {
    pub fn total_visits(&self) -> u64 {
        self.daily.values().sum()
    }

    pub fn total_bot_visits(&self) -> u64 {
        self.bot_daily.values().sum()
    }
}

/// A link and its history (what `history` returns for a code that has a link).
#[derive(Debug, Clone)]
pub struct LinkWithHistory {
    pub link: Link,
    pub history: LinkHistory,
}

impl std::ops::Deref for LinkWithHistory {
    type Target = LinkHistory;
    fn deref(&self) -> &LinkHistory {
        &self.history
    }
}

/// A link's stats as `stats_for` read them: the link with the days asked for (and the
/// recent ones), and its all-time visits and bot visits.
#[derive(Debug, Clone)]
pub struct LinkStatsRead {
    pub found: LinkWithHistory,
    pub visits: u64,
    pub bot_visits: u64,
}

/// What `read_days` found besides the link and its history.
#[derive(Debug, Default)]
struct DaysRead {
    /// The aggregator's total of the link (`totals.rs`), if it was in a range read.
    total: Option<Item>,
    counters: Vec<CounterRead>,
}

/// One counter item read: its source as the aggregator's watermarks name it.
#[derive(Debug)]
struct CounterRead {
    source: String,
    day: NaiveDate,
    visits: u64,
    bot_visits: u64,
}

/// What a create may set besides the URL, the alias and the owner; part of what makes an
/// existing link the same link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkOptions {
    pub forward_query: bool,
    /// Metadata of a new link only: an existing link keeps its own (PATCH changes them).
    pub title: Option<String>,
    pub tags: Vec<String>,
    /// A password link's hash: such a link always gets a new random code (or its alias)
    /// and is never the same as an earlier one.
    pub password_hash: Option<String>,
    pub rules: Vec<Rule>,
}

/// Tries at a free random code for a password link before giving up.
const RANDOM_CODE_TRIES: usize = 5;

/// Codes of a URL's collision chain tried before its overflow code: a real collision of 7
/// characters of SHA-256 is one in 2^42, so only aliases taken on purpose reach the 8th.
const CHAIN_TRIES: usize = 8;

/// The overflow pointer of a link of `url` for `owner` with these settings: a hash of
/// what makes two creates the same link.
fn overflow_pk(
    url: &LongUrl,
    owner: Option<&KeyId>,
    forward_query: bool,
    rules: &[Rule],
) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        url.as_str(),
        owner.map_or("", |o| o.as_str()),
        if forward_query { "1" } else { "0" },
        &rules::to_stored(rules),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("{OVERFLOW_PREFIX}{}", URL_SAFE_NO_PAD.encode(h.finalize()))
}

impl Store {
    /// `create_or_get_with` the default options.
    pub async fn create_or_get(
        &self,
        url: &LongUrl,
        alias: Option<&Alias>,
        owner: Option<&KeyId>,
        now: DateTime<Utc>,
    ) -> Result<(Link, Created), CreateError> {
        self.create_or_get_with(url, alias, owner, LinkOptions::default(), now)
            .await
    }

    /// The link for `url` of `owner` (`None`: anonymous) with `forward_query`: a new one,
    /// or the one it already has. With an alias the code is the alias (held by another
    /// URL, owner or setting: `AliasTaken`); without, the first code of the URL's
    /// collision chain that is free or already this owner's link of this URL with this
    /// setting. A code never changes hands between owners, so nobody can edit the target
    /// of a link someone else handed out, and a create never answers with a link that
    /// behaves otherwise than asked. Each step is one conditional write: concurrent
    /// creates of the same link end with one item.
    pub async fn create_or_get_with(
        &self,
        url: &LongUrl,
        alias: Option<&Alias>,
        owner: Option<&KeyId>,
        options: LinkOptions,
        now: DateTime<Utc>,
    ) -> Result<(Link, Created), CreateError> {
        let LinkOptions {
            forward_query,
            title,
            tags,
            password_hash,
            rules,
        } = options;
        // Stored with millisecond precision: the new link equals the one read back later.
        let created_at = now.trunc_subsecs(3);
        let link = |code: Code, kind| Link {
            forward_query,
            title: title.clone(),
            tags: tags.clone(),
            password_hash: password_hash.clone(),
            rules: rules.clone(),
            ..Link::new(code, url.clone(), created_at, kind, owner.cloned())
        };
        let same = |old: &Link| {
            old.url == *url
                && old.owner.as_ref() == owner
                && old.forward_query == forward_query
                && old.rules == rules
                && password_hash.is_none()
                && old.password_hash.is_none()
        };
        if let Some(alias) = alias {
            let link = link(alias.code().clone(), LinkKind::Alias);
            return match self.put_if_absent(&link).await? {
                None => Ok((link, Created::New)),
                Some(old) if same(&old) => Ok((old, Created::Existing)),
                Some(_) => Err(CreateError::AliasTaken(link.code.to_string())),
            };
        }
        if password_hash.is_some() {
            for _ in 0..RANDOM_CODE_TRIES {
                let code =
                    Code::random().map_err(|e| StoreError::Unavailable(e.to_string().into()))?;
                let link = link(code, LinkKind::Generated);
                if self.put_if_absent(&link).await?.is_none() {
                    return Ok((link, Created::New));
                }
            }
            return Err(CreateError::CodesExhausted);
        }
        // Where this URL's link of this owner and settings lives when that is not the
        // chain's first code (a collision, or aliases that took the codes before it): it
        // keeps that code even when an earlier one is freed.
        let pointer = overflow_pk(url, owner, forward_query, &rules);
        let pointed = self.pointer_code(&pointer).await?;
        if let Some(code) = &pointed {
            if let Some(found) = self.find_link_consistent(code).await? {
                if same(&found) {
                    return Ok((found, Created::Existing));
                }
            }
        }
        // Past the chain's first code, or where a stale pointer named another code, the
        // pointer is set to the code the link has now.
        let repoint = |i: usize, code: &Code| i > 0 || pointed.as_ref().is_some_and(|p| p != code);
        for (i, code) in generated_candidates(url).take(CHAIN_TRIES).enumerate() {
            let link = link(code, LinkKind::Generated);
            match self.put_if_absent(&link).await? {
                None => {
                    if repoint(i, &link.code) {
                        self.put_pointer(&pointer, &link.code).await?;
                    }
                    return Ok((link, Created::New));
                }
                Some(old) if same(&old) => {
                    if repoint(i, &old.code) {
                        self.put_pointer(&pointer, &old.code).await?;
                    }
                    return Ok((old, Created::Existing));
                }
                Some(old) if old.url == *url => {
                    tracing::debug!(code = %old.code, "another owner's or setting's link of this URL, trying a longer prefix");
                }
                Some(old) => {
                    tracing::warn!(code = %old.code, "code collision, trying a longer prefix");
                }
            }
        }
        // Every code of the chain tried is held by other links (aliases can take them on
        // purpose): a random code, remembered for this URL, owner and settings under a key
        // no alias can name, so that the same create finds it again.
        for _ in 0..RANDOM_CODE_TRIES {
            let code = match self.pointer_code(&pointer).await? {
                Some(code) => code,
                None => {
                    let code = Code::random()
                        .map_err(|e| StoreError::Unavailable(e.to_string().into()))?;
                    if !self.point_overflow(&pointer, None, &code).await? {
                        continue; // a concurrent create of the same link pointed first
                    }
                    code
                }
            };
            let link = link(code.clone(), LinkKind::Generated);
            match self.put_if_absent(&link).await? {
                None => return Ok((link, Created::New)),
                Some(old) if same(&old) => return Ok((old, Created::Existing)),
                Some(_) => {
                    // The remembered code went to another link meanwhile: a new one.
                    let fresh = Code::random()
                        .map_err(|e| StoreError::Unavailable(e.to_string().into()))?;
                    self.point_overflow(&pointer, Some(&code), &fresh).await?;
                }
            }
        }
        Err(CreateError::CodesExhausted)
    }

    /// Points `pointer` at `code`, whatever it pointed at.
    async fn put_pointer(&self, pointer: &str, code: &Code) -> Result<(), StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(pointer))
            .item(SK, s(OVERFLOW_SK))
            .item(OVERFLOW_CODE, s(code.as_str()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        self.call_plain(request, |o| o.consumed_capacity()).await?;
        Ok(())
    }

    /// The code the overflow `pointer` names, if any (one consistent read).
    async fn pointer_code(&self, pointer: &str) -> Result<Option<Code>, StoreError> {
        let Some(item) = self.get_item(pointer, OVERFLOW_SK, true).await? else {
            return Ok(None);
        };
        text(&item, OVERFLOW_CODE)
            .and_then(Code::parse)
            .map(Some)
            .ok_or_else(|| StoreError::Malformed {
                code: pointer.to_owned(),
                what: "overflow pointer",
            })
    }

    /// The link of `code`, read consistently.
    async fn find_link_consistent(&self, code: &Code) -> Result<Option<Link>, StoreError> {
        self.get_item(code.as_str(), LINK_SK, true)
            .await?
            .map(|item| link_from_item(code, &item))
            .transpose()
    }

    /// Points the overflow `pointer` at `code`, if it still points at `expected` (`None`:
    /// nowhere yet); whether it did.
    async fn point_overflow(
        &self,
        pointer: &str,
        expected: Option<&Code>,
        code: &Code,
    ) -> Result<bool, StoreError> {
        // A PutItem, not an UpdateItem: the create function's role may put and get only.
        let mut values = Item::new();
        let condition = match expected {
            None => "attribute_not_exists(pk)".to_owned(),
            Some(old) => {
                values.insert(":old".into(), s(old.as_str()));
                format!("{OVERFLOW_CODE} = :old")
            }
        };
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(pointer))
            .item(SK, s(OVERFLOW_SK))
            .item(OVERFLOW_CODE, s(code.as_str()))
            .condition_expression(condition)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        Ok(matches!(
            self.call(request, |o| o.consumed_capacity()).await?,
            Outcome::Applied(_)
        ))
    }

    /// One conditional `PutItem`: `None` written, or the link that holds the code already
    /// (it comes back with the refused condition, in the same call). The item carries a
    /// token of this call: when the SDK sends the put again after a timeout on a loaded
    /// store, and the first one had been applied, the refusal shows this call's own item,
    /// which is no other link.
    async fn put_if_absent(&self, link: &Link) -> Result<Option<Link>, StoreError> {
        let token = format!("{:016x}", fastrand::u64(..));
        let mut item = link_to_item(link);
        item.insert(PUT_TOKEN.into(), s(&token));
        let result = self
            .call(
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
                |o| o.consumed_capacity(),
            )
            .await?;
        match result {
            Outcome::Applied(_) => Ok(None),
            Outcome::Refused(item) => {
                let item = item.ok_or(StoreError::Malformed {
                    code: link.code.to_string(),
                    what: "condition failed without the old item",
                })?;
                if text(&item, PUT_TOKEN) == Some(token.as_str()) {
                    return Ok(None);
                }
                Ok(Some(link_from_item(&link.code, &item)?))
            }
        }
    }

    /// The link behind `code`, with an eventually consistent read (half the cost): the
    /// redirect's lookup, cached by the caller.
    pub async fn find_link(&self, code: &Code) -> Result<Option<Link>, StoreError> {
        self.get_item(code.as_str(), LINK_SK, false)
            .await?
            .map(|item| link_from_item(code, &item))
            .transpose()
    }

    /// The link and all its day counters in one `Query` on its partition (more round trips
    /// only past 1 MB of results, decades of history): management's read, `consistent` so
    /// that an owner sees their own last change. Stats read less (`stats_for`).
    pub async fn history(
        &self,
        code: &Code,
        consistent: bool,
    ) -> Result<Option<LinkWithHistory>, StoreError> {
        let read = self.read_days(code, &[SortRange::All], consistent).await?;
        Ok(read.map(|(found, _)| found))
    }

    /// What a link's stats show, read in at most two `Query`s per counter partition
    /// whatever the link's age: the days from `first` to `last` (at most
    /// `MAX_STATS_DAYS` of them, `DateRange::bounded`) and the last `recent_days` (at
    /// least `KEPT_DAYS`) to `today` with the link and its total, from which its all-time
    /// visits come (`totals::all_time`); counted from the days read when they go back to
    /// its creation. Eventually consistent.
    pub async fn stats_for(
        &self,
        code: &Code,
        (first, last): (NaiveDate, NaiveDate),
        recent_days: i64,
        today: NaiveDate,
    ) -> Result<Option<LinkStatsRead>, StoreError> {
        let recent = today - chrono::Duration::days(recent_days.max(KEPT_DAYS));
        let unaggregated = today - chrono::Duration::days(KEPT_DAYS);
        let last = last.min(today);
        let (low, high, recent_key) = (day_key(first), day_key(last), day_key(recent));
        // From `first` to the partition's end (days, then the link, its total and its
        // tries) when the range reaches the recent days; else the range and the recent days.
        let contiguous = first > last || last + chrono::Duration::days(1) >= recent;
        let ranges = if first > last {
            vec![SortRange::From(&recent_key)]
        } else if contiguous {
            vec![SortRange::From(if first < recent {
                &low
            } else {
                &recent_key
            })]
        } else {
            vec![
                SortRange::Between(&low, &high),
                SortRange::From(&recent_key),
            ]
        };
        let Some((found, read)) = self.read_days(code, &ranges, false).await? else {
            return Ok(None);
        };
        let created = found.link.created_at.date_naive();
        let (visits, bot_visits) = if contiguous && first <= created {
            // Every day since the link's creation was read.
            (found.total_visits(), found.total_bot_visits())
        } else {
            let recent_counters: Vec<(String, u64, u64)> = read
                .counters
                .into_iter()
                .filter(|c| c.day >= unaggregated.max(created))
                .map(|c| (c.source, c.visits, c.bot_visits))
                .collect();
            all_time(read.total.as_ref(), &recent_counters)
        };
        Ok(Some(LinkStatsRead {
            found,
            visits,
            bot_visits,
        }))
    }

    /// The link of `code` and its day counters in `ranges` of each counter partition
    /// (shard 0 first: it holds the link and its total), days before the link's creation
    /// left out (they belong to an earlier link of the code).
    async fn read_days(
        &self,
        code: &Code,
        ranges: &[SortRange<'_>],
        consistent: bool,
    ) -> Result<Option<(LinkWithHistory, DaysRead)>, StoreError> {
        let mut link = None;
        let mut h = LinkHistory::default();
        let mut read = DaysRead::default();
        let mut shards = 1;
        let mut shard = 0;
        while shard < shards {
            let pk = shard_pk(code, shard);
            for range in ranges {
                for item in self.query_sorted(&pk, *range, None, consistent).await? {
                    let sk = text(&item, SK).unwrap_or_default();
                    if shard == 0 && sk == LINK_SK {
                        let found = link_from_item(code, &item)?;
                        // A hot link's other counter shards, one partition each.
                        shards = found.counter_shards.max(1);
                        link = Some(found);
                    } else if shard == 0 && sk == TOTAL_SK {
                        read.total = Some(item);
                    } else if let Some(day) = day_of(sk) {
                        let day = day.ok_or(StoreError::Malformed {
                            code: code.to_string(),
                            what: "day counter",
                        })?;
                        let visits = number(&item, VISITS).unwrap_or(0);
                        let bot_visits = number(&item, BOT_VISITS).unwrap_or(0);
                        *h.daily.entry(day).or_insert(0) += visits;
                        *h.bot_daily.entry(day).or_insert(0) += bot_visits;
                        let maps = h.breakdowns.entry(day).or_default();
                        for (dim, counts) in breakdowns_of(&item) {
                            let merged = maps.entry(dim).or_default();
                            for (key, visits) in counts {
                                *merged.entry(key).or_insert(0) += visits;
                            }
                        }
                        read.counters.push(CounterRead {
                            source: counter_source(day, shard),
                            day,
                            visits,
                            bot_visits,
                        });
                    }
                }
            }
            if link.is_none() {
                return Ok(None);
            }
            shard += 1;
        }
        Ok(link.map(|link: Link| {
            // Counters from before the link's creation day belong to an earlier link of
            // the same code (deleted, or removed by TTL), counted by a warm redirect after.
            let created = link.created_at.date_naive();
            let history = LinkHistory {
                daily: h.daily.split_off(&created),
                bot_daily: h.bot_daily.split_off(&created),
                breakdowns: h.breakdowns.split_off(&created),
            };
            (LinkWithHistory { link, history }, read)
        }))
    }

    /// Raises the link's counter shards from `seen` (`counters::next_shard_count`) unless
    /// another function did already; returns the count now.
    pub async fn raise_counter_shards(&self, code: &Code, seen: u32) -> Result<u32, StoreError> {
        self.raise_counter_shards_to(code, super::counters::next_shard_count(seen))
            .await
    }

    /// Raises the link's counter shards to `wanted` (at most `MAX_COUNTER_SHARDS`) unless
    /// they are that many already; returns the count now (`seen` kept when the link is gone).
    pub async fn raise_counter_shards_to(
        &self,
        code: &Code,
        wanted: u32,
    ) -> Result<u32, StoreError> {
        let wanted = wanted.clamp(1, MAX_COUNTER_SHARDS);
        let seen = 1;
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(code.as_str()))
            .key(SK, s(LINK_SK))
            .update_expression(format!("SET {COUNTER_SHARDS} = :wanted"))
            .condition_expression(format!(
                "attribute_exists(pk) AND (attribute_not_exists({COUNTER_SHARDS}) OR {COUNTER_SHARDS} < :wanted)"
            ))
            .expression_attribute_values(":wanted", n(wanted as u64))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        match self.call(request, |o| o.consumed_capacity()).await? {
            Outcome::Applied(_) => Ok(wanted),
            // Raised by another function already (or the link is gone: keep `seen`).
            Outcome::Refused(item) => Ok(item.as_ref().map_or(seen, counter_shards_of)),
        }
    }

    /// Applies `patch` in one conditional `UpdateItem` and returns the link as it is now.
    /// The write happens only to the link that was authorized (`as_read`: the same
    /// creation time and owner, so a delete and a new link of the code in between is
    /// `Gone`), and, for a caller that is not an admin, only while no admin has taken it
    /// down if the patch touches what a takedown freezes (`TakenDown`). An admin's
    /// `disabled` sets or lifts the takedown. A new cap starts from `visits_so_far`
    /// (visits already made count against it); removing the cap forgets the count.
    pub async fn update_link(
        &self,
        as_read: &Link,
        patch: &LinkPatch,
        by_admin: bool,
        visits_so_far: u64,
        now: DateTime<Utc>,
    ) -> Result<Updated, StoreError> {
        let code = &as_read.code;
        let mut e = Expression::default();
        e.sets.push(format!("{UPDATED_AT} = :now"));
        e.values.insert(":now".into(), s(&rfc3339(now)));
        // Every name that is or may become a reserved word in expressions (`url` is one)
        // goes by a placeholder.
        if let Some(url) = &patch.url {
            e.sets.push("#url = :url".to_owned());
            e.names.insert("#url".into(), URL.into());
            e.values.insert(":url".into(), s(url.as_str()));
        }
        match patch.expires_at {
            Some(Some(t)) => {
                e.sets
                    .push(format!("{EXPIRES_AT} = :exp, {EXPIRES_TTL} = :ttl"));
                e.values.insert(":exp".into(), s(&rfc3339(t)));
                e.values.insert(
                    ":ttl".into(),
                    n((t + EXPIRED_GRACE).timestamp().max(0) as u64),
                );
            }
            Some(None) => e.removes.extend([EXPIRES_AT.into(), EXPIRES_TTL.into()]),
            None => {}
        }
        match patch.max_visits {
            Some(Some(max)) => {
                e.sets.push(format!(
                    "{MAX_VISITS} = :max, {CAPPED_VISITS} = if_not_exists({CAPPED_VISITS}, :so_far)"
                ));
                e.values.insert(":max".into(), n(max));
                e.values.insert(":so_far".into(), n(visits_so_far));
            }
            Some(None) => e.removes.extend([MAX_VISITS.into(), CAPPED_VISITS.into()]),
            None => {}
        }
        if let Some(disabled) = patch.disabled {
            e.sets.push(format!("{DISABLED} = :disabled"));
            e.values
                .insert(":disabled".into(), AttributeValue::Bool(disabled));
            match (by_admin, disabled) {
                (true, true) => e.sets.push(format!(
                    "{TAKEN_DOWN_AT} = if_not_exists({TAKEN_DOWN_AT}, :now)"
                )),
                (true, false) => e.removes.push(TAKEN_DOWN_AT.into()),
                (false, _) => {}
            }
        }
        match patch.forward_query {
            Some(true) => {
                e.sets.push(format!("{FORWARD_QUERY} = :fwd"));
                e.values.insert(":fwd".into(), AttributeValue::Bool(true));
            }
            Some(false) => e.removes.push(FORWARD_QUERY.into()),
            None => {}
        }
        if patch.title.is_some() {
            e.names.insert("#title".into(), TITLE.into());
        }
        match &patch.title {
            Some(Some(title)) => {
                e.sets.push("#title = :title".to_owned());
                e.values.insert(":title".into(), s(title));
            }
            Some(None) => e.removes.push("#title".into()),
            None => {}
        }
        if patch.tags.is_some() {
            e.names.insert("#tags".into(), TAGS.into());
        }
        match &patch.tags {
            Some(tags) if !tags.is_empty() => {
                e.sets.push("#tags = :tags".to_owned());
                e.values.insert(":tags".into(), tags_value(tags));
            }
            Some(_) => e.removes.push("#tags".into()),
            None => {}
        }
        match &patch.password_hash {
            Some(Some(hash)) => {
                e.sets.push(format!("{PASSWORD_HASH} = :pw"));
                e.values.insert(":pw".into(), s(hash));
            }
            Some(None) => e.removes.push(PASSWORD_HASH.into()),
            None => {}
        }
        if patch.rules.is_some() {
            e.names.insert("#rules".into(), RULES.into());
        }
        match &patch.rules {
            Some(r) if !r.is_empty() => {
                e.sets.push("#rules = :rules".to_owned());
                e.values.insert(":rules".into(), s(&rules::to_stored(r)));
            }
            Some(_) => e.removes.push("#rules".into()),
            None => {}
        }
        let same_link = same_link_condition(as_read, &mut e.names, &mut e.values);
        e.conditions.push(same_link);
        if !by_admin && patch.touches_takedown() {
            e.conditions
                .push(format!("attribute_not_exists({TAKEN_DOWN_AT})"));
        }
        let parts = e.into_parts();
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(code.as_str()))
            .key(SK, s(LINK_SK))
            .update_expression(parts.expression)
            .set_condition_expression(parts.condition)
            .set_expression_attribute_names(parts.names)
            .set_expression_attribute_values(parts.values)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        match self.call(request, |o| o.consumed_capacity()).await? {
            Outcome::Applied(out) => {
                let item = out.attributes.unwrap_or_default();
                Ok(Updated::Applied(Box::new(link_from_item(code, &item)?)))
            }
            Outcome::Refused(old) => Ok(refusal(as_read, old.as_ref())),
        }
    }

    /// After a link's item was removed (by `delete_link`, which removed the rest first, or
    /// by TTL, which removes the link item alone): whatever its partitions still hold of it
    /// (day counters, the aggregator's total, password tries), so that a new link of the
    /// code starts clean. A link created at the code meanwhile keeps what is its own: the
    /// counters from its creation day on, its tries, and a total that names its creation
    /// (`totals::LINK_CREATED`). One consistent `Query` per counter partition, deletes in
    /// batches of 25; idempotent.
    pub async fn purge_freed(&self, code: &Code, shards: u32) -> Result<usize, StoreError> {
        let projection = format!("sk, {CREATED_AT}, {LINK_CREATED}");
        let items = self
            .query_partition(code.as_str(), Some(&projection), true)
            .await?;
        let current = items.iter().find(|i| text(i, SK) == Some(LINK_SK));
        let created = current.and_then(|i| text(i, CREATED_AT));
        let created_day = current
            .and_then(|i| time(i, CREATED_AT))
            .map(|t| t.date_naive());
        let earlier = |sk: &str| match day_of(sk) {
            Some(day) => created_day.is_none_or(|c| day.is_none_or(|d| d < c)),
            None => false,
        };
        let mut stale: Vec<(String, String)> = items
            .iter()
            .filter_map(|item| {
                let sk = text(item, SK)?;
                let gone = match sk {
                    LINK_SK => false,
                    TOTAL_SK => created.is_none() || text(item, LINK_CREATED) != created,
                    TRIES_SK => created.is_none(),
                    _ => earlier(sk),
                };
                gone.then(|| (code.as_str().to_owned(), sk.to_owned()))
            })
            .collect();
        for shard in 1..shards.max(1) {
            let pk = shard_pk(code, shard);
            for item in self.query_partition(&pk, Some("sk"), true).await? {
                if let Some(sk) = text(&item, SK).filter(|sk| earlier(sk)) {
                    stale.push((pk.clone(), sk.to_owned()));
                }
            }
        }
        self.delete_keys(&stale).await?;
        Ok(stale.len())
    }

    /// Deletes the items of these `(pk, sk)` keys, 25 to a `BatchWriteItem`.
    async fn delete_keys(&self, keys: &[(String, String)]) -> Result<(), StoreError> {
        for chunk in keys.chunks(25) {
            let requests = chunk
                .iter()
                .map(|(pk, sk)| {
                    let delete = DeleteRequest::builder()
                        .key(PK, s(pk))
                        .key(SK, s(sk))
                        .build()
                        .expect("key is set");
                    WriteRequest::builder().delete_request(delete).build()
                })
                .collect();
            self.batch_write(requests).await?;
        }
        Ok(())
    }

    /// Deletes `as_read` and every item of its partition (its counters), if it is still
    /// the link that was authorized and, for a caller that is not an admin, not taken down:
    /// first one conditional write marks it (`Gone` or `TakenDown` when refused), then the
    /// counters go, then the link, so that a failure half-way leaves a marked link that a
    /// second `DELETE` finishes.
    pub async fn delete_link(&self, as_read: &Link, by_admin: bool) -> Result<Updated, StoreError> {
        let code = &as_read.code;
        let mut names = std::collections::HashMap::new();
        let mut values = Item::from([(":now".to_owned(), s(&rfc3339(Utc::now())))]);
        let mut condition = same_link_condition(as_read, &mut names, &mut values);
        if !by_admin {
            condition.push_str(&format!(" AND attribute_not_exists({TAKEN_DOWN_AT})"));
        }
        let mark = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(code.as_str()))
            .key(SK, s(LINK_SK))
            .update_expression(format!("SET {DELETING_AT} = :now"))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        if let Outcome::Refused(old) = self.call(mark, |o| o.consumed_capacity()).await? {
            return Ok(refusal(as_read, old.as_ref()));
        }
        let items = self
            .query_partition(code.as_str(), Some("sk, counter_shards"), true)
            .await?;
        let shards = items
            .iter()
            .find(|item| text(item, SK) == Some(LINK_SK))
            .map_or(1, counter_shards_of);
        let mut others: Vec<(String, String)> = items
            .iter()
            .filter_map(|item| text(item, SK))
            .filter(|sk| *sk != LINK_SK)
            .map(|sk| (code.as_str().to_owned(), sk.to_owned()))
            .collect();
        for shard in 1..shards {
            let pk = shard_pk(code, shard);
            for item in self.query_partition(&pk, Some("sk"), true).await? {
                if let Some(sk) = text(&item, SK) {
                    others.push((pk.clone(), sk.to_owned()));
                }
            }
        }
        self.delete_keys(&others).await?;
        let out = self
            .call(
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .key(PK, s(code.as_str()))
                    .key(SK, s(LINK_SK))
                    .condition_expression(format!("attribute_exists({DELETING_AT})"))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
                |o| o.consumed_capacity(),
            )
            .await?;
        Ok(match out {
            Outcome::Applied(_) => Updated::Applied(Box::new(as_read.clone())),
            // Nothing there any more: this request's own delete, applied by an attempt whose
            // answer was lost (the SDK sent it again after a timeout on a loaded store; the
            // soak saw that answered 404), or another DELETE of this link that finished
            // first. Either way the link this request marked is gone, as asked.
            Outcome::Refused(None) => Updated::Applied(Box::new(as_read.clone())),
            // A new link of the code, created after the marked one went: not this one.
            Outcome::Refused(Some(_)) => Updated::Gone,
        })
    }

    /// One `BatchWriteItem`, with what DynamoDB left unprocessed sent again (a few times,
    /// backing off), then unavailable.
    async fn batch_write(&self, mut requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for attempt in 0..5u32 {
            let out = self
                .call_plain(
                    self.client
                        .batch_write_item()
                        .request_items(&self.table, requests)
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send(),
                    |o| o.consumed_capacity().first(),
                )
                .await;
            requests = out?
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
        Err(StoreError::Unavailable(
            "batch delete left items unprocessed".into(),
        ))
    }
}

fn link_to_item(link: &Link) -> Item {
    let mut item = Item::from([
        (PK.to_owned(), s(link.code.as_str())),
        (SK.to_owned(), s(LINK_SK)),
        (URL.to_owned(), s(link.url.as_str())),
        (CREATED_AT.to_owned(), s(&rfc3339(link.created_at))),
        (KIND.to_owned(), s(link.kind.as_str())),
    ]);
    // Only owned links carry `owner`: the `by-owner` index holds them and nothing else.
    if let Some(owner) = &link.owner {
        item.insert(OWNER.to_owned(), s(owner.as_str()));
    }
    if link.forward_query {
        item.insert(FORWARD_QUERY.to_owned(), AttributeValue::Bool(true));
    }
    if let Some(title) = &link.title {
        item.insert(TITLE.to_owned(), s(title));
    }
    if !link.tags.is_empty() {
        item.insert(TAGS.to_owned(), tags_value(&link.tags));
    }
    if let Some(hash) = &link.password_hash {
        item.insert(PASSWORD_HASH.to_owned(), s(hash));
    }
    if !link.rules.is_empty() {
        item.insert(RULES.to_owned(), s(&rules::to_stored(&link.rules)));
    }
    item
}

fn tags_value(tags: &[String]) -> AttributeValue {
    AttributeValue::L(tags.iter().map(|t| s(t)).collect())
}

/// A link item's counter shards: 1 when absent, never more than `MAX_COUNTER_SHARDS`.
fn counter_shards_of(item: &Item) -> u32 {
    number(item, COUNTER_SHARDS).map_or(1, |n| n.clamp(1, MAX_COUNTER_SHARDS as u64) as u32)
}

/// An optional attribute of a link's `item`: absent is `None`; present, it must read as
/// `read` says, or the link is malformed (named by the attribute).
fn optional<T>(
    code: &Code,
    item: &Item,
    name: &'static str,
    read: impl FnOnce(&AttributeValue) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    item.get(name)
        .map(|v| {
            read(v).ok_or_else(|| StoreError::Malformed {
                code: code.to_string(),
                what: name,
            })
        })
        .transpose()
}

pub(super) fn link_from_item(code: &Code, item: &Item) -> Result<Link, StoreError> {
    let malformed = |what| StoreError::Malformed {
        code: code.to_string(),
        what,
    };
    let url = text(item, URL).ok_or_else(|| malformed("url"))?;
    let created_at = time(item, CREATED_AT).ok_or_else(|| malformed("created_at"))?;
    let kind = text(item, KIND)
        .and_then(LinkKind::parse)
        .ok_or_else(|| malformed("kind"))?;
    let string = |v: &AttributeValue| v.as_s().ok().cloned();
    let flag = |v: &AttributeValue| v.as_bool().ok().copied();
    Ok(Link {
        code: code.clone(),
        url: LongUrl::from_stored(url.to_owned()),
        created_at,
        kind,
        owner: optional(code, item, OWNER, |v| KeyId::parse(v.as_s().ok()?))?,
        expires_at: optional(code, item, EXPIRES_AT, |_| time(item, EXPIRES_AT))?,
        max_visits: optional(code, item, MAX_VISITS, |_| number(item, MAX_VISITS))?,
        disabled: optional(code, item, DISABLED, flag)?.unwrap_or(false),
        capped_visits: number(item, CAPPED_VISITS).unwrap_or(0),
        counter_shards: counter_shards_of(item),
        forward_query: optional(code, item, FORWARD_QUERY, flag)?.unwrap_or(false),
        title: optional(code, item, TITLE, string)?,
        tags: optional(code, item, TAGS, |v| {
            v.as_l()
                .ok()?
                .iter()
                .map(string)
                .collect::<Option<Vec<_>>>()
        })?
        .unwrap_or_default(),
        password_hash: optional(code, item, PASSWORD_HASH, |v| {
            string(v).filter(|h| password::is_hash(h))
        })?,
        rules: optional(code, item, RULES, |v| rules::from_stored(v.as_s().ok()?))?
            .unwrap_or_default(),
        taken_down_at: time(item, TAKEN_DOWN_AT),
    })
}

/// What a conditional change of a link did.
#[derive(Debug)]
pub enum Updated {
    Applied(Box<Link>),
    /// The link that was authorized is no longer there: deleted, or deleted and made
    /// again (by anyone) since it was read.
    Gone,
    /// An admin took it down meanwhile, and the change was the owner's.
    TakenDown,
}

/// `attribute_exists(pk)` and the creation time and owner of `link` as read: the item is
/// still that link, not a new one of the same code.
fn same_link_condition(
    link: &Link,
    names: &mut std::collections::HashMap<String, String>,
    values: &mut Item,
) -> String {
    names.insert("#created".into(), CREATED_AT.into());
    names.insert("#owner".into(), OWNER.into());
    values.insert(":created".into(), s(&rfc3339(link.created_at)));
    let owner = match &link.owner {
        Some(o) => {
            values.insert(":owner".into(), s(o.as_str()));
            "#owner = :owner"
        }
        None => "attribute_not_exists(#owner)",
    };
    format!("attribute_exists(pk) AND #created = :created AND {owner}")
}

/// Why a conditional change of `as_read` was refused, from the item as it was then.
fn refusal(as_read: &Link, old: Option<&Item>) -> Updated {
    let same = old.is_some_and(|item| {
        time(item, CREATED_AT) == Some(as_read.created_at)
            && text(item, OWNER) == as_read.owner.as_ref().map(|o| o.as_str())
    });
    match old {
        Some(item) if same && item.contains_key(TAKEN_DOWN_AT) => Updated::TakenDown,
        _ => Updated::Gone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::password::Password;
    use crate::domain::LinkKind;

    fn full_link() -> Link {
        let mut link = Link::new(
            Code::parse("abc123").unwrap(),
            LongUrl::from_stored("https://example.com/a".into()),
            "2026-12-01T10:00:00.123Z".parse().unwrap(),
            LinkKind::Alias,
            KeyId::parse("Q2xK9f0aZ-1c"),
        );
        link.expires_at = Some("2027-01-01T00:00:00Z".parse().unwrap());
        link.max_visits = Some(10);
        link.disabled = true;
        link.forward_query = true;
        link.title = Some("Launch".into());
        link.tags = vec!["a".into(), "b".into()];
        link.password_hash = Some(Password::parse("secret1").unwrap().hash().unwrap());
        link.rules = rules::parse(
            &serde_json::json!([
                {"url": "https://apps.apple.com/x", "conditions": [{"type": "device", "value": "mobile"}]}
            ]),
            &crate::domain::UrlPolicy::default(),
            &[],
        )
        .unwrap();
        link
    }

    /// Every field the item holds comes back as written; absent optional fields are their
    /// defaults.
    /// DELETE's last write refused: gone when nothing is left (its own earlier attempt, or
    /// another DELETE, removed it), refused when another link holds the code by then.
    #[tokio::test]
    async fn a_delete_whose_last_write_finds_the_link_gone_is_applied() {
        use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
        use aws_sdk_dynamodb::operation::query::QueryOutput;
        use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
        use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};

        let link = full_link();
        for (left, applied) in [(None, true), (Some(link_to_item(&link)), false)] {
            let mark = mock!(aws_sdk_dynamodb::Client::update_item)
                .then_output(|| UpdateItemOutput::builder().build());
            let partition = mock!(aws_sdk_dynamodb::Client::query).then_output(|| {
                QueryOutput::builder()
                    .items(Item::from([(SK.to_owned(), s(LINK_SK))]))
                    .build()
            });
            let last = mock!(aws_sdk_dynamodb::Client::delete_item).then_error(move || {
                DeleteItemError::ConditionalCheckFailedException(
                    ConditionalCheckFailedException::builder()
                        .message("The conditional request failed")
                        .set_item(left.clone())
                        .build(),
                )
            });
            let client = mock_client!(
                aws_sdk_dynamodb,
                RuleMode::MatchAny,
                [&mark, &partition, &last]
            );
            let out = Store::new(client, "links")
                .delete_link(&link, false)
                .await
                .unwrap();
            assert_eq!(matches!(out, Updated::Applied(_)), applied, "{out:?}");
            assert_eq!(last.num_calls(), 1);
        }
    }

    #[test]
    fn a_link_item_round_trips_and_absent_fields_are_defaults() {
        let link = full_link();
        // Expiry, cap and disabled are set by later writes (options, PATCH), not the put.
        let mut item = link_to_item(&link);
        item.insert(EXPIRES_AT.into(), s("2027-01-01T00:00:00Z"));
        item.insert(MAX_VISITS.into(), n(10));
        item.insert(DISABLED.into(), AttributeValue::Bool(true));
        let back = link_from_item(&link.code, &item).unwrap();
        assert_eq!(back, link);
        let plain = Link::new(
            Code::parse("xyz789").unwrap(),
            LongUrl::from_stored("https://example.com/b".into()),
            "2026-12-01T10:00:00Z".parse().unwrap(),
            LinkKind::Generated,
            None,
        );
        let back = link_from_item(&plain.code, &link_to_item(&plain)).unwrap();
        assert_eq!(back, plain);
        assert!(!back.disabled && back.tags.is_empty() && back.rules.is_empty());
    }

    /// A present field of the wrong shape makes the link malformed, named by the field.
    #[test]
    fn a_malformed_optional_field_is_named() {
        let link = full_link();
        for (name, bad) in [
            (OWNER, AttributeValue::S("not a key id!".into())),
            (EXPIRES_AT, AttributeValue::S("soon".into())),
            (MAX_VISITS, AttributeValue::S("ten".into())),
            (DISABLED, AttributeValue::S("yes".into())),
            (FORWARD_QUERY, AttributeValue::N("1".into())),
            (TITLE, AttributeValue::N("1".into())),
            (TAGS, AttributeValue::L(vec![AttributeValue::N("1".into())])),
            (PASSWORD_HASH, AttributeValue::S("plain text".into())),
            (RULES, AttributeValue::S("[not json".into())),
        ] {
            let mut item = link_to_item(&link);
            item.insert(name.to_owned(), bad);
            match link_from_item(&link.code, &item) {
                Err(StoreError::Malformed { what, .. }) => assert_eq!(what, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
