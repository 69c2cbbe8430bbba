//! Each owner's analytics, against the real DynamoDB Local: the aggregator keeps every
//! owner's rankings and totals (visits, bot visits, links visited) from the stream, as
//! exact and idempotent as the global ranking, and `GET /stats` answers a user key with its
//! own links in two requests whatever their number.

mod support;

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use common::domain::{Code, KeyId, LongUrl, Period, Role, UrlPolicy};
use common::store::{OwnerTotals, Store, StreamChange};
use futures::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};
use support::{aggregate_as_lambda, unique_url, Api, Reply};

/// A stream record of a day counter that went from `old` to `new` (human, bot visits).
fn record(pk: &str, day: NaiveDate, old: (u64, u64), new: (u64, u64), seq: usize) -> Value {
    let sk = format!("day#{}", day.format("%Y-%m-%d"));
    let image = |(v, b): (u64, u64)| {
        json!({"pk": {"S": pk}, "sk": {"S": sk}, "visits": {"N": v.to_string()},
               "bot_visits": {"N": b.to_string()}})
    };
    json!({
        "eventName": if old == (0, 0) { "INSERT" } else { "MODIFY" },
        "dynamodb": {
            "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
            "OldImage": image(old),
            "NewImage": image(new),
            "SequenceNumber": format!("{seq:021}"),
        },
    })
}

fn changes(records: &[Value]) -> Vec<StreamChange> {
    records
        .iter()
        .map(|r| StreamChange::of_json(r).unwrap())
        .collect()
}

/// A fresh table without its stream (the test hands the aggregator its records itself).
async fn quiet_store() -> (Store, support::Table) {
    let client = support::dynamodb();
    let table = support::quiet_table(&client).await;
    (Store::new(client, &*table), table)
}

