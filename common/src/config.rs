//! Configuration from the environment, read once per cold start.

use std::env;
use std::time::Duration;

use crate::domain::url::{LongUrl, UrlPolicy, DEFAULT_MAX_LEN};

/// A variable of the process environment; unset, empty and blank are all "not set".
pub fn env_var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError(message.into())
    }
}

/// Where short links point: `scheme://host[:port][/prefix]`, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    url: String,
    host: String,
}

impl BaseUrl {
    pub fn parse(s: &str) -> Option<BaseUrl> {
        // Any host: the service's own base may well be a private one (make dev's).
        let url = LongUrl::parse(s, &UrlPolicy::default().allowing_private(true), &[]).ok()?;
        if url.as_str().contains(['?', '#']) {
            return None;
        }
        Some(BaseUrl {
            host: url.host().to_owned(),
            url: url.as_str().trim_end_matches('/').to_owned(),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn short_url(&self, code: &str) -> String {
        format!("{}/{code}", self.url)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// `PUBLIC_BASE_URL`; when unset, short URLs use the host the request came to.
    pub public_base_url: Option<BaseUrl>,
    /// `REDIRECT_STATUS`, parsed once at start.
    pub redirect_status: lambda_http::http::StatusCode,
    pub url_policy: UrlPolicy,
    /// `CREATE_REQUIRES_KEY`: refuse anonymous creates (401).
    pub create_requires_key: bool,
    /// `LINK_CACHE_SECONDS`: how long a warm redirect trusts its copy of a link, so the
    /// longest a change (PATCH, DELETE, takedown) takes to reach every redirect.
    pub link_cache_ttl: Duration,
    /// `KEY_CACHE_SECONDS`: how long a warm function trusts its copy of an API key, so the
    /// longest a revoked key keeps working.
    pub key_cache_ttl: Duration,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of the request metrics.
    pub metrics_namespace: String,
    /// `CORS_ALLOW_ORIGINS`: the origins whose browser apps may call the API.
    pub cors: crate::cors::CorsPolicy,
    /// `EDGE_SECRET`: the value of the `X-Origin-Verify` header that the stack's CloudFront
    /// edge adds to every request it forwards. Only a request carrying it is trusted with
    /// the headers the edge sets (`CloudFront-Viewer-Country`, the viewer's host); without
    /// it (no edge), those headers are ignored.
    pub edge_secret: Option<String>,
    /// `EDGE_ONLY`: refuse every request that did not come through the edge (403), so
    /// that the API's own endpoint cannot be used around it.
    pub edge_only: bool,
}

pub const DEFAULT_CACHE_SECONDS: u64 = 60;

fn seconds(name: &str, value: Option<String>) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(Duration::from_secs(DEFAULT_CACHE_SECONDS)),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|s| *s <= 3600)
            .map(Duration::from_secs)
            .ok_or_else(|| ConfigError(format!("{name} '{v}' must be 0 to 3600 seconds"))),
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(env_var)
    }

    /// Reads from any source of variables (tests pass a map, not the process environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let table_name = get("TABLE_NAME").ok_or(ConfigError("TABLE_NAME is not set".into()))?;
        let public_base_url = get("PUBLIC_BASE_URL")
            .map(|v| {
                BaseUrl::parse(v.trim()).ok_or_else(|| {
                    ConfigError(format!("PUBLIC_BASE_URL '{v}' is not an http(s) base URL"))
                })
            })
            .transpose()?;
        let redirect_status = match get("REDIRECT_STATUS").as_deref().map(str::trim) {
            None => lambda_http::http::StatusCode::FOUND,
            Some(v @ ("301" | "302" | "307" | "308")) => {
                lambda_http::http::StatusCode::from_bytes(v.as_bytes()).expect("a status")
            }
            Some(v) => {
                return Err(ConfigError(format!(
                    "REDIRECT_STATUS '{v}' must be 301, 302, 307 or 308"
                )))
            }
        };
        let max_len = match get("MAX_URL_LENGTH") {
            None => DEFAULT_MAX_LEN,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (16..=32_768).contains(n))
                .ok_or_else(|| ConfigError(format!("MAX_URL_LENGTH '{v}' must be 16 to 32768")))?,
        };
        let blocked = get("BLOCKED_HOSTS").unwrap_or_default();
        let blocked: Vec<&str> = blocked
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let alias_hosts = get("ALIAS_HOSTS").unwrap_or_default();
        let mut own_hosts: Vec<&str> = alias_hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        if let Some(base) = &public_base_url {
            own_hosts.push(base.host());
        }
        let allow_private = match get("ALLOW_PRIVATE_TARGETS").as_deref().map(str::trim) {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(v) => {
                return Err(ConfigError(format!(
                    "ALLOW_PRIVATE_TARGETS '{v}' must be true or false"
                )))
            }
        };
        let url_policy = UrlPolicy::new(max_len, &blocked)
            .and_then(|p| p.with_own_hosts(&own_hosts))
            .map_err(ConfigError)?
            .allowing_private(allow_private);
        let create_requires_key = match get("CREATE_REQUIRES_KEY").as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => {
                return Err(ConfigError(format!(
                    "CREATE_REQUIRES_KEY '{v}' must be true or false"
                )))
            }
        };
        let edge_secret = match get("EDGE_SECRET").map(|v| v.trim().to_owned()) {
            None => None,
            Some(v) if v.is_empty() => None,
            Some(v) if v.len() >= 16 && v.bytes().all(|b| b.is_ascii_graphic()) => Some(v),
            Some(_) => {
                return Err(ConfigError(
                    "EDGE_SECRET must be at least 16 printable ASCII characters".into(),
                ))
            }
        };
        let edge_only = match get("EDGE_ONLY").as_deref().map(str::trim) {
            None | Some("" | "false") => false,
            Some("true") if edge_secret.is_some() => true,
            Some("true") => {
                return Err(ConfigError("EDGE_ONLY=true needs EDGE_SECRET".into()));
            }
            Some(v) => {
                return Err(ConfigError(format!(
                    "EDGE_ONLY '{v}' must be true or false"
                )))
            }
        };
        Ok(Config {
            edge_secret,
            edge_only,
            table_name,
            public_base_url,
            redirect_status,
            url_policy,
            create_requires_key,
            link_cache_ttl: seconds("LINK_CACHE_SECONDS", get("LINK_CACHE_SECONDS"))?,
            key_cache_ttl: seconds("KEY_CACHE_SECONDS", get("KEY_CACHE_SECONDS"))?,
            metrics_namespace: get("METRICS_NAMESPACE")
                .map(|n| n.trim().to_owned())
                .unwrap_or_else(|| "UrlShortener".to_owned()),
            cors: crate::cors::CorsPolicy::parse(&get("CORS_ALLOW_ORIGINS").unwrap_or_default()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn the_edge_secret() {
        let c = config(&[("TABLE_NAME", "t")]).unwrap();
        assert!(c.edge_secret.is_none() && !c.edge_only);
        let c = config(&[("TABLE_NAME", "t"), ("EDGE_SECRET", "")]).unwrap();
        assert!(c.edge_secret.is_none());
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("EDGE_SECRET", "0c7e7d5a-5b1f-4d2e-9f3a-8e2b1c4d6a7f"),
            ("EDGE_ONLY", "true"),
        ])
        .unwrap();
        assert!(c.edge_secret.is_some() && c.edge_only);
        for bad in [
            vec![("EDGE_SECRET", "short")],
            vec![("EDGE_SECRET", "has a space in it ok")],
            vec![("EDGE_ONLY", "true")],
            vec![("EDGE_SECRET", "0123456789abcdef"), ("EDGE_ONLY", "yes")],
        ] {
            let mut vars = vec![("TABLE_NAME", "t")];
            vars.extend(bad.iter().copied());
            assert!(config(&vars).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn defaults() {
        let c = config(&[("TABLE_NAME", "links")]).unwrap();
        assert_eq!(c.table_name, "links");
        assert_eq!(c.redirect_status.as_u16(), 302);
        assert_eq!(c.url_policy.max_len, 2048);
        assert!(c.url_policy.blocked_hosts.is_empty());
        assert!(c.public_base_url.is_none());
        assert!(!c.create_requires_key);
        assert_eq!(c.link_cache_ttl, Duration::from_secs(60));
        assert_eq!(c.key_cache_ttl, Duration::from_secs(60));
        assert_eq!(c.metrics_namespace, "UrlShortener");
        assert!(!c.url_policy.allow_private);
        assert!(c.url_policy.own_hosts.is_empty());
    }

    #[test]
    fn table_name_is_required() {
        assert!(config(&[]).is_err());
    }

    #[test]
    fn every_setting() {
        let c = config(&[
            ("TABLE_NAME", "t"),
            ("PUBLIC_BASE_URL", "HTTPS://Sho.RT/go/"),
            ("REDIRECT_STATUS", "308"),
            ("MAX_URL_LENGTH", "100"),
            ("BLOCKED_HOSTS", "Evil.example, , bad.example"),
            ("CREATE_REQUIRES_KEY", "true"),
            ("LINK_CACHE_SECONDS", "2"),
            ("KEY_CACHE_SECONDS", "0"),
            ("ALLOW_PRIVATE_TARGETS", "true"),
            ("ALIAS_HOSTS", "Go.Example.com, ,xn--bcher-kva.example"),
        ])
        .unwrap();
        let base = c.public_base_url.unwrap();
        assert_eq!(base.short_url("abc"), "https://sho.rt/go/abc");
        assert_eq!(base.host(), "sho.rt");
        assert_eq!(c.redirect_status.as_u16(), 308);
        assert_eq!(c.url_policy.max_len, 100);
        assert_eq!(c.url_policy.blocked_hosts, ["evil.example", "bad.example"]);
        assert!(c.create_requires_key);
        assert_eq!(c.link_cache_ttl, Duration::from_secs(2));
        assert_eq!(c.key_cache_ttl, Duration::ZERO);
        assert!(c.url_policy.allow_private);
        assert_eq!(
            c.url_policy.own_hosts,
            ["go.example.com", "xn--bcher-kva.example", "sho.rt"]
        );
    }

    #[test]
    fn bad_settings_fail_at_start() {
        for (k, v) in [
            ("REDIRECT_STATUS", "200"),
            ("MAX_URL_LENGTH", "ten"),
            ("MAX_URL_LENGTH", "0"),
            ("PUBLIC_BASE_URL", "ftp://x"),
            ("PUBLIC_BASE_URL", "https://x/?q"),
            ("BLOCKED_HOSTS", "a b"),
            ("CREATE_REQUIRES_KEY", "yes"),
            ("LINK_CACHE_SECONDS", "-1"),
            ("KEY_CACHE_SECONDS", "3601"),
            ("ALLOW_PRIVATE_TARGETS", "yes"),
            ("ALIAS_HOSTS", "a_b.example"),
        ] {
            assert!(config(&[("TABLE_NAME", "t"), (k, v)]).is_err(), "{k}={v}");
        }
    }
}
