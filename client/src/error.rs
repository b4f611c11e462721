//! The one error type of the client, and what a failed call was about.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use uuid::Uuid;

use crate::rate_limit::RateLimit;

mod quota_wait;
mod unexpected;

use quota_wait::stopped_text;
pub use quota_wait::QuotaWait;
pub use unexpected::{Problem, UnexpectedResponse};

/// eToro's documented `errorCode`s, to compare with [`Error::code`].
///
/// ```
/// # fn check(err: &etoro_client::Error) {
/// use etoro_client::code;
/// if err.code() == Some(code::NO_CHANGES_DETECTED) {
///     // The token already has these settings.
/// }
/// # }
/// ```
pub mod code {
    /// 400: the update changes nothing (or names no field).
    pub const NO_CHANGES_DETECTED: &str = "NoChangesDetected";
    /// 400 (v1): a `scopeIds` entry is not allowed.
    pub const SCOPE_ID_NOT_ALLOWED: &str = "ScopeIdNotAllowed";
    /// 400 (create): the body names no scope (`scopeNames` missing or empty). The code keeps its v1 name, "ids";
    /// eToro's message says `ScopeNames is required`.
    pub const SCOPE_IDS_REQUIRED: &str = "ScopeIdsRequired";
    /// 400 (create): an `ipsWhitelist` entry is not a valid IPv4 address.
    pub const IPS_WHITELIST_INVALID_IP: &str = "IpsWhitelistInvalidIp";
    /// 400 (revoke): the ids are not valid.
    pub const VALIDATION_FAILED: &str = "ValidationFailed";
    /// 401: the credentials were refused.
    pub const UNAUTHORIZED: &str = "Unauthorized";
    /// 403 (v2): a scope name is outside the allowed list.
    pub const SCOPE_NAME_NOT_ALLOWED: &str = "ScopeNameNotAllowed";
    /// 404: the agent-portfolio or the user token does not exist.
    pub const NOT_FOUND: &str = "NotFound";
    /// 409 (create): the agent-portfolio already has a token of that name.
    pub const USER_KEY_NAME_ALREADY_EXISTS: &str = "UserKeyNameAlreadyExists";
    /// 429: the shared quota of the user key is used up; wait for `Retry-After`.
    pub const TOO_MANY_REQUESTS: &str = "TooManyRequests";
    /// 429 (create): the agent-portfolio holds the most tokens allowed. Not rate limiting: waiting does not help.
    pub const MAX_USER_TOKENS_EXCEEDED: &str = "MaxUserTokensExceeded";
    /// 500: eToro failed.
    pub const UNHANDLED_EXCEPTION: &str = "UnhandledException";
}

