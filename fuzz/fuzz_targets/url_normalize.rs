//! URL rules on any input: never a panic; whatever is accepted is a clean absolute http(s)
//! URL that fits a header and the length limit, and normalizing it again changes nothing.
#![no_main]

use common::domain::{LongUrl, UrlPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let policy = UrlPolicy::new(2048, &["blocked.example"]).unwrap();
    let Ok(url) = LongUrl::parse(input, &policy, &["sho.rt"]) else {
        return;
    };
    let s = url.as_str();
    assert!(s.starts_with("http://") || s.starts_with("https://"), "{s}");
    assert!(s.len() <= 2048, "{s}");
    assert!(s.bytes().all(|b| b.is_ascii_graphic()), "{s:?}");
    assert!(lambda_http::http::HeaderValue::from_str(s).is_ok(), "{s:?}");
    let rest = s.split_once("://").unwrap().1;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    assert!(!authority.contains('@'), "user-info in {s}");
    assert_ne!(url.host(), "sho.rt");
    let again = LongUrl::parse(s, &policy, &["sho.rt"]);
    assert_eq!(again.as_ref(), Ok(&url), "not idempotent: {input:?} -> {s:?}");
});
