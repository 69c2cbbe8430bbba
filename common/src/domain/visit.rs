//! What a visit is, as far as the analytics go: human or bot, and its place in each
//! breakdown (referrer host, `utm_source`, device class, browser family, country). Every
//! value here comes from the visitor, so each is bounded and reduced to a safe alphabet
//! before it can name anything in the store.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use url::Url;

use super::bots::Bots;

/// A breakdown of visits kept per link and day, with at most `cap` distinct keys per day
/// (the last place is for `other`) of at most `max_len` characters each. The caps keep a
/// day's counter item under 1 KB, so a visit stays one write of 1 WRU (see
/// `worst_case_day_item_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Referrer,
    Source,
    Device,
    Browser,
    Country,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Referrer,
        Dimension::Source,
        Dimension::Device,
        Dimension::Browser,
        Dimension::Country,
    ];

    /// The plural name the stats response uses.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Referrer => "referrers",
            Dimension::Source => "sources",
            Dimension::Device => "devices",
            Dimension::Browser => "browsers",
            Dimension::Country => "countries",
        }
    }

    /// Distinct keys a day may hold, `other` included.
    pub fn cap(self) -> usize {
        match self {
            Dimension::Referrer => 8,
            Dimension::Source => 6,
            Dimension::Device => 6,
            Dimension::Browser => 6,
            Dimension::Country => 10,
        }
    }

    pub fn max_len(self) -> usize {
        match self {
            Dimension::Referrer => 32,
            Dimension::Source => 24,
            Dimension::Device => 12,
            Dimension::Browser => 16,
            Dimension::Country => 2,
        }
    }
}

/// The largest a day's counter item can get, by DynamoDB's size rules: attribute names
/// and strings count their UTF-8 bytes, a number 1 byte per 2 significant digits plus 1,
/// a map 3 bytes plus, per element, its key, its value and 1 byte. Counts are taken at 8
/// digits (over 1,000 visits a second all day long), the code at its longest (64), the map
/// attributes at 3 characters (`store::counters`).
pub fn worst_case_day_item_bytes() -> usize {
    const NUMBER: usize = 8 / 2 + 1;
    let keys = 2 + 64 + 2 + "day#2026-11-23".len();
    let counters = "visits".len() + NUMBER + "bot_visits".len() + NUMBER;
    let maps: usize = Dimension::ALL
        .iter()
        .map(|d| 3 + 3 + d.cap() * (d.max_len().max(OTHER.len()) + NUMBER + 1))
        .sum();
    keys + counters + maps
}

/// Where the visits beyond a day's cap go, in every breakdown.
pub const OTHER: &str = "other";
/// The referrer of a visit without a `Referer`.
pub const DIRECT: &str = "direct";
/// The source of a visit without `utm_source`.
pub const NO_SOURCE: &str = "none";
pub const UNKNOWN: &str = "unknown";

/// What a request says about its visitor: the headers and query a visit is classified
/// by (`Visit::classify`) and its redirect rules are matched against (`rules::choose`).
#[derive(Debug, Default, Clone, Copy)]
pub struct VisitRequest<'a> {
    pub user_agent: Option<&'a str>,
    pub referer: Option<&'a str>,
    /// `Sec-Purpose` or `Purpose`: `prefetch` means no person asked for the page yet.
    pub purpose: Option<&'a str>,
    pub utm_source: Option<&'a str>,
    /// `CloudFront-Viewer-Country`.
    pub country: Option<&'a str>,
    pub accept_language: Option<&'a str>,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
}

/// A classified visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visit {
    /// Counted in `bot_visits` only: a known crawler, link-preview fetcher or tool, a
    /// request without a User-Agent, or a prefetch.
    Bot,
    Human(Breakdown),
}

/// The keys of one human visit, each already bounded and sanitized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakdown {
    pub referrer: String,
    pub source: String,
    pub device: String,
    pub browser: String,
    pub country: Option<String>,
}

impl Breakdown {
    /// Each dimension with its key (`Country` only when the header was there).
    pub fn keys(&self) -> impl Iterator<Item = (Dimension, &str)> {
        [
            (Dimension::Referrer, Some(self.referrer.as_str())),
            (Dimension::Source, Some(self.source.as_str())),
            (Dimension::Device, Some(self.device.as_str())),
            (Dimension::Browser, Some(self.browser.as_str())),
            (Dimension::Country, self.country.as_deref()),
        ]
        .into_iter()
        .filter_map(|(d, k)| k.map(|k| (d, k)))
    }
}

fn bots() -> &'static Bots {
    static BOTS: OnceLock<Bots> = OnceLock::new();
    BOTS.get_or_init(Bots::new)
}

/// Builds the bot matcher now (an Aho-Corasick automaton and a regular expression:
/// `bots.rs`): called during Init, where Lambda gives more CPU, so the first visit does not
/// pay for it.
pub fn prepare() {
    let _ = bots().is_bot("Mozilla/5.0");
}

