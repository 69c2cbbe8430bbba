//! What every function builds once per cold start: logging, configuration, the store.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;

use crate::config::Config;
use crate::store::Store;

/// SDK limits, well under the functions' timeout, so that an unreachable store becomes a
/// 503 in bounded time: at most 3 attempts of 1 s each, 3 s in all.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);
pub const MAX_ATTEMPTS: u32 = 3;

/// The state a handler needs.
#[derive(Clone, Debug)]
pub struct App {
    pub config: Config,
    pub store: Store,
}

impl App {
    /// Reads the configuration and builds the DynamoDB client. The endpoint comes from
    /// `AWS_ENDPOINT_URL` when set (DynamoDB Local), credentials from the environment.
    pub async fn from_env() -> Result<App, lambda_http::Error> {
        let config = Config::from_env()?;
        let client = dynamodb_client().await;
        let store = Store::new(client, config.table_name.clone());
        Ok(App { config, store })
    }
}

pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeout_config())
        .retry_config(retry_config())
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&sdk)
}

/// JSON logs in Lambda (`AWS_LAMBDA_LOG_FORMAT=JSON`), level from `AWS_LAMBDA_LOG_LEVEL`
/// or `RUST_LOG`. Call once per process.
pub fn init_logging() {
    lambda_http::tracing::init_default_subscriber();
}
