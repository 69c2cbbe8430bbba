//! End to end, password links and redirect rules, through `cargo lambda watch` and the real
//! DynamoDB Local: the form, the unlock, the lockout (also under 50 concurrent guesses),
//! what is counted, what is never shown or logged; rules by device, OS, country, language
//! and query. Every refusal is checked to write nothing.

mod support;

use common::domain::Role;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use support::{link_cache, unique_url, within, Api, Page, Reply};

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const FORM: &str = "application/x-www-form-urlencoded";

impl Api {
    async fn create_link(&self, key: &str, body: Value) -> Reply {
        self.send(Method::POST, "/links", Some(key), Some(body))
            .await
    }

    /// Posts `password` as the form does; JSON answers (no `Accept: text/html`).
    async fn unlock(&self, code: &str, password: &str) -> Page {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("password", password)
            .finish();
        self.page(
            self.http
                .post(format!("{}/{code}", self.base))
                .header("content-type", FORM)
                .body(body),
        )
        .await
    }

    /// The link's human and bot visits, as stats reports them.
    async fn visits(&self, code: &str, key: &str) -> (u64, u64) {
        let r = self
            .send(
                Method::GET,
                &format!("/links/{code}/stats"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        (
            r.body["total_visits"].as_u64().unwrap(),
            r.body["bot_visits"].as_u64().unwrap(),
        )
    }
}

#[tokio::test]
async fn password_link_form_unlock_and_what_is_counted() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let secret = "correct horse battery staple";
    let url = unique_url("pw-");

    let r = api
        .create_link(
            &key,
            json!({"url": url, "password": secret, "title": "private"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["password_protected"], true);
    assert!(r.body.get("password").is_none());
    let code = r.body["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 10, "a random code");
    assert!(api.first_code_is_free(&url).await, "never the URL's code");
    // The same request again: another link with another random code.
    let again = api
        .create_link(&key, json!({"url": url, "password": secret}))
        .await;
    assert_eq!(again.status, 201);
    assert_ne!(again.body["code"], r.body["code"]);
    let stored = api.partition(&code).await;
    let hash = stored[0]["password_hash"].as_s().unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(secret));

    // GET: the form, counted nowhere, no Location, not cached, not indexed; HEAD alike.
    for _ in 0..3 {
        let form = api
            .page(api.http.get(format!("{}/{code}?x=1", api.base)))
            .await;
        assert_eq!(form.status, 200);
        assert!(form.header("content-type").starts_with("text/html"));
        assert!(form.text.contains(r#"<form method="post">"#));
        assert_eq!(form.header("location"), "");
        assert!(form.header("cache-control").contains("no-store"));
        assert!(form.header("x-robots-tag").contains("noindex"));
    }
    let head = api
        .page(api.http.head(format!("{}/{code}", api.base)))
        .await;
    assert_eq!((head.status, head.header("location")), (200, ""));
    assert_eq!(
        api.partition(&code).await.len(),
        1,
        "the form counted nothing"
    );

    // Wrong: 403 (JSON for a client, the form again for a browser); nothing counted.
    let wrong = api.unlock(&code, "Correct horse battery staple").await;
    assert_eq!(wrong.status, 403);
    let body: Value = serde_json::from_str(&wrong.text).unwrap();
    assert_eq!(body["error"]["code"], "wrong_password");
    let browser = api
        .page(
            api.http
                .post(format!("{}/{code}", api.base))
                .header("content-type", FORM)
                .header("accept", "text/html,application/xhtml+xml")
                .body("password=nope"),
        )
        .await;
    assert_eq!(browser.status, 403);
    assert!(browser.text.contains("Wrong password") || browser.text.contains("wrong password"));
    assert!(browser.text.contains("<form"));

    // Bad forms: 4xx, no try taken.
    let bad_type = api
        .page(
            api.http
                .post(format!("{}/{code}", api.base))
                .header("content-type", "application/json")
                .body(json!({"password": secret}).to_string()),
        )
        .await;
    assert_eq!(bad_type.status, 415);
    let no_field = api
        .page(
            api.http
                .post(format!("{}/{code}", api.base))
                .header("content-type", FORM)
                .body("pass=x"),
        )
        .await;
    assert_eq!(no_field.status, 400, "{}", no_field.text);
    assert!(no_field.text.contains("invalid_form"));
    let big = api.unlock(&code, &"x".repeat(1100)).await;
    assert_eq!(big.status, 413);

    // Right: 303 to the target (the form's query forwarded by rules and forwarding as
    // usual), counted once as a visit.
    let right = api.unlock(&code, secret).await;
    assert_eq!(right.status, 303, "{}", right.text);
    assert_eq!(right.header("location"), url);
    assert!(right.header("cache-control").contains("no-store"));
    assert_eq!(api.visits(&code, &key).await, (1, 0), "unlock counted once");
    let tries = api.partition(&code).await;
    let tries = tries
        .iter()
        .find(|i| i["sk"].as_s().unwrap() == "tries")
        .expect("the window's item");
    assert_eq!(
        tries["tries"].as_n().unwrap(),
        "2",
        "the two wrong tries; the right one gave its try back"
    );

    // The password is in no response, and in no log line of the functions.
    let meta = api
        .send(Method::GET, &format!("/links/{code}"), Some(&key), None)
        .await;
    assert_eq!(meta.body["password_protected"], true);
    for text in [
        r.body.to_string(),
        meta.body.to_string(),
        right.text.clone(),
        wrong.text.clone(),
    ] {
        assert!(!text.contains(secret) && !text.contains("argon2"), "{text}");
    }
    // Required, so that the check cannot pass by not running: make test sets it; by hand,
    // point it at make dev's output (docs/testing.md).
    let log = std::env::var("WATCH_LOG")
        .expect("WATCH_LOG: the file the functions of the stack under test log to");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains(&code), "the log is the functions' own");
    assert!(!log.contains(secret), "the password reached the log");
    assert!(!log.contains("$argon2id$"), "a hash reached the log");
}

#[tokio::test]
async fn ten_wrong_tries_lock_the_link_even_for_the_right_password() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let r = api
        .create_link(
            &key,
            json!({"url": unique_url("lock-"), "password": "s3cret!"}),
        )
        .await;
    let code = r.body["code"].as_str().unwrap().to_owned();
    for i in 0..10 {
        assert_eq!(api.unlock(&code, "guess").await.status, 403, "try {i}");
    }
    let locked = api.unlock(&code, "s3cret!").await;
    assert_eq!(locked.status, 429, "{}", locked.text);
    assert!(locked.text.contains("too_many_attempts"));
    let retry: u64 = locked.header("retry-after").parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(api.visits(&code, &key).await, (0, 0));
}

#[tokio::test]
async fn fifty_concurrent_wrong_tries_hash_exactly_ten_times() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let r = api
        .create_link(
            &key,
            json!({"url": unique_url("race-"), "password": "s3cret!"}),
        )
        .await;
    let code = r.body["code"].as_str().unwrap().to_owned();
    let api = &api;
    let code = &code;
    let statuses: Vec<u16> = join_all(
        (0..50).map(|i| async move { api.unlock(code, &format!("guess-{i}")).await.status }),
    )
    .await;
    // A 403 is an answer after a hash; a 429 came from the refused write alone.
    let hashed = statuses.iter().filter(|s| **s == 403).count();
    let locked = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((hashed, locked), (10, 40), "{statuses:?}");
}

#[tokio::test]
async fn passwords_set_and_removed_by_patch_and_bad_ones_refused() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let url = unique_url("pwpatch-");
    let r = api.create_link(&key, json!({"url": url})).await;
    assert_eq!(
        (r.status, &r.body["password_protected"]),
        (201, &json!(false))
    );
    let code = r.body["code"].as_str().unwrap().to_owned();
    let path = format!("/links/{code}");

    for bad in [
        json!("abc"),
        json!(5),
        json!("a\u{0}bcd"),
        json!("x".repeat(129)),
    ] {
        let before = api.partition(&code).await;
        let r = api
            .send(
                Method::PATCH,
                &path,
                Some(&key),
                Some(json!({"password": bad})),
            )
            .await;
        r.assert_error(400, "invalid_password");
        assert_eq!(api.partition(&code).await, before, "nothing written");
    }
    let r = api
        .send(
            Method::POST,
            "/links",
            Some(&key),
            Some(json!({"url": url, "password": "abc"})),
        )
        .await;
    r.assert_error(400, "invalid_password");
    // A password of another JSON type is a body that does not fit, as for every field.
    let r = api
        .send(
            Method::POST,
            "/links",
            Some(&key),
            Some(json!({"url": url, "password": ["abcd"]})),
        )
        .await;
    r.assert_error(400, "invalid_json");

    let r = api
        .send(
            Method::PATCH,
            &path,
            Some(&key),
            Some(json!({"password": "new pass"})),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["password_protected"]),
        (200, &json!(true))
    );
    let api = &api;
    within(link_cache() * 3, "the form after PATCH", || async {
        api.page(api.http.get(format!("{}/{code}", api.base)))
            .await
            .status
            == 200
    })
    .await;
    assert_eq!(api.unlock(&code, "new pass").await.status, 303);

