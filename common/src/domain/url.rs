//! Long URLs: the rules a link target must meet, and its normalized form.
//!
//! Normalization touches only the scheme and the authority (lowercase, IDN to punycode,
//! default port dropped, empty path made `/`); path, query and fragment are kept byte for
//! byte, so a URL that worked before shortening works after. The one change there is that
//! non-ASCII characters are percent-encoded as UTF-8, as a browser does, so that the
//! URL fits in a `Location` header.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use url::Host;

pub const DEFAULT_MAX_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("url is longer than {max} characters")]
    TooLong { max: usize },
    #[error("url must not contain whitespace or control characters")]
    Characters,
    #[error("url must be an absolute http:// or https:// URL")]
    NotAbsolute,
    #[error("url scheme '{0}' is not allowed: only http and https")]
    Scheme(String),
    #[error("url must not contain a user name or password")]
    UserInfo,
    #[error("url has no valid host")]
    Host,
    #[error("url has an invalid port")]
    Port,
    #[error("links to host '{0}' are not allowed")]
    Blocked(String),
    #[error("links to this service itself are not allowed")]
    OwnHost,
    #[error("links to private, local or reserved addresses ('{0}') are not allowed")]
    PrivateTarget(String),
}

/// The rules from configuration that a URL must meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPolicy {
    pub max_len: usize,
    /// Normalized host names; a host matches when it is one of them or a subdomain of one.
    pub blocked_hosts: Vec<String>,
    /// Host names this service answers on besides the request's own (`PUBLIC_BASE_URL`'s,
    /// `ALIAS_HOSTS`): a link to one would loop.
    pub own_hosts: Vec<String>,
    /// Accept private, loopback, link-local and reserved targets (`ALLOW_PRIVATE_TARGETS`,
    /// for an install that only serves an intranet).
    pub allow_private: bool,
}

impl Default for UrlPolicy {
    fn default() -> Self {
        UrlPolicy {
            max_len: DEFAULT_MAX_LEN,
            blocked_hosts: Vec::new(),
            own_hosts: Vec::new(),
            allow_private: false,
        }
    }
}

impl UrlPolicy {
    /// Builds a policy, normalizing the blocked host names as URL hosts are normalized.
    pub fn new(max_len: usize, blocked: &[&str]) -> Result<UrlPolicy, String> {
        let blocked_hosts = blocked
            .iter()
            .map(|h| normalize_host(h).map_err(|_| format!("invalid blocked host '{h}'")))
            .collect::<Result<_, _>>()?;
        Ok(UrlPolicy {
            max_len,
            blocked_hosts,
            ..UrlPolicy::default()
        })
    }

    /// This policy with `hosts` as the service's own, normalized.
    pub fn with_own_hosts(mut self, hosts: &[&str]) -> Result<UrlPolicy, String> {
        self.own_hosts = hosts
            .iter()
            .map(|h| normalize_host(h).map_err(|_| format!("invalid host name '{h}'")))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// This policy accepting private targets or not.
    pub fn allowing_private(mut self, allow: bool) -> UrlPolicy {
        self.allow_private = allow;
        self
    }

    fn is_blocked(&self, host: &str) -> bool {
        self.blocked_hosts.iter().any(|b| host_within(host, b))
    }
}

/// `host` is `domain` or a subdomain of it (trailing root dots ignored).
fn host_within(host: &str, domain: &str) -> bool {
    let host = host.trim_end_matches('.');
    let domain = domain.trim_end_matches('.');
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// Lowercases, percent-decodes and IDNA-maps a host to its ASCII form; IPv4 in any of its
/// spellings becomes dotted decimal, IPv6 its canonical bracketed form.
pub fn normalize_host(host: &str) -> Result<String, UrlError> {
    parse_host(host).map(|h| h.to_string())
}

/// `normalize_host`, keeping what kind of host it is. A name must be LDH labels (letters,
/// digits, inner hyphens; 1 to 63 each, 253 in all; IDN through punycode).
fn parse_host(host: &str) -> Result<Host<String>, UrlError> {
    if host.is_empty() {
        return Err(UrlError::Host);
    }
    let parsed = Host::parse(host).map_err(|_| UrlError::Host)?;
    if let Host::Domain(name) = &parsed {
        let name = name.strip_suffix('.').unwrap_or(name);
        let ldh = |label: &str| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(ldh) {
            return Err(UrlError::Host);
        }
    }
    Ok(parsed)
}

/// Names that only resolve inside a network: single labels (`printer`, `localhost`,
/// `ip6-localhost`, `instance-data`), the special-use suffixes, and `localdomain` (what
/// `/etc/hosts` calls `localhost.localdomain`). The cloud metadata names are under them
/// (`metadata.google.internal`, `instance-data.ec2.internal`).
const PRIVATE_SUFFIXES: [&str; 5] = ["localhost", "localdomain", "local", "internal", "home.arpa"];

/// Whether `host` (as `parse_host` returned it) names something private, loopback,
/// link-local or reserved rather than a public site. Judged on the literal only: the
/// service never resolves or fetches a target, and DNS may change after the check.
pub fn is_private_host(host: &Host<String>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.strip_suffix('.').unwrap_or(name);
            !name.contains('.') || PRIVATE_SUFFIXES.iter().any(|s| host_within(name, s))
        }
        Host::Ipv4(ip) => is_private_v4(*ip),
        Host::Ipv6(ip) => is_private_v6(*ip),
    }
}

