//! A short link: what the store keeps and the API returns, and the rules of its life:
//! expiry by time or by visits, takedown, and the changes a `PATCH` may make.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde_json::{Map, Value};

use super::code::Code;
use super::key::KeyId;
use super::password::{Password, PasswordError};
use super::rules::{self, Rule, RulesError};
use super::url::{LongUrl, UrlError, UrlPolicy};

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
    /// The key that created it; `None` for an anonymous link.
    pub owner: Option<KeyId>,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_visits: Option<u64>,
    pub disabled: bool,
    /// Visits counted against `max_visits` (kept only while a cap is set).
    pub capped_visits: u64,
    /// Items each day's visits are spread over: 1 for all but links that DynamoDB
    /// throttled (store: hot links). Only ever raised.
    pub counter_shards: u32,
    /// The visitor's query string is merged into the target's (`domain::forward`).
    pub forward_query: bool,
    /// A label for people (`check_title`).
    pub title: Option<String>,
    /// Lowercase labels to find links by (`check_tags`), in the order given.
    pub tags: Vec<String>,
    /// The Argon2id hash (PHC string) of the link's password (`domain::password`); never
    /// shown, only `password_protected`.
    pub password_hash: Option<String>,
    /// Where some visitors go instead of `url` (`domain::rules`), first match wins.
    pub rules: Vec<Rule>,
    /// When an admin took it down (disabled it): until an admin enables it again, its
    /// owner can neither enable it, change its target or rules, nor delete it.
    pub taken_down_at: Option<DateTime<Utc>>,
}

impl Link {
    /// A new link with no lifecycle settings.
    pub fn new(
        code: Code,
        url: LongUrl,
        created_at: DateTime<Utc>,
        kind: LinkKind,
        owner: Option<KeyId>,
    ) -> Link {
        Link {
            code,
            url,
            created_at,
            kind,
            owner,
            expires_at: None,
            max_visits: None,
            disabled: false,
            capped_visits: 0,
            counter_shards: 1,
            forward_query: false,
            title: None,
            tags: Vec::new(),
            password_hash: None,
            rules: Vec::new(),
            taken_down_at: None,
        }
    }

    pub fn password_protected(&self) -> bool {
        self.password_hash.is_some()
    }

    /// Whether a visit at `now` may be redirected, as far as this copy of the link knows:
    /// not disabled, not past `expires_at`. The visit cap is not checked here: a copy may
    /// be stale, and the store's conditional write decides a counted visit exactly.
    pub fn check_open(&self, now: DateTime<Utc>) -> Result<(), Gone> {
        if self.disabled {
            return Err(Gone::Disabled);
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            return Err(Gone::Expired);
        }
        Ok(())
    }

    /// Whether this copy has used up its cap (what an uncounted `HEAD` answers by).
    pub fn cap_reached(&self) -> bool {
        self.max_visits.is_some_and(|max| self.capped_visits >= max)
    }
}

/// Why a link no longer redirects (410).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Gone {
    #[error("this link has expired")]
    Expired,
    #[error("this link has reached its maximum number of visits")]
    VisitLimit,
    #[error("this link has been disabled")]
    Disabled,
}

/// RFC 3339 in UTC with milliseconds and a `Z`, the one format timestamps are written in
/// (so that the store can compare them as strings).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A change to a link, from a JSON merge patch: a field left out is kept, `null` removes
/// an optional setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkPatch {
    pub url: Option<LongUrl>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub max_visits: Option<Option<u64>>,
    pub disabled: Option<bool>,
    pub forward_query: Option<bool>,
    /// `Some(None)` removes the title.
    pub title: Option<Option<String>>,
    /// `Some(vec![])` removes every tag.
    pub tags: Option<Vec<String>>,
    /// The new password's hash; `Some(None)` removes the password.
    pub password_hash: Option<Option<String>>,
    /// `Some(vec![])` removes every rule.
    pub rules: Option<Vec<Rule>>,
}

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Most tags on a link.
pub const MAX_TAGS: usize = 10;
/// Longest tag, in characters of `[a-z0-9_-]`.
pub const MAX_TAG_LEN: usize = 32;

/// A title as given (surrounding whitespace trimmed): 1 to 200 characters, no control
/// characters; an empty one is no title.
pub fn check_title(title: &str) -> Result<Option<String>, PatchError> {
    let title = title.trim();
    if title.chars().count() > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(PatchError::Title);
    }
    Ok((!title.is_empty()).then(|| title.to_owned()))
}

