//! The DynamoDB store against the real DynamoDB Local.

mod support;

/// A visit from a desktop browser, no referrer: counted in `visits`.
fn human() -> common::domain::Visit {
    common::domain::Visit::classify(common::domain::VisitRequest {
        user_agent: Some(support::BROWSER_UA),
        ..Default::default()
    })
}

use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone, Utc};
use common::domain::{generated_candidates, Alias, Code, LinkKind, LongUrl, UrlPolicy};
use common::store::{CreateError, Created, Store, StoreError};

/// A store on a fresh table of the test's own (deleted when the guard goes).
async fn store() -> (Store, aws_sdk_dynamodb::Client, support::Table) {
    let client = support::dynamodb();
    let table = support::fresh_table(&client).await;
    (Store::new(client.clone(), &*table), client, table)
}

fn url(s: &str) -> LongUrl {
    LongUrl::parse(s, &UrlPolicy::default(), &[]).unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[tokio::test]
async fn create_is_idempotent_per_url() {
    let (store, client, _table) = store().await;
    let t0 = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    let u = url("https://example.com/a");
    let (first, created) = store.create_or_get(&u, None, None, t0).await.unwrap();
    assert_eq!(created, Created::New);
    assert_eq!(first.code, generated_candidates(&u).next().unwrap());
    assert_eq!(first.kind, LinkKind::Generated);

    let later = t0 + chrono::Duration::days(3);
    let (again, created) = store.create_or_get(&u, None, None, later).await.unwrap();
    assert_eq!(created, Created::Existing);
    assert_eq!(
        again, first,
        "the stored link comes back, creation time included"
    );
    assert_eq!(support::count_items(&client, store.table()).await, 1);

    let found = store.find_link(&first.code).await.unwrap().unwrap();
    assert_eq!(found, first);
}

#[tokio::test]
async fn alias_rules() {
    let (store, client, _table) = store().await;
    let alias = Alias::parse("promo").unwrap();
    let a = url("https://example.com/a");
    let (link, created) = store
        .create_or_get(&a, Some(&alias), None, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (link.code.as_str(), created, link.kind),
        ("promo", Created::New, LinkKind::Alias)
    );

    let (_, created) = store
        .create_or_get(&a, Some(&alias), None, Utc::now())
        .await
        .unwrap();
    assert_eq!(created, Created::Existing);

    let err = store
        .create_or_get(
            &url("https://example.com/b"),
            Some(&alias),
            None,
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CreateError::AliasTaken(_)), "{err:?}");
    // Case-sensitive: another alias.
    let upper = Alias::parse("PROMO").unwrap();
    let (_, created) = store
        .create_or_get(
            &url("https://example.com/b"),
            Some(&upper),
            None,
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(created, Created::New);
    assert_eq!(support::count_items(&client, store.table()).await, 2);
}

#[tokio::test]
async fn collision_takes_the_next_longer_prefix() {
    let (store, _, _table) = store().await;
    let victim = url("https://example.com/collides");
    let chain: Vec<Code> = generated_candidates(&victim).take(3).collect();
    // Another URL already holds the 7-character code of `victim` (an alias can claim it).
    let squatter = Alias::parse(chain[0].as_str()).unwrap();
    store
        .create_or_get(
            &url("https://other.example/"),
            Some(&squatter),
            None,
            Utc::now(),
        )
        .await
        .unwrap();

    let (link, created) = store
        .create_or_get(&victim, None, None, Utc::now())
        .await
        .unwrap();
    assert_eq!(created, Created::New);
    assert_eq!(link.code, chain[1]);
    assert_eq!(link.code.as_str().len(), 8);
    // Deterministic: asking again walks the same chain and finds it.
    let (again, created) = store
        .create_or_get(&victim, None, None, Utc::now())
        .await
        .unwrap();
    assert_eq!((again.code, created), (chain[1].clone(), Created::Existing));
}

#[tokio::test]
async fn visits_are_counted_per_day_and_returned_by_one_query() {
    let (store, client, _table) = store().await;
    let created = chrono::DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let (link, _) = store
        .create_or_get(&url("https://example.com/v"), None, None, created)
        .await
        .unwrap();
    // A counter from before the link was created (an earlier link of the same code,
    // counted by a warm redirect after a delete) is not this link's.
    store
        .record_visit(&link.code, 0, day("2026-02-28"), &human())
        .await
        .unwrap();
    for _ in 0..3 {
        store
            .record_visit(&link.code, 0, day("2026-03-01"), &human())
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .record_visit(&link.code, 0, day("2026-03-03"), &human())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .record_visit(&link.code, 0, day("2026-03-01"), &human())
            .await
            .unwrap(),
        4
    );

    let history = store.history(&link.code, false).await.unwrap().unwrap();
    assert_eq!(history.link, link);
    assert_eq!(history.total_visits(), 5);
    assert_eq!(
        history.daily.clone().into_iter().collect::<Vec<_>>(),
        [(day("2026-03-01"), 4), (day("2026-03-03"), 1)]
    );
    // One link item and three day counters, one of them ignored.
    assert_eq!(support::count_items(&client, store.table()).await, 4);
}

#[tokio::test]
async fn unknown_codes() {
    let (store, _, _table) = store().await;
    let code = Code::parse("nothing").unwrap();
    assert!(store.find_link(&code).await.unwrap().is_none());
    assert!(store.history(&code, false).await.unwrap().is_none());
}

#[tokio::test]
async fn concurrent_creates_of_one_url_write_one_item() {
    let (store, client, _table) = store().await;
    let u = url("https://example.com/race");
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (store, u) = (store.clone(), u.clone());
            tokio::spawn(async move {
                store
                    .create_or_get(&u, None, None, Utc::now())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let results = futures::future::join_all(tasks).await;
    let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    let new = results.iter().filter(|(_, c)| *c == Created::New).count();
    assert_eq!(new, 1);
    let first = &results[0].0;
    assert!(
        results.iter().all(|(l, _)| l == first),
        "all see the winner's item"
    );
    assert_eq!(support::count_items(&client, store.table()).await, 1);
}

#[tokio::test]
async fn concurrent_visits_are_all_counted() {
    let (store, _, _table) = store().await;
    let code = Code::parse("hot").unwrap();
    let d = day("2026-05-05");
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (store, code) = (store.clone(), code.clone());
            tokio::spawn(async move { store.record_visit(&code, 0, d, &human()).await.unwrap() })
        })
        .collect();
    let mut seen: Vec<u64> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=100).collect::<Vec<u64>>(),
        "each ADD saw a distinct count"
    );
}

