//! Alias rules on any input: never a panic; an accepted alias is 3 to 64 characters of
//! [A-Za-z0-9_-], not reserved, and usable as a path code.
#![no_main]

use common::domain::code::{is_reserved, Alias, Code};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let code = Code::parse(input);
    match Alias::parse(input) {
        Ok(alias) => {
            let s = alias.code().as_str();
            assert_eq!(s, input);
            assert!((3..=64).contains(&s.len()));
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert!(!is_reserved(s));
            assert_eq!(code.as_ref(), Some(alias.code()));
        }
        Err(_) => {
            // Refused as an alias: then it is malformed or reserved, or not 3-64 long.
            let well_formed = code.is_some() && (3..=64).contains(&input.len());
            assert!(!well_formed || is_reserved(input), "{input:?}");
        }
    }
});