/// One tag, lowercased: 1 to 32 of `[a-z0-9_-]`.
pub fn check_tag(tag: &str) -> Result<String, PatchError> {
    let tag = tag.to_ascii_lowercase();
    let ok = (1..=MAX_TAG_LEN).contains(&tag.len())
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    ok.then_some(tag).ok_or(PatchError::Tags)
}

/// At most 10 tags, each `check_tag`ged, repeats dropped, in the order given.
pub fn check_tags<S: AsRef<str>>(tags: &[S]) -> Result<Vec<String>, PatchError> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = check_tag(tag.as_ref())?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(PatchError::Tags);
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("unknown field '{0}': a patch may set url, expires_at, max_visits, disabled, forward_query, title, tags, password and rules")]
    UnknownField(String),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("'url' must be a string")]
    UrlType,
    #[error("'expires_at' must be an RFC 3339 date-time (e.g. 2026-12-31T23:59:59Z) or null")]
    ExpiresAt,
    #[error("'max_visits' must be a whole number from 1 to {MAX_VISITS_LIMIT}, or null")]
    MaxVisits,
    #[error("'disabled' must be true or false")]
    Disabled,
    #[error("'forward_query' must be true or false")]
    ForwardQuery,
    #[error(
        "'title' must be a string of at most 200 characters without control characters, or null"
    )]
    Title,
    #[error(
        "'tags' must be at most 10 tags of 1 to 32 characters of [a-z0-9_-] (lowercased), or null"
    )]
    Tags,
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Rules(#[from] RulesError),
}

/// Far beyond any real cap, and exact in a JSON number and a DynamoDB number alike.
pub const MAX_VISITS_LIMIT: u64 = 1 << 53;

impl LinkPatch {
    /// Every field is checked before anything is written; the URL by the same rules as a
    /// new link's.
    pub fn parse(
        body: &Map<String, Value>,
        policy: &UrlPolicy,
        request_hosts: &[&str],
    ) -> Result<LinkPatch, PatchError> {
        let mut patch = LinkPatch::default();
        let mut password = None;
        for (field, value) in body {
            match field.as_str() {
                "url" => {
                    let url = value.as_str().ok_or(PatchError::UrlType)?;
                    patch.url = Some(LongUrl::parse(url, policy, request_hosts)?);
                }
                "expires_at" => {
                    patch.expires_at = Some(match value {
                        Value::Null => None,
                        Value::String(s) => Some(
                            DateTime::parse_from_rfc3339(s)
                                .map_err(|_| PatchError::ExpiresAt)?
                                .with_timezone(&Utc)
                                .trunc_subsecs(3),
                        ),
                        _ => return Err(PatchError::ExpiresAt),
                    });
                }
                "max_visits" => {
                    patch.max_visits = Some(match value {
                        Value::Null => None,
                        v => Some(
                            v.as_u64()
                                .filter(|n| (1..=MAX_VISITS_LIMIT).contains(n))
                                .ok_or(PatchError::MaxVisits)?,
                        ),
                    });
                }
                "disabled" => patch.disabled = Some(value.as_bool().ok_or(PatchError::Disabled)?),
                "forward_query" => {
                    patch.forward_query = Some(value.as_bool().ok_or(PatchError::ForwardQuery)?)
                }
                "title" => {
                    patch.title = Some(match value {
                        Value::Null => None,
                        Value::String(t) => check_title(t)?,
                        _ => return Err(PatchError::Title),
                    });
                }
                "tags" => {
                    patch.tags = Some(match value {
                        Value::Null => Vec::new(),
                        Value::Array(items) => {
                            let tags: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                            check_tags(&tags.ok_or(PatchError::Tags)?)?
                        }
                        _ => return Err(PatchError::Tags),
                    });
                }
                "password" => {
                    password = Some(match value {
                        Value::Null => None,
                        Value::String(p) => Some(Password::parse(p)?),
                        _ => return Err(PasswordError::Invalid.into()),
                    });
                }
                "rules" => patch.rules = Some(rules::parse(value, policy, request_hosts)?),
                other => {
                    let shown: String = other.chars().take(40).collect();
                    return Err(PatchError::UnknownField(shown));
                }
            }
        }
        // Hashed last, once every other field passed: a refused patch costs no hash.
        patch.password_hash = match password {
            None => None,
            Some(None) => Some(None),
            Some(Some(p)) => Some(Some(p.hash()?)),
        };
        Ok(patch)
    }

    pub fn is_empty(&self) -> bool {
        *self == LinkPatch::default()
    }

