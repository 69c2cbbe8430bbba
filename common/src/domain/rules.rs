//! Redirect rules: a link may send some visitors elsewhere than its `url`, by device, OS,
//! country, language or a query parameter. A rule's conditions must all hold; the first
//! rule whose conditions hold wins; the link's `url` is the fallback. Everything is decided
//! from the request and the cached link: no read, no write.

use serde_json::{json, Map, Value};

use super::url::{LongUrl, UrlError, UrlPolicy};
use super::visit::VisitRequest;

pub const MAX_RULES: usize = 10;
pub const MAX_CONDITIONS: usize = 5;
/// Longest `key` and `value` of a `query` condition.
pub const MAX_QUERY_KEY: usize = 64;
pub const MAX_QUERY_VALUE: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Mobile,
    Tablet,
    Desktop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Ios,
    Android,
    Windows,
    Macos,
    Linux,
}

impl Device {
    const NAMES: [(&'static str, Device); 3] = [
        ("mobile", Device::Mobile),
        ("tablet", Device::Tablet),
        ("desktop", Device::Desktop),
    ];
}

impl Os {
    const NAMES: [(&'static str, Os); 5] = [
        ("ios", Os::Ios),
        ("android", Os::Android),
        ("windows", Os::Windows),
        ("macos", Os::Macos),
        ("linux", Os::Linux),
    ];
}

fn name_of<T: PartialEq + Copy>(names: &[(&'static str, T)], v: T) -> &'static str {
    names.iter().find(|(_, x)| *x == v).map_or("", |(n, _)| n)
}

fn by_name<T: Copy>(names: &[(&'static str, T)], s: &str) -> Option<T> {
    names.iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
}

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Device(Device),
    Os(Os),
    /// ISO 3166 alpha-2, uppercase, against `CloudFront-Viewer-Country`.
    Country(String),
    /// A primary language subtag, lowercase, against `Accept-Language`.
    Language(String),
    /// The visitor's query has `key` with this `value` (both as decoded).
    Query {
        key: String,
        value: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub url: LongUrl,
    pub conditions: Vec<Condition>,
}

/// Why `rules` was refused: which rule, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("'rules' must be an array of at most {MAX_RULES} rules, or null")]
    NotAList,
    #[error("rules[{index}]: {message}")]
    Rule { index: usize, message: String },
    /// A rule's URL broke a URL rule (its own error code: private_target, self_link ...).
    #[error("rules[{index}].url: {error}")]
    Url { index: usize, error: UrlError },
}

impl Condition {
    fn parse(v: &Value) -> Result<Condition, String> {
        let obj = v
            .as_object()
            .ok_or("each condition must be an object {\"type\", \"value\", \"key\"?}")?;
        for field in obj.keys() {
            if !["type", "value", "key"].contains(&field.as_str()) {
                let shown: String = field.chars().take(40).collect();
                return Err(format!("unknown condition field '{shown}'"));
            }
        }
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .ok_or("a condition's 'type' must be device, os, country, language or query")?;
        let value = obj
            .get("value")
            .and_then(Value::as_str)
            .ok_or("a condition's 'value' must be a string")?;
        let key = obj.get("key");
        if kind != "query" && key.is_some() {
            return Err("only a query condition has a 'key'".into());
        }
        let lower = value.to_ascii_lowercase();
        match kind {
            "device" => by_name(&Device::NAMES, &lower)
                .map(Condition::Device)
                .ok_or_else(|| "a device is mobile, tablet or desktop".into()),
            "os" => by_name(&Os::NAMES, &lower)
                .map(Condition::Os)
                .ok_or_else(|| "an os is ios, android, windows, macos or linux".into()),
            "country" => (value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()))
                .then(|| Condition::Country(value.to_ascii_uppercase()))
                .ok_or_else(|| "a country is an ISO 3166 alpha-2 code (DE, US ...)".into()),
            "language" => ((2..=8).contains(&value.len())
                && value.bytes().all(|b| b.is_ascii_alphabetic()))
            .then_some(Condition::Language(lower))
            .ok_or_else(|| "a language is a primary language subtag (en, de, fr ...)".into()),
            "query" => {
                let key = key
                    .and_then(Value::as_str)
                    .filter(|k| (1..=MAX_QUERY_KEY).contains(&k.chars().count()))
                    .ok_or_else(|| {
                        format!(
                            "a query condition needs a 'key' of 1 to {MAX_QUERY_KEY} characters"
                        )
                    })?;
                if value.chars().count() > MAX_QUERY_VALUE {
                    return Err(format!(
                        "a query condition's value is at most {MAX_QUERY_VALUE} characters"
                    ));
                }
                Ok(Condition::Query {
                    key: key.to_owned(),
                    value: value.to_owned(),
                })
            }
            _ => Err("a condition's 'type' must be device, os, country, language or query".into()),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Condition::Device(d) => json!({"type": "device", "value": name_of(&Device::NAMES, *d)}),
            Condition::Os(o) => json!({"type": "os", "value": name_of(&Os::NAMES, *o)}),
            Condition::Country(c) => json!({"type": "country", "value": c}),
            Condition::Language(l) => json!({"type": "language", "value": l}),
            Condition::Query { key, value } => {
                json!({"type": "query", "key": key, "value": value})
            }
        }
    }
}

/// How a rule's URL is read: checked by the URL rules (input), or trusted (the store).
enum Urls<'a> {
    Checked {
        policy: &'a UrlPolicy,
        hosts: &'a [&'a str],
    },
    Stored,
}

fn parse_rules(v: &Value, urls: Urls<'_>) -> Result<Vec<Rule>, RulesError> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) if items.len() <= MAX_RULES => items,
        _ => return Err(RulesError::NotAList),
    };
    let mut rules = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let fail = |message: String| RulesError::Rule { index, message };
        let obj = item
            .as_object()
            .ok_or_else(|| fail("a rule must be an object {\"url\", \"conditions\"}".into()))?;
        if let Some(field) = obj
            .keys()
            .find(|k| !["url", "conditions"].contains(&k.as_str()))
        {
            let shown: String = field.chars().take(40).collect();
            return Err(fail(format!("unknown rule field '{shown}'")));
        }
        let raw = obj
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("a rule's 'url' must be a string".into()))?;
        let url = match &urls {
            Urls::Checked { policy, hosts } => LongUrl::parse(raw, policy, hosts)
                .map_err(|error| RulesError::Url { index, error })?,
            Urls::Stored => LongUrl::from_stored(raw.to_owned()),
        };
        let conditions = match obj.get("conditions") {
            Some(Value::Array(c)) if (1..=MAX_CONDITIONS).contains(&c.len()) => c,
            _ => {
                return Err(fail(format!(
                    "a rule's 'conditions' must be an array of 1 to {MAX_CONDITIONS} conditions"
                )))
            }
        };
        let conditions = conditions
            .iter()
            .map(Condition::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        rules.push(Rule { url, conditions });
    }
    Ok(rules)
}

/// `rules` from a request: each URL by the same rules as a link's own.
pub fn parse(v: &Value, policy: &UrlPolicy, hosts: &[&str]) -> Result<Vec<Rule>, RulesError> {
    parse_rules(v, Urls::Checked { policy, hosts })
}

/// `rules` as the store keeps them (`to_stored`'s text); `None` when it is not.
pub fn from_stored(text: &str) -> Option<Vec<Rule>> {
    let v: Value = serde_json::from_str(text).ok()?;
    parse_rules(&v, Urls::Stored).ok()
}

/// The rules as the API shows them and the store keeps them (as JSON text).
pub fn to_json(rules: &[Rule]) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("url".into(), r.url.as_str().into());
                m.insert(
                    "conditions".into(),
                    r.conditions.iter().map(Condition::to_json).collect(),
                );
                Value::Object(m)
            })
            .collect(),
    )
}

