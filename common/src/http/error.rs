//! Every way a request can fail: one `ErrorCode` per machine-readable code (openapi.json
//! lists the same: integration/tests/openapi.rs), and `ApiError`, each with its status and a
//! message fit for the client. Causes of 5xx are logged, never sent.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};

use super::response::{json_response, NO_STORE};
use crate::domain::forward::QueryTooLong;
use crate::domain::password::PasswordError;
use crate::domain::rules::RulesError;
use crate::domain::sheet::CsvError;
use crate::domain::{AliasError, DateError, Gone, PatchError, RankingError, UrlError};
use crate::store::{CreateError, StoreError};

/// Largest request body accepted (a 2048-character URL and an alias fit many times over).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u32 = 1;

/// Declares `ErrorCode` once: each variant with its code, `ALL` and `as_str` made from the
/// same list, so that no code can be missing from either.
macro_rules! error_codes {
    ($($variant:ident => $code:literal,)+) => {
        /// Every `error.code` the API answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)+
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }
        }
    };
}

error_codes! {
    InvalidJson => "invalid_json",
    InvalidUrl => "invalid_url",
    UnsupportedScheme => "unsupported_scheme",
    UrlTooLong => "url_too_long",
    BlockedHost => "blocked_host",
    SelfLink => "self_link",
    PrivateTarget => "private_target",
    InvalidHost => "invalid_host",
    InvalidAlias => "invalid_alias",
    ReservedAlias => "reserved_alias",
    InvalidDate => "invalid_date",
    InvalidRange => "invalid_range",
    InvalidPeriod => "invalid_period",
    InvalidExpiresAt => "invalid_expires_at",
    InvalidMaxVisits => "invalid_max_visits",
    InvalidDisabled => "invalid_disabled",
    InvalidForwardQuery => "invalid_forward_query",
    InvalidTitle => "invalid_title",
    InvalidTags => "invalid_tags",
    InvalidPassword => "invalid_password",
    InvalidRules => "invalid_rules",
    InvalidForm => "invalid_form",
    InvalidFilter => "invalid_filter",
    UnknownField => "unknown_field",
    InvalidLimit => "invalid_limit",
    InvalidCursor => "invalid_cursor",
    InvalidSize => "invalid_size",
    InvalidBatchSize => "invalid_batch_size",
    InvalidCsv => "invalid_csv",
    InvalidOnConflict => "invalid_on_conflict",
    InvalidFormat => "invalid_format",
    InvalidOwner => "invalid_owner",
    Unauthorized => "unauthorized",
    Forbidden => "forbidden",
    WrongPassword => "wrong_password",
    TooManyAttempts => "too_many_attempts",
    NotFound => "not_found",
    MethodNotAllowed => "method_not_allowed",
    AliasTaken => "alias_taken",
    QueryTooLong => "query_too_long",
    LinkExpired => "link_expired",
    LinkDisabled => "link_disabled",
    LinkTakenDown => "link_taken_down",
    PayloadTooLarge => "payload_too_large",
    UnsupportedMediaType => "unsupported_media_type",
    StoreUnavailable => "store_unavailable",
    InternalError => "internal_error",
    InvalidPrompt => "invalid_prompt",
    TooManyQuestions => "too_many_questions",
    AskDisabled => "ask_disabled",
    ModelBusy => "model_busy",
    ModelTimeout => "model_timeout",
    ModelError => "model_error",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Every way a request can fail, each with its status, its machine-readable code and a
/// message fit for the client. Causes of 5xx are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("this key may not do this (another owner's link, or an admin's route)")]
    Forbidden,
    #[error("this API answers through its CloudFront edge only")]
    EdgeOnly,
    #[error("an admin took this link down: only an admin can enable it, change its target or rules, or delete it")]
    TakenDown,
    #[error("wrong password")]
    WrongPassword,
    #[error("too many wrong passwords for this link: try again in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    #[error("no link with this code")]
    NotFound,
    #[error("{0}")]
    Gone(Gone),
    #[error("method not allowed: use {allow}")]
    MethodNotAllowed { allow: String },
    #[error("{0}")]
    AliasTaken(String),
    #[error("{0}")]
    QueryTooLong(QueryTooLong),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("content type must be {0}")]
    UnsupportedMediaType(&'static str),
    #[error("the link store is unavailable, retry shortly")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
    #[error("this key asked {limit} questions this hour: try again in {retry_after} s")]
    TooManyQuestions { retry_after: u64, limit: u32 },
    #[error("{0}")]
    Model(ModelFailure),
}

