//! Amazon Bedrock's Converse API: the client (built once per cold start from the
//! environment, as the DynamoDB client is), one question, and what each of Bedrock's
//! failures means for the caller.
//!
//! - `BEDROCK_MODEL_ID`: the model (empty or unset: questions are off, 501 `ask_disabled`);
//! - `BEDROCK_TIMEOUT_MS`: the whole question's budget (default 20,000: the fact sheet's
//!   reads and this fit API Gateway's 30 s);
//! - `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`: another endpoint (`make dev`'s stand-in); the
//!   general `AWS_ENDPOINT_URL` (DynamoDB Local) is never used for Bedrock.

use std::time::Duration;

use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::timeout::TimeoutConfig;
use aws_sdk_bedrockruntime::config::{BehaviorVersion, IdentityCache};
use aws_sdk_bedrockruntime::error::{DisplayErrorContext, SdkError};
use aws_sdk_bedrockruntime::operation::converse::ConverseError;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput, InferenceConfiguration, Message,
    SystemContentBlock,
};
use aws_sdk_bedrockruntime::Client;

use common::config::ConfigError;
use common::http::ModelFailure;
use common::store::client::{https_client, region_and_credentials};

/// The longest answer, in tokens (about 300 words): a cost cap per question.
pub const MAX_OUTPUT_TOKENS: i32 = 600;
/// Low: the same facts should give much the same answer.
const TEMPERATURE: f32 = 0.2;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// The configured model and its client.
#[derive(Debug, Clone)]
pub struct Model {
    pub id: String,
    client: Client,
}

/// What the model answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub text: String,
    pub input_tokens: i32,
    pub output_tokens: i32,
    pub stop_reason: String,
}

impl Model {
    /// The model of the environment, `None` when questions are off.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Model>, ConfigError> {
        let Some(id) = get("BEDROCK_MODEL_ID").filter(|id| !id.trim().is_empty()) else {
            return Ok(None);
        };
        let timeout = match get("BEDROCK_TIMEOUT_MS") {
            None => DEFAULT_TIMEOUT,
            Some(ms) => Duration::from_millis(
                ms.parse::<u64>()
                    .ok()
                    .filter(|ms| (100..=28_000).contains(ms))
                    .ok_or_else(|| {
                        ConfigError::new("BEDROCK_TIMEOUT_MS must be 100 to 28000 (ms)")
                    })?,
            ),
        };
        let (region, credentials) = region_and_credentials(&get)?;
        let mut config = aws_sdk_bedrockruntime::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region)
            .credentials_provider(credentials)
            .identity_cache(IdentityCache::no_cache())
            .http_client(https_client(&get)?)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(timeout)
                    .operation_timeout(timeout)
                    .build(),
            )
            // A throttled question is tried once more after a short pause, within the
            // same budget; past it the caller gets 503 `model_busy`.
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(Duration::from_millis(200)),
            );
        if let Some(endpoint) = get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME") {
            config = config.endpoint_url(endpoint);
        }
        Ok(Some(Model {
            id: id.trim().to_owned(),
            client: Client::from_conf(config.build()),
        }))
    }

    /// One question: the system prompt, one user turn, the output capped.
    pub async fn ask(&self, system: &str, user: String) -> Result<Answer, ModelFailure> {
        let message = Message::builder()
            .role(ConversationRole::User)
            .content(ContentBlock::Text(user))
            .build()
            .map_err(|e| ModelFailure::Failed(format!("the request: {e}")))?;
        let out = self
            .client
            .converse()
            .model_id(&self.id)
            .system(SystemContentBlock::Text(system.to_owned()))
            .messages(message)
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(MAX_OUTPUT_TOKENS)
                    .temperature(TEMPERATURE)
                    .build(),
            )
            .send()
            .await
            .map_err(failure)?;
        let text = match out.output() {
            Some(ConverseOutput::Message(m)) => m
                .content()
                .iter()
                .filter_map(|c| c.as_text().ok())
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        };
        if text.trim().is_empty() {
            return Err(ModelFailure::Failed(format!(
                "the model's answer held no text (stop reason {})",
                out.stop_reason().as_str()
            )));
        }
        let (input_tokens, output_tokens) = out
            .usage()
            .map_or((0, 0), |u| (u.input_tokens(), u.output_tokens()));
        Ok(Answer {
            text,
            input_tokens,
            output_tokens,
            stop_reason: out.stop_reason().as_str().to_owned(),
        })
    }
}

/// What a failed `Converse` means for the caller: Bedrock busy (throttled, unavailable, a
/// model not ready or a quota): 503, worth a retry; out of time: 504; anything else (no
/// access to the model, a model id that does not exist, a refused request): 502, with
/// the cause in the log.
pub fn failure(e: SdkError<ConverseError>) -> ModelFailure {
    let cause = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::TimeoutError(_) => ModelFailure::Timeout(cause),
        SdkError::DispatchFailure(d) if d.is_timeout() => ModelFailure::Timeout(cause),
        SdkError::ServiceError(s) => match s.err() {
            ConverseError::ThrottlingException(_)
            | ConverseError::ServiceUnavailableException(_)
            | ConverseError::ModelNotReadyException(_) => ModelFailure::Busy(cause),
            ConverseError::ModelTimeoutException(_) => ModelFailure::Timeout(cause),
            _ => ModelFailure::Failed(cause),
        },
        _ => ModelFailure::Failed(cause),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn model(vars: &[(&str, &str)]) -> Result<Option<Model>, ConfigError> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        Model::from_env(|k| map.get(k).map(|v| v.to_string()))
    }

    const LAMBDA: [(&str, &str); 3] = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];

    #[test]
    fn off_without_a_model_id() {
        assert!(model(&LAMBDA).unwrap().is_none());
        let mut blank = LAMBDA.to_vec();
        blank.push(("BEDROCK_MODEL_ID", "  "));
        assert!(model(&blank).unwrap().is_none());
    }

    #[test]
    fn on_with_one_and_the_timeout_checked() {
        let mut on = LAMBDA.to_vec();
        on.push(("BEDROCK_MODEL_ID", "amazon.nova-micro-v1:0"));
        let m = model(&on).unwrap().expect("on");
        assert_eq!(m.id, "amazon.nova-micro-v1:0");
        let timeouts = m.client.config().timeout_config().unwrap();
        assert_eq!(timeouts.operation_timeout(), Some(DEFAULT_TIMEOUT));
        for bad in ["0", "29000", "soon"] {
            let mut v = on.clone();
            v.push(("BEDROCK_TIMEOUT_MS", bad));
            assert!(model(&v).is_err(), "{bad}");
        }
        // Without the role's keys, no client at all (a deploy mistake shows at Init).
        assert!(model(&[("BEDROCK_MODEL_ID", "m"), ("AWS_REGION", "us-east-1")]).is_err());
    }
}