/// Longest User-Agent looked at: real ones are under 512 bytes; a longer one is a tool.
const MAX_UA: usize = 1024;

/// What a User-Agent says, as far as the breakdowns go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UaClass {
    Bot,
    Human { device: String, browser: String },
}

/// User-Agents classified so far by this process: a warm function sees the same few
/// strings again and again, and the bot list and woothee's parser are regular expressions
/// (most of a redirect's own instructions without this memo). Bounded: emptied when full.
const UA_MEMO_CAPACITY: usize = 1024;

fn ua_class(ua: &str) -> UaClass {
    static MEMO: OnceLock<Mutex<HashMap<String, UaClass>>> = OnceLock::new();
    let memo = MEMO.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(hit) = memo.lock().unwrap_or_else(|e| e.into_inner()).get(ua) {
        return hit.clone();
    }
    let class = classify_ua(ua);
    let mut map = memo.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= UA_MEMO_CAPACITY {
        map.clear();
    }
    map.insert(ua.to_owned(), class.clone());
    class
}

fn classify_ua(ua: &str) -> UaClass {
    if bots().is_bot(ua) {
        return UaClass::Bot;
    }
    match woothee::parser::Parser::new().parse(ua) {
        Some(p) if p.category == "crawler" => UaClass::Bot,
        Some(p) => UaClass::Human {
            device: key(p.category, Dimension::Device),
            browser: key(p.name, Dimension::Browser),
        },
        None => UaClass::Human {
            device: UNKNOWN.to_owned(),
            browser: UNKNOWN.to_owned(),
        },
    }
}

impl Visit {
    pub fn classify(req: VisitRequest<'_>) -> Visit {
        let prefetch = req
            .purpose
            .is_some_and(|p| p.to_ascii_lowercase().contains("prefetch"));
        let ua = req.user_agent.map(str::trim).unwrap_or("");
        if prefetch || ua.is_empty() || ua.len() > MAX_UA {
            return Visit::Bot;
        }
        let (device, browser) = match ua_class(ua) {
            UaClass::Bot => return Visit::Bot,
            UaClass::Human { device, browser } => (device, browser),
        };
        Visit::Human(Breakdown {
            referrer: referrer_key(req.referer),
            source: req
                .utm_source
                .map(|s| key(s, Dimension::Source))
                .unwrap_or_else(|| NO_SOURCE.to_owned()),
            device,
            browser,
            country: req.country.and_then(country_key),
        })
    }
}

/// Lowercase `[a-z0-9._-]`, other characters as `_`, at most the dimension's length; an
/// empty or unknown value is `unknown`. Never `other` by accident: that key means "over
/// the cap".
fn key(raw: &str, dim: Dimension) -> String {
    let mut k: String = raw
        .trim()
        .chars()
        .take(dim.max_len())
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '-' | '_') => c,
            _ => '_',
        })
        .collect();
    k = k.trim_matches('_').to_owned();
    if k.is_empty() || k == "unknown" {
        return UNKNOWN.to_owned();
    }
    if k == OTHER {
        k.push('_');
    }
    k
}

/// The host of the `Referer`, lowercased (punycode for IDN), without a leading `www.`; the
/// last 32 characters of a longer one (the registrable end). `direct` without a referrer.
fn referrer_key(referer: Option<&str>) -> String {
    let Some(raw) = referer.map(str::trim).filter(|r| !r.is_empty()) else {
        return DIRECT.to_owned();
    };
    if raw.len() > 2048 {
        return UNKNOWN.to_owned();
    }
    let host = Url::parse(raw)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    let Some(host) = host else {
        return UNKNOWN.to_owned();
    };
    let host = host.trim_start_matches("www.");
    let max = Dimension::Referrer.max_len();
    let tail: String = if host.chars().count() > max {
        let skip = host.chars().count() - max;
        host.chars().skip(skip).collect()
    } else {
        host.to_owned()
    };
    key(tail.trim_start_matches('.'), Dimension::Referrer)
}

