//! End to end, what people trust the service with stays theirs (issue 26), through
//! `cargo lambda watch` and the real DynamoDB Local, tested as an attacker would: a takedown
//! stays down; a change authorized for one link never lands on another link of the same
//! code; a password link's target is shown to its owner and admins only, by every route.

mod support;

use common::domain::Role;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use support::{unique_url, Api, Reply};

impl Api {
    async fn post_link(&self, key: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, "/links", key, Some(body)).await
    }

    async fn patch(&self, code: &str, key: &str, body: Value) -> Reply {
        self.send(
            Method::PATCH,
            &format!("/links/{code}"),
            Some(key),
            Some(body),
        )
        .await
    }

    async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        self.send(Method::GET, path, key, None).await
    }

    async fn delete(&self, code: &str, key: &str) -> Reply {
        self.send(Method::DELETE, &format!("/links/{code}"), Some(key), None)
            .await
    }
}

#[tokio::test]
async fn a_takedown_is_lifted_by_an_admin_only() {
    let api = Api::new();
    let (owner, _) = api.issue_key(Role::User).await;
    let (admin, _) = api.issue_key(Role::Admin).await;
    let r = api
        .post_link(Some(&owner), json!({"url": unique_url("down-")}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let code = r.body["code"].as_str().unwrap().to_owned();
    assert_eq!(r.body["taken_down_at"], Value::Null);

    // The owner's own disable is no takedown: the owner lifts it.
    let off = api.patch(&code, &owner, json!({"disabled": true})).await;
    assert_eq!(off.status, 200);
    assert_eq!(off.body["taken_down_at"], Value::Null);
    assert_eq!(
        api.patch(&code, &owner, json!({"disabled": false}))
            .await
            .status,
        200
    );

    // An admin's is.
    let down = api.patch(&code, &admin, json!({"disabled": true})).await;
    assert_eq!(down.status, 200, "{}", down.body);
    let when = down.body["taken_down_at"].as_str().unwrap().to_owned();
    assert!(when.ends_with('Z'), "{when}");
    let before = api.partition(&code).await;
    for (what, body) in [
        ("re-enable", json!({"disabled": false})),
        (
            "disable again (a no-op is still a change of the takedown)",
            json!({"disabled": true}),
        ),
        (
            "change the target",
            json!({"url": unique_url("elsewhere-")}),
        ),
        (
            "add rules",
            json!({"rules": [{"url": "https://example.com/x", "conditions": [{"type": "device", "value": "mobile"}]}]}),
        ),
        (
            "the target with a harmless title",
            json!({"url": unique_url("x-"), "title": "t"}),
        ),
    ] {
        let r = api.patch(&code, &owner, body).await;
        r.assert_error(403, "link_taken_down");
        assert_eq!(
            api.partition(&code).await,
            before,
            "{what}: nothing written"
        );
    }
    api.delete(&code, &owner)
        .await
        .assert_error(403, "link_taken_down");
    assert_eq!(
        api.partition(&code).await,
        before,
        "delete: nothing written"
    );
    // What a takedown does not freeze, the owner still changes.
    let titled = api
        .patch(&code, &owner, json!({"title": "still mine"}))
        .await;
    assert_eq!(titled.status, 200, "{}", titled.body);
    assert_eq!(
        titled.body["taken_down_at"],
        when.as_str(),
        "the takedown stays"
    );
    assert_eq!(titled.body["disabled"], true);
    // The owner sees it in the list and the link itself.
    let got = api.get(&format!("/links/{code}"), Some(&owner)).await;
    assert_eq!(got.body["taken_down_at"], when.as_str());
    let listed = api.get("/links?limit=100", Some(&owner)).await;
    let row = listed.body["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["code"] == code.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["taken_down_at"], when.as_str());
    // Visitors get the refusal.
    let visit = api
        .send_raw(Method::GET, &format!("/{code}"), None, None)
        .await;
    assert_eq!(visit.status, 410);
    // An admin lifts it; then the owner may again.
    let up = api.patch(&code, &admin, json!({"disabled": false})).await;
    assert_eq!(up.status, 200);
    assert_eq!(up.body["taken_down_at"], Value::Null);
    assert_eq!(
        api.patch(&code, &owner, json!({"disabled": true}))
            .await
            .status,
        200
    );
    assert_eq!(api.delete(&code, &owner).await.status, 204);
}

#[tokio::test]
async fn a_change_authorized_for_one_link_never_lands_on_the_next_of_its_code() {
    let api = Api::new();
    let (first, _) = api.issue_key(Role::User).await;
    let (second, _) = api.issue_key(Role::User).await;
    let (admin, _) = api.issue_key(Role::Admin).await;
    // Rounds of: the first owner's PATCH and DELETE race against its own delete and the
    // second owner's create of the same alias. Whatever interleaving happens, the second
    // owner's link keeps its own URL and title, and is never deleted by the first.
    for round in 0..6 {
        let alias = support::unique(&format!("gen{round}-"));
        let r = api
            .post_link(
                Some(&first),
                json!({"url": unique_url("g1-"), "alias": alias}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let theirs = unique_url("g2-");
        let patch = api.patch(
            &alias,
            &first,
            json!({"url": unique_url("hijack-"), "title": "first owner's"}),
        );
        let swap = async {
            // 404 when the late DELETE below went first.
            let gone = api.delete(&alias, &first).await.status;
            assert!([204, 404].contains(&gone), "{gone}");
            api.post_link(Some(&second), json!({"url": theirs, "alias": alias}))
                .await
        };
        let late_delete = api.delete(&alias, &first);
        let (patched, created, deleted) = tokio::join!(patch, swap, late_delete);
        assert!(
            [200, 403, 404].contains(&patched.status),
            "a PATCH of a link that went: {} {}",
            patched.status,
            patched.body
        );
        // 403: the late DELETE read the second owner's link, created in between.
        assert!(
            [204, 404].contains(&deleted.status)
                || (deleted.status == 403 && created.status == 201),
            "{} {}",
            deleted.status,
            deleted.body
        );
        if created.status != 201 {
            // The first owner's late DELETE removed its own link before the create: fine,
            // as long as nothing of the second owner's was touched (it has none).
            continue;
        }
        let now = api.get(&format!("/links/{alias}"), Some(&second)).await;
        assert_eq!(now.status, 200, "round {round}: {}", now.body);
        assert_eq!(
            now.body["url"],
            theirs.as_str(),
            "round {round}: the URL is the second owner's"
        );
        assert_eq!(
            now.body["title"],
            Value::Null,
            "round {round}: no title of the first owner"
        );
        // The first owner cannot reach it at all now.
        api.get(&format!("/links/{alias}"), Some(&first))
            .await
            .assert_error(403, "forbidden");
        assert_eq!(api.delete(&alias, &admin).await.status, 204);
    }
    // And many PATCHes at once against one delete + create: none lands on the new link.
    let alias = support::unique("genmany-");
    let r = api
        .post_link(
            Some(&first),
            json!({"url": unique_url("m1-"), "alias": alias}),
        )
        .await;
    assert_eq!(r.status, 201);
    let theirs = unique_url("m2-");
    let patches = join_all(
        (0..12).map(|i| api.patch(&alias, &first, json!({"title": format!("first {i}")}))),
    );
    let swap = async {
        assert_eq!(api.delete(&alias, &first).await.status, 204);
        api.post_link(Some(&second), json!({"url": theirs, "alias": alias}))
            .await
    };
    let (patched, created) = tokio::join!(patches, swap);
    assert_eq!(created.status, 201, "{}", created.body);
    for p in &patched {
        assert!(
            [200, 403, 404].contains(&p.status),
            "{} {}",
            p.status,
            p.body
        );
    }
    let now = api.get(&format!("/links/{alias}"), Some(&second)).await;
    assert_eq!(now.body["title"], Value::Null, "{}", now.body);
    assert_eq!(now.body["url"], theirs.as_str());
}

/// Everything a caller gets from a route, as text: status line, headers and body.
async fn everything(api: &Api, method: Method, path: &str, key: Option<&str>) -> (u16, String) {
    let mut req = api
        .http
        .request(method, format!("{}{path}", api.base))
        .header("accept", "text/html,application/json");
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await.expect("the API answers");
    let status = resp.status().as_u16();
    let headers: String = resp
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or("")))
        .collect();
    (status, format!("{headers}\n{}", resp.text().await.unwrap()))
}

#[tokio::test]
async fn a_password_links_target_is_shown_to_its_owner_and_admins_only_by_every_route() {
    let api = Api::new();
    let (owner, owner_record) = api.issue_key(Role::User).await;
    let (other, _) = api.issue_key(Role::User).await;
    let (admin, _) = api.issue_key(Role::Admin).await;
    let owner_id = owner_record.id().to_string();
    let secret = "sesame-2026";
    let browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

    // An owned and an anonymous password link, each with a rule; every URL unique.
    let mut links = Vec::new();
    for key in [Some(owner.as_str()), None] {
        let target = unique_url("secret-target-");
        let rule = unique_url("secret-rule-");
        let r = api
            .post_link(
                key,
                json!({"url": target, "password": secret, "title": "private",
                       "rules": [{"url": rule, "conditions": [{"type": "device", "value": "mobile"}]}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let code = r.body["code"].as_str().unwrap().to_owned();
        // Human visits through the password, so that the link is ranked and has insights.
        for _ in 0..3 {
            let unlocked = api
                .http
                .post(format!("{}/{code}", api.base))
                .header("user-agent", browser)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("password={secret}"))
                .send()
                .await
                .unwrap();
            assert_eq!(unlocked.status().as_u16(), 303);
        }
        links.push((code, key.is_some(), target, rule));
    }
    // The owner's ranking holds its link once the aggregator ran.
    let owned = links[0].0.clone();
    support::within(
        std::time::Duration::from_secs(60),
        "the owner's ranking",
        || async {
            let r = api.get("/stats?period=all&limit=100", Some(&owner)).await;
            r.body["links"]
                .as_array()
                .is_some_and(|l| l.iter().any(|e| e["code"] == owned.as_str()))
        },
    )
    .await;

    let callers: [(&str, Option<&str>); 4] = [
        ("anonymous", None),
        ("another user", Some(&other)),
        ("the owner", Some(&owner)),
        ("an admin", Some(&admin)),
    ];
    for (code, is_owned, target, rule) in &links {
        let routes: Vec<(Method, String)> = vec![
            (Method::GET, format!("/{code}")),
            (Method::HEAD, format!("/{code}")),
            (Method::POST, format!("/{code}")),
            (Method::GET, format!("/{code}?utm_source=x")),
            (Method::GET, format!("/links/{code}")),
            (Method::GET, format!("/links/{code}/stats")),
            (Method::GET, format!("/links/{code}/stats.csv")),
            (Method::GET, format!("/links/{code}/insights")),
            (Method::GET, format!("/links/{code}/page")),
            (Method::GET, format!("/links/{code}/qr.svg")),
            (Method::GET, "/links?limit=100".to_owned()),
            (Method::GET, "/links/export?format=csv".to_owned()),
            (Method::GET, "/links/export?format=json".to_owned()),
            (Method::GET, "/stats?period=all&limit=100".to_owned()),
            (Method::GET, "/stats?period=day&limit=100".to_owned()),
            (
                Method::GET,
                format!("/stats?period=all&limit=100&owner={owner_id}"),
            ),
            (Method::GET, "/insights".to_owned()),
            (Method::GET, format!("/insights?owner={owner_id}")),
        ];
        for (who, key) in callers {
            let may_see = match who {
                "an admin" => true,
                "the owner" => *is_owned,
                _ => false,
            };
            let mut seen_anywhere = false;
            for (method, path) in &routes {
                let (status, text) = everything(&api, method.clone(), path, key).await;
                let shows = text.contains(target.as_str()) || text.contains(rule.as_str());
                seen_anywhere |= shows;
                assert!(
                    may_see || !shows,
                    "{who} learned a password link's target from {method} {path} ({status}): {text}"
                );
            }
            if may_see {
                // The sweep can fail: the target is there for those who may see it.
                assert!(seen_anywhere, "{who} never saw the target of {code}");
            }
        }
    }
    // The stats of the anonymous one stay public, without its target.
    let (code, _, _, _) = &links[1];
    let stats = api.get(&format!("/links/{code}/stats"), None).await;
    assert_eq!(stats.status, 200);
    assert_eq!(stats.body["url"], Value::Null);
    assert_eq!(stats.body["total_visits"], 3);
    let mine = api
        .get(&format!("/links/{owned}/stats"), Some(&owner))
        .await;
    assert_eq!(mine.body["url"], links[0].2.as_str());
}

#[tokio::test]
async fn headers_of_the_edge_are_trusted_only_from_the_edge() {
    let api = Api::new();
    let around = support::http_around_edge();
    let secret = std::env::var("EDGE_SECRET").expect(
        "EDGE_SECRET: the local stack's edge secret (make test and make dev set it; scripts/lib.sh)",
    );
    let alias = support::unique("edge-");
    let r = api
        .post_link(
            None,
            json!({"url": unique_url("edge-"), "alias": alias,
                   "rules": [{"url": "https://example.com/de", "conditions": [{"type": "country", "value": "DE"}]}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Spoofed around the edge: the rule does not match and nothing is counted under DE.
    for _ in 0..3 {
        let resp = around
            .get(format!("{}/{alias}", api.base))
            .header("cloudfront-viewer-country", "DE")
            .header("x-origin-verify", "not-the-secret-0123456789")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        assert_ne!(resp.headers()["location"], "https://example.com/de");
    }
    // Through the edge (the secret): the rule matches and the country counts.
    let through = around
        .get(format!("{}/{alias}", api.base))
        .header("cloudfront-viewer-country", "DE")
        .header("x-origin-verify", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(through.headers()["location"], "https://example.com/de");
    let stats = api.get(&format!("/links/{alias}/stats"), None).await;
    assert_eq!(stats.body["total_visits"], 4, "{}", stats.body);
    assert_eq!(
        stats.body["breakdowns"]["countries"],
        json!([{"key": "DE", "visits": 1}]),
        "only the visit through the edge has a country"
    );
    // The edge's own domain (the viewer's host it passes on) is a loop, through the edge
    // only: around it, the same header names nothing.
    let loop_body = json!({"url": "https://d111111abcdef8.cloudfront.net/x"});
    let refused = around
        .post(format!("{}/links", api.base))
        .header("x-origin-verify", &secret)
        .header("x-viewer-host", "d111111abcdef8.cloudfront.net")
        .json(&loop_body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "self_link", "{body}");
    let spoofed = around
        .post(format!("{}/links", api.base))
        .header("x-viewer-host", "d111111abcdef8.cloudfront.net")
        .json(&loop_body)
        .send()
        .await
        .unwrap();
    assert!([200, 201].contains(&spoofed.status().as_u16()));
}

/// Issue 26.6: what one anonymous stats request reads is bounded by the range asked for,
/// never by the link's age. A link two years old with a counter every third day: the stats
/// read the last year and the link's total (the aggregator's, fed by the stream poller),
/// a range past a year and a day is refused, and the all-time totals stay exact.
#[tokio::test]
async fn a_stats_request_reads_the_range_asked_for_not_the_whole_history() {
    use chrono::{Duration, Utc};
    use common::domain::{Code, LongUrl, UrlPolicy, Visit, VisitRequest};
    use common::store::Store;

    let api = Api::new();
    let store = Store::new(support::dynamodb(), support::api_table());
    let now = Utc::now();
    let today = now.date_naive();
    let url = LongUrl::parse(&unique_url("old-"), &UrlPolicy::default(), &[]).unwrap();
    let (link, _) = store
        .create_or_get(&url, None, None, now - Duration::days(730))
        .await
        .unwrap();
    let code: Code = link.code.clone();
    let human = Visit::classify(VisitRequest {
        user_agent: Some(support::BROWSER_UA),
        ..Default::default()
    });
    let bot = Visit::classify(VisitRequest {
        user_agent: Some("curl/8.5.0"),
        ..Default::default()
    });
    // 244 days with one human visit each, every third day from 729 days back to today;
    // a bot visit on the oldest and on today.
    let days: Vec<_> = (0..=730)
        .step_by(3)
        .map(|back| today - Duration::days(back))
        .collect();
    for chunk in days.chunks(16) {
        join_all(
            chunk
                .iter()
                .map(|d| store.record_visit(&code, 0, *d, &human)),
        )
        .await;
    }
    store
        .record_visit(&code, 0, *days.last().unwrap(), &bot)
        .await
        .unwrap();
    store.record_visit(&code, 0, today, &bot).await.unwrap();
    let (visits, bots) = (days.len() as u64, 2);

    // Every stats route: the default range is the last 366 days; the totals are all time
    // once the aggregator has added the old days to the link's total.
    let path = format!("/links/{code}/stats");
    let mut stats = api.get(&path, None).await;
    for _ in 0..60 {
        if stats.body["total_visits"] == visits {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        stats = api.get(&path, None).await;
    }
    assert_eq!(stats.status, 200, "{}", stats.body);
    assert_eq!(stats.body["total_visits"], visits, "{}", stats.body);
    assert_eq!(stats.body["bot_visits"], bots);
    let daily = stats.body["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 366);
    let year: u64 = daily.iter().map(|d| d["visits"].as_u64().unwrap()).sum();
    assert_eq!(
        year,
        days.iter()
            .filter(|d| **d > today - Duration::days(366))
            .count() as u64
    );

    // An old range: its days, the same all-time totals.
    let (from, to) = (*days.last().unwrap(), today - Duration::days(699));
    let old = api.get(&format!("{path}?from={from}&to={to}"), None).await;
    assert_eq!(old.status, 200, "{}", old.body);
    assert_eq!(old.body["total_visits"], visits);
    assert_eq!(old.body["bot_visits"], bots);
    let old_daily = old.body["daily"].as_array().unwrap();
    assert_eq!(old_daily.len(), 31);
    assert_eq!(old_daily[0]["date"], from.to_string());
    assert_eq!(old_daily[0]["bot_visits"], 1);
    let in_old: u64 = old_daily
        .iter()
        .map(|d| d["visits"].as_u64().unwrap())
        .sum();
    assert_eq!(in_old, 11, "days 729, 726, ... 699 back");

    // A year and a day is the most; past it 400 invalid_range, on every stats route.
    let year_ago = today - Duration::days(365);
    assert_eq!(
        api.get(&format!("{path}?from={year_ago}&to={today}"), None)
            .await
            .status,
        200
    );
    let too_far = today - Duration::days(366);
    for route in ["stats", "stats.csv", "page"] {
        for query in [
            format!("?from={too_far}&to={today}"),
            format!("?from={too_far}"),
        ] {
            let r = api
                .get(&format!("/links/{code}/{route}{query}"), None)
                .await;
            r.assert_error(400, "invalid_range");
        }
    }

    // The cost: the default range reads a year of days (one Query), not two; an old range
    // two Queries, the second of the last days with the link and its total.
    let measure = |range| {
        let store = store.clone();
        let code = code.clone();
        async move {
            let before = store.usage();
            let read = store
                .stats_for(&code, range, 0, today)
                .await
                .unwrap()
                .unwrap();
            (store.usage().since(before), read)
        }
    };
    let before = store.usage();
    store.history(&code, false).await.unwrap().unwrap();
    let whole = store.usage().since(before);
    let (year_cost, read) = measure((year_ago, today)).await;
    assert_eq!((read.visits, read.bot_visits), (visits, bots));
    assert_eq!(year_cost.requests, 1);
    let (old_cost, read) = measure((from, to)).await;
    assert_eq!((read.visits, read.bot_visits), (visits, bots));
    assert_eq!(old_cost.requests, 2);
    eprintln!(
        "read units: whole history {}, default year {}, 31 old days {}",
        whole.capacity_units, year_cost.capacity_units, old_cost.capacity_units
    );
    assert!(year_cost.capacity_units < whole.capacity_units);
    assert!(old_cost.capacity_units < year_cost.capacity_units);
}

/// The visits ranked for `code` in `GET /stats?{query}` as `key` sees it (`None`: absent).
async fn ranked_visits(api: &Api, key: &str, query: &str, code: &str) -> Option<u64> {
    let r = api
        .get(&format!("/stats?{query}&limit=100"), Some(key))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["code"] == code)
        .map(|l| l["visits"].as_u64().unwrap())
}

/// How long the stream poller and the aggregator may take.
const AGGREGATED: std::time::Duration = std::time::Duration::from_secs(60);

/// Issue 26.2: a code freed by TTL (its link item removed alone, as DynamoDB's TTL does)
/// and taken again by another owner starts clean: the aggregator purges what the old link
/// left (counters, total), the new link's stats, totals and rankings count its own visits
/// only, and the old owner's rankings no longer name the code.
#[tokio::test]
async fn a_code_freed_by_ttl_and_taken_again_counts_only_the_new_links_visits() {
    let api = Api::new();
    let (alice, _) = api.issue_key(Role::User).await;
    let (bob, _) = api.issue_key(Role::User).await;
    let (admin, _) = api.issue_key(Role::Admin).await;
    let alias = support::unique("freed");
    let visit = |n: usize| {
        let api = &api;
        let alias = alias.clone();
        async move {
            for _ in 0..n {
                assert_eq!(api.get(&format!("/{alias}"), None).await.status, 302);
            }
        }
    };
    let r = api
        .post_link(
            Some(&alice),
            json!({"url": unique_url("alice-"), "alias": alias}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    visit(5).await;
    support::within(AGGREGATED, "alice's visits ranked", || async {
        ranked_visits(&api, &alice, "period=all", &alias).await == Some(5)
    })
    .await;

    // TTL removes the link item alone; the stream's REMOVE reaches the aggregator.
    let client = support::dynamodb();
    support::remove_link_as_ttl(&client, &support::api_table(), &alias).await;
    support::within(AGGREGATED, "the partition purged", || async {
        let items = client
            .query()
            .table_name(support::api_table())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(alias.clone()),
            )
            .send()
            .await
            .unwrap();
        items.count == 0
    })
    .await;
    // The link cache of warm functions forgets the old link within its lifetime.
    tokio::time::sleep(support::link_cache()).await;

    let r = api
        .post_link(
            Some(&bob),
            json!({"url": unique_url("bob-"), "alias": alias}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    visit(2).await;
    let today = chrono::Utc::now().date_naive();
    support::within(AGGREGATED, "bob's visits ranked", || async {
        ranked_visits(&api, &bob, "period=all", &alias).await == Some(2)
    })
    .await;
    let stats = api.get(&format!("/links/{alias}/stats"), Some(&bob)).await;
    assert_eq!(stats.body["total_visits"], 2, "{}", stats.body);
    for query in ["period=all".to_owned(), format!("date={today}")] {
        assert_eq!(
            ranked_visits(&api, &bob, &query, &alias).await,
            Some(2),
            "{query}"
        );
        assert_eq!(
            ranked_visits(&api, &admin, &query, &alias).await,
            Some(2),
            "{query}"
        );
        assert_eq!(
            ranked_visits(&api, &alice, &query, &alias).await,
            None,
            "{query}"
        );
    }
    // The owners' totals: each their own visits.
    let totals = |key: String| {
        let api = &api;
        async move { api.get("/stats?period=all", Some(&key)).await.body["totals"].clone() }
    };
    assert_eq!(totals(bob.clone()).await["visits"], 2);
    assert_eq!(totals(alice.clone()).await["visits"], 5);
    // The week's insights across each owner's links: the code is bob's top link with his
    // 2 visits, and no longer among alice's.
    let week = |key: String| {
        let api = &api;
        let alias = alias.clone();
        async move {
            let r = api.get("/insights", Some(&key)).await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["links"]
                .as_array()
                .unwrap()
                .iter()
                .chain(r.body["risers"].as_array().unwrap())
                .filter(|l| l["code"] == alias.as_str())
                .map(|l| l["visits"].as_u64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert!(week(bob.clone()).await.iter().all(|v| *v == 2));
    assert!(!week(bob.clone()).await.is_empty());
    assert_eq!(week(alice.clone()).await, Vec::<u64>::new());
}