    /// Whether it changes what a takedown freezes: whether the link answers, where it
    /// sends visitors (its target, its rules).
    pub fn touches_takedown(&self) -> bool {
        self.disabled.is_some() || self.url.is_some() || self.rules.is_some()
    }
}

/// Which of a key's links a `GET /links` page shows: with any (or all) of `tags`, and
/// with `text` in the URL or the title (as written: DynamoDB compares case-sensitively).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub tags: Vec<String>,
    pub all_tags: bool,
    pub text: Option<String>,
}

/// Longest `q` of a listing, in characters.
pub const MAX_FILTER_TEXT: usize = 200;

/// Where a page of a key's links ends: the last link's creation time and code, handed to
/// the client as an opaque token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    pub created_at: DateTime<Utc>,
    pub code: Code,
}

impl ListCursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", rfc3339(self.created_at), self.code))
    }

    pub fn decode(token: &str) -> Option<ListCursor> {
        if token.len() > 200 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (time, code) = text.split_once('|')?;
        let created_at = DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc);
        Some(ListCursor {
            created_at,
            code: Code::parse(code)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn link() -> Link {
        Link::new(
            Code::parse("abc").unwrap(),
            LongUrl::from_stored("https://example.com/".into()),
            Utc::now(),
            LinkKind::Generated,
            None,
        )
    }

    fn patch(v: Value) -> Result<LinkPatch, PatchError> {
        LinkPatch::parse(v.as_object().unwrap(), &UrlPolicy::default(), &["sho.rt"])
    }

    #[test]
    fn open_expired_disabled_and_capped() {
        let now = Utc::now();
        let mut l = link();
        assert_eq!(l.check_open(now), Ok(()));
        l.expires_at = Some(now + chrono::Duration::seconds(1));
        assert_eq!(l.check_open(now), Ok(()));
        l.expires_at = Some(now);
        assert_eq!(l.check_open(now), Err(Gone::Expired));
        l.expires_at = None;
        l.max_visits = Some(2);
        l.capped_visits = 1;
        assert!(!l.cap_reached());
        l.capped_visits = 2;
        assert!(l.cap_reached());
        assert_eq!(
            l.check_open(now),
            Ok(()),
            "the cap is the store's to decide"
        );
        l.disabled = true;
        assert_eq!(l.check_open(now), Err(Gone::Disabled), "takedown wins");
    }

    #[test]
    fn patch_fields() {
        let p = patch(
            json!({"url": "HTTPS://Example.com", "expires_at": "2030-01-02T03:04:05.678912+01:00",
                              "max_visits": 10, "disabled": true}),
        )
        .unwrap();
        assert_eq!(p.url.unwrap().as_str(), "https://example.com/");
        assert_eq!(
            rfc3339(p.expires_at.unwrap().unwrap()),
            "2030-01-02T02:04:05.678Z"
        );
        assert_eq!(p.max_visits, Some(Some(10)));
        assert_eq!(p.disabled, Some(true));
        assert_eq!(p.forward_query, None);
        let p = patch(json!({"forward_query": true})).unwrap();
        assert_eq!(p.forward_query, Some(true));
        assert_eq!(
            patch(json!({"forward_query": false}))
                .unwrap()
                .forward_query,
            Some(false)
        );
        let p = patch(json!({"expires_at": null, "max_visits": null})).unwrap();
        assert_eq!(p.expires_at, Some(None));
        assert_eq!(p.max_visits, Some(None));
        assert_eq!(p.url, None);
        assert!(patch(json!({})).unwrap().is_empty());
    }

    #[test]
    fn titles_and_tags() {
        assert_eq!(
            check_title("  Q3 report  ").unwrap().as_deref(),
            Some("Q3 report")
        );
        assert_eq!(check_title("").unwrap(), None);
        assert!(check_title(&"é".repeat(200)).is_ok());
        assert_eq!(check_title(&"é".repeat(201)), Err(PatchError::Title));
        assert_eq!(check_title("a\nb"), Err(PatchError::Title));
        assert_eq!(
            check_tags(&["Q3", "sales_2026", "q3", "a-b"]).unwrap(),
            ["q3", "sales_2026", "a-b"]
        );
        let ten: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
        assert_eq!(check_tags(&ten).unwrap().len(), 10);
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert_eq!(check_tags(&eleven), Err(PatchError::Tags));
        for bad in ["", "has space", "dot.ted", "ümlaut", &"a".repeat(33)] {
            assert_eq!(check_tags(&[bad]), Err(PatchError::Tags), "{bad:?}");
        }
        assert!(check_tag(&"a".repeat(32)).is_ok());
        let p = patch(json!({"title": "Hi", "tags": ["A", "b"]})).unwrap();
        assert_eq!(p.title, Some(Some("Hi".into())));
        assert_eq!(p.tags, Some(vec!["a".into(), "b".into()]));
        let p = patch(json!({"title": null, "tags": null})).unwrap();
        assert_eq!((p.title, p.tags), (Some(None), Some(vec![])));
        for (body, e) in [
            (json!({"title": 5}), PatchError::Title),
            (json!({"tags": "a"}), PatchError::Tags),
            (json!({"tags": [1]}), PatchError::Tags),
            (json!({"tags": ["a b"]}), PatchError::Tags),
        ] {
            assert_eq!(patch(body.clone()), Err(e), "{body}");
        }
    }

    #[test]
    fn passwords_and_rules() {
        let p = patch(json!({"password": "open sesame"})).unwrap();
        let hash = p.password_hash.clone().unwrap().unwrap();
        assert!(crate::domain::password::verify(&hash, "open sesame"));
        assert!(!format!("{p:?}").contains("open sesame"));
        assert_eq!(
            patch(json!({"password": null})).unwrap().password_hash,
            Some(None)
        );
        for bad in [json!("abc"), json!(1234), json!(["abcd"])] {
            assert_eq!(
                patch(json!({ "password": bad })),
                Err(PatchError::Password(PasswordError::Invalid))
            );
        }
        // A refused field costs no hash: the password is hashed after every check.
        assert!(patch(json!({"password": "open sesame", "max_visits": 0})).is_err());
        let p = patch(json!({"rules": [{"url": "https://example.org", "conditions": [{"type": "os", "value": "ios"}]}]})).unwrap();
        assert_eq!(p.rules.unwrap()[0].url.as_str(), "https://example.org/");
        assert_eq!(patch(json!({"rules": null})).unwrap().rules, Some(vec![]));
        assert!(matches!(
            patch(
                json!({"rules": [{"url": "http://10.0.0.1/", "conditions": [{"type": "os", "value": "ios"}]}]})
            ),
            Err(PatchError::Rules(RulesError::Url { index: 0, .. }))
        ));
    }

    #[test]
    fn patch_refusals() {
        for (body, expected) in [
            (json!({"url": 5}), PatchError::UrlType),
            (json!({"url": null}), PatchError::UrlType),
            (json!({"forward_query": null}), PatchError::ForwardQuery),
            (json!({"forward_query": "true"}), PatchError::ForwardQuery),
            (json!({"expires_at": "tomorrow"}), PatchError::ExpiresAt),
            (json!({"expires_at": "2030-01-02"}), PatchError::ExpiresAt),
            (json!({"expires_at": 1}), PatchError::ExpiresAt),
            (json!({"max_visits": 0}), PatchError::MaxVisits),
            (json!({"max_visits": -1}), PatchError::MaxVisits),
            (json!({"max_visits": 1.5}), PatchError::MaxVisits),
            (json!({"max_visits": "10"}), PatchError::MaxVisits),
            (
                json!({"max_visits": MAX_VISITS_LIMIT + 1}),
                PatchError::MaxVisits,
            ),
            (json!({"disabled": "yes"}), PatchError::Disabled),
            (json!({"disabled": null}), PatchError::Disabled),
            (
                json!({"owner": "x"}),
                PatchError::UnknownField("owner".into()),
            ),
        ] {
            assert_eq!(patch(body.clone()), Err(expected), "{body}");
        }
        assert!(matches!(
            patch(json!({"url": "javascript:alert(1)"})),
            Err(PatchError::Url(_))
        ));
        assert!(matches!(
            patch(json!({"url": "https://sho.rt/x"})),
            Err(PatchError::Url(UrlError::OwnHost))
        ));
        assert!(matches!(
            patch(json!({"url": "http://169.254.169.254/"})),
            Err(PatchError::Url(UrlError::PrivateTarget(_)))
        ));
    }

    #[test]
    fn cursor_round_trip_and_garbage() {
        let c = ListCursor {
            created_at: Utc::now().trunc_subsecs(3),
            code: Code::parse("a-b_C").unwrap(),
        };
        assert_eq!(ListCursor::decode(&c.encode()), Some(c));
        for bad in ["", "!!!", "bm9wZQ", &"A".repeat(300)] {
            assert_eq!(ListCursor::decode(bad), None, "{bad}");
        }
        let bad_code = URL_SAFE_NO_PAD.encode("2026-01-01T00:00:00.000Z|a#b");
        assert_eq!(ListCursor::decode(&bad_code), None);
    }
}
