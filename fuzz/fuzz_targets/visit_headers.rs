//! The visit classification on any User-Agent, Referer, utm_source, country and purpose:
//! never a panic, and every key it would write is short and of a safe alphabet, so
//! nothing a visitor sends can break or bloat the counter write.
#![no_main]

use common::domain::visit::{Dimension, Visit, VisitRequest, OTHER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // Five fields separated by 0xFF (never part of UTF-8), each taken lossily as text.
    let fields: Vec<String> = input
        .split(|b| *b == 0xFF)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let field = |i: usize| fields.get(i).map(String::as_str);
    let visit = Visit::classify(VisitRequest {
        user_agent: field(0),
        referer: field(1),
        utm_source: field(2),
        country: field(3),
        purpose: field(4),
    });
    if let Visit::Human(b) = visit {
        for (dim, key) in b.keys() {
            assert!(!key.is_empty() && key.len() <= dim.max_len(), "{dim:?} {key:?}");
            assert_ne!(key, OTHER, "a visitor cannot write into `other`");
            let ok = match dim {
                Dimension::Country => key.bytes().all(|c| c.is_ascii_uppercase()),
                _ => key
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c)),
            };
            assert!(ok, "{dim:?} {key:?}");
        }
    }
});