/// Everything a call can fail with. Match on the variant to tell "fix your input" (nothing was sent) from "eToro
/// said no" from "the network failed"; the helpers (`is_not_found()`, `is_rate_limited()`, `code()`, ...) answer
/// the common questions without a match.
///
/// Every error of a call that reached the network names the call: operation, agent-portfolio and token, the
/// `x-request-id` to quote to eToro support, and how many attempts were made ([`Error::call`]). No variant ever
/// holds or prints a credential or a token's secret.
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

    /// eToro (or something in the way: a proxy, a captive portal) answered outside the spec: a success status the
    /// operation does not document, a body too large or unreadable. The change may or may not have been applied.
    #[error(transparent)]
    UnexpectedResponse(Box<UnexpectedResponse>),

    /// eToro answered with a redirect. The client follows none, so credentials never reach another host.
    #[error(
        "{call}: eToro answered {status} redirecting to {}; redirects are not followed so credentials never leave \
         the configured host ({})",
        location.as_deref().unwrap_or("(no Location header)"),
        call.reference()
    )]
    Redirect {
        /// The call.
        call: CallInfo,
        /// The 3xx status.
        status: StatusCode,
        /// The `Location` header, if any.
        location: Option<String>,
    },

    /// The request could not be completed: connection refused or reset, TLS failure, a broken body.
    #[error("{call}: could not complete the request: {}{} ({})", root_cause(source), unknown_outcome(call, !source.is_connect()), call.reference())]
    Transport {
        /// The call.
        call: CallInfo,
        /// The underlying failure; its causes are summed up in the message.
        #[source]
        source: reqwest::Error,
    },

    /// No answer arrived within the per-attempt timeout or the call's deadline.
    #[error("{call}: no answer within {after:?}{} ({})", unknown_outcome(call, true), call.reference())]
    Timeout {
        /// The call.
        call: CallInfo,
        /// How long the last attempt waited.
        after: Duration,
    },

    /// eToro's quota holds every request back for longer than the call's deadline allows (a 429's wait, a used-up
    /// window whose `RateLimit-Reset` is hours away, a spacing its `RateLimit-*` headers call for): the call did
    /// not wait, and sent nothing more. [`Error::is_rate_limited`] is true for it.
    #[error(transparent)]
    QuotaWait(Box<QuotaWait>),

    /// The call was stopped by its cancellation token ([`crate::Client::with_cancellation`]) while it waited for
    /// its turn or for its next attempt: it sent nothing more. A request already in flight is never cut off.
    #[error("{call}: stopped {}", stopped_text(call, last.as_deref()))]
    Cancelled {
        /// The call (`attempts` is 0 when nothing was sent).
        call: CallInfo,
        /// The failure of the last attempt, when there was one.
        last: Option<Box<Error>>,
    },
}

impl Error {
    /// What the call was (operation, ids, request id, attempts); `None` for an error found before the call
    /// began (invalid input or settings). `attempts` is 0 when nothing was sent.
    pub fn call(&self) -> Option<&CallInfo> {
        match self {
            Error::Api(api) => Some(&api.call),
            Error::UnexpectedResponse(unexpected) => Some(&unexpected.call),
            Error::QuotaWait(wait) => Some(&wait.call),
            Error::Redirect { call, .. }
            | Error::Transport { call, .. }
            | Error::Timeout { call, .. }
            | Error::Cancelled { call, .. } => Some(call),
            Error::InvalidInput(_) | Error::InvalidConfig { .. } => None,
        }
    }

    pub(crate) fn call_mut(&mut self) -> Option<&mut CallInfo> {
        match self {
            Error::Api(api) => Some(&mut api.call),
            Error::UnexpectedResponse(unexpected) => Some(&mut unexpected.call),
            Error::QuotaWait(wait) => Some(&mut wait.call),
            Error::Redirect { call, .. }
            | Error::Transport { call, .. }
            | Error::Timeout { call, .. }
            | Error::Cancelled { call, .. } => Some(call),
            Error::InvalidInput(_) | Error::InvalidConfig { .. } => None,
        }
    }

    /// The failure of the last attempt behind an error that ended the call without one of its own (a wait for
    /// quota past the deadline, a cancellation).
    fn last(&self) -> Option<&Error> {
        match self {
            Error::QuotaWait(wait) => wait.last.as_ref(),
            Error::Cancelled { last, .. } => last.as_deref(),
            _ => None,
        }
    }

    /// True when the call sent nothing: the input or settings were refused, or it stopped (a wait for quota past
    /// its deadline, a cancellation) before its first attempt.
    pub fn nothing_sent(&self) -> bool {
        self.call().is_none_or(|call| call.attempts == 0)
    }

