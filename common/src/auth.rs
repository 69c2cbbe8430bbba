//! Who is calling, and what they may do: the one place every route asks. The same code
//! runs on AWS and under `cargo lambda watch` (no API Gateway authorizer), and a warm
//! function keeps each key it looked up for `KEY_CACHE_SECONDS`.

use std::time::{Duration, Instant};

use lambda_http::http::header;
use lambda_http::Request;

use crate::cache::{TtlCache, DEFAULT_CAPACITY};
use crate::domain::{ApiKey, KeyHash, KeyId, KeyRecord, Link, Principal, Role};
use crate::http::ApiError;
use crate::store::Store;

const MISSING: &str = "this route needs an API key: Authorization: Bearer <key>";
const MALFORMED: &str = "the Authorization header must be 'Bearer slk_...'";
const UNKNOWN: &str = "unknown or revoked API key";

#[derive(Debug)]
pub struct Authenticator {
    keys: TtlCache<KeyHash, Principal>,
}

impl Authenticator {
    pub fn new(ttl: Duration) -> Authenticator {
        Authenticator {
            keys: TtlCache::new(DEFAULT_CAPACITY, ttl),
        }
    }

    /// The caller of `req`: `None` without an `Authorization` header; 401 for a header
    /// that is not a well-formed bearer key, or a key that is unknown or revoked.
    pub async fn caller(
        &self,
        store: &Store,
        req: &Request,
    ) -> Result<Option<Principal>, ApiError> {
        let Some(key) = bearer_key(req)? else {
            return Ok(None);
        };
        let hash = key.hash();
        let now = Instant::now();
        let principal = match self.keys.get(&hash, now) {
            Some(hit) => hit,
            None => {
                let found = store.find_key(&hash).await?.and_then(|r| r.principal());
                self.keys.put(hash, found.clone(), now);
                found
            }
        };
        principal.map(Some).ok_or(ApiError::Unauthorized(UNKNOWN))
    }
}

/// The record of the caller's key, read now (not from the cache): 401 without a key, with
/// a malformed, unknown or revoked one.
pub async fn key_record(store: &Store, req: &Request) -> Result<KeyRecord, ApiError> {
    let key = bearer_key(req)?.ok_or(ApiError::Unauthorized(MISSING))?;
    store
        .find_key(&key.hash())
        .await?
        .filter(|r| r.principal().is_some())
        .ok_or(ApiError::Unauthorized(UNKNOWN))
}

/// The key of an `Authorization: Bearer <key>` header, if there is such a header.
pub fn bearer_key(req: &Request) -> Result<Option<ApiKey>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized(MALFORMED))?;
    let (scheme, key) = value
        .trim()
        .split_once(' ')
        .ok_or(ApiError::Unauthorized(MALFORMED))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized(MALFORMED));
    }
    ApiKey::parse(key.trim())
        .map(Some)
        .ok_or(ApiError::Unauthorized(MALFORMED))
}

/// A route that needs a key: 401 without one.
pub fn require(caller: Option<Principal>) -> Result<Principal, ApiError> {
    caller.ok_or(ApiError::Unauthorized(MISSING))
}

/// Reading a link's metadata, changing or deleting it: its owner or an admin; for an
/// anonymous link, an admin. 401 without a key, 403 with another one.
pub fn may_manage(caller: Option<&Principal>, link: &Link) -> Result<(), ApiError> {
    match caller {
        None => Err(ApiError::Unauthorized(MISSING)),
        Some(p) if p.may_manage(link.owner.as_ref()) => Ok(()),
        Some(_) => Err(ApiError::Forbidden),
    }
}

/// Whose ranking `GET /stats` shows (`None`: all links'): a user key's own links'
/// (`owner` may only name itself); an admin's all links', or the `owner` it names.
pub fn rankings_scope(
    caller: Option<&Principal>,
    owner: Option<&KeyId>,
) -> Result<Option<KeyId>, ApiError> {
    match (caller, owner) {
        (None, _) => Err(ApiError::Unauthorized(MISSING)),
        (Some(p), owner) if p.role == Role::Admin => Ok(owner.cloned()),
        (Some(p), None) => Ok(Some(p.key_id.clone())),
        (Some(p), Some(o)) if *o == p.key_id => Ok(Some(o.clone())),
        (Some(_), Some(_)) => Err(ApiError::Forbidden),
    }
}

