//! The one error type of the client.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use uuid::Uuid;

/// Everything a call can fail with. Match on the variant to tell "fix your input" (nothing was sent) from "eToro
/// said no" from "the network failed"; the helpers (`is_not_found()`, `is_rate_limited()`, ...) cover the common
/// questions.
///
/// No variant ever holds or prints a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input broke a rule checked locally. Nothing was sent.
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),

    /// The client could not be built from its settings. Nothing was sent.
    #[error("invalid client setting {setting}: {rule}")]
    InvalidConfig {
        /// The builder setting at fault, e.g. `base_url` or `x-api-key`.
        setting: &'static str,
        /// The rule it broke.
        rule: String,
    },

    /// eToro answered with an error status (4xx or 5xx).
    #[error(transparent)]
    Api(Box<ApiError>),

    /// eToro answered with a redirect. The client follows none, so credentials never reach another host.
    #[error(
        "eToro answered {status} redirecting to {}; redirects are not followed so credentials never leave the configured host (request id {request_id})",
        location.as_deref().unwrap_or("(no Location header)")
    )]
    Redirect {
        /// The 3xx status.
        status: StatusCode,
        /// The `Location` header, if any.
        location: Option<String>,
        /// The `x-request-id` the request carried.
        request_id: Uuid,
    },

    /// The request could not be completed: connection refused or reset, TLS failure, a broken body.
    #[error("could not complete the request after {attempts} attempt(s) (request id {request_id}): {source}")]
    Transport {
        /// The `x-request-id` every attempt carried.
        request_id: Uuid,
        /// How many attempts were made.
        attempts: u32,
        /// The underlying failure.
        #[source]
        source: reqwest::Error,
    },

    /// No answer arrived within the per-attempt timeout or the retry deadline.
    #[error("no answer within {after:?} after {attempts} attempt(s) (request id {request_id})")]
    Timeout {
        /// The `x-request-id` every attempt carried.
        request_id: Uuid,
        /// How many attempts were made.
        attempts: u32,
        /// How long the last attempt waited.
        after: Duration,
    },
}

impl Error {
    /// The HTTP status eToro answered with, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::Redirect { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `x-request-id` of the failed call, to quote to eToro support. `None` when nothing was sent.
    pub fn request_id(&self) -> Option<Uuid> {
        match self {
            Error::Api(api) => Some(api.request_id),
            Error::Redirect { request_id, .. }
            | Error::Transport { request_id, .. }
            | Error::Timeout { request_id, .. } => Some(*request_id),
            Error::InvalidInput(_) | Error::InvalidConfig { .. } => None,
        }
    }

    /// eToro's `errorCode`, e.g. `NoChangesDetected`, when the answer carried one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.error_code.as_deref(),
            _ => None,
        }
    }

    /// The server's `Retry-After`, when its answer carried one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(api) => api.retry_after,
            _ => None,
        }
    }

    /// True when the input or settings were refused locally and nothing was sent.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Error::InvalidInput(_) | Error::InvalidConfig { .. })
    }

    /// True for 404: the agent-portfolio or the user token does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// True for 429: the shared quota of the user key is used up.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(StatusCode::TOO_MANY_REQUESTS)
    }

    /// True for 401: the credentials were refused.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(StatusCode::UNAUTHORIZED)
    }

    /// True when the failure is transient (429, 500, 502, 503, 504, connection failures, timeouts): the kind
    /// the client retries.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(api) => crate::retry::is_retryable_status(api.status),
            Error::Transport { source, .. } => !source.is_builder() && !source.is_decode(),
            Error::Timeout { .. } => true,
            _ => false,
        }
    }
}

/// A rule the input broke, found before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {rule} (nothing was sent)")]
pub struct InvalidInput {
    /// The field at fault, by its API name (`scopeNames[1]`, `ipsWhitelist`, `expiresAt`, ...).
    pub field: String,
    /// The rule it broke.
    pub rule: String,
}

impl InvalidInput {
    pub(crate) fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        InvalidInput {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// eToro's error answer: the status, its `ErrorResponse` body and the request id to quote to support.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// `errorCode` from the body, e.g. `NotFound`; `None` when the body was not an `ErrorResponse`.
    pub error_code: Option<String>,
    /// `errorMessage` from the body.
    pub error_message: Option<String>,
    /// The start of the body when it was not an `ErrorResponse` (an HTML page from a proxy, say).
    pub body_snippet: Option<String>,
    /// The `x-request-id` every attempt carried.
    pub request_id: Uuid,
    /// How many attempts were made.
    pub attempts: u32,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// A success status the operation does not document, where the client needs the documented body.
    pub(crate) fn unexpected(status: StatusCode, request_id: Uuid, attempts: u32) -> Self {
        ApiError {
            status,
            error_code: None,
            error_message: Some("undocumented success status: the answer could not be read".to_owned()),
            body_snippet: None,
            request_id,
            attempts,
            retry_after: None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "eToro answered {}", self.status)?;
        match (&self.error_code, &self.error_message) {
            (Some(code), Some(message)) => write!(f, ": {code}: {message}")?,
            (Some(code), None) => write!(f, ": {code}")?,
            (None, Some(message)) => write!(f, ": {message}")?,
            (None, None) => {}
        }
        if let Some(snippet) = &self.body_snippet {
            write!(f, " (body: {snippet:?})")?;
        }
        write!(f, " (request id {}, {} attempt(s))", self.request_id, self.attempts)
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for Error {
    fn from(api: ApiError) -> Self {
        Error::Api(Box::new(api))
    }
}