pub fn to_stored(rules: &[Rule]) -> String {
    to_json(rules).to_string()
}

/// The target of the first rule whose conditions all hold for `visitor`, if any.
pub fn choose<'r>(rules: &'r [Rule], visitor: &VisitRequest<'_>) -> Option<&'r LongUrl> {
    if rules.is_empty() {
        return None;
    }
    let ua = visitor.user_agent.unwrap_or("");
    let (device, os) = (device_of(ua), os_of(ua));
    let holds = |c: &Condition| match c {
        Condition::Device(d) => device == *d,
        Condition::Os(o) => os == Some(*o),
        Condition::Country(c) => visitor
            .country
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(c)),
        Condition::Language(l) => visitor
            .accept_language
            .is_some_and(|h| accepts_language(h, l)),
        Condition::Query { key, value } => visitor.query.is_some_and(|q| {
            form_urlencoded::parse(q.as_bytes())
                .any(|(k, v)| k == key.as_str() && v == value.as_str())
        }),
    };
    rules
        .iter()
        .find(|r| r.conditions.iter().all(holds))
        .map(|r| &r.url)
}

/// The device class a User-Agent names: tablets first (an Android tablet's UA lacks
/// `Mobile`), then phones; anything else is a desktop. iPadOS 13 and later present
/// themselves as a Mac: a desktop here, as to every server.
pub fn device_of(ua: &str) -> Device {
    let has = |s: &str| ua.contains(s);
    if has("iPad")
        || has("Tablet")
        || has("Kindle")
        || has("Silk/")
        || (has("Android") && !has("Mobile"))
    {
        Device::Tablet
    } else if has("Mobi") || has("iPhone") || has("iPod") || has("Android") || has("Windows Phone")
    {
        Device::Mobile
    } else {
        Device::Desktop
    }
}