/// Whether `caller` may see where `link` sends visitors (its URL and its rules' URLs):
/// always, but for a password link, whose target is the secret the password guards: its
/// owner's and admins' only (an anonymous password link's: admins' only). Every route
/// that shows a link to someone who may not manage it asks this (`views::LinkStats`).
pub fn may_see_target(caller: Option<&Principal>, link: &Link) -> bool {
    !link.password_protected() || may_manage(caller, link).is_ok()
}

/// Stats: public for anonymous links, as management for owned ones.
pub fn may_read_stats(caller: Option<&Principal>, link: &Link) -> Result<(), ApiError> {
    match link.owner {
        None => Ok(()),
        Some(_) => may_manage(caller, link),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Code, KeyId, LinkKind, LongUrl, Role};
    use lambda_http::Body;

    fn req(auth: Option<&str>) -> Request {
        let mut b = lambda_http::http::Request::builder().uri("/links");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(Body::Empty).unwrap()
    }

    fn status(r: Result<impl std::fmt::Debug, ApiError>) -> u16 {
        r.unwrap_err().status().as_u16()
    }

    #[test]
    fn bearer_header_shapes() {
        let key = ApiKey::generate().unwrap();
        assert!(bearer_key(&req(None)).unwrap().is_none());
        for ok in [
            format!("Bearer {}", key.reveal()),
            format!("bearer  {} ", key.reveal()),
        ] {
            assert_eq!(
                bearer_key(&req(Some(&ok))).unwrap(),
                Some(key.clone()),
                "{ok}"
            );
        }
        for bad in [
            "".to_owned(),
            "Bearer".to_owned(),
            format!("Basic {}", key.reveal()),
            format!("Bearer {}x", key.reveal()),
            key.reveal().to_owned(),
            "Bearer slk_short".to_owned(),
        ] {
            let err = bearer_key(&req(Some(&bad))).unwrap_err();
            assert_eq!(err.status(), 401, "{bad}");
            assert_eq!(err.into_response().headers()["www-authenticate"], "Bearer");
        }
    }

    #[test]
    fn who_may_do_what() {
        let owner = KeyId::parse("AAAAAAAAAAAA").unwrap();
        let mut link = Link::new(
            Code::parse("abc").unwrap(),
            LongUrl::from_stored("https://example.com/".into()),
            chrono::Utc::now(),
            LinkKind::Generated,
            Some(owner.clone()),
        );
        let user = Principal {
            key_id: owner,
            role: Role::User,
        };
        let other = Principal {
            key_id: KeyId::parse("BBBBBBBBBBBB").unwrap(),
            role: Role::User,
        };
        let admin = Principal {
            key_id: KeyId::parse("CCCCCCCCCCCC").unwrap(),
            role: Role::Admin,
        };
        assert!(may_manage(Some(&user), &link).is_ok());
        assert!(may_manage(Some(&admin), &link).is_ok());
        assert_eq!(status(may_manage(Some(&other), &link)), 403);
        assert_eq!(status(may_manage(None, &link)), 401);
        assert_eq!(status(may_read_stats(None, &link)), 401);
        assert_eq!(status(may_read_stats(Some(&other), &link)), 403);

        link.owner = None;
        assert!(
            may_read_stats(None, &link).is_ok(),
            "anonymous stats stay public"
        );
        assert_eq!(status(may_manage(Some(&user), &link)), 403);
        assert!(may_manage(Some(&admin), &link).is_ok());
        assert_eq!(status(require(None)), 401);

        // Rankings: a user's own links; an admin's all, or an owner's.
        let (u, o) = (&user.key_id, &other.key_id);
        assert_eq!(rankings_scope(Some(&user), None).unwrap(), Some(u.clone()));
        assert_eq!(
            rankings_scope(Some(&user), Some(u)).unwrap(),
            Some(u.clone())
        );
        assert_eq!(status(rankings_scope(Some(&user), Some(o))), 403);
        assert_eq!(rankings_scope(Some(&admin), None).unwrap(), None);
        assert_eq!(
            rankings_scope(Some(&admin), Some(o)).unwrap(),
            Some(o.clone())
        );
        assert_eq!(status(rankings_scope(None, None)), 401);
    }
}
