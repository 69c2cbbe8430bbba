//! Creating a link never fails because of what others created (issue 26 part 3), on the
//! real DynamoDB Local: aliases may take every code a URL's hash gives it, on purpose; a
//! create of that URL still ends with a code (201 or 200), and the same URL of the same
//! owner keeps its code. A property test over random sequences of creates (with aliases
//! cut from other URLs' codes), and deletes.

mod support;

use std::collections::HashMap;

use chrono::Utc;
use common::domain::code::generated_candidates;
use common::domain::url::UrlPolicy;
use common::domain::{Alias, KeyId, LongUrl};
use common::store::{CreateError, Created, Updated};
use common::Store;

fn url(i: usize) -> LongUrl {
    LongUrl::parse(
        &format!("https://example.com/target/{i}"),
        &UrlPolicy::default(),
        &[],
    )
    .unwrap()
}

async fn store() -> (Store, support::Table) {
    let client = support::dynamodb();
    let table = support::quiet_table(&client).await;
    (Store::new(client, &*table), table)
}

#[tokio::test]
async fn a_url_whose_every_code_is_an_alias_still_gets_one_and_keeps_it() {
    let (store, _table) = store().await;
    let now = Utc::now();
    let victim = url(0);
    let decoy = url(1);
    // Every code of the victim's chain (all 37 prefixes), taken by aliases of another URL.
    let chain: Vec<_> = generated_candidates(&victim).collect();
    assert!(chain.len() >= 30);
    for code in &chain {
        let alias = Alias::parse(code.as_str()).unwrap();
        store
            .create_or_get(&decoy, Some(&alias), None, now)
            .await
            .unwrap();
    }
    let (first, created) = store.create_or_get(&victim, None, None, now).await.unwrap();
    assert_eq!(created, Created::New);
    assert!(
        !chain.contains(&first.code),
        "an overflow code, off the chain"
    );
    let (again, created) = store.create_or_get(&victim, None, None, now).await.unwrap();
    assert_eq!((created, &again.code), (Created::Existing, &first.code));
    // Another owner's link of the URL is another link with a code of its own.
    let owner = KeyId::parse("AAAAAAAAAAAA").unwrap();
    let (theirs, created) = store
        .create_or_get(&victim, None, Some(&owner), now)
        .await
        .unwrap();
    assert_eq!(created, Created::New);
    assert_ne!(theirs.code, first.code);
    // The chain's first code freed: the URL still keeps the code it has.
    let holder = store.find_link(&chain[0]).await.unwrap().unwrap();
    assert!(matches!(
        store.delete_link(&holder, true).await.unwrap(),
        Updated::Applied(_)
    ));
    let (kept, created) = store.create_or_get(&victim, None, None, now).await.unwrap();
    assert_eq!((created, &kept.code), (Created::Existing, &first.code));
    // The overflow link deleted: its URL gets a code again (the chain's first, free now).
    let link = store.find_link(&first.code).await.unwrap().unwrap();
    store.delete_link(&link, true).await.unwrap();
    let (next, created) = store.create_or_get(&victim, None, None, now).await.unwrap();
    assert_eq!(created, Created::New);
    assert_eq!(next.code, chain[0]);
}

#[tokio::test]
async fn no_sequence_of_creates_and_deletes_makes_a_create_fail() {
    let (store, _table) = store().await;
    let seed = std::env::var("PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("seed {seed} (PROPTEST_SEED={seed} repeats this run)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let now = Utc::now();
    let owners = [
        None,
        Some(KeyId::parse("BBBBBBBBBBBB").unwrap()),
        Some(KeyId::parse("CCCCCCCCCCCC").unwrap()),
    ];
    let urls: Vec<LongUrl> = (10..16).map(url).collect();
    // What each URL and owner got: it must get the same again while it lives.
    let mut got: HashMap<(usize, usize), common::domain::Code> = HashMap::new();
    let (mut creates, mut aliases, mut taken, mut deletes) = (0, 0, 0, 0);
    for step in 0..400 {
        let u = rng.usize(..urls.len());
        let o = rng.usize(..owners.len());
        match rng.u8(..10) {
            // An alias cut from some URL's chain (the attack), for any URL.
            0..=4 => {
                let victim = &urls[rng.usize(..urls.len())];
                let chain: Vec<_> = generated_candidates(victim).take(12).collect();
                let code = &chain[rng.usize(..chain.len())];
                let alias = Alias::parse(code.as_str()).unwrap();
                match store
                    .create_or_get(&urls[u], Some(&alias), owners[o].as_ref(), now)
                    .await
                {
                    Ok(_) => aliases += 1,
                    Err(CreateError::AliasTaken(_)) => taken += 1,
                    Err(e) => panic!("step {step} (seed {seed}): an alias create failed: {e}"),
                }
            }
            // A plain create: always a code; the same one while the link lives.
            5..=8 => {
                let (link, created) = store
                    .create_or_get(&urls[u], None, owners[o].as_ref(), now)
                    .await
                    .unwrap_or_else(|e| panic!("step {step} (seed {seed}): a create failed: {e}"));
                assert_eq!(link.url, urls[u]);
                assert_eq!(link.owner, owners[o]);
                if let Some(code) = got.get(&(u, o)) {
                    assert_eq!(
                        (&link.code, created),
                        (code, Created::Existing),
                        "step {step} (seed {seed}): the same URL and owner kept its code"
                    );
                }
                got.insert((u, o), link.code);
                creates += 1;
            }
            // A delete of a link some create got.
            _ => {
                let Some(&key) = got.keys().nth(rng.usize(..got.len().max(1))) else {
                    continue;
                };
                let code = got.remove(&key).unwrap();
                if let Some(link) = store.find_link(&code).await.unwrap() {
                    store.delete_link(&link, true).await.unwrap();
                    deletes += 1;
                }
            }
        }
    }
    eprintln!(
        "{creates} creates, {aliases} aliases made, {taken} refused as taken, {deletes} deletes"
    );
    assert!(
        creates > 100 && aliases > 20 && taken > 20,
        "the run exercised each path"
    );
}