#[tokio::test]
#[ignore = "scale: make test runs it beside its other stages on a DynamoDB Local of its own (scripts/test-scale.sh)"]
async fn each_owner_ranked_and_totalled_exactly_in_two_requests() {
    const OWNERS: usize = 20;
    const PER_OWNER: usize = 100;
    let (store, _table) = quiet_store().await;
    let now = Utc::now();
    let d = now.date_naive();
    let owners: Vec<KeyId> = (0..OWNERS)
        .map(|k| KeyId::parse(&format!("owner{k:07}")).unwrap())
        .collect();
    // 2,000 links, 100 per owner, and 50 anonymous ones.
    let links: Vec<(Code, Option<usize>)> = stream::iter(0..OWNERS * PER_OWNER + 50)
        .map(|i| {
            let store = store.clone();
            let owner = (i < OWNERS * PER_OWNER).then_some(i % OWNERS);
            let key = owner.map(|k| KeyId::parse(&format!("owner{k:07}")).unwrap());
            async move {
                let u = LongUrl::parse(
                    &format!("https://example.com/owned/{i}"),
                    &UrlPolicy::default(),
                    &[],
                )
                .unwrap();
                let (link, _) = store
                    .create_or_get(&u, None, key.as_ref(), now)
                    .await
                    .unwrap();
                (link.code, owner)
            }
        })
        .buffered(8)
        .collect()
        .await;
    // Link i: (i * 37) % 50 human visits (some none) and i % 3 bot visits, in two steps:
    // a first record to half of each, then one to all of it.
    let visits = |i: usize| ((i * 37) % 50) as u64;
    let bots = |i: usize| (i % 3) as u64;
    let mut first_half = Vec::new();
    let mut second_half = Vec::new();
    for (i, (code, _)) in links.iter().enumerate() {
        let half = (visits(i) / 2, bots(i) / 2);
        let all = (visits(i), bots(i));
        if half != (0, 0) {
            first_half.push(record(code.as_str(), d, (0, 0), half, i));
        }
        if all != half {
            second_half.push(record(code.as_str(), d, half, all, 10_000 + i));
        }
    }
    let t = Instant::now();
    let before = store.usage();
    for batch in first_half.chunks(1000).chain(second_half.chunks(1000)) {
        aggregate_as_lambda(&store, &changes(batch), now).await;
    }
    let used = store.usage().since(before);
    eprintln!(
        "aggregated {} + {} records of 2,050 links of 20 owners in {:?}: {} requests, {} capacity units",
        first_half.len(),
        second_half.len(),
        t.elapsed(),
        used.requests,
        used.capacity_units
    );
    // Delivered again, and an older batch after newer ones: nothing changes.
    aggregate_as_lambda(&store, &changes(&second_half[..500]), now).await;
    aggregate_as_lambda(&store, &changes(&first_half[..500]), now).await;

    for (k, owner) in owners.iter().enumerate() {
        let mine: Vec<usize> = (0..links.len())
            .filter(|i| links[*i].1 == Some(k))
            .collect();
        let expected = OwnerTotals {
            visits: mine.iter().map(|i| visits(*i)).sum(),
            bot_visits: mine.iter().map(|i| bots(*i)).sum(),
            links: mine.iter().filter(|i| visits(**i) > 0).count() as u64,
        };
        let mut ranked: Vec<(u64, &str)> = mine
            .iter()
            .filter(|i| visits(**i) > 0)
            .map(|i| (visits(*i), links[*i].0.as_str()))
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        for period in [Period::All, Period::Day(d)] {
            let before = store.usage();
            let (ranking, totals) = store.owner_top_links(owner, period, 100).await.unwrap();
            let used = store.usage().since(before);
            assert_eq!(used.requests, 2, "ranking and totals, then the links");
            assert_eq!(totals, expected, "owner {k} {period:?}");
            let got: Vec<(u64, &str)> = ranking
                .links
                .iter()
                .map(|l| (l.visits, l.code.as_str()))
                .collect();
            assert_eq!(got, ranked, "owner {k} {period:?}: their links only, exact");
        }
        // Another day: nothing.
        let (ranking, totals) = store
            .owner_top_links(owner, Period::Day(d - chrono::Days::new(1)), 10)
            .await
            .unwrap();
        assert!(ranking.links.is_empty());
        assert_eq!(totals, OwnerTotals::default());
    }
    // The global ranking still ranks every link, owned or not.
    let top = store.top_links(Period::All, 100).await.unwrap();
    assert_eq!(top.links[0].visits, 49);
    assert!(top.links.iter().any(|l| links
        .iter()
        .any(|(c, o)| c.as_str() == l.code && o.is_none())));

    // A deleted link leaves its owner's rankings; its visits stay in the totals (they
    // were made).
    let (gone, owner) = links
        .iter()
        .find(|(c, _)| top.links[0].code == c.as_str())
        .unwrap();
    let owner = owners[owner.unwrap()].clone();
    let (_, before) = store
        .owner_top_links(&owner, Period::All, 100)
        .await
        .unwrap();
    let link = store.find_link(gone).await.unwrap().unwrap();
    store.delete_link(&link, true).await.unwrap();
    let deleted = [StreamChange::LinkDeleted(
        gone.clone(),
        Some(owner.clone()),
        1,
    )];
    aggregate_as_lambda(&store, &deleted, now).await;
    let (ranking, after) = store
        .owner_top_links(&owner, Period::All, 100)
        .await
        .unwrap();
    assert!(ranking.links.iter().all(|l| l.code != gone.as_str()));
    assert_eq!(after, before);
}

#[tokio::test]
async fn concurrent_aggregations_of_one_link_stay_exact() {
    let (store, _table) = quiet_store().await;
    let now = Utc::now();
    let d = now.date_naive();
    let owner = KeyId::parse("concurrent01").unwrap();
    let u = LongUrl::parse(&unique_url("conc-"), &UrlPolicy::default(), &[]).unwrap();
    let (link, _) = store
        .create_or_get(&u, None, Some(&owner), now)
        .await
        .unwrap();
    // A hot link's 8 counter shards, each aggregated by its own invocation at once (as
    // from several stream shards): every write but one finds the total changed, reads it
    // again, and adds its own part once.
    let pk = |shard: u32| match shard {
        0 => link.code.to_string(),
        k => format!("{}#{k}", link.code),
    };
    let batches: Vec<Vec<Value>> = (0..8u32)
        .map(|shard| {
            (1..=5u64)
                .map(|n| {
                    record(
                        &pk(shard),
                        d,
                        (n - 1, 0),
                        (n, u64::from(shard % 2)),
                        n as usize,
                    )
                })
                .collect()
        })
        .collect();
    let runs = batches.iter().map(|b| {
        let store = store.clone();
        let c = changes(b);
        async move { aggregate_as_lambda(&store, &c, now).await }
    });
    futures::future::join_all(runs).await;
    assert_eq!(store.aggregated_visits(&link.code).await.unwrap(), 40);
    let (ranking, totals) = store
        .owner_top_links(&owner, Period::Day(d), 10)
        .await
        .unwrap();
    assert_eq!(
        totals,
        OwnerTotals {
            visits: 40,
            bot_visits: 4,
            links: 1
        }
    );
    assert_eq!(ranking.links[0].visits, 40);
}