    /// The HTTP status eToro answered with, if it answered (for a wait for quota or a cancellation: the last
    /// attempt's).
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::UnexpectedResponse(unexpected) => unexpected.status,
            Error::Redirect { status, .. } => Some(*status),
            _ => self.last().and_then(Error::status),
        }
    }

    /// The `x-request-id` of the failed call, to quote to eToro support. `None` when nothing was sent.
    pub fn request_id(&self) -> Option<Uuid> {
        self.call().map(|call| call.request_id)
    }

    /// How many attempts were made (0 when nothing was sent).
    pub fn attempts(&self) -> u32 {
        self.call().map_or(0, |call| call.attempts)
    }

    /// eToro's `errorCode`, e.g. [`code::NO_CHANGES_DETECTED`], when the answer carried one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.error_code.as_deref(),
            _ => self.last().and_then(Error::code),
        }
    }

    /// eToro's `errorMessage`, when the answer carried one. It comes from the network: escape it before printing
    /// it to a terminal.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.error_message.as_deref(),
            _ => self.last().and_then(Error::message),
        }
    }

    /// The server's `Retry-After`, when its answer carried one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(api) => api.retry_after,
            _ => self.last().and_then(Error::retry_after),
        }
    }

    /// The quota state the error answer reported (`RateLimit-*` headers), when it had one.
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        match self {
            Error::Api(api) => api.rate_limit.as_ref(),
            _ => self.last().and_then(Error::rate_limit),
        }
    }

    /// True when the input broke a local rule and nothing was sent.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Error::InvalidInput(_))
    }

    /// True when the client's settings were refused at build time (nothing was sent).
    pub fn is_invalid_config(&self) -> bool {
        matches!(self, Error::InvalidConfig { .. })
    }

    /// True for 404: the agent-portfolio or the user token does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// True for a 429 that is rate limiting (the shared quota of the user key is used up and waiting helps), and
    /// for [`Error::QuotaWait`]. A 429 `MaxUserTokensExceeded` is not rate limiting.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            Error::Api(api) => api.is_rate_limited(),
            Error::QuotaWait(_) => true,
            _ => false,
        }
    }

    /// True when the call was stopped by its cancellation token ([`Error::Cancelled`]).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled { .. })
    }

    /// True for 401: the credentials were refused.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(StatusCode::UNAUTHORIZED)
    }

    /// True for 403: the credentials may not do this (v2: a scope name outside the allowed list).
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(StatusCode::FORBIDDEN)
    }

    /// True when no answer came in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// True for a 5xx answer.
    pub fn is_server_error(&self) -> bool {
        self.status().is_some_and(|status| status.is_server_error())
    }

    /// True when the failure is transient: a rate limit, 500, 502, 503, 504, a connection failure or a timeout.
    /// Idempotent calls are retried on these by the client already (see [`crate::RetryPolicy`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(api) => api.is_rate_limited() || crate::retry::is_transient_status(api.status),
            Error::Transport { source, .. } => !source.is_builder() && !source.is_decode(),
            Error::Timeout { .. } | Error::QuotaWait(_) => true,
            _ => false,
        }
    }

    /// True when sending the same call again is safe: the failure is transient ([`Error::is_retryable`]) and
    /// repeating cannot apply the operation twice. Updates, revokes, lists and the scopes lookup are idempotent;
    /// a create is safe to repeat only when its request surely did not reach eToro (a rate limit, a connection
    /// that could not be made): after a failure of unknown outcome ([`Error::outcome_unknown`]) a second create
    /// could make a second token, so this is false; list the tokens and look for the name first.
    pub fn is_safe_to_retry(&self) -> bool {
        let Some(call) = self.call() else {
            return false;
        };
        self.is_retryable()
            && (call.operation.is_idempotent() || (!self.outcome_unknown() && !call.earlier_outcome_unknown))
    }

    /// True when the request may have reached eToro and been applied although no success came back: a timeout, a
    /// connection lost after sending, a 5xx, an answer outside the spec. After a failed create, list the tokens
    /// before creating again.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Error::Transport { source, .. } => !source.is_connect(),
            Error::Timeout { .. } | Error::UnexpectedResponse(_) => true,
            Error::Api(api) => api.status.is_server_error(),
            Error::QuotaWait(_) | Error::Cancelled { .. } => {
                self.call().is_some_and(|call| call.earlier_outcome_unknown)
                    || self.last().is_some_and(Error::outcome_unknown)
            }
            _ => false,
        }
    }

    /// True when a v1 update was answered as if the route did not exist (404 without an eToro error body, 405,
    /// 410): eToro may have retired v1; switch to v2 (`ApiVersion::V2`, `--api v2`).
    pub fn v1_may_be_retired(&self) -> bool {
        match self {
            Error::Api(api) => api.v1_may_be_retired(),
            _ => false,
        }
    }
}

