//! The DynamoDB client every function and tool shares: timeouts, retries, one rustls HTTP
//! client, credentials straight from the environment.

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, Credentials, IdentityCache, Region, SharedHttpClient,
    StalledStreamProtectionConfig,
};
use aws_smithy_http_client::tls;

use crate::config::ConfigError;

/// SDK limits, well under the functions' timeout, so that an unreachable store becomes a
/// 503 in bounded time: at most 3 attempts of 1 s each, 3 s in all.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);
pub const MAX_ATTEMPTS: u32 = 3;
/// Attempts of a visit counter's write (`counter_retry_config`).
pub const COUNTER_ATTEMPTS: u32 = 2;

pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// For writes that must not be applied twice (the visit counter's `ADD`): an attempt may
/// use the whole operation budget, so a slow write that DynamoDB did apply is never retried
/// (a retry after an attempt timeout would count the visit twice). Writes that fail fast
/// (throttling, refused connection) are still retried within the same 3 s.
pub fn single_attempt_window() -> TimeoutConfig {
    timeout_config()
        .to_builder()
        .operation_attempt_timeout(OPERATION_TIMEOUT)
        .build()
}

pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

/// The visit counter's: a throttled counter write is tried once more after a short pause,
/// not for seconds (the SDK's throttling backoff starts at 1 s); past that the visit goes
/// to another shard or the queue (`store/spill.rs`) and the visitor gets the redirect.
pub fn counter_retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(COUNTER_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(20))
}

/// The DynamoDB client from what Lambda puts in the environment: `AWS_REGION`, the
/// execution role's `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`
/// (fixed for the life of the execution environment), and `AWS_ENDPOINT_URL_DYNAMODB` or
/// `AWS_ENDPOINT_URL` when set (DynamoDB Local). Built without aws-config's provider chain:
/// no profile files, no STS or SSO, no IMDS probing at start.
pub fn dynamodb_client() -> Result<aws_sdk_dynamodb::Client, ConfigError> {
    dynamodb_client_from(crate::config::env_var)
}

pub fn dynamodb_client_from(
    get: impl Fn(&str) -> Option<String>,
) -> Result<aws_sdk_dynamodb::Client, ConfigError> {
    let (region, credentials) = region_and_credentials(&get)?;
    let http = https_client(&get)?;
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(credentials)
        // The environment's keys do not change: nothing to cache or refresh.
        .identity_cache(IdentityCache::no_cache())
        // Responses are small JSON documents; the attempt timeout already bounds a stalled
        // one, and the throughput monitor costs a timer per request.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .http_client(http)
        .timeout_config(timeout_config())
        .retry_config(retry_config());
    if let Some(endpoint) = get("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| get("AWS_ENDPOINT_URL")) {
        config = config.endpoint_url(endpoint);
    }
    Ok(aws_sdk_dynamodb::Client::from_conf(config.build()))
}

/// The region and the execution role's keys, as Lambda puts them in the environment:
/// every AWS client of the functions (DynamoDB, Bedrock) is built from them.
pub fn region_and_credentials(
    get: impl Fn(&str) -> Option<String>,
) -> Result<(Region, Credentials), ConfigError> {
    let missing = |k: &str| ConfigError::new(format!("{k} is not set"));
    let region = get("AWS_REGION")
        .or_else(|| get("AWS_DEFAULT_REGION"))
        .ok_or_else(|| missing("AWS_REGION"))?;
    let credentials = Credentials::new(
        get("AWS_ACCESS_KEY_ID").ok_or_else(|| missing("AWS_ACCESS_KEY_ID"))?,
        get("AWS_SECRET_ACCESS_KEY").ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY"))?,
        get("AWS_SESSION_TOKEN"),
        None,
        "environment",
    );
    Ok((Region::new(region), credentials))
}

/// The one HTTPS client (hyper 1, rustls with ring, the Amazon roots: `tls_context`).
pub fn https_client(get: impl Fn(&str) -> Option<String>) -> Result<SharedHttpClient, ConfigError> {
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(tls_context(&get)?)
        .build_https())
}

/// The roots DynamoDB's certificate is checked against.
///
/// By default, the Amazon Trust Services roots built into the binary: every AWS endpoint
/// chains to one of them, and loading the system's whole CA store (about 150 PEM
/// certificates, decoded by a constant-time base64) was 80% of the Init's instructions
/// (17 of 21.5 million). With `SSL_CERT_FILE` or `SSL_CERT_DIR` set (a proxy or an endpoint
/// with other certificates), the system's roots from there instead.
fn tls_context(get: impl Fn(&str) -> Option<String>) -> Result<tls::TlsContext, ConfigError> {
    let system = get("SSL_CERT_FILE").is_some() || get("SSL_CERT_DIR").is_some();
    let store = if system {
        tls::TrustStore::default()
    } else {
        tls::TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS)
    };
    tls::TlsContext::builder()
        .with_trust_store(store)
        .build()
        .map_err(|e| ConfigError::new(format!("TLS settings: {e}")))
}

/// Amazon Root CA 1 to 4 and Starfield Services Root CA G2, from Mozilla's CA store.
pub const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("../../certs/amazon-trust-services.pem");

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn client(vars: &[(&str, &str)]) -> Result<aws_sdk_dynamodb::Client, ConfigError> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        dynamodb_client_from(|k| map.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn client_from_lambda_environment() {
        let env = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SESSION_TOKEN", "t"),
        ];
        let c = client(&env).unwrap();
        assert_eq!(c.config().region().map(|r| r.as_ref()), Some("eu-west-1"));
        let c = client(&[
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:8000"),
        ])
        .unwrap();
        assert_eq!(c.config().region().map(|r| r.as_ref()), Some("us-east-1"));
    }

    #[test]
    fn trusts_the_amazon_roots_unless_told_to_use_the_system_ones() {
        let pem = AMAZON_TRUST_SERVICES_ROOTS;
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 4",
            "Starfield Services Root",
        ] {
            assert!(pem.contains(&name.replace(' ', "_")), "{name}");
        }
        let lambda = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ];
        // Building the HTTPS client parses the roots (it panics on a bad certificate).
        client(&lambda).unwrap();
        let mut with_file = lambda.to_vec();
        with_file.push(("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"));
        client(&with_file).unwrap();
    }

    #[test]
    fn missing_region_or_credentials_fail_at_start() {
        assert!(client(&[("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "s")]).is_err());
        assert!(client(&[("AWS_REGION", "us-east-1"), ("AWS_SECRET_ACCESS_KEY", "s")]).is_err());
        assert!(client(&[("AWS_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "a")]).is_err());
    }
}