/// Every error body: `{"error": {"code", "message"}}` (openapi.json's `Error`), and what
/// `into_response_with` adds beside it.
#[derive(Debug, Clone, serde::Serialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
}

/// Why the analytics model (Amazon Bedrock, `POST /insights/ask`) gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelFailure {
    #[error(
        "questions are off here: the deployment names no model (template parameter BedrockModelId)"
    )]
    Disabled,
    #[error("the model is busy (Bedrock throttled the question): retry shortly")]
    Busy(String),
    #[error("the model did not answer in time")]
    Timeout(String),
    #[error("the model could not answer")]
    Failed(String),
}

impl ApiError {
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden
            | ApiError::EdgeOnly
            | ApiError::TakenDown
            | ApiError::WrongPassword => StatusCode::FORBIDDEN,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::AliasTaken(_) => StatusCode::CONFLICT,
            ApiError::QueryTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::TooManyQuestions { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Model(ModelFailure::Disabled) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Model(ModelFailure::Busy(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Model(ModelFailure::Timeout(_)) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Model(ModelFailure::Failed(_)) => StatusCode::BAD_GATEWAY,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest { code, .. } => *code,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden | ApiError::EdgeOnly => ErrorCode::Forbidden,
            ApiError::TakenDown => ErrorCode::LinkTakenDown,
            ApiError::WrongPassword => ErrorCode::WrongPassword,
            ApiError::TooManyAttempts { .. } => ErrorCode::TooManyAttempts,
            ApiError::NotFound => ErrorCode::NotFound,
            ApiError::Gone(Gone::Disabled) => ErrorCode::LinkDisabled,
            ApiError::Gone(Gone::Expired | Gone::VisitLimit) => ErrorCode::LinkExpired,
            ApiError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            ApiError::AliasTaken(_) => ErrorCode::AliasTaken,
            ApiError::QueryTooLong(_) => ErrorCode::QueryTooLong,
            ApiError::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::Unavailable(_) => ErrorCode::StoreUnavailable,
            ApiError::Internal(_) => ErrorCode::InternalError,
            ApiError::TooManyQuestions { .. } => ErrorCode::TooManyQuestions,
            ApiError::Model(ModelFailure::Disabled) => ErrorCode::AskDisabled,
            ApiError::Model(ModelFailure::Busy(_)) => ErrorCode::ModelBusy,
            ApiError::Model(ModelFailure::Timeout(_)) => ErrorCode::ModelTimeout,
            ApiError::Model(ModelFailure::Failed(_)) => ErrorCode::ModelError,
        }
    }

    /// What is logged beside the response: the hidden cause of a 5xx.
    pub fn cause(&self) -> Option<&str> {
        match self {
            ApiError::Unavailable(c) | ApiError::Internal(c) => Some(c),
            ApiError::Model(
                ModelFailure::Busy(c) | ModelFailure::Timeout(c) | ModelFailure::Failed(c),
            ) => Some(c),
            _ => None,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        self.into_response_with(serde_json::Map::new())
    }

    /// The `error` of the body: `{"code", "message"}` (a batch's results carry it too).
    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail {
            code: self.code().as_str(),
            message: self.to_string(),
        }
    }

    /// The error's response with `extra` fields beside `error` in the body (what a caller
    /// still gets when the main answer failed, e.g. the rule-based insights of a question).
    pub fn into_response_with(
        self,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Response<Body> {
        let mut body = serde_json::to_value(ErrorBody {
            error: self.detail(),
        })
        .unwrap_or_default();
        if let Some(fields) = body.as_object_mut() {
            fields.extend(extra);
        }
        let mut resp = json_response(self.status(), &body);
        let headers = resp.headers_mut();
        match self {
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    headers.insert(header::ALLOW, v);
                }
            }
            ApiError::Unavailable(_) | ApiError::Model(ModelFailure::Busy(_)) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            ApiError::TooManyQuestions { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::TooManyAttempts { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
            }
            ApiError::WrongPassword => {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
            }
            ApiError::Gone(_) => {
                // Refusals of a link may be lifted (PATCH): no browser may keep one.
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
            }
            _ => {}
        }
        resp
    }
}

impl From<UrlError> for ApiError {
    fn from(e: UrlError) -> Self {
        let code = match e {
            UrlError::TooLong { .. } => ErrorCode::UrlTooLong,
            UrlError::Scheme(_) => ErrorCode::UnsupportedScheme,
            UrlError::Blocked(_) => ErrorCode::BlockedHost,
            UrlError::OwnHost => ErrorCode::SelfLink,
            UrlError::PrivateTarget(_) => ErrorCode::PrivateTarget,
            _ => ErrorCode::InvalidUrl,
        };
        ApiError::bad_request(code, e.to_string())
    }
}

impl From<AliasError> for ApiError {
    fn from(e: AliasError) -> Self {
        let code = match e {
            AliasError::Reserved(_) => ErrorCode::ReservedAlias,
            _ => ErrorCode::InvalidAlias,
        };
        ApiError::bad_request(code, e.to_string())
    }
}

impl From<DateError> for ApiError {
    fn from(e: DateError) -> Self {
        let code = match e {
            DateError::Format { .. } => ErrorCode::InvalidDate,
            DateError::Reversed { .. } | DateError::TooLong { .. } => ErrorCode::InvalidRange,
        };
        ApiError::bad_request(code, e.to_string())
    }
}

impl From<RankingError> for ApiError {
    fn from(e: RankingError) -> Self {
        match e {
            RankingError::Date(d) => d.into(),
            RankingError::Period | RankingError::DateWithAll => {
                ApiError::bad_request(ErrorCode::InvalidPeriod, e.to_string())
            }
            RankingError::Limit => ApiError::bad_request(ErrorCode::InvalidLimit, e.to_string()),
        }
    }
}

impl From<QueryTooLong> for ApiError {
    fn from(e: QueryTooLong) -> Self {
        ApiError::QueryTooLong(e)
    }
}

impl From<PatchError> for ApiError {
    fn from(e: PatchError) -> Self {
        match e {
            PatchError::Url(u) => u.into(),
            PatchError::UnknownField(_) => {
                ApiError::bad_request(ErrorCode::UnknownField, e.to_string())
            }
            PatchError::UrlType => ApiError::bad_request(ErrorCode::InvalidUrl, e.to_string()),
            PatchError::ExpiresAt => {
                ApiError::bad_request(ErrorCode::InvalidExpiresAt, e.to_string())
            }
            PatchError::MaxVisits => {
                ApiError::bad_request(ErrorCode::InvalidMaxVisits, e.to_string())
            }
            PatchError::Disabled => {
                ApiError::bad_request(ErrorCode::InvalidDisabled, e.to_string())
            }
            PatchError::ForwardQuery => {
                ApiError::bad_request(ErrorCode::InvalidForwardQuery, e.to_string())
            }
            PatchError::Title => ApiError::bad_request(ErrorCode::InvalidTitle, e.to_string()),
            PatchError::Tags => ApiError::bad_request(ErrorCode::InvalidTags, e.to_string()),
            PatchError::Password(p) => p.into(),
            PatchError::Rules(r) => r.into(),
        }
    }
}

impl From<PasswordError> for ApiError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Invalid => {
                ApiError::bad_request(ErrorCode::InvalidPassword, e.to_string())
            }
            PasswordError::Hash => ApiError::Internal(e.to_string()),
        }
    }
}

