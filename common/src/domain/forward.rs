//! Query forwarding: a link with `forward_query` passes the visitor's query string on to its
//! target. The visitor's pairs win: a target pair whose key the visitor also sent is
//! dropped, the visitor's pairs follow the target's in the order sent, byte for byte
//! (percent-encodings stay as they are, so an encoded CR/LF stays encoded), and the
//! target's `#fragment` comes last.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Longest redirect target a forwarded query may make (browsers and proxies refuse longer
/// `Location`s or request lines well before any limit of ours).
pub const MAX_FORWARDED_URL: usize = 8192;

/// The merged URL would be longer than `MAX_FORWARDED_URL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the target with this query string would be longer than {MAX_FORWARDED_URL} bytes")]
pub struct QueryTooLong;

/// `target` (a normalized URL) with `visitor` (the request's raw query string, without the
/// `?`) merged in. No query, or an empty one (a bare `?`), leaves the target as it is.
pub fn forward_query<'a>(
    target: &'a str,
    visitor: Option<&str>,
) -> Result<Cow<'a, str>, QueryTooLong> {
    let visitor: Vec<Cow<str>> = visitor
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(header_safe)
        .collect();
    if visitor.is_empty() {
        return Ok(Cow::Borrowed(target));
    }
    let (before_fragment, fragment) = match target.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (target, None),
    };
    let (base, target_query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, q),
        None => (before_fragment, ""),
    };
    let sent: Vec<Cow<str>> = visitor.iter().map(|p| key_of(p)).collect();
    let kept = target_query
        .split('&')
        .filter(|pair| !pair.is_empty() && !sent.contains(&key_of(pair)));

    let mut url =
        String::with_capacity(target.len() + visitor.iter().map(|p| p.len() + 1).sum::<usize>());
    url.push_str(base);
    let mut sep = '?';
    for pair in kept.chain(visitor.iter().map(|p| p.as_ref())) {
        url.push(sep);
        url.push_str(pair);
        sep = '&';
    }
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    if url.len() > MAX_FORWARDED_URL {
        return Err(QueryTooLong);
    }
    Ok(Cow::Owned(url))
}

/// A pair's key as the target's server reads it: up to `=`, `+` as a space,
/// percent-encodings decoded (`a%62=1` and `ab=2` name the same key).
fn key_of(pair: &str) -> Cow<'_, str> {
    let key = pair.split_once('=').map_or(pair, |(k, _)| k);
    if !key.contains(['%', '+']) {
        return Cow::Borrowed(key);
    }
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(hex),
                bytes.get(i + 2).and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

/// A visitor's pair fit for a `Location` header: visible ASCII stays byte for byte, any
/// other byte (a raw space, a control character, UTF-8 sent unencoded) is percent-encoded,
/// as a browser would have sent it.
fn header_safe(pair: &str) -> Cow<'_, str> {
    if pair.bytes().all(|b| b.is_ascii_graphic() && b != b'#') {
        return Cow::Borrowed(pair);
    }
    let mut out = String::with_capacity(pair.len() * 3);
    for b in pair.bytes() {
        if b.is_ascii_graphic() && b != b'#' {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(target: &str, visitor: Option<&str>) -> String {
        forward_query(target, visitor).unwrap().into_owned()
    }

    #[test]
    fn no_query_or_a_bare_question_mark_leaves_the_target() {
        let t = "https://example.com/p?a=1#top";
        assert!(matches!(forward_query(t, None), Ok(Cow::Borrowed(_))));
        assert_eq!(merged(t, Some("")), t);
        assert_eq!(merged(t, Some("&&")), t);
        assert_eq!(merged("https://example.com/", None), "https://example.com/");
    }

    #[test]
    fn visitor_pairs_are_appended_after_the_targets() {
        assert_eq!(
            merged("https://example.com/p", Some("utm_source=x&b=2")),
            "https://example.com/p?utm_source=x&b=2"
        );
        assert_eq!(
            merged("https://example.com/p?a=1", Some("b=2")),
            "https://example.com/p?a=1&b=2"
        );
        // A target that ends with a bare `?` or `&` gains no empty pair.
        assert_eq!(
            merged("https://example.com/p?", Some("b=2")),
            "https://example.com/p?b=2"
        );
        assert_eq!(
            merged("https://example.com/p?a=1&", Some("b=2")),
            "https://example.com/p?a=1&b=2"
        );
    }

    #[test]
    fn the_visitors_value_wins_for_the_same_key() {
        assert_eq!(
            merged("https://example.com/?a=1&b=2&c=3", Some("b=9")),
            "https://example.com/?a=1&c=3&b=9"
        );
        // Every target pair of a repeated key goes; the visitor's repeats are all kept.
        assert_eq!(
            merged("https://example.com/?tag=a&tag=b&x=1", Some("tag=c&tag=d")),
            "https://example.com/?x=1&tag=c&tag=d"
        );
        // Keys compare as the server decodes them.
        assert_eq!(
            merged("https://example.com/?a%20b=1&c=2", Some("a+b=9")),
            "https://example.com/?c=2&a+b=9"
        );
        assert_eq!(
            merged("https://example.com/?flag&x=1", Some("flag=on")),
            "https://example.com/?x=1&flag=on"
        );
    }

    #[test]
    fn bytes_are_kept_as_sent() {
        assert_eq!(
            merged("https://example.com/", Some("q=a+b&r=%2B&s=caf%C3%A9")),
            "https://example.com/?q=a+b&r=%2B&s=caf%C3%A9"
        );
        // An encoded CR/LF stays encoded: nothing is decoded on the way out.
        assert_eq!(
            merged("https://example.com/", Some("x=%0D%0ASet-Cookie:%20a=b")),
            "https://example.com/?x=%0D%0ASet-Cookie:%20a=b"
        );
        // Raw non-ASCII and control bytes are percent-encoded, as a browser sends them.
        assert_eq!(
            merged("https://example.com/", Some("q=café&r=a b\r\n")),
            "https://example.com/?q=caf%C3%A9&r=a%20b%0D%0A"
        );
        assert!(lambda_http::http::HeaderValue::from_str(&merged(
            "https://example.com/",
            Some("x=\u{7f}\u{0}ü")
        ))
        .is_ok());
    }

    #[test]
    fn the_fragment_comes_last() {
        assert_eq!(
            merged("https://example.com/p?a=1#section-2", Some("b=2")),
            "https://example.com/p?a=1&b=2#section-2"
        );
        assert_eq!(
            merged("https://example.com/p#frag?not=query", Some("b=2")),
            "https://example.com/p?b=2#frag?not=query"
        );
    }

    #[test]
    fn too_long_is_refused() {
        let long = format!("a={}", "x".repeat(MAX_FORWARDED_URL));
        assert_eq!(
            forward_query("https://example.com/", Some(&long)),
            Err(QueryTooLong)
        );
        let fits = format!(
            "a={}",
            "x".repeat(MAX_FORWARDED_URL - "https://example.com/?a=".len())
        );
        assert_eq!(
            merged("https://example.com/", Some(&fits)).len(),
            MAX_FORWARDED_URL
        );
    }
}
