//! End to end, link lifecycle: API keys, the management routes, expiry by time and by
//! visits, takedown, delete, the owner listing and the health route, through
//! `cargo lambda watch` and the real DynamoDB Local. Every refusal is checked to write
//! nothing: the link's whole partition is read before and after.

mod support;

use support::{link_cache, within, Api, Reply};

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use common::domain::{ApiKey, Role};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

struct Key {
    secret: String,
    id: String,
}

impl Api {
    async fn raw(&self, req: reqwest::RequestBuilder) -> Reply {
        Reply::of(req).await
    }

    /// A key stored the way `make key` stores it (hash only).
    async fn key(&self, role: Role) -> Key {
        let (secret, record) = self.issue_key(role).await;
        Key {
            secret,
            id: record.id().to_string(),
        }
    }

    async fn create(&self, key: Option<&Key>, body: Value) -> Reply {
        let r = self
            .send(
                Method::POST,
                "/links",
                key.map(|k| k.secret.as_str()),
                Some(body),
            )
            .await;
        assert!(r.status == 201 || r.status == 200, "{}", r.body);
        r
    }

    /// A new link of a new URL; its code.
    async fn new_link(&self, key: Option<&Key>) -> String {
        let r = self.create(key, json!({"url": unique_url()})).await;
        assert_eq!(r.status, 201);
        r.body["code"].as_str().unwrap().to_owned()
    }

    async fn visit(&self, code: &str) -> Reply {
        self.send(Method::GET, &format!("/{code}"), None, None)
            .await
    }

    async fn patch(&self, code: &str, key: &Key, body: Value) -> Reply {
        self.send(
            Method::PATCH,
            &format!("/links/{code}"),
            Some(&key.secret),
            Some(body),
        )
        .await
    }

    async fn meta(&self, code: &str, key: Option<&Key>) -> Reply {
        self.send(
            Method::GET,
            &format!("/links/{code}"),
            key.map(|k| k.secret.as_str()),
            None,
        )
        .await
    }

    async fn stats(&self, code: &str, key: Option<&Key>) -> Reply {
        self.send(
            Method::GET,
            &format!("/links/{code}/stats"),
            key.map(|k| k.secret.as_str()),
            None,
        )
        .await
    }
}

fn unique_url() -> String {
    support::unique_url("life-")
}