/// The operating system a User-Agent names, if one of the five.
pub fn os_of(ua: &str) -> Option<Os> {
    let has = |s: &str| ua.contains(s);
    if has("iPhone") || has("iPad") || has("iPod") {
        Some(Os::Ios)
    } else if has("Android") {
        Some(Os::Android)
    } else if has("Windows") {
        Some(Os::Windows)
    } else if has("Macintosh") || has("Mac OS X") {
        Some(Os::Macos)
    } else if has("Linux") || has("X11") || has("CrOS") {
        Some(Os::Linux)
    } else {
        None
    }
}

/// Whether `Accept-Language` asks for `primary` (any range with that primary subtag and a
/// weight above 0; `*` names no language).
fn accepts_language(header: &str, primary: &str) -> bool {
    header.split(',').take(32).any(|range| {
        let mut parts = range.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let zero = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        let first = tag.split(['-', '_']).next().unwrap_or("");
        !zero && first.eq_ignore_ascii_case(primary)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
    const IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1";
    const ANDROID_PHONE: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
    const ANDROID_TABLET: &str = "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
    const LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

    fn policy() -> UrlPolicy {
        UrlPolicy::default()
    }

    fn rules(v: Value) -> Result<Vec<Rule>, RulesError> {
        parse(&v, &policy(), &["sho.rt"])
    }

    #[test]
    fn devices_and_systems() {
        for (ua, device, os) in [
            (IPHONE, Device::Mobile, Some(Os::Ios)),
            (IPAD, Device::Tablet, Some(Os::Ios)),
            (ANDROID_PHONE, Device::Mobile, Some(Os::Android)),
            (ANDROID_TABLET, Device::Tablet, Some(Os::Android)),
            (WINDOWS, Device::Desktop, Some(Os::Windows)),
            (MAC, Device::Desktop, Some(Os::Macos)),
            (LINUX, Device::Desktop, Some(Os::Linux)),
            ("curl/8.5.0", Device::Desktop, None),
            ("", Device::Desktop, None),
        ] {
            assert_eq!((device_of(ua), os_of(ua)), (device, os), "{ua}");
        }
    }

    #[test]
    fn languages() {
        assert!(accepts_language("de-DE,de;q=0.9,en;q=0.8", "de"));
        assert!(accepts_language("de-DE,de;q=0.9,en;q=0.8", "en"));
        assert!(accepts_language("EN-us", "en"));
        assert!(
            !accepts_language("fr;q=0, en", "fr"),
            "q=0 means not acceptable"
        );
        assert!(!accepts_language("fr;q=0.0", "fr"));
        assert!(accepts_language("fr;q=0.1", "fr"));
        assert!(!accepts_language("*", "en"));
        assert!(!accepts_language("english", "en"));
        assert!(!accepts_language("", "en"));
    }

    #[test]
    fn first_matching_rule_wins_and_conditions_and() {
        let r = rules(json!([
            {"url": "https://apps.apple.com/x", "conditions": [{"type": "os", "value": "iOS"}, {"type": "country", "value": "de"}]},
            {"url": "https://example.com/mobile", "conditions": [{"type": "device", "value": "mobile"}]},
            {"url": "https://example.com/fr", "conditions": [{"type": "language", "value": "FR"}]},
            {"url": "https://example.com/promo", "conditions": [{"type": "query", "key": "c", "value": "a b"}]}
        ]))
        .unwrap();
        let pick = |v: VisitRequest| choose(&r, &v).map(|u| u.as_str().to_owned());
        let iphone = VisitRequest {
            user_agent: Some(IPHONE),
            ..Default::default()
        };
        assert_eq!(
            pick(iphone).as_deref(),
            Some("https://example.com/mobile"),
            "no country: rule 0 fails"
        );
        let iphone_de = VisitRequest {
            country: Some("DE"),
            ..iphone
        };
        assert_eq!(pick(iphone_de).as_deref(), Some("https://apps.apple.com/x"));
        let desktop_fr = VisitRequest {
            user_agent: Some(WINDOWS),
            accept_language: Some("fr-CA,en;q=0.5"),
            ..Default::default()
        };
        assert_eq!(pick(desktop_fr).as_deref(), Some("https://example.com/fr"));
        for (q, hit) in [
            ("c=a+b", true),
            ("x=1&c=a%20b", true),
            ("c=a", false),
            ("C=a+b", false),
            ("", false),
        ] {
            let v = VisitRequest {
                user_agent: Some(WINDOWS),
                query: Some(q),
                ..Default::default()
            };
            assert_eq!(pick(v).is_some(), hit, "{q}");
        }
        assert_eq!(pick(VisitRequest::default()), None);
        assert_eq!(choose(&[], &iphone_de), None);
    }

    #[test]
    fn stored_round_trip() {
        let r = rules(json!([
            {"url": "HTTPS://Example.com", "conditions": [{"type": "query", "key": "k", "value": ""}, {"type": "device", "value": "tablet"}]}
        ]))
        .unwrap();
        assert_eq!(r[0].url.as_str(), "https://example.com/");
        assert_eq!(from_stored(&to_stored(&r)), Some(r.clone()));
        assert_eq!(
            to_json(&r),
            json!([{"url": "https://example.com/", "conditions": [
                {"type": "query", "key": "k", "value": ""}, {"type": "device", "value": "tablet"}]}])
        );
        assert_eq!(rules(Value::Null).unwrap(), vec![]);
        assert_eq!(rules(json!([])).unwrap(), vec![]);
        assert_eq!(from_stored("garbage"), None);
    }

    #[test]
    fn refusals_name_the_rule() {
        let ok = json!({"url": "https://example.com/", "conditions": [{"type": "device", "value": "mobile"}]});
        let eleven: Vec<Value> = (0..11).map(|_| ok.clone()).collect();
        assert_eq!(rules(Value::Array(eleven)), Err(RulesError::NotAList));
        assert_eq!(rules(json!({"url": "x"})), Err(RulesError::NotAList));
        let six: Vec<Value> = (0..6)
            .map(|_| json!({"type": "device", "value": "mobile"}))
            .collect();
        for bad in [
            json!("x"),
            json!({"conditions": [{"type": "device", "value": "mobile"}]}),
            json!({"url": "https://example.com/", "conditions": []}),
            json!({"url": "https://example.com/", "conditions": six}),
            json!({"url": "https://example.com/", "conditions": [{"type": "device", "value": "phone"}]}),
            json!({"url": "https://example.com/", "conditions": [{"type": "os", "value": "beos"}]}),
            json!({"url": "https://example.com/", "conditions": [{"type": "country", "value": "DEU"}]}),
            json!({"url": "https://example.com/", "conditions": [{"type": "language", "value": "e"}]}),
            json!({"url": "https://example.com/", "conditions": [{"type": "query", "value": "x"}]}),
            json!({"url": "https://example.com/", "conditions": [{"type": "device", "value": "mobile", "key": "k"}]}),
            json!({"url": "https://example.com/", "conditions": [{"type": "weather", "value": "rain"}]}),
            json!({"url": "https://example.com/", "conditions": [{"type": "device", "value": 1}]}),
            json!({"url": "https://example.com/", "conditions": [{"type": "device", "value": "mobile", "extra": 1}]}),
            json!({"url": "https://example.com/", "conditions": [{"type": "device", "value": "mobile"}], "x": 1}),
        ] {
            let got = rules(json!([ok, bad]));
            assert!(
                matches!(got, Err(RulesError::Rule { index: 1, .. })),
                "{bad}: {got:?}"
            );
        }
        for (url, want) in [
            ("http://169.254.169.254/", "private"),
            ("https://sho.rt/abc", "own"),
            ("javascript:alert(1)", "scheme"),
        ] {
            let got = rules(
                json!([ok, ok, {"url": url, "conditions": [{"type": "device", "value": "mobile"}]}]),
            );
            match got {
                Err(RulesError::Url { index: 2, error }) => {
                    let ok = match want {
                        "private" => matches!(error, UrlError::PrivateTarget(_)),
                        "own" => matches!(error, UrlError::OwnHost),
                        _ => matches!(error, UrlError::Scheme(_)),
                    };
                    assert!(ok, "{url}: {error:?}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