/// A rule's URL refused by a URL rule keeps that rule's code (private_target ...), with
/// the rule named in the message; anything else about the rules is `invalid_rules`.
impl From<RulesError> for ApiError {
    fn from(e: RulesError) -> Self {
        let message = e.to_string();
        match e {
            RulesError::Url { error, .. } => {
                let code = ApiError::from(error).code();
                ApiError::bad_request(code, message)
            }
            _ => ApiError::bad_request(ErrorCode::InvalidRules, message),
        }
    }
}

/// A body with too few or too many rows is `invalid_batch_size`, as a bulk create's;
/// anything else wrong with the whole CSV is `invalid_csv`.
impl From<CsvError> for ApiError {
    fn from(e: CsvError) -> Self {
        let code = match e {
            CsvError::NoRows | CsvError::TooManyRows => ErrorCode::InvalidBatchSize,
            _ => ErrorCode::InvalidCsv,
        };
        ApiError::bad_request(code, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) | StoreError::Throttled { .. } => {
                ApiError::Unavailable(e.to_string())
            }
            StoreError::Malformed { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<CreateError> for ApiError {
    fn from(e: CreateError) -> Self {
        match e {
            CreateError::AliasTaken(_) => ApiError::AliasTaken(e.to_string()),
            CreateError::CodesExhausted => ApiError::Internal(e.to_string()),
            CreateError::Store(s) => s.into(),
        }
    }
}