#[tokio::test]
async fn unreachable_store_is_unavailable_in_bounded_time() {
    // Nothing listens on port 9 of loopback; same SDK settings as the functions.
    let store = Store::new(support::dynamodb_at("http://127.0.0.1:9"), "links");
    let started = Instant::now();
    let err = store
        .find_link(&Code::parse("abc").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn silent_store_times_out_in_bounded_time() {
    // Accepts connections and never answers: only the SDK's timeouts can end the call.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut sockets = vec![];
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let store = Store::new(support::dynamodb_at(&format!("http://{addr}")), "links");
    let started = Instant::now();
    let err = store
        .record_visit(&Code::parse("abc").unwrap(), 0, day("2026-01-01"), &human())
        .await
        .unwrap_err();
    let took = started.elapsed();
    held.abort();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        took >= common::store::client::ATTEMPT_TIMEOUT,
        "it did wait: {took:?}"
    );
    assert!(
        took < common::store::client::OPERATION_TIMEOUT + Duration::from_secs(2),
        "{took:?}"
    );
}

/// Forwards to DynamoDB Local, holding every chunk of its answers back by `delay`.
async fn slow_proxy(delay: Duration) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = support::dynamodb_endpoint()
        .trim_start_matches("http://")
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let server = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up = tokio::io::copy(&mut client_read, &mut server_write);
                let down = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = server_read.read(&mut buf).await?;
                        if n == 0 {
                            return Ok::<_, std::io::Error>(());
                        }
                        tokio::time::sleep(delay).await;
                        client_write.write_all(&buf[..n]).await?;
                    }
                };
                let _ = tokio::join!(up, down);
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_slow_counter_write_is_counted_once() {
    let (store, _, _table) = store().await;
    let code = Code::parse("slowpoke").unwrap();
    let d = day("2026-06-01");
    // Slower than a read's attempt timeout, faster than the operation's: DynamoDB applies
    // the ADD, and a retry of it would count the visit twice.
    let delay = common::store::client::ATTEMPT_TIMEOUT + Duration::from_millis(500);
    let proxy = slow_proxy(delay).await;
    let slow = Store::new(
        support::dynamodb_at(&format!("http://{proxy}")),
        store.table(),
    );
    let started = Instant::now();
    assert_eq!(slow.record_visit(&code, 0, d, &human()).await.unwrap(), 1);
    assert!(started.elapsed() >= delay);
    // The next ADD on the direct connection tells how many were applied before it.
    assert_eq!(
        store.record_visit(&code, 0, d, &human()).await.unwrap(),
        2,
        "the slow ADD was applied once"
    );
}