/// A record older than what the total holds (a shard's lower visits) that still brings
/// new bot visits: the bots are added, the human watermark is not lowered, and a later
/// record adds only what is new.
#[tokio::test]
async fn an_older_record_with_new_bot_visits_lowers_nothing() {
    let (store, _table) = quiet_store().await;
    let now = Utc::now();
    let d = now.date_naive();
    let owner = KeyId::parse("latebots0001").unwrap();
    let u = LongUrl::parse(&unique_url("late-"), &UrlPolicy::default(), &[]).unwrap();
    let (link, _) = store
        .create_or_get(&u, None, Some(&owner), now)
        .await
        .unwrap();
    let c = link.code.as_str();
    for batch in [
        vec![record(c, d, (4, 0), (5, 0), 1)],
        vec![record(c, d, (2, 0), (3, 1), 2)],
        vec![record(c, d, (5, 1), (6, 1), 3)],
    ] {
        aggregate_as_lambda(&store, &changes(&batch), now).await;
    }
    assert_eq!(store.aggregated_visits(&link.code).await.unwrap(), 6);
    let (_, totals) = store
        .owner_top_links(&owner, Period::All, 10)
        .await
        .unwrap();
    assert_eq!(
        totals,
        OwnerTotals {
            visits: 6,
            bot_visits: 1,
            links: 1
        }
    );
}

// --- Through the API, with the stream poller running (make test) ---------------------

#[tokio::test]
async fn a_user_key_sees_its_own_links_and_totals() {
    let api = Api::new();
    let (mine, me) = api.issue_key(Role::User).await;
    let (theirs, _) = api.issue_key(Role::User).await;
    let (admin, _) = api.issue_key(Role::Admin).await;
    let create = |key: &str| {
        let req = api
            .http
            .post(format!("{}/links", api.base))
            .bearer_auth(key)
            .json(&json!({"url": unique_url("own-")}));
        async move {
            let r = Reply::of(req).await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["code"].as_str().unwrap().to_owned()
        }
    };
    let (a, b, other) = (
        create(&mine).await,
        create(&mine).await,
        create(&theirs).await,
    );
    let visit = |code: &str, ua: &'static str| {
        let req = api
            .http
            .get(format!("{}/{code}", api.base))
            .header("user-agent", ua);
        async move { assert_eq!(req.send().await.unwrap().status(), 302) }
    };
    for _ in 0..3 {
        visit(&a, support::BROWSER_UA).await;
    }
    visit(&b, support::BROWSER_UA).await;
    visit(&b, "curl/8.0").await;
    visit(
        &b,
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    )
    .await;
    visit(&other, support::BROWSER_UA).await;

    let expected = json!({"visits": 4, "bot_visits": 2, "links": 2});
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        let r = api
            .send(Method::GET, "/stats?period=all", Some(&mine), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.body["totals"] == expected && r.body["links"].as_array().unwrap().len() == 2 {
            break r.body;
        }
        assert!(Instant::now() < deadline, "not aggregated: {}", r.body);
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(body["owner"], me.id().as_str());
    let ranked: Vec<(&str, u64)> = body["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["code"].as_str().unwrap(), l["visits"].as_u64().unwrap()))
        .collect();
    assert_eq!(ranked, [(a.as_str(), 3), (b.as_str(), 1)]);
    // Today's: the same.
    let r = api.send(Method::GET, "/stats", Some(&mine), None).await;
    assert_eq!(r.body["totals"], expected);
    assert_eq!(r.body["period"], "day");

    // Naming itself is allowed; another owner is not a user's to see.
    let me_q = format!("/stats?period=all&owner={}", me.id());
    let r = api.send(Method::GET, &me_q, Some(&mine), None).await;
    assert_eq!(r.body["totals"], expected);
    let r = api.send(Method::GET, &me_q, Some(&theirs), None).await;
    r.assert_error(403, "forbidden");
    let r = api
        .send(Method::GET, "/stats?owner=not-a-key", Some(&mine), None)
        .await;
    r.assert_error(400, "invalid_owner");
    // An admin sees any owner's, and all links' without one (no totals there).
    let r = api.send(Method::GET, &me_q, Some(&admin), None).await;
    assert_eq!(r.body["totals"], expected);
    assert_eq!(r.body["links"].as_array().unwrap().len(), 2);
    let r = api
        .send(
            Method::GET,
            "/stats?period=all&limit=100",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.body["owner"], Value::Null);
    assert_eq!(r.body["totals"], Value::Null);
}
