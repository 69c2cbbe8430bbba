//! The year of history the redirect and stats benchmarks read.

use crate::events::{CHROME_WIN, VISITORS};
use crate::{BoxError, BENCH_CODE, BENCH_TARGET, FRESH_CONNECTIONS, HISTORY_DAYS};
use chrono::Utc;
use common::domain::{Alias, LongUrl, UrlPolicy, Visit, VisitRequest};
use common::Store;

/// The link the redirect and stats benchmarks read: created a year ago, with a counter for
/// every day since (the "year of history" that stats must still read in one request).
/// `warm_rounds` rounds of warm-up (`WARM_ROUNDS` for a measured run).
pub(crate) async fn seed(store: &Store, warm_rounds: usize) -> Result<(), BoxError> {
    let url = LongUrl::parse(BENCH_TARGET, &UrlPolicy::default(), &[])?;
    let alias = Alias::parse(BENCH_CODE)?;
    let created = Utc::now() - chrono::Duration::days(HISTORY_DAYS as i64);
    let (link, _) = store
        .create_or_get(&url, Some(&alias), None, created)
        .await?;
    let today = Utc::now().date_naive();
    for back in 0..=HISTORY_DAYS {
        let day = today - chrono::Days::new(back);
        store
            .record_visit(&link.code, 0, day, &seed_visit(back))
            .await?;
    }
    // DynamoDB Local runs on a JVM that compiles a path after thousands of calls: warm the
    // calls a first redirect makes (GetItem, UpdateItem ADD) and the stats Query, so that
    // "init" and "first invocation" measure the function's cold path, not the emulator's
    // (DynamoDB is no young JVM). The counter writes go to another link, so the benchmarked
    // link's history stays a year long.
    let warm = Alias::parse("bench-warm-up")?;
    let (other, _) = store
        .create_or_get(&url, Some(&warm), None, created)
        .await?;
    for _ in 0..warm_rounds {
        store.find_link(&link.code).await?;
        store
            .record_visit(&other.code, 0, today, &seed_visit(0))
            .await?;
    }
    for _ in 0..(warm_rounds / 33).max(1) {
        let year = (today - chrono::Days::new(365), today);
        store.stats_for(&link.code, year, 0, today).await?;
    }
    // A new client, so a new connection, for each round.
    for _ in 0..FRESH_CONNECTIONS {
        let fresh = Store::new(common::store::dynamodb_client()?, store.table());
        fresh.find_link(&link.code).await?;
        fresh
            .record_visit(&other.code, 0, today, &seed_visit(0))
            .await?;
    }
    Ok(())
}

/// A human visit of the seeded history, one of the benchmark's visitors.
pub(crate) fn seed_visit(i: u64) -> Visit {
    let (ua, referer, source, country) = VISITORS[i as usize % VISITORS.len()];
    match Visit::classify(VisitRequest {
        user_agent: Some(ua),
        referer,
        utm_source: source,
        country,
        ..Default::default()
    }) {
        Visit::Bot => Visit::classify(VisitRequest {
            user_agent: Some(CHROME_WIN),
            ..Default::default()
        }),
        human => human,
    }
}
