//! Short codes: the generated ones (a prefix of the URL's digest) and custom aliases.

use std::fmt;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};

use super::url::LongUrl;

/// Length of a generated code in the common case.
pub const GENERATED_LEN: usize = 7;
/// Length of a random code (`Code::random`).
pub const RANDOM_LEN: usize = 10;
/// Longest code of any kind (an alias at most; a digest prefix at most 43).
pub const MAX_LEN: usize = 64;
pub const ALIAS_MIN_LEN: usize = 3;
pub const ALIAS_MAX_LEN: usize = MAX_LEN;

/// Route names and well-known paths: refused as aliases, skipped as generated codes,
/// compared without regard to case so that `Links` cannot pose as `links`.
pub const RESERVED: &[&str] = &[
    ".well-known",
    "admin",
    "api",
    "apple-app-site-association",
    "assets",
    "bulk",
    "docs",
    "export",
    "favicon.ico",
    "health",
    "healthz",
    "import",
    "insights",
    "links",
    "login",
    "logout",
    "metrics",
    "openapi",
    "openapi.json",
    "qr",
    "robots.txt",
    "sitemap.xml",
    "static",
    "stats",
    "status",
];

pub fn is_reserved(s: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s))
}

fn is_code_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The key of a link as it appears in a path: 1 to 64 characters of `[A-Za-z0-9_-]`.
/// Anything else cannot name a link, so lookups of it answer "not found" without a read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(String);

impl Code {
    pub fn parse(s: &str) -> Option<Code> {
        let ok = !s.is_empty() && s.len() <= MAX_LEN && s.bytes().all(is_code_byte);
        ok.then(|| Code(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A code of `RANDOM_LEN` random characters (60 bits), for links whose code must not
    /// follow from their URL (password links): nobody can reach one by knowing the URL.
    pub fn random() -> Result<Code, getrandom::Error> {
        loop {
            let mut bytes = [0u8; 8];
            getrandom::getrandom(&mut bytes)?;
            let mut code = URL_SAFE_NO_PAD.encode(bytes);
            code.truncate(RANDOM_LEN);
            if !is_reserved(&code) {
                return Ok(Code(code));
            }
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    #[error("alias must be {ALIAS_MIN_LEN} to {ALIAS_MAX_LEN} characters long, got {0}")]
    Length(usize),
    #[error("alias may contain only letters, digits, '-' and '_'")]
    Characters,
    #[error("alias '{0}' is reserved")]
    Reserved(String),
}

/// A custom code chosen by the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias(Code);

impl Alias {
    pub fn parse(s: &str) -> Result<Alias, AliasError> {
        let len = s.chars().count();
        if !(ALIAS_MIN_LEN..=ALIAS_MAX_LEN).contains(&len) {
            return Err(AliasError::Length(len));
        }
        if !s.bytes().all(is_code_byte) {
            return Err(AliasError::Characters);
        }
        if is_reserved(s) {
            return Err(AliasError::Reserved(s.to_owned()));
        }
        Ok(Alias(Code(s.to_owned())))
    }

    pub fn code(&self) -> &Code {
        &self.0
    }
}

/// The codes a URL may get, in order of preference: the 7-character prefix of
/// base64url(SHA-256(normalized URL)), then 8, 9, ... up to the whole digest, when a
/// shorter one belongs to another URL. Reserved words are skipped.
pub fn generated_candidates(url: &LongUrl) -> impl Iterator<Item = Code> {
    let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(url.as_str().as_bytes()));
    (GENERATED_LEN..=digest.len())
        .map(move |n| digest[..n].to_owned())
        .filter(|c| !is_reserved(c))
        .map(Code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::url::UrlPolicy;

    #[test]
    fn random_codes_are_codes_and_differ() {
        let a = Code::random().unwrap();
        let b = Code::random().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), RANDOM_LEN);
        assert_eq!(Code::parse(a.as_str()), Some(a));
    }

    fn url(s: &str) -> LongUrl {
        LongUrl::parse(s, &UrlPolicy::default(), &[]).unwrap()
    }

    #[test]
    fn generated_code_is_seven_chars_of_the_digest() {
        let first = generated_candidates(&url("https://example.com/"))
            .next()
            .unwrap();
        // base64url(sha256("https://example.com/")) starts with "D_2ht4y"
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(b"https://example.com/"));
        assert_eq!(first.as_str(), &expected[..7]);
        assert_eq!(first.as_str().len(), GENERATED_LEN);
    }

    #[test]
    fn same_url_same_code_after_normalization() {
        let a = generated_candidates(&url("HTTPS://Example.COM:443")).next();
        let b = generated_candidates(&url("https://example.com/")).next();
        assert_eq!(a, b);
        let c = generated_candidates(&url("https://example.com/other")).next();
        assert_ne!(a, c);
    }

    #[test]
    fn collision_chain_is_longer_prefixes_of_the_same_digest() {
        let all: Vec<Code> = generated_candidates(&url("https://example.com/a")).collect();
        assert_eq!(all.len(), 43 - GENERATED_LEN + 1);
        for pair in all.windows(2) {
            assert_eq!(pair[1].as_str().len(), pair[0].as_str().len() + 1);
            assert!(pair[1].as_str().starts_with(pair[0].as_str()));
        }
        assert!(all.iter().all(|c| Code::parse(c.as_str()).is_some()));
    }

    #[test]
    fn alias_lengths() {
        assert_eq!(Alias::parse("ab"), Err(AliasError::Length(2)));
        assert!(Alias::parse("abc").is_ok());
        assert!(Alias::parse(&"a".repeat(64)).is_ok());
        assert_eq!(Alias::parse(&"a".repeat(65)), Err(AliasError::Length(65)));
        assert_eq!(Alias::parse(""), Err(AliasError::Length(0)));
    }

    #[test]
    fn alias_characters() {
        assert!(Alias::parse("My_Link-2").is_ok());
        for bad in [
            "a b", "a/b", "a.b", "a%2F", "ünï", "a\u{0}b", "..x", "a+b", "a?b", "a#b",
        ] {
            assert_eq!(Alias::parse(bad), Err(AliasError::Characters), "{bad:?}");
        }
    }

    #[test]
    fn alias_is_case_sensitive_but_reserved_words_are_not() {
        assert_ne!(
            Alias::parse("Promo").unwrap(),
            Alias::parse("promo").unwrap()
        );
        for word in ["links", "LINKS", "Stats", "health", "api", "docs"] {
            assert!(
                matches!(Alias::parse(word), Err(AliasError::Reserved(_))),
                "{word}"
            );
        }
        // Reserved words with a dot fail the character rule first; still refused.
        assert!(Alias::parse("robots.txt").is_err());
    }

    #[test]
    fn code_parse_bounds() {
        assert!(Code::parse("").is_none());
        assert!(Code::parse(&"x".repeat(64)).is_some());
        assert!(Code::parse(&"x".repeat(65)).is_none());
        assert!(Code::parse("..").is_none());
        assert!(Code::parse("a%2Fb").is_none());
        assert!(Code::parse("abc_-9").is_some());
    }
}