    let r = api
        .send(
            Method::PATCH,
            &path,
            Some(&key),
            Some(json!({"password": null})),
        )
        .await;
    assert_eq!(r.body["password_protected"], false);
    within(link_cache() * 3, "a redirect again", || async {
        api.page(api.http.get(format!("{}/{code}", api.base)))
            .await
            .status
            == 302
    })
    .await;
    // Not a password link (in every warm function's copy): POST is not a method of it.
    tokio::time::sleep(link_cache() + std::time::Duration::from_secs(1)).await;
    let post = api.unlock(&code, "new pass").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.headers["allow"], "GET, HEAD");
}

#[tokio::test]
async fn rules_send_each_visitor_to_the_first_match() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let url = unique_url("rules-");
    let ios = unique_url("ios-");
    let de = unique_url("de-");
    let fr = unique_url("fr-");
    let promo = unique_url("promo-");
    let rules = json!([
        {"url": ios, "conditions": [{"type": "os", "value": "ios"}]},
        {"url": de, "conditions": [{"type": "country", "value": "de"}, {"type": "device", "value": "desktop"}]},
        {"url": fr, "conditions": [{"type": "language", "value": "fr"}]},
        {"url": format!("{promo}?from=rule"), "conditions": [{"type": "query", "key": "c", "value": "spring sale"}]}
    ]);
    let r = api
        .create_link(
            &key,
            json!({"url": url, "rules": rules, "forward_query": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["rules"].as_array().unwrap().len(), 4);
    assert_eq!(r.body["rules"][1]["conditions"][0]["value"], "DE");
    let code = r.body["code"].as_str().unwrap().to_owned();
    // The same URL without rules is another link: a create never answers with a link that
    // behaves otherwise than asked.
    let plain = api
        .create_link(&key, json!({"url": url, "forward_query": true}))
        .await;
    assert_ne!(plain.body["code"], r.body["code"]);

    let go = |headers: Vec<(&'static str, &'static str)>, query: &'static str| {
        let mut req = api.http.get(format!("{}/{code}{query}", api.base));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let api = &api;
        async move {
            let p = api.page(req).await;
            assert_eq!(p.status, 302, "{}", p.text);
            p.header("location").to_owned()
        }
    };
    assert_eq!(go(vec![("user-agent", IPHONE)], "").await, ios);
    assert_eq!(
        go(
            vec![("user-agent", IPHONE), ("cloudfront-viewer-country", "DE")],
            ""
        )
        .await,
        ios,
        "the first match wins"
    );
    assert_eq!(go(vec![("cloudfront-viewer-country", "DE")], "").await, de);
    assert_eq!(
        go(
            vec![("cloudfront-viewer-country", "DE"), ("user-agent", IPHONE)],
            "?x=1"
        )
        .await,
        format!("{ios}?x=1"),
        "forwarding applies to a rule's URL"
    );
    assert_eq!(go(vec![("cloudfront-viewer-country", "AT")], "").await, url);
    assert_eq!(
        go(vec![("accept-language", "fr-CH, en;q=0.8")], "").await,
        fr
    );
    assert_eq!(go(vec![("accept-language", "en, fr;q=0")], "").await, url);
    assert_eq!(
        go(vec![], "?c=spring+sale").await,
        format!("{promo}?from=rule&c=spring+sale")
    );
    assert_eq!(go(vec![], "?c=spring").await, format!("{url}?c=spring"));
    assert_eq!(go(vec![], "").await, url, "no match: the link's url");
    // Every redirect above counted one visit each, and only that.
    let stats = api
        .send(
            Method::GET,
            &format!("/links/{code}/stats"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(stats.body["total_visits"], 10, "{}", stats.body);

    // PATCH replaces them; null removes them.
    let path = format!("/links/{code}");
    let r = api
        .send(Method::PATCH, &path, Some(&key), Some(json!({"rules": [{"url": fr, "conditions": [{"type": "device", "value": "mobile"}]}]})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    within(link_cache() * 3, "the new rule", || async {
        go(vec![("user-agent", IPHONE)], "").await == fr
    })
    .await;
    let r = api
        .send(
            Method::PATCH,
            &path,
            Some(&key),
            Some(json!({"rules": null})),
        )
        .await;
    assert_eq!(r.body["rules"], json!([]));
    within(link_cache() * 3, "no rules", || async {
        go(vec![("user-agent", IPHONE)], "").await == url
    })
    .await;
}

#[tokio::test]
async fn bad_rules_are_refused_with_their_index_and_write_nothing() {
    let api = Api::new();
    let (key, _) = api.issue_key(Role::User).await;
    let ok = json!({"url": "https://example.com/ok", "conditions": [{"type": "device", "value": "mobile"}]});
    let cases = [
        (
            json!([ok, {"url": "https://example.com/", "conditions": []}]),
            "invalid_rules",
            "rules[1]",
        ),
        (
            json!([ok, ok, {"url": "https://example.com/", "conditions": [{"type": "weather", "value": "rain"}]}]),
            "invalid_rules",
            "rules[2]",
        ),
        (
            json!([{"url": "https://example.com/", "conditions": [{"type": "query", "value": "x"}]}]),
            "invalid_rules",
            "rules[0]",
        ),
        (json!("mobile"), "invalid_rules", "rules"),
        (Value::Array(vec![ok.clone(); 11]), "invalid_rules", "rules"),
        (
            json!([ok, {"url": "http://169.254.169.254/latest", "conditions": [{"type": "os", "value": "linux"}]}]),
            "private_target",
            "rules[1].url",
        ),
        (
            json!([{"url": "ftp://example.com/", "conditions": [{"type": "os", "value": "linux"}]}]),
            "unsupported_scheme",
            "rules[0].url",
        ),
    ];
    let url = unique_url("badrules-");
    for (rules, code, names) in &cases {
        let r = api
            .create_link(&key, json!({"url": url, "rules": rules}))
            .await;
        r.assert_error(400, code);
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(names),
            "{}",
            r.body
        );
    }
    assert!(
        api.first_code_is_free(&url).await,
        "no create wrote anything"
    );

    let r = api.create_link(&key, json!({"url": url})).await;
    let code = r.body["code"].as_str().unwrap().to_owned();
    let before = api.partition(&code).await;
    for (rules, err, _) in &cases {
        let r = api
            .send(
                Method::PATCH,
                &format!("/links/{code}"),
                Some(&key),
                Some(json!({"rules": rules})),
            )
            .await;
        r.assert_error(400, err);
    }
    assert_eq!(
        api.partition(&code).await,
        before,
        "no PATCH wrote anything"
    );
}