/// Which operation a call was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `GET /api/v1/agent-portfolios`.
    ListAgentPortfolios,
    /// `PATCH /api/v1/.../user-tokens/{userTokenId}`.
    UpdateUserToken,
    /// `PATCH /api/v2/.../user-tokens/{userTokenId}`.
    UpdateUserTokenV2,
    /// `POST /api/v2/.../user-tokens`.
    CreateUserToken,
    /// `DELETE /api/v1/.../user-tokens/{userTokenId}`.
    RevokeUserToken,
    /// `GET /api/v2/agent-portfolios/user-tokens/scopes`.
    GetAllowedScopes,
}

impl Operation {
    /// The spec's `operationId`.
    pub fn id(self) -> &'static str {
        match self {
            Operation::ListAgentPortfolios => "listAgentPortfolios",
            Operation::UpdateUserToken => "updateUserToken",
            Operation::UpdateUserTokenV2 => "updateUserTokenV2",
            Operation::CreateUserToken => "createUserTokenV2",
            Operation::RevokeUserToken => "deleteUserToken",
            Operation::GetAllowedScopes => "getAllowedScopes",
        }
    }

    /// True when sending it twice has the effect of sending it once, so a failure of unknown outcome may be
    /// retried. Only the create is not: a second create makes a second token.
    pub fn is_idempotent(self) -> bool {
        self != Operation::CreateUserToken
    }
}

/// What a call that reached the network was about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallInfo {
    /// The operation.
    pub operation: Operation,
    /// The agent-portfolio, for the operations that name one.
    pub portfolio: Option<Uuid>,
    /// The user token, for the operations that name one.
    pub token: Option<Uuid>,
    /// The `x-request-id` every attempt carried: quote it to eToro support.
    pub request_id: Uuid,
    /// How many attempts were made.
    pub attempts: u32,
    /// True when an earlier attempt may have reached eToro without an answer coming back (a timeout, a dropped
    /// connection, a 5xx): a later "not found" may then be that attempt's doing.
    pub earlier_outcome_unknown: bool,
}

impl CallInfo {
    pub(crate) fn new(operation: Operation, portfolio: Option<Uuid>, token: Option<Uuid>, request_id: Uuid) -> Self {
        CallInfo {
            operation,
            portfolio,
            token,
            request_id,
            attempts: 0,
            earlier_outcome_unknown: false,
        }
    }

    /// "request id R, N attempt(s)", for the end of a message.
    fn reference(&self) -> String {
        let plural = if self.attempts == 1 { "" } else { "s" };
        format!("request id {}, {} attempt{plural}", self.request_id, self.attempts)
    }
}