/// ISO 3166 alpha-2, as CloudFront sends it; anything else is no country.
fn country_key(raw: &str) -> Option<String> {
    let c = raw.trim();
    (c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic())).then(|| c.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

    fn human(req: VisitRequest<'_>) -> Breakdown {
        match Visit::classify(req) {
            Visit::Human(b) => b,
            Visit::Bot => panic!("classified as a bot: {req:?}"),
        }
    }

    #[test]
    fn a_full_day_item_stays_one_write_unit() {
        let worst = worst_case_day_item_bytes();
        assert!(worst < 1024, "{worst} bytes");
        assert!(worst > 800, "the caps use the room: {worst} bytes");
    }

    #[test]
    fn bots_previews_tools_and_prefetches() {
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Twitterbot/1.0",
            "curl/8.5.0",
            "python-requests/2.31.0",
            "Wget/1.21.4",
            "",
            "   ",
        ] {
            let req = VisitRequest {
                user_agent: Some(ua),
                ..Default::default()
            };
            assert_eq!(Visit::classify(req), Visit::Bot, "{ua}");
        }
        assert_eq!(Visit::classify(VisitRequest::default()), Visit::Bot);
        for purpose in ["prefetch", "prefetch;prerender", "Prefetch"] {
            let req = VisitRequest {
                user_agent: Some(CHROME),
                purpose: Some(purpose),
                ..Default::default()
            };
            assert_eq!(Visit::classify(req), Visit::Bot, "{purpose}");
        }
        let huge = format!("{CHROME}{}", "x".repeat(2000));
        let req = VisitRequest {
            user_agent: Some(&huge),
            ..Default::default()
        };
        assert_eq!(Visit::classify(req), Visit::Bot);
    }

    #[test]
    fn the_memo_answers_as_the_parsers_do() {
        for ua in [CHROME, IPHONE, FIREFOX, "Twitterbot/1.0", "curl/8.5.0", "x"] {
            let first = ua_class(ua);
            assert_eq!(first, classify_ua(ua), "{ua}");
            assert_eq!(ua_class(ua), first, "{ua}: from the memo");
        }
        // Bounded: a flood of distinct User-Agents does not grow it past its capacity.
        for i in 0..(UA_MEMO_CAPACITY * 2) {
            ua_class(&format!("Mozilla/5.0 tool-{i}"));
        }
        assert_eq!(ua_class(CHROME), classify_ua(CHROME));
    }

    #[test]
    fn browsers_devices_referrers_sources_countries() {
        let b = human(VisitRequest {
            user_agent: Some(CHROME),
            referer: Some("https://www.Google.com/search?q=x"),
            utm_source: Some("Newsletter"),
            country: Some("de"),
            ..Default::default()
        });
        assert_eq!(
            b,
            Breakdown {
                referrer: "google.com".into(),
                source: "newsletter".into(),
                device: "pc".into(),
                browser: "chrome".into(),
                country: Some("DE".into()),
            }
        );
        let b = human(VisitRequest {
            user_agent: Some(IPHONE),
            ..Default::default()
        });
        assert_eq!(
            (
                b.referrer.as_str(),
                b.source.as_str(),
                b.device.as_str(),
                b.browser.as_str()
            ),
            ("direct", "none", "smartphone", "safari")
        );
        assert_eq!(b.country, None);
        let b = human(VisitRequest {
            user_agent: Some(FIREFOX),
            referer: Some("android-app://com.slack"),
            ..Default::default()
        });
        assert_eq!(
            (b.browser.as_str(), b.referrer.as_str()),
            ("firefox", "com.slack")
        );
    }

    #[test]
    fn hostile_values_are_bounded_and_safe() {
        let long_host = format!("https://{}.example.com/", "a".repeat(200));
        let unicode = "https://bücher.example/";
        for (referer, expected) in [
            (long_host.as_str(), None),
            ("https://evil.com#.x", Some("evil.com")),
            ("not a url", Some("unknown")),
            ("javascript:alert(1)", Some("unknown")),
            (unicode, Some("xn--bcher-kva.example")),
            ("https://other/", Some("other_")),
            ("https://[::1]:8080/", Some("1")),
        ] {
            let b = human(VisitRequest {
                user_agent: Some(CHROME),
                referer: Some(referer),
                ..Default::default()
            });
            assert!(
                b.referrer.len() <= Dimension::Referrer.max_len(),
                "{referer}"
            );
            if let Some(e) = expected {
                assert_eq!(b.referrer, e, "{referer}");
            }
        }
        for (source, expected) in [
            ("a#b.c d", "a_b.c_d"),
            ("\u{0}\u{1f}", "unknown"),
            ("ÜTM", "tm"),
            ("other", "other_"),
            (&*"x".repeat(300), &*"x".repeat(24)),
        ] {
            let b = human(VisitRequest {
                user_agent: Some(CHROME),
                utm_source: Some(source),
                ..Default::default()
            });
            assert_eq!(b.source, expected, "{source:?}");
        }
        for bad in ["USA", "1A", "", "d€"] {
            let b = human(VisitRequest {
                user_agent: Some(CHROME),
                country: Some(bad),
                ..Default::default()
            });
            assert_eq!(b.country, None, "{bad}");
        }
        let all_safe = |s: &str| {
            s.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c))
        };
        let b = human(VisitRequest {
            user_agent: Some("Mozilla/5.0 (\u{7}; ☃) Gecko/20100101 Firefox/1.0"),
            referer: Some("https://a.b/\u{0}"),
            utm_source: Some("🙂🙂🙂"),
            ..Default::default()
        });
        for (_, k) in b.keys() {
            assert!(all_safe(k), "{k:?}");
        }
    }
}