#[tokio::test]
async fn keys_missing_malformed_unknown_and_revoked_are_401() {
    let api = Api::new();
    let user = api.key(Role::User).await;
    let code = api.new_link(Some(&user)).await;
    let before = api.partition(&code).await;
    let path = format!("/links/{code}");

    api.send(Method::GET, &path, None, None)
        .await
        .assert_error(401, "unauthorized");
    for header in [
        "Bearer".to_owned(),
        "Bearer nope".to_owned(),
        format!("Basic {}", user.secret),
        user.secret.clone(),
        format!("Bearer {}x", user.secret),
    ] {
        let req = api
            .http
            .patch(format!("{}{path}", api.base))
            .header("authorization", header.as_str())
            .header("content-type", "application/json")
            .body(r#"{"disabled":true}"#);
        api.raw(req).await.assert_error(401, "unauthorized");
    }
    let unknown = ApiKey::generate().unwrap();
    api.send(Method::GET, &path, Some(unknown.reveal()), None)
        .await
        .assert_error(401, "unauthorized");
    assert_eq!(api.partition(&code).await, before, "refusals wrote nothing");

    // Used, then revoked: refused once the warm functions' copy is older than
    // KEY_CACHE_SECONDS (make test sets it short).
    assert_eq!(api.meta(&code, Some(&user)).await.status, 200);
    let id = common::domain::KeyId::parse(&user.id).unwrap();
    let revoked = api.store.revoke_key(&id, Utc::now()).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    within(Duration::from_secs(15), "revoked key refused", || async {
        api.meta(&code, Some(&user)).await.status == 401
    })
    .await;
    api.patch(&code, &user, json!({"disabled": true}))
        .await
        .assert_error(401, "unauthorized");
    assert_eq!(api.partition(&code).await, before);
}

#[tokio::test]
async fn owners_admins_and_anonymous_links() {
    let api = Api::new();
    let alice = api.key(Role::User).await;
    let bob = api.key(Role::User).await;
    let admin = api.key(Role::Admin).await;

    let owned = api.new_link(Some(&alice)).await;
    let before = api.partition(&owned).await;
    let meta = api.meta(&owned, Some(&alice)).await;
    assert_eq!(meta.status, 200, "{}", meta.body);
    assert_eq!(meta.body["owner"], alice.id);
    assert_eq!(meta.body["code"], owned);
    assert_eq!(meta.body["total_visits"], 0);
    assert_eq!(meta.body["disabled"], false);
    assert_eq!(meta.body["expires_at"], Value::Null);
    assert_eq!(meta.body["max_visits"], Value::Null);
    assert_eq!(meta.body["short_url"], format!("{}/{owned}", api.base));
    assert_eq!(api.meta(&owned, Some(&admin)).await.status, 200);
    api.meta(&owned, Some(&bob))
        .await
        .assert_error(403, "forbidden");
    api.meta(&owned, None)
        .await
        .assert_error(401, "unauthorized");
    api.patch(&owned, &bob, json!({"disabled": true}))
        .await
        .assert_error(403, "forbidden");
    api.send(
        Method::DELETE,
        &format!("/links/{owned}"),
        Some(&bob.secret),
        None,
    )
    .await
    .assert_error(403, "forbidden");
    // Stats of an owned link: the owner's and admins' only.
    api.stats(&owned, None)
        .await
        .assert_error(401, "unauthorized");
    api.stats(&owned, Some(&bob))
        .await
        .assert_error(403, "forbidden");
    assert_eq!(api.stats(&owned, Some(&alice)).await.status, 200);
    assert_eq!(api.stats(&owned, Some(&admin)).await.status, 200);
    assert_eq!(
        api.partition(&owned).await,
        before,
        "refusals wrote nothing"
    );

    // Anonymous link: stats public, management admin only (abuse takedown).
    let anon = api.new_link(None).await;
    let before = api.partition(&anon).await;
    assert_eq!(api.stats(&anon, None).await.status, 200);
    api.meta(&anon, Some(&alice))
        .await
        .assert_error(403, "forbidden");
    api.patch(&anon, &alice, json!({"disabled": true}))
        .await
        .assert_error(403, "forbidden");
    assert_eq!(api.partition(&anon).await, before);
    let down = api.patch(&anon, &admin, json!({"disabled": true})).await;
    assert_eq!(down.status, 200, "{}", down.body);
    assert_eq!(down.body["disabled"], true);
    assert_eq!(down.body["owner"], Value::Null);
    let visit = api.visit(&anon).await;
    visit.assert_error(410, "link_disabled");
    assert!(visit.header("cache-control").contains("no-store"));
}

#[tokio::test]
async fn a_code_never_changes_hands_between_owners() {
    let api = Api::new();
    let alice = api.key(Role::User).await;
    let bob = api.key(Role::User).await;
    let url = unique_url();
    let a = api.create(Some(&alice), json!({"url": url})).await;
    let b = api.create(Some(&bob), json!({"url": url})).await;
    let anon = api.create(None, json!({"url": url})).await;
    let codes = [&a, &b, &anon].map(|r| r.body["code"].as_str().unwrap().to_owned());
    assert_eq!(codes[0].len(), 7);
    assert!(codes[1].starts_with(&codes[0]) && codes[1].len() == 8);
    assert!(codes[2].starts_with(&codes[1]) && codes[2].len() == 9);
    assert_eq!([a.status, b.status, anon.status], [201, 201, 201]);
    let again = api.create(Some(&alice), json!({"url": url})).await;
    assert_eq!((again.status, &again.body["code"]), (200, &a.body["code"]));
    assert_eq!(again.body["owner"], alice.id);

    let alias = support::unique("own-");
    let mine = api
        .create(Some(&alice), json!({"url": url, "alias": alias}))
        .await;
    assert_eq!(mine.status, 201);
    let theirs = api
        .send(
            Method::POST,
            "/links",
            Some(&bob.secret),
            Some(json!({"url": url, "alias": alias})),
        )
        .await;
    theirs.assert_error(409, "alias_taken");
}

#[tokio::test]
async fn patch_each_field_and_refuse_bad_values() {
    let api = Api::new();
    let user = api.key(Role::User).await;
    let code = api.new_link(Some(&user)).await;

    // Never visited: no warm function holds a copy, so each change shows at once.
    let target = unique_url();
    let r = api.patch(&code, &user, json!({"url": target})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["url"], target);

    let at = (Utc::now() + chrono::Duration::days(30)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let r = api
        .patch(&code, &user, json!({"expires_at": at, "max_visits": 5}))
        .await;
    assert_eq!(
        (r.body["expires_at"].as_str(), r.body["max_visits"].as_u64()),
        (Some(at.as_str()), Some(5))
    );
    let r = api
        .patch(
            &code,
            &user,
            json!({"expires_at": null, "max_visits": null}),
        )
        .await;
    assert_eq!(
        (&r.body["expires_at"], &r.body["max_visits"]),
        (&Value::Null, &Value::Null)
    );
    let r = api.patch(&code, &user, json!({"disabled": true})).await;
    assert_eq!(r.body["disabled"], true);
    let r = api.patch(&code, &user, json!({"disabled": false})).await;
    assert_eq!(r.body["disabled"], false);
    let same = api.patch(&code, &user, json!({})).await;
    assert_eq!(same.status, 200);
    assert_eq!(same.body, api.meta(&code, Some(&user)).await.body);
    let visit = api.visit(&code).await;
    assert_eq!(
        (visit.status, visit.header("location")),
        (302, target.as_str())
    );

    let before = api.partition(&code).await;
    for (body, error) in [
        (json!({"url": "javascript:alert(1)"}), "unsupported_scheme"),
        (json!({"url": "not a url"}), "invalid_url"),
        (json!({"url": 7}), "invalid_url"),
        (json!({"url": format!("{}/x", api.base)}), "self_link"),
        (json!({"url": "http://169.254.169.254/"}), "private_target"),
        (json!({"url": "http://[::ffff:7f00:1]/"}), "private_target"),
        (json!({"url": "http://intranet/"}), "private_target"),
        (json!({"url": "https://0.com*"}), "invalid_url"),
        (json!({"expires_at": "next week"}), "invalid_expires_at"),
        (json!({"expires_at": "2030-01-01"}), "invalid_expires_at"),
        (json!({"expires_at": 1}), "invalid_expires_at"),
        (json!({"max_visits": 0}), "invalid_max_visits"),
        (json!({"max_visits": -3}), "invalid_max_visits"),
        (json!({"max_visits": 2.5}), "invalid_max_visits"),
        (json!({"max_visits": "9"}), "invalid_max_visits"),
        (json!({"disabled": "true"}), "invalid_disabled"),
        (json!({"disabled": null}), "invalid_disabled"),
        (json!({"owner": "someone"}), "unknown_field"),
        (json!({"code": "other"}), "unknown_field"),
        // One bad field spoils the whole patch: nothing of it is applied.
        (
            json!({"disabled": true, "max_visits": 0}),
            "invalid_max_visits",
        ),
        (json!([1, 2]), "invalid_json"),
    ] {
        api.patch(&code, &user, body.clone())
            .await
            .assert_error(400, error);
    }
    let raw = |ct: &str, body: &str| {
        api.http
            .patch(format!("{}/links/{code}", api.base))
            .header("authorization", format!("Bearer {}", user.secret))
            .header("content-type", ct)
            .body(body.to_owned())
    };
    api.raw(raw("application/json", "{"))
        .await
        .assert_error(400, "invalid_json");
    api.raw(raw("application/json", ""))
        .await
        .assert_error(400, "invalid_json");
    api.raw(raw("text/plain", r#"{"disabled":true}"#))
        .await
        .assert_error(415, "unsupported_media_type");
    let huge = json!({"url": format!("https://example.com/{}", "x".repeat(20_000))}).to_string();
    api.raw(raw("application/json", &huge))
        .await
        .assert_error(413, "payload_too_large");
    assert_eq!(api.partition(&code).await, before, "refusals wrote nothing");

    api.patch("nOsUcHlInK", &user, json!({"disabled": true}))
        .await
        .assert_error(404, "not_found");
    assert!(api.partition("nOsUcHlInK").await.is_empty());
}

#[tokio::test]
async fn delete_removes_link_and_counters_and_frees_the_code() {
    let api = Api::new();
    let user = api.key(Role::User).await;
    let url = unique_url();
    let made = api.create(Some(&user), json!({"url": url})).await;
    let code = made.body["code"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(api.visit(&code).await.status, 302);
    }
    assert_eq!(api.meta(&code, Some(&user)).await.body["total_visits"], 3);
    assert!(
        api.partition(&code).await.len() >= 2,
        "link and a day counter"
    );

    let gone = api
        .send(
            Method::DELETE,
            &format!("/links/{code}"),
            Some(&user.secret),
            None,
        )
        .await;
    assert_eq!(gone.status, 204);
    assert_eq!(gone.body, Value::Null);
    assert!(
        api.partition(&code).await.is_empty(),
        "link and counters gone"
    );
    api.meta(&code, Some(&user))
        .await
        .assert_error(404, "not_found");
    api.stats(&code, None).await.assert_error(404, "not_found");
    api.send(
        Method::DELETE,
        &format!("/links/{code}"),
        Some(&user.secret),
        None,
    )
    .await
    .assert_error(404, "not_found");
    // Redirects stop once every warm copy has expired. (A GET in that window would still
    // redirect and count: see the README.)
    tokio::time::sleep(link_cache() + Duration::from_millis(500)).await;
    let head = api.raw(api.http.head(format!("{}/{code}", api.base))).await;
    assert_eq!(head.status, 404);
    api.visit(&code).await.assert_error(404, "not_found");
    assert!(api.partition(&code).await.is_empty(), "404s count nothing");

    let again = api.create(Some(&user), json!({"url": url})).await;
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (201, Some(code.as_str()))
    );
    assert_eq!(api.meta(&code, Some(&user)).await.body["total_visits"], 0);
}

#[tokio::test]
async fn list_pages_newest_first_and_only_the_callers() {
    let api = Api::new();
    let user = api.key(Role::User).await;
    let other = api.key(Role::User).await;
    let mut made = Vec::new();
    for _ in 0..7 {
        made.push(api.new_link(Some(&user)).await);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    api.new_link(Some(&other)).await;
    made.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/links?limit=3".to_owned(),
            Some(c) => format!("/links?limit=3&cursor={c}"),
        };
        let page = api.send(Method::GET, &path, Some(&user.secret), None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        pages += 1;
        let links = page.body["links"].as_array().unwrap();
        assert!(links.len() <= 3);
        for l in links {
            assert_eq!(l["owner"], user.id);
            assert!(l["short_url"]
                .as_str()
                .unwrap()
                .ends_with(l["code"].as_str().unwrap()));
            seen.push(l["code"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 5, "paging ends");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, made, "every link once, newest first");

    let all = api
        .send(Method::GET, "/links", Some(&user.secret), None)
        .await;
    assert_eq!(all.body["links"].as_array().unwrap().len(), 7);
    assert_eq!(all.body["next_cursor"], Value::Null);
    let theirs = api
        .send(Method::GET, "/links", Some(&other.secret), None)
        .await;
    assert_eq!(theirs.body["links"].as_array().unwrap().len(), 1);

    for query in ["?limit=0", "?limit=101", "?limit=x", "?limit=-1"] {
        api.send(
            Method::GET,
            &format!("/links{query}"),
            Some(&user.secret),
            None,
        )
        .await
        .assert_error(400, "invalid_limit");
    }
    for cursor in ["garbage!", "bm9wZQ", &"A".repeat(500)] {
        api.send(
            Method::GET,
            &format!("/links?cursor={cursor}"),
            Some(&user.secret),
            None,
        )
        .await
        .assert_error(400, "invalid_cursor");
    }
}

#[tokio::test]
async fn expiry_by_time() {
    let api = Api::new();
    let user = api.key(Role::User).await;

    let past = api.new_link(Some(&user)).await;
    let at = (Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    assert_eq!(
        api.patch(&past, &user, json!({"expires_at": at}))
            .await
            .status,
        200
    );
    let before = api.partition(&past).await;
    api.visit(&past).await.assert_error(410, "link_expired");
    let head = api.raw(api.http.head(format!("{}/{past}", api.base))).await;
    assert_eq!(head.status, 410);
    assert_eq!(api.partition(&past).await, before, "a 410 counts nothing");

    let soon = api.new_link(Some(&user)).await;
    let at = (Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    assert_eq!(
        api.patch(&soon, &user, json!({"expires_at": at}))
            .await
            .status,
        200
    );
    // The warm copy carries expires_at: the function compares the time itself, whatever
    // its cache and DynamoDB's TTL lag.
    let redirected = std::sync::atomic::AtomicU64::new(0);
    within(Duration::from_secs(8), "expired by time", || async {
        match api.visit(&soon).await.status {
            302 => {
                redirected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                false
            }
            status => status == 410,
        }
    })
    .await;
    let redirected = redirected.into_inner();
    assert!(redirected >= 1, "open before expires_at");
    api.visit(&soon).await.assert_error(410, "link_expired");
    let stats = api.stats(&soon, Some(&user)).await;
    assert_eq!(stats.body["total_visits"], redirected, "410s count nothing");
}

#[tokio::test]
async fn max_visits_is_exact_under_concurrency() {
    let api = Api::new();
    let user = api.key(Role::User).await;
    let code = api.new_link(Some(&user)).await;
    let r = api.patch(&code, &user, json!({"max_visits": 10})).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let replies = join_all((0..50).map(|_| api.visit(&code))).await;
    let redirected = replies.iter().filter(|r| r.status == 302).count();
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 410).collect();
    assert_eq!((redirected, refused.len()), (10, 40));
    for r in refused {
        r.assert_error(410, "link_expired");
    }
    assert_eq!(api.stats(&code, Some(&user)).await.body["total_visits"], 10);

    // A raised cap admits exactly the difference, at once (the cap is checked in the write).
    assert_eq!(
        api.patch(&code, &user, json!({"max_visits": 12}))
            .await
            .status,
        200
    );
    let replies = join_all((0..6).map(|_| api.visit(&code))).await;
    assert_eq!(replies.iter().filter(|r| r.status == 302).count(), 2);
    // Without a cap, every visit counts again.
    assert_eq!(
        api.patch(&code, &user, json!({"max_visits": null}))
            .await
            .status,
        200
    );
    assert_eq!(api.visit(&code).await.status, 302);
    assert_eq!(api.stats(&code, Some(&user)).await.body["total_visits"], 13);

    // A cap set on a link with history counts the visits already made.
    let used = api.new_link(Some(&user)).await;
    for _ in 0..3 {
        assert_eq!(api.visit(&used).await.status, 302);
    }
    assert_eq!(
        api.patch(&used, &user, json!({"max_visits": 4}))
            .await
            .status,
        200
    );
    // Warm copies without a cap learn of the new one within the cache lifetime.
    tokio::time::sleep(link_cache() + Duration::from_millis(500)).await;
    assert_eq!(api.visit(&used).await.status, 302);
    api.visit(&used).await.assert_error(410, "link_expired");
}

#[tokio::test]
async fn changes_reach_warm_redirects_within_the_cache_lifetime() {
    let api = Api::new();
    let user = api.key(Role::User).await;
    let code = api.new_link(Some(&user)).await;
    // Warm several function instances' copies.
    for r in join_all((0..8).map(|_| api.visit(&code))).await {
        assert_eq!(r.status, 302);
    }
    let limit = link_cache() + Duration::from_millis(1500);
    let target = unique_url();
    assert_eq!(
        api.patch(&code, &user, json!({"url": target})).await.status,
        200
    );
    let took = within(limit, "new URL reaches redirects", || async {
        join_all((0..4).map(|_| api.visit(&code)))
            .await
            .iter()
            .all(|r| r.header("location") == target)
    })
    .await;
    eprintln!(
        "PATCH url reached every redirect in {took:?} (cache {:?})",
        link_cache()
    );
    assert_eq!(
        api.patch(&code, &user, json!({"disabled": true}))
            .await
            .status,
        200
    );
    within(limit, "takedown reaches redirects", || async {
        join_all((0..4).map(|_| api.visit(&code)))
            .await
            .iter()
            .all(|r| r.status == 410)
    })
    .await;
}

#[tokio::test]
async fn health_answers_and_counts_nothing() {
    let api = Api::new();
    let ok = api.send(Method::GET, "/health", None, None).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, json!({"status": "ok"}));
    assert!(ok.header("cache-control").contains("no-store"));
    let head = api.raw(api.http.head(format!("{}/health", api.base))).await;
    assert_eq!(head.status, 200);
    assert!(api.partition("health").await.is_empty());
    assert!(api.partition("#health").await.is_empty());
}

/// Query forwarding: off unless asked for, at creation or by PATCH; the visitor's pairs
/// replace the target's of the same key and follow them byte for byte, the target's
/// fragment last; a merge too long to send is 414 and counts nothing.
#[tokio::test]
async fn forward_query_merges_the_visitors_query_into_the_target() {
    let api = Api::new();
    let user = api.key(Role::User).await;
    let page = unique_url();
    let target = format!("{page}?a=1&utm_source=old#frag");

    // The same URL and owner with and without forwarding are two links, each as asked.
    let plain = api.create(Some(&user), json!({"url": target})).await;
    let fwd = api
        .create(Some(&user), json!({"url": target, "forward_query": true}))
        .await;
    assert_eq!(plain.body["forward_query"], false);
    assert_eq!(fwd.body["forward_query"], true);
    assert_ne!(plain.body["code"], fwd.body["code"]);
    let again = api
        .create(Some(&user), json!({"url": target, "forward_query": true}))
        .await;
    assert_eq!(
        (again.status, &again.body["code"]),
        (200, &fwd.body["code"])
    );
    let code = fwd.body["code"].as_str().unwrap().to_owned();
    let plain = plain.body["code"].as_str().unwrap().to_owned();
    assert_eq!(
        api.meta(&code, Some(&user)).await.body["forward_query"],
        true
    );

    let api = &api;
    let get = |path: String| async move { api.send(Method::GET, &path, None, None).await };
    let r = get(format!("/{code}?utm_source=news&b=%0D%0A&c=x+y&a")).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(
        r.header("location"),
        format!("{page}?utm_source=news&b=%0D%0A&c=x+y&a#frag")
    );
    let r = get(format!("/{code}?")).await;
    assert_eq!((r.status, r.header("location")), (302, target.as_str()));
    let r = get(format!("/{plain}?b=2")).await;
    assert_eq!((r.status, r.header("location")), (302, target.as_str()));

    let before = api.partition(&code).await;
    let r = get(format!("/{code}?q={}", "x".repeat(8200))).await;
    r.assert_error(414, "query_too_long");
    assert_eq!(api.partition(&code).await, before, "a 414 counts nothing");
    let stats = api.stats(&code, Some(&user)).await;
    assert_eq!(stats.body["total_visits"], 2, "{}", stats.body);

    let before = api.partition(&code).await;
    for bad in [json!("yes"), json!(1), json!(null)] {
        api.patch(&code, &user, json!({"forward_query": bad}))
            .await
            .assert_error(400, "invalid_forward_query");
    }
    assert_eq!(
        api.partition(&code).await,
        before,
        "a refused PATCH writes nothing"
    );
    let r = api
        .send(
            Method::POST,
            "/links",
            Some(&user.secret),
            Some(json!({"url": unique_url(), "forward_query": "yes"})),
        )
        .await;
    r.assert_error(400, "invalid_json");

    // Turned off, then on for the plain link: each reaches warm redirects within the
    // cache lifetime.
    let r = api
        .patch(&code, &user, json!({"forward_query": false}))
        .await;
    assert_eq!((r.status, &r.body["forward_query"]), (200, &json!(false)));
    let r = api
        .patch(&plain, &user, json!({"forward_query": true}))
        .await;
    assert_eq!((r.status, &r.body["forward_query"]), (200, &json!(true)));
    tokio::time::sleep(link_cache() + Duration::from_millis(500)).await;
    let r = get(format!("/{code}?b=2")).await;
    assert_eq!((r.status, r.header("location")), (302, target.as_str()));
    let r = get(format!("/{plain}?a=2")).await;
    assert_eq!(
        (r.status, r.header("location")),
        (302, format!("{page}?utm_source=old&a=2#frag").as_str())
    );
    // Listed with the setting (the owner index projects it).
    let list = api
        .send(Method::GET, "/links?limit=100", Some(&user.secret), None)
        .await;
    let listed: Vec<(&str, &Value)> = list.body["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["code"].as_str().unwrap(), &l["forward_query"]))
        .collect();
    assert!(
        listed.contains(&(plain.as_str(), &json!(true))),
        "{listed:?}"
    );
    assert!(
        listed.contains(&(code.as_str(), &json!(false))),
        "{listed:?}"
    );
}

/// Titles and tags: set at creation (a new link only) or by PATCH, shown and listed, and
/// `GET /links` filtered by tag (any or all) and by text in the URL or title.
#[tokio::test]
async fn titles_and_tags_are_kept_listed_and_filtered() {
    let api = Api::new();
    let user = api.key(Role::User).await;
    let tag = support::unique("t").to_ascii_lowercase().replace('.', "-");
    let other = format!("{tag}-x");
    let word = support::unique("Word");
    let a = api
        .create(
            Some(&user),
            json!({"url": unique_url(), "title": format!("  Report {word} "), "tags": [tag.to_uppercase(), other, tag]}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["title"], format!("Report {word}"));
    assert_eq!(a.body["tags"], json!([tag, other]));
    let a = a.body["code"].as_str().unwrap().to_owned();
    let b = api
        .create(Some(&user), json!({"url": unique_url(), "tags": [tag]}))
        .await;
    assert_eq!(
        (&b.body["title"], &b.body["tags"]),
        (&Value::Null, &json!([tag]))
    );
    let b = b.body["code"].as_str().unwrap().to_owned();
    let c = api.new_link(Some(&user)).await;

    let codes = |r: &Reply| -> Vec<String> {
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["code"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |query: String| {
        let api = &api;
        let key = user.secret.clone();
        async move {
            api.send(
                Method::GET,
                &format!("/links?{query}&limit=100"),
                Some(&key),
                None,
            )
            .await
        }
    };
    assert_eq!(
        codes(&list(format!("tag={tag}")).await),
        [b.as_str(), a.as_str()]
    );
    assert_eq!(
        codes(&list(format!("tag={}", tag.to_uppercase())).await),
        [b.as_str(), a.as_str()]
    );
    assert_eq!(
        codes(&list(format!("tag={tag}&tag={other}&tags_mode=all")).await),
        [a.as_str()]
    );
    assert_eq!(
        codes(&list(format!("tag={other}&tag=nothing-{tag}")).await),
        [a.as_str()]
    );
    assert_eq!(codes(&list(format!("q={word}")).await), [a.as_str()]);
    assert_eq!(
        codes(&list(format!("q={c}")).await),
        Vec::<String>::new(),
        "codes are not text"
    );
    let all = codes(&list(String::new()).await);
    assert!(all.contains(&c) && all.contains(&a) && all.contains(&b));
    // A filtered page reads at most `limit` links: short, with a cursor to go on (the
    // first `limit` is the one read).
    let page = list(format!("tag={tag}&limit=1")).await;
    assert_eq!(
        codes(&page),
        Vec::<String>::new(),
        "the newest, untagged, read and dropped"
    );
    let cursor = page.body["next_cursor"].as_str().unwrap().to_owned();
    let page = list(format!("tag={tag}&limit=1&cursor={cursor}")).await;
    assert_eq!(codes(&page), [b.as_str()]);
    assert!(page.body["next_cursor"].is_string());

    for (query, code) in [
        ("tag=has%20space", "invalid_tags"),
        ("tags_mode=some", "invalid_filter"),
        (&*format!("q={}", "x".repeat(201)), "invalid_filter"),
    ] {
        list(query.to_owned()).await.assert_error(400, code);
    }

    // PATCH changes, removes and refuses; a refusal writes nothing.
    let r = api
        .patch(&b, &user, json!({"title": "B", "tags": ["New", "new"]}))
        .await;
    assert_eq!(
        (&r.body["title"], &r.body["tags"]),
        (&json!("B"), &json!(["new"]))
    );
    let before = api.partition(&b).await;
    for (body, code) in [
        (json!({"title": "x".repeat(201)}), "invalid_title"),
        (json!({"title": 1}), "invalid_title"),
        (
            json!({"tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            "invalid_tags",
        ),
        (json!({"tags": ["ok", "not ok"]}), "invalid_tags"),
    ] {
        api.patch(&b, &user, body).await.assert_error(400, code);
    }
    assert_eq!(api.partition(&b).await, before);
    let r = api
        .patch(&b, &user, json!({"title": null, "tags": []}))
        .await;
    assert_eq!(
        (&r.body["title"], &r.body["tags"]),
        (&Value::Null, &json!([]))
    );
    assert_eq!(codes(&list(format!("tag={tag}")).await), [a.as_str()]);
    assert_eq!(
        api.meta(&a, Some(&user)).await.body["tags"],
        json!([tag, other])
    );
    for body in [
        json!({"url": unique_url(), "title": "a\u{7}b"}),
        json!({"url": unique_url(), "tags": ["a", "b c"]}),
    ] {
        let r = api
            .send(Method::POST, "/links", Some(&user.secret), Some(body))
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
    }
}