/// What the call was doing, e.g. "updating user token T of agent-portfolio P".
impl fmt::Display for CallInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = |id: Option<Uuid>| id.map_or_else(|| "?".to_owned(), |id| id.to_string());
        let (portfolio, token) = (id(self.portfolio), id(self.token));
        match self.operation {
            Operation::ListAgentPortfolios => f.write_str("listing agent-portfolios"),
            Operation::UpdateUserToken => write!(f, "updating user token {token} of agent-portfolio {portfolio}"),
            Operation::UpdateUserTokenV2 => {
                write!(f, "updating user token {token} of agent-portfolio {portfolio} (v2)")
            }
            Operation::CreateUserToken => write!(f, "creating a user token in agent-portfolio {portfolio}"),
            Operation::RevokeUserToken => write!(f, "revoking user token {token} of agent-portfolio {portfolio}"),
            Operation::GetAllowedScopes => f.write_str("listing the allowed scope names"),
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

/// eToro's error answer: the status, its `ErrorResponse` body, and the call it answered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The call.
    pub call: CallInfo,
    /// The HTTP status.
    pub status: StatusCode,
    /// `errorCode` from the body, e.g. [`code::NOT_FOUND`]; `None` when the body was not an `ErrorResponse`.
    pub error_code: Option<String>,
    /// `errorMessage` from the body. It comes from the network: escape it before printing it to a terminal.
    pub error_message: Option<String>,
    /// The start of the body when it was not an `ErrorResponse` (an HTML page from a proxy, say).
    pub body_snippet: Option<String>,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
    /// The quota state the answer reported (`RateLimit-*` headers), when it had one.
    pub rate_limit: Option<RateLimit>,
}

impl ApiError {
    /// True for a 429 other than `MaxUserTokensExceeded` (which waiting does not cure).
    pub fn is_rate_limited(&self) -> bool {
        self.status == StatusCode::TOO_MANY_REQUESTS
            && self.error_code.as_deref() != Some(code::MAX_USER_TOKENS_EXCEEDED)
    }

    /// See [`Error::v1_may_be_retired`].
    pub fn v1_may_be_retired(&self) -> bool {
        self.call.operation == Operation::UpdateUserToken
            && match self.status.as_u16() {
                405 | 410 => true,
                404 => self.error_code.is_none() && self.error_message.is_none(),
                _ => false,
            }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: eToro answered {}", self.call, self.status)?;
        match (&self.error_code, &self.error_message) {
            (Some(code), Some(message)) => write!(f, ": {code}: {message}")?,
            (Some(code), None) => write!(f, ": {code}")?,
            (None, Some(message)) => write!(f, ": {message}")?,
            (None, None) => {}
        }
        if let Some(snippet) = &self.body_snippet {
            write!(f, " (body: {snippet:?})")?;
        }
        if self.v1_may_be_retired() {
            f.write_str(
                "; the v1 endpoint may have been retired by eToro: switch to v2 (`--api v2`, \
                 `ApiVersion::V2`)",
            )?;
        }
        if self.status.is_server_error() {
            f.write_str(unknown_outcome(&self.call, true))?;
        }
        write!(f, " ({})", self.call.reference())
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for Error {
    fn from(api: ApiError) -> Self {
        Error::Api(Box::new(api))
    }
}

/// What an unanswered change means for the caller, for the operations that change something.
fn unknown_outcome(call: &CallInfo, maybe_sent: bool) -> &'static str {
    if !maybe_sent {
        return "";
    }
    match call.operation {
        Operation::UpdateUserToken | Operation::UpdateUserTokenV2 => "; the update may or may not have been applied",
        Operation::RevokeUserToken => "; the token may or may not have been revoked",
        Operation::CreateUserToken => {
            "; the token may or may not have been created, and the create was not repeated (a second create makes \
             a second token): list the agent-portfolio's tokens and look for the name before creating again"
        }
        Operation::ListAgentPortfolios | Operation::GetAllowedScopes => "",
    }
}

/// The innermost cause of a transport failure ("Connection refused (os error 111)"), after reqwest's own summary
/// ("error sending request"), without the URL: `Display` of `reqwest::Error` alone hides the cause.
fn root_cause(error: &reqwest::Error) -> String {
    let root = std::iter::successors(std::error::Error::source(error), |cause| cause.source()).last();
    let summary = if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_body() || error.is_decode() {
        "the answer was cut off"
    } else if error.is_request() {
        "error sending request"
    } else {
        "transport failure"
    };
    match root {
        Some(root) => format!("{summary}: {root}"),
        None => summary.to_owned(),
    }
}
