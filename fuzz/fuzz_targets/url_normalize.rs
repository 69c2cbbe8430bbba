//! URL rules on any input: never a panic; whatever is accepted is a clean absolute http(s)
//! URL that fits a header and the length limit, never points at a private, loopback,
//! link-local or reserved address or a local name (judged here with the standard library's
//! own address classes, apart from the code under test), and normalizing it again changes
//! nothing.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use common::domain::{LongUrl, UrlPolicy};
use libfuzzer_sys::fuzz_target;

fn private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
}

/// Whether `host` (as `LongUrl::host` gives it) is something no public link may point at.
fn is_private(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => private_v4(ip),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || ip.segments()[0] & 0xfe00 == 0xfc00
                || ip.segments()[0] & 0xffc0 == 0xfe80
                || ip.to_ipv4_mapped().is_some_and(private_v4)
        }
        Err(_) => {
            let name = host.trim_end_matches('.');
            !name.contains('.')
                || [".localhost", ".local", ".internal", ".home.arpa"]
                    .iter()
                    .any(|s| name.ends_with(s))
        }
    }
}

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
    assert!(!is_private(url.host()), "private target accepted: {input:?} -> {s}");
    let again = LongUrl::parse(s, &policy, &["sho.rt"]);
    assert_eq!(again.as_ref(), Ok(&url), "not idempotent: {input:?} -> {s:?}");
});
