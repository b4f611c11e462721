//! Running one logical call: attempts under a timeout, retries under the policy, and progenitor's errors turned
//! into the client's. Every operation (v1 and v2 updates, the scopes lookup) goes through [`run`].

use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use progenitor_client::ResponseValue;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::error::{ApiError, Error, InvalidInput};
use crate::generated::types;
use crate::hooks::{AttemptMeta, PreparedRequest, ATTEMPT, DRY_RUN};
use crate::retry::{self, RetryPolicy};

/// What one attempt of a generated operation returns.
pub(crate) type Outcome<T> = Result<ResponseValue<T>, progenitor_client::Error<types::ErrorResponse>>;

/// A successful answer.
pub(crate) enum Answer<T> {
    /// The documented success, decoded.
    Documented(ResponseValue<T>),
    /// A 2xx the spec does not list (the body is not read).
    OtherSuccess(StatusCode),
}

impl<T> Answer<T> {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Answer::Documented(value) => value.status(),
            Answer::OtherSuccess(status) => *status,
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the policy says stop. Returns the answer and the number
/// of attempts. The caller builds each attempt with the same `request_id`.
pub(crate) async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    timeout: Duration,
    request_id: Uuid,
    operation: &'static str,
    mut attempt: F,
) -> Result<(Answer<T>, u32), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Outcome<T>>,
{
    let started = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let remaining = policy.total_deadline().saturating_sub(started.elapsed());
        let timeout = timeout.min(remaining);
        let failure = match once(attempt(), request_id, attempts, timeout).await {
            Ok(answer) => return Ok((answer, attempts)),
            Err(failure) => failure,
        };
        let delay = failure
            .is_retryable()
            .then(|| policy.delay_before_next(attempts, failure.retry_after(), started.elapsed()))
            .flatten();
        match delay {
            Some(delay) => {
                tracing::debug!(%request_id, operation, attempt = attempts, ?delay, error = %failure, "retrying");
                tokio::time::sleep(delay).await;
            }
            None => return Err(failure),
        }
    }
}

/// Builds the request `attempt` would send, through the generated code and the hooks, without sending it.
pub(crate) async fn dry_run<T, Fut>(attempt: Fut, request_id: Uuid) -> Result<PreparedRequest, Error>
where
    Fut: Future<Output = Outcome<T>>,
{
    DRY_RUN
        .scope(RefCell::new(None), async move {
            once(attempt, request_id, 1, Duration::MAX).await?;
            Ok(DRY_RUN
                .with(|slot| slot.take())
                .expect("the exec hook records every dry run"))
        })
        .await
}

/// One attempt, with the slot the `exec` hook fills in.
async fn once<T>(
    call: impl Future<Output = Outcome<T>>,
    request_id: Uuid,
    attempt: u32,
    timeout: Duration,
) -> Result<Answer<T>, Error> {
    ATTEMPT
        .scope(RefCell::new(AttemptMeta::default()), async move {
            let result = tokio::time::timeout(timeout, call).await;
            let meta = ATTEMPT.with(|meta| meta.take());
            match result {
                Err(_elapsed) => Err(Error::Timeout {
                    request_id,
                    attempts: attempt,
                    after: timeout,
                }),
                Ok(Ok(value)) => Ok(Answer::Documented(value)),
                Ok(Err(err)) => interpret(err, meta, request_id, attempt, timeout).await,
            }
        })
        .await
}

/// Turns progenitor's error into the client's, keeping the status even where progenitor drops it.
async fn interpret<T>(
    err: progenitor_client::Error<types::ErrorResponse>,
    meta: AttemptMeta,
    request_id: Uuid,
    attempts: u32,
    timeout: Duration,
) -> Result<Answer<T>, Error> {
    use progenitor_client::Error as Gen;
    let retry_after = meta
        .retry_after
        .as_deref()
        .and_then(|value| retry::parse_retry_after(value, SystemTime::now()));
    let api = |status, error_code, error_message, body_snippet| {
        Err(Error::from(ApiError {
            status,
            error_code,
            error_message,
            body_snippet,
            request_id,
            attempts,
            retry_after,
        }))
    };
    match err {
        Gen::ErrorResponse(answer) => {
            let status = answer.status();
            let body = answer.into_inner();
            api(status, body.error_code, body.error_message, None)
        }
        // A documented status whose body does not decode: an HTML error page from a proxy, an empty body.
        Gen::InvalidResponsePayload(bytes, _) => {
            let status = meta.status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            api(status, None, None, Some(snippet(&bytes)))
        }
        Gen::UnexpectedResponse(response) => {
            let status = response.status();
            if status.is_success() {
                // The spec lists one success status; another 2xx still means eToro did what was asked.
                tracing::warn!(%request_id, %status, "answered an undocumented success status");
                return Ok(Answer::OtherSuccess(status));
            }
            if status.is_redirection() {
                return Err(Error::Redirect {
                    status,
                    location: meta.location,
                    request_id,
                });
            }
            // Undocumented statuses (502, 503, ...) may still carry an `ErrorResponse`.
            let bytes = response.bytes().await.unwrap_or_default();
            match serde_json::from_slice::<types::ErrorResponse>(&bytes) {
                Ok(body) if body.error_code.is_some() || body.error_message.is_some() => {
                    api(status, body.error_code, body.error_message, None)
                }
                _ => api(status, None, None, (!bytes.is_empty()).then(|| snippet(&bytes))),
            }
        }
        // The connect timeout fires inside reqwest; the attempt timeout is the wrapper's own (it also covers a
        // caller's `reqwest::Client`). Both are the same kind of failure to the caller.
        Gen::CommunicationError(source) if source.is_timeout() => Err(Error::Timeout {
            request_id,
            attempts,
            after: timeout,
        }),
        Gen::CommunicationError(source) | Gen::ResponseBodyError(source) | Gen::InvalidUpgrade(source) => {
            Err(Error::Transport {
                request_id,
                attempts,
                source,
            })
        }
        // The wrapper validated and typed every input, so the generated builder cannot refuse one.
        Gen::InvalidRequest(message) | Gen::Custom(message) => {
            Err(Error::InvalidInput(InvalidInput::new("request", message)))
        }
    }
}

/// The first 200 characters of a body, lossily decoded, for error messages.
fn snippet(bytes: &[u8]) -> String {
    const MAX_CHARS: usize = 200;
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        out.push('…');
    }
    out
}