/// 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.168/16,
/// 198.18/15, 224/4 and 240/4 (255.255.255.255 included).
fn is_private_v4(ip: Ipv4Addr) -> bool {
    const RANGES: [([u8; 4], u32); 11] = [
        ([0, 0, 0, 0], 8),
        ([10, 0, 0, 0], 8),
        ([100, 64, 0, 0], 10),
        ([127, 0, 0, 0], 8),
        ([169, 254, 0, 0], 16),
        ([172, 16, 0, 0], 12),
        ([192, 0, 0, 0], 24),
        ([192, 168, 0, 0], 16),
        ([198, 18, 0, 0], 15),
        ([224, 0, 0, 0], 4),
        ([240, 0, 0, 0], 4),
    ];
    let ip = u32::from(ip);
    RANGES.iter().any(|(net, bits)| {
        let mask = u32::MAX << (32 - bits);
        ip & mask == u32::from(Ipv4Addr::from(*net))
    })
}

/// `::`, `::1`, fc00::/7, fec0::/10, fe80::/10 and ff00::/8; an address that carries an
/// IPv4 one (`::ffff:0:0/96` mapped, `::/96` compatible, `64:ff9b::/96` and
/// `64:ff9b:1::/48` NAT64, `2002::/16` 6to4) by the IPv4 inside.
fn is_private_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    let low_v4 = Ipv4Addr::new(
        (seg[6] >> 8) as u8,
        seg[6] as u8,
        (seg[7] >> 8) as u8,
        seg[7] as u8,
    );
    let first = seg[0];
    if seg[..5] == [0; 5] && (seg[5] == 0 || seg[5] == 0xffff) {
        // `::` and `::1` fall in 0/8 here.
        return is_private_v4(low_v4);
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || seg[..3] == [0x64, 0xff9b, 1] {
        return is_private_v4(low_v4);
    }
    if first == 0x2002 {
        let v4 = Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        );
        return is_private_v4(v4);
    }
    (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        || (first & 0xff00) == 0xff00
}

/// An http(s) URL that passed every rule, in normalized form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LongUrl(String);

