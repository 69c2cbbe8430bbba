//! Every decision about a visit of a short link, in one place and without HTTP: whether the
//! link is open, where this visitor goes (its redirect rules, its forwarded query), a
//! password link's form and unlock (the lockout reserved before any hash), and the count
//! (a bot or a HEAD never uses up a capped link; a person's visit passes the exact cap
//! gate; the counter written before answering, a hot link's raised shard count kept).
//!
//! `visit` answers an `Outcome`; the redirect function maps it to a response
//! (`functions/redirect`): the HTTP layer parses, this decides, that responds.

use std::borrow::Cow;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::domain::forward::{forward_query, QueryTooLong};
use crate::domain::{password, rules, Code, Gone, Link, Visit, VisitRequest};
use crate::runtime::App;
use crate::store::{StoreError, TryGate, VisitGate};

/// What the visitor asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// Follow the link: counted.
    Get,
    /// The redirect's headers: never counted.
    Head,
    /// A password link's form posted, with its `password` field if it had one.
    Unlock { password: Option<String> },
}

/// What was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'l> {
    /// Send the visitor to `target`; `bot`: counted as a bot visit; `unlocked`: after a
    /// right password (the browser follows with a GET).
    Redirect {
        target: Cow<'l, str>,
        bot: bool,
        unlocked: bool,
    },
    /// A password link asked for without its password: its form (nothing counted).
    PasswordForm,
    /// Nothing counted, for this reason.
    Refused(Refusal),
}

/// Why a visit is refused; nothing is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    /// Expired, used up or disabled.
    Gone(Gone),
    /// A form posted to a link without a password.
    NotAPasswordLink,
    /// The posted form has no `password`.
    NoPassword,
    WrongPassword,
    /// Too many wrong passwords: no hash until the window ends, `retry_after` s from now.
    Locked {
        retry_after: u64,
    },
    /// The target with the visitor's query would be too long to send.
    QueryTooLong(QueryTooLong),
}

/// Decides the visit of `link` (as the caller looked it up: `App::link`, cached for
/// `LINK_CACHE_SECONDS`) at `now`: at most the lockout's writes for an unlock, the cap gate
/// for a person's visit of a capped link, and the counter's one write.
pub async fn visit<'l>(
    app: &App,
    link: &'l Link,
    asked: Asked,
    visitor: &VisitRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Outcome<'l>, StoreError> {
    if let Err(gone) = link.check_open(now) {
        return Ok(Outcome::Refused(Refusal::Gone(gone)));
    }
    let unlocked = match (&asked, link.password_protected()) {
        (Asked::Unlock { .. }, false) => return Ok(Outcome::Refused(Refusal::NotAPasswordLink)),
        (Asked::Get | Asked::Head, true) => return Ok(Outcome::PasswordForm),
        (Asked::Unlock { password }, true) => {
            let Some(password) = password else {
                return Ok(Outcome::Refused(Refusal::NoPassword));
            };
            if let Some(refusal) = unlock(app, link, password, now).await? {
                return Ok(Outcome::Refused(refusal));
            }
            true
        }
        (_, false) => false,
    };
    let visit = (asked != Asked::Head).then(|| Visit::classify(*visitor));
    // Before the count: a target too long to send counts nothing.
    let target = match target(visitor, link) {
        Ok(t) => t,
        Err(e) => return Ok(Outcome::Refused(Refusal::QueryTooLong(e))),
    };
    if let Some(refusal) = count(app, link, visit.as_ref(), now).await? {
        return Ok(Outcome::Refused(refusal));
    }
    Ok(Outcome::Redirect {
        target,
        bot: matches!(visit, Some(Visit::Bot)),
        unlocked,
    })
}

/// Where this visitor goes: the first matching rule's URL or the link's, with the query
/// forwarded when the link says so.
pub fn target<'l>(
    visitor: &VisitRequest<'_>,
    link: &'l Link,
) -> Result<Cow<'l, str>, QueryTooLong> {
    let url = rules::choose(&link.rules, visitor).unwrap_or(&link.url);
    if link.forward_query {
        forward_query(url.as_str(), visitor.query)
    } else {
        Ok(Cow::Borrowed(url.as_str()))
    }
}

/// Checks a posted password: a try is reserved first (a locked link: refused, no hash),
/// then hashed; a right one gives its try back.
async fn unlock(
    app: &App,
    link: &Link,
    candidate: &str,
    now: DateTime<Utc>,
) -> Result<Option<Refusal>, StoreError> {
    let code = &link.code;
    let window = match app.store.reserve_try(code, now).await? {
        TryGate::Locked { until } => {
            let retry_after = (until - now).num_seconds().max(1) as u64;
            return Ok(Some(Refusal::Locked { retry_after }));
        }
        TryGate::Reserved { window } => window,
    };
    let hash = link.password_hash.as_deref().unwrap_or_default();
    if !password::verify(hash, candidate) {
        tracing::info!(code = %code, "wrong password");
        return Ok(Some(Refusal::WrongPassword));
    }
    app.store.release_try(code, window).await?;
    Ok(None)
}

/// Counts a visit of an open `link` (its redirect's one write), or refuses it:
/// - a bot, or a HEAD (`visit` is `None`), never uses up a capped link (a link preview
///   must not spend a one-time link): past its cap it is refused from this copy;
/// - a human visit of a capped link first passes the exact, conditional cap gate (the
///   only visit that pays a second write);
/// - the count is written before answering (a Lambda is frozen once it returns), and a
///   hot link's raised shard count is kept in this copy of the link.
async fn count(
    app: &App,
    link: &Link,
    visit: Option<&Visit>,
    now: DateTime<Utc>,
) -> Result<Option<Refusal>, StoreError> {
    let code: &Code = &link.code;
    let human = matches!(visit, Some(Visit::Human(_)));
    if !human && link.cap_reached() {
        return Ok(Some(Refusal::Gone(Gone::VisitLimit)));
    }
    let Some(visit) = visit else {
        return Ok(None);
    };
    if human && link.max_visits.is_some() {
        match app.store.gate_visit(code, now).await? {
            VisitGate::Admitted | VisitGate::Uncapped => {}
            VisitGate::Closed(gone) => {
                app.links.remove(code);
                return Ok(Some(Refusal::Gone(gone)));
            }
            VisitGate::Missing => {
                app.links.remove(code);
                return Ok(Some(Refusal::NotFound));
            }
        }
    }
    let counted = app
        .store
        .count_visit(code, link.counter_shards, now.date_naive(), visit)
        .await?;
    if counted.counter_shards != link.counter_shards {
        let mut raised = link.clone();
        raised.counter_shards = counted.counter_shards;
        app.links.put(code.clone(), Some(raised), Instant::now());
    }
    Ok(None)
}