impl LongUrl {
    /// Parses and normalizes `raw`. `request_hosts` are the host names the request came
    /// to (normalized), refused as targets with the policy's own hosts: a link to the
    /// shortener itself would loop.
    pub fn parse(raw: &str, policy: &UrlPolicy, request_hosts: &[&str]) -> Result<Self, UrlError> {
        let too_long = UrlError::TooLong {
            max: policy.max_len,
        };
        if raw.len() > policy.max_len.saturating_mul(4) || raw.chars().count() > policy.max_len {
            return Err(too_long);
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::Characters);
        }
        // The scheme is what precedes the first ':', as in RFC 3986; "blob:https://x" is a
        // blob URL, not an https one.
        let (scheme, rest) = match raw.split_once(':') {
            Some((s, rest)) if is_scheme(s) => (s.to_ascii_lowercase(), rest),
            _ => return Err(UrlError::NotAbsolute),
        };
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(UrlError::Scheme(scheme)),
        };
        let rest = rest.strip_prefix("//").ok_or(UrlError::NotAbsolute)?;

        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = split_host_port(authority)?;
        let parsed = parse_host(host)?;
        let host = parsed.to_string();
        let port = match port {
            None | Some("") => None,
            Some(p) => {
                if p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(UrlError::Port);
                }
                match p.parse::<u16>() {
                    Ok(0) | Err(_) => return Err(UrlError::Port),
                    Ok(n) if n == default_port => None,
                    Ok(n) => Some(n),
                }
            }
        };

        if policy.is_blocked(&host) {
            return Err(UrlError::Blocked(host));
        }
        let same = |own: &str| host.trim_end_matches('.') == own.trim_end_matches('.');
        if request_hosts.iter().any(|h| same(h)) || policy.own_hosts.iter().any(|h| same(h)) {
            return Err(UrlError::OwnHost);
        }
        if !policy.allow_private && is_private_host(&parsed) {
            return Err(UrlError::PrivateTarget(host));
        }

        let mut url = String::with_capacity(raw.len() + 1);
        url.push_str(&scheme);
        url.push_str("://");
        url.push_str(&host);
        if let Some(p) = port {
            let _ = write!(url, ":{p}");
        }
        if !tail.starts_with('/') {
            url.push('/');
        }
        for c in tail.chars() {
            if c.is_ascii() {
                url.push(c);
            } else {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(url, "%{b:02X}");
                }
            }
        }
        if url.len() > policy.max_len {
            return Err(too_long);
        }
        Ok(LongUrl(url))
    }

    /// Rebuilds a URL read back from the store, which was normalized when it was written.
    pub fn from_stored(url: String) -> LongUrl {
        LongUrl(url)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host, without port.
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, r)| r);
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        split_host_port(authority).map_or(authority, |(h, _)| h)
    }
}

fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Splits `host[:port]` and `[v6][:port]`.
pub fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UrlError> {
    if authority.starts_with('[') {
        let close = authority.find(']').ok_or(UrlError::Host)?;
        let (host, after) = authority.split_at(close + 1);
        return match after {
            "" => Ok((host, None)),
            _ => after
                .strip_prefix(':')
                .map(|p| (host, Some(p)))
                .ok_or(UrlError::Host),
        };
    }
    Ok(match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Result<String, UrlError> {
        LongUrl::parse(s, &UrlPolicy::default().allowing_private(true), &[])
            .map(|u| u.as_str().to_owned())
    }

    #[test]
    fn lowercases_scheme_and_host_only() {
        assert_eq!(
            norm("HTTPS://WWW.Example.COM/Path/A?Q=B#Frag").unwrap(),
            "https://www.example.com/Path/A?Q=B#Frag"
        );
    }

    #[test]
    fn empty_path_becomes_slash() {
        assert_eq!(norm("https://example.com").unwrap(), "https://example.com/");
        assert_eq!(
            norm("https://example.com?a=1").unwrap(),
            "https://example.com/?a=1"
        );
        assert_eq!(
            norm("https://example.com#top").unwrap(),
            "https://example.com/#top"
        );
    }

    #[test]
    fn default_port_dropped_other_ports_kept() {
        assert_eq!(
            norm("http://example.com:80/x").unwrap(),
            "http://example.com/x"
        );
        assert_eq!(
            norm("https://example.com:443/x").unwrap(),
            "https://example.com/x"
        );
        assert_eq!(
            norm("http://example.com:443/x").unwrap(),
            "http://example.com:443/x"
        );
        assert_eq!(
            norm("https://example.com:8443").unwrap(),
            "https://example.com:8443/"
        );
        assert_eq!(
            norm("https://example.com:/").unwrap(),
            "https://example.com/"
        );
        assert_eq!(norm("https://example.com:0/"), Err(UrlError::Port));
        assert_eq!(norm("https://example.com:65536/"), Err(UrlError::Port));
        assert_eq!(norm("https://example.com:8a/"), Err(UrlError::Port));
    }

    #[test]
    fn idn_host_becomes_punycode() {
        assert_eq!(
            norm("https://Bücher.example/ü").unwrap(),
            "https://xn--bcher-kva.example/%C3%BC"
        );
        assert_eq!(
            norm("https://xn--bcher-kva.example/").unwrap(),
            "https://xn--bcher-kva.example/"
        );
    }

    #[test]
    fn path_query_fragment_byte_exact() {
        for tail in [
            "/a/../b/./c",
            "/%2e%2E/x%2Fy",
            "/A?b=%20&c=d;e",
            "/x#Frag/../",
            "//double//slash",
            "/~user/?q=a+b",
        ] {
            let raw = format!("https://example.com{tail}");
            assert_eq!(norm(&raw).unwrap(), raw);
        }
    }

    #[test]
    fn ip_literals() {
        assert_eq!(
            norm("http://192.168.0.1:8080/").unwrap(),
            "http://192.168.0.1:8080/"
        );
        assert_eq!(norm("http://[::1]/").unwrap(), "http://[::1]/");
        assert_eq!(
            norm("http://[2001:DB8::1]:8080/a").unwrap(),
            "http://[2001:db8::1]:8080/a"
        );
        assert_eq!(norm("http://0x7f.1/").unwrap(), "http://127.0.0.1/");
        assert_eq!(norm("http://[::1/"), Err(UrlError::Host));
        assert_eq!(norm("http://[::1]x/"), Err(UrlError::Host));
    }

    #[test]
    fn refuses_other_schemes() {
        for (raw, scheme) in [
            ("javascript:alert(1)", "javascript"),
            ("JavaScript:alert(1)", "javascript"),
            ("data:text/html,hi", "data"),
            ("file:///etc/passwd", "file"),
            ("ftp://example.com/", "ftp"),
            ("mailto:a@example.com", "mailto"),
            ("ws://example.com/", "ws"),
            ("blob:https://example.com/x", "blob"),
            ("view-source:https://example.com/", "view-source"),
        ] {
            assert_eq!(norm(raw), Err(UrlError::Scheme(scheme.into())), "{raw}");
        }
    }

    #[test]
    fn refuses_relative_and_hostless() {
        for raw in [
            "example.com",
            "/path",
            "//example.com/x",
            "http:example.com",
            "",
            "http://",
            "http:///x",
            "https://:80/",
        ] {
            assert!(
                matches!(norm(raw), Err(UrlError::NotAbsolute | UrlError::Host)),
                "{raw}: {:?}",
                norm(raw)
            );
        }
    }

    #[test]
    fn refuses_userinfo() {
        for raw in [
            "https://user:pass@example.com/",
            "https://user@example.com",
            "http://evil.com\\@good.com/",
            "https://a@b@c/",
        ] {
            assert_eq!(norm(raw), Err(UrlError::UserInfo), "{raw}");
        }
    }

    #[test]
    fn refuses_whitespace_and_controls() {
        for raw in [
            " https://example.com/",
            "https://example.com/ ",
            "https://exa mple.com/",
            "https://example.com/\t",
            "https://example.com/\u{0}",
            "https://example.com/\u{7f}",
            "https://example.com/\u{a0}",
            "https://example.com/\u{2028}",
        ] {
            assert_eq!(norm(raw), Err(UrlError::Characters), "{raw:?}");
        }
    }

    #[test]
    fn refuses_bad_hosts() {
        for raw in [
            "https://exa<mple.com/",
            "https://exa%00mple.com/",
            "https://ex ample/",
            "https://xn--/",
            "https://a..b\\c/",
        ] {
            assert!(norm(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn length_limit() {
        let base = "https://example.com/";
        let ok = format!("{base}{}", "a".repeat(2048 - base.len()));
        assert!(norm(&ok).is_ok());
        let long = format!("{ok}a");
        assert_eq!(norm(&long), Err(UrlError::TooLong { max: 2048 }));
        let policy = UrlPolicy::new(30, &[]).unwrap();
        assert!(LongUrl::parse("https://example.com/1234567890", &policy, &[]).is_ok());
        assert!(LongUrl::parse("https://example.com/12345678901", &policy, &[]).is_err());
        // Normalization that grows the URL past the limit is refused too.
        assert!(LongUrl::parse("https://example.com/üüüü", &policy, &[]).is_err());
    }

    #[test]
    fn blocklist_matches_host_and_subdomains_in_any_spelling() {
        let policy = UrlPolicy::new(2048, &["Evil.example", "bücher.example"]).unwrap();
        let p = |s| LongUrl::parse(s, &policy, &[]);
        assert!(matches!(
            p("https://evil.example/"),
            Err(UrlError::Blocked(_))
        ));
        assert!(matches!(
            p("https://WWW.EVIL.example./x"),
            Err(UrlError::Blocked(_))
        ));
        assert!(matches!(
            p("https://ev%69l.example/"),
            Err(UrlError::Blocked(_))
        ));
        assert!(matches!(
            p("https://xn--bcher-kva.example/"),
            Err(UrlError::Blocked(_))
        ));
        assert!(p("https://notevil.example/").is_ok());
        assert!(p("https://evil.example.com/").is_ok());
    }

    #[test]
    fn host_without_port() {
        let p = UrlPolicy::default().allowing_private(true);
        assert_eq!(
            LongUrl::parse("https://A.example:8080/x?y", &p, &[])
                .unwrap()
                .host(),
            "a.example"
        );
        assert_eq!(
            LongUrl::parse("http://[::1]:9/", &p, &[]).unwrap().host(),
            "[::1]"
        );
        assert_eq!(LongUrl::parse("http://h#f", &p, &[]).unwrap().host(), "h");
    }

    #[test]
    fn refuses_own_host() {
        let policy = UrlPolicy::default();
        let own: &[&str] = &["sho.rt"];
        assert_eq!(
            LongUrl::parse("https://SHO.RT/abc", &policy, own),
            Err(UrlError::OwnHost)
        );
        assert_eq!(
            LongUrl::parse("http://sho.rt:8080/", &policy, own),
            Err(UrlError::OwnHost)
        );
        assert!(LongUrl::parse("https://other.rt/abc", &policy, own).is_ok());
    }

    fn refused(raw: &str) -> Result<LongUrl, UrlError> {
        LongUrl::parse(raw, &UrlPolicy::default(), &[])
    }

    #[test]
    fn refuses_private_ipv4_in_every_spelling() {
        for raw in [
            "http://0.0.0.0/",
            "http://10.1.2.3/",
            "http://100.64.0.1/",
            "http://100.127.255.255/",
            "http://127.0.0.1:8080/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.0.0.8/",
            "http://192.168.1.1/",
            "http://198.18.0.1/",
            "http://198.19.255.255/",
            "http://224.0.0.1/",
            "http://239.255.255.250/",
            "http://240.0.0.1/",
            "http://255.255.255.255/",
            "http://%31%32%37.0.0.1/",
        ] {
            assert!(
                matches!(refused(raw), Err(UrlError::PrivateTarget(_))),
                "{raw}: {:?}",
                refused(raw)
            );
        }
        for raw in [
            "http://8.8.8.8/",
            "http://100.63.255.255/",
            "http://100.128.0.0/",
            "http://172.15.255.255/",
            "http://172.32.0.0/",
            "http://192.0.1.1/",
            "http://198.17.255.255/",
            "http://198.20.0.0/",
            "http://223.255.255.255/",
            "http://1.1.1.1/",
        ] {
            assert!(refused(raw).is_ok(), "{raw}: {:?}", refused(raw));
        }
    }

    #[test]
    fn refuses_private_ipv6_and_ipv4_inside_ipv6() {
        for raw in [
            "http://[::]/",
            "http://[::1]/",
            "http://[0:0:0:0:0:0:0:1]:8080/",
            "http://[fc00::1]/",
            "http://[fd12:3456::1]/",
            "http://[fe80::1]/",
            "http://[febf::1]/",
            "http://[fec0::1]/",
            "http://[ff02::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::10.0.0.1]/",
            "http://[64:ff9b:1::192.168.0.1]/",
            "http://[2002:7f00:1::]/",
        ] {
            assert!(
                matches!(refused(raw), Err(UrlError::PrivateTarget(_))),
                "{raw}: {:?}",
                refused(raw)
            );
        }
        for raw in [
            "http://[2001:4860:4860::8888]/",
            "http://[::ffff:8.8.8.8]/",
            "http://[64:ff9b::8.8.8.8]/",
            "http://[2002:808:808::]/",
            "http://[2606:4700::1111]/",
        ] {
            assert!(refused(raw).is_ok(), "{raw}: {:?}", refused(raw));
        }
    }

    #[test]
    fn refuses_local_names() {
        for raw in [
            "http://localhost/",
            "http://LOCALHOST./",
            "http://app.localhost/",
            "http://printer/",
            "http://printer./",
            "http://nas.local/",
            "http://db.internal/",
            "http://internal/",
            "http://router.home.arpa/",
            "http://metadata.google.internal/",
            "http://localhost.localdomain/",
            "http://LocalHost.LocalDomain./x",
            "http://ip6-localhost/",
            "http://ip6-loopback/",
            "http://instance-data/latest/meta-data/",
            "http://instance-data.ec2.internal/",
            "http://a.b.localhost/",
            "http://[fd00:ec2::254]/latest/meta-data/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:169.254.169.254]/",
        ] {
            assert!(
                matches!(refused(raw), Err(UrlError::PrivateTarget(_))),
                "{raw}: {:?}",
                refused(raw)
            );
        }
        for raw in [
            "https://example.com./",
            "https://localhost.example.com/",
            "https://local.example/",
            "https://internal.example.org/",
            "https://home.arpa.example/",
            "https://localdomain.example/",
            "https://instance-data.example.com/",
        ] {
            assert!(refused(raw).is_ok(), "{raw}: {:?}", refused(raw));
        }
    }

    #[test]
    fn private_targets_allowed_when_configured() {
        let policy = UrlPolicy::default().allowing_private(true);
        for raw in ["http://127.0.0.1/", "http://printer/", "http://[::1]/"] {
            assert!(LongUrl::parse(raw, &policy, &[]).is_ok(), "{raw}");
        }
    }

    #[test]
    fn a_host_is_an_ip_literal_or_ldh_labels() {
        for raw in [
            "https://0.com*/",
            "https://exa_mple.com/",
            "https://-example.com/",
            "https://example-.com/",
            "https://ex!ample.com/",
            "https://a..b.com/",
            "https://.example.com/",
            "https://example.com../",
            &format!("https://{}.com/", "a".repeat(64)),
            &format!("https://{}com/", "abcdefghi.".repeat(26)),
        ] {
            assert_eq!(refused(raw), Err(UrlError::Host), "{raw}");
        }
        for raw in [
            "https://a-b.example.com/",
            "https://xn--bcher-kva.example/",
            "https://bücher.example/",
            "https://123.example/",
            &format!("https://{}.com/", "a".repeat(63)),
        ] {
            assert!(refused(raw).is_ok(), "{raw}: {:?}", refused(raw));
        }
    }

    #[test]
    fn refuses_the_configured_own_hosts() {
        let policy = UrlPolicy::default()
            .with_own_hosts(&["Go.Example.com", "edge.example.net"])
            .unwrap();
        for raw in ["https://go.example.com/x", "http://EDGE.example.net.:8080/"] {
            assert_eq!(
                LongUrl::parse(raw, &policy, &[]),
                Err(UrlError::OwnHost),
                "{raw}"
            );
        }
        assert!(LongUrl::parse("https://example.com/", &policy, &[]).is_ok());
    }
}
