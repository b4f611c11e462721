//! What happens to every request and response on the wire: the generated client's `ClientHooks`.
//!
//! - `pre` adds the authentication headers and the user agent: the only place a secret is put on a request.
//! - `exec` sends the request under the attempt's timeout, reads the whole answer with a cap (64 KiB for errors,
//!   [`crate::ClientBuilder::max_response_bytes`] for successes), so that a hostile or broken server cannot make
//!   the client buffer without bound and a connection cut mid-body fails the attempt here, where it is retried;
//!   and it notes what the wrapper needs to report well (the status, which progenitor drops when an error body is
//!   not JSON; `Retry-After`; `Location`; the `RateLimit-*` headers).

use std::cell::RefCell;
use std::fmt;
use std::time::{Duration, SystemTime};

use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::{HeaderMap, CONTENT_LENGTH, LOCATION, RETRY_AFTER};
use reqwest::StatusCode;

use crate::auth::Auth;
use crate::generated::Client as GeneratedClient;
use crate::rate_limit::{parse_retry_after, RateLimit};

/// The most bytes of an error body the client reads; the rest is discarded.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// The most bytes of a success body a client reads unless told otherwise
/// ([`crate::ClientBuilder::max_response_bytes`]): a listing of thousands of tokens fits with room to spare.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// What the wrapper asks of one attempt, and what `exec` saw of its answer.
#[derive(Debug, Default)]
pub(crate) struct AttemptMeta {
    /// Set by the wrapper: the attempt's timeout, and the most bytes of a success body to read.
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_body: usize,
    /// Filled in by `exec`.
    pub(crate) answer: Option<AnswerMeta>,
}

/// What `exec` saw of an answer.
#[derive(Debug)]
pub(crate) struct AnswerMeta {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) location: Option<String>,
    pub(crate) rate_limit: Option<RateLimit>,
    /// Set when the body was longer than the cap: the answer the generated code sees is cut.
    pub(crate) truncated_at: Option<usize>,
}

/// A request as it would go on the wire, with sensitive header values (the credentials) redacted.
///
/// `Display` renders it as a `curl` command line, to paste into a ticket. Two headers may surprise:
/// `api-version` is the spec's `info.version` (the eToro description the spec was last checked against), which
/// progenitor sends on every request; `user-agent` is the client's ([`crate::DEFAULT_USER_AGENT`] unless set).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreparedRequest {
    /// The HTTP method.
    pub method: String,
    /// The full URL.
    pub url: String,
    /// Every header, in order; the values of sensitive ones are `[REDACTED]`.
    pub headers: Vec<(String, String)>,
    /// The body, as sent.
    pub body: String,
}

/// A `curl` command that sends the same request (credentials still redacted), with shell quoting.
impl fmt::Display for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "curl -X {} {}", self.method, shell_quote(&self.url))?;
        for (name, value) in &self.headers {
            write!(f, " \\\n  -H {}", shell_quote(&format!("{name}: {value}")))?;
        }
        if !self.body.is_empty() {
            write!(f, " \\\n  --data-raw {}", shell_quote(&self.body))?;
        }
        Ok(())
    }
}

/// Single quotes, with embedded single quotes closed, escaped and reopened: safe in any POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

tokio::task_local! {
    /// Set by the wrapper around each attempt. A task-local rather than a field because one `Client` serves many
    /// concurrent calls, and progenitor's `Error::InvalidResponsePayload` carries the body but not the status.
    pub(crate) static ATTEMPT: RefCell<AttemptMeta>;

    /// Set by a dry run: `exec` records the finished request here and answers 204 itself instead of sending.
    /// Capturing at `exec`, after the generated code and the `pre` hook ran, is what makes the record exact.
    pub(crate) static DRY_RUN: RefCell<Option<PreparedRequest>>;
}

impl ClientHooks<Auth> for GeneratedClient {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        self.inner.apply(request.headers_mut());
        Ok(())
    }

    async fn exec(&self, mut request: reqwest::Request, _info: &OperationInfo) -> reqwest::Result<reqwest::Response> {
        if DRY_RUN.try_with(|_| ()).is_ok() {
            let prepared = prepare(&request);
            DRY_RUN.with(|slot| *slot.borrow_mut() = Some(prepared));
            let mut answer = http::Response::new(Vec::new());
            *answer.status_mut() = StatusCode::NO_CONTENT;
            return Ok(reqwest::Response::from(answer));
        }
        // Outside the wrapper (someone driving the generated client directly) there is no slot: the client's own
        // timeout and the default cap apply, and there is nothing to note.
        let (timeout, max_body) = ATTEMPT
            .try_with(|meta| {
                let meta = meta.borrow();
                (meta.timeout, meta.max_body)
            })
            .unwrap_or((None, DEFAULT_MAX_RESPONSE_BYTES));
        if timeout.is_some() {
            // reqwest's per-request timeout covers connecting, sending and reading the whole body.
            *request.timeout_mut() = timeout;
        }
        let response = self.client.execute(request).await?;
        let status = response.status();
        // An answer without a body (every update's 204) has nothing to read or cap: it goes on as it came, which
        // spares rebuilding it (measured by `cargo xtask bench`: several microseconds a request).
        let (response, truncated_at) = if status == StatusCode::NO_CONTENT || response.content_length() == Some(0) {
            (response, None)
        } else {
            // A success body over the cap is an error whatever it holds: drop it at once rather than hand megabytes
            // on. An error body is cut and kept, for the message's snippet.
            let (limit, keep_cut) = if status.is_success() {
                (max_body, false)
            } else {
                (MAX_ERROR_BODY, true)
            };
            buffered(response, limit, keep_cut).await?
        };
        let _ = ATTEMPT.try_with(|meta| {
            meta.borrow_mut().answer = Some(AnswerMeta::read(status, response.headers(), truncated_at));
        });
        Ok(response)
    }
}

impl AnswerMeta {
    fn read(status: StatusCode, headers: &HeaderMap, truncated_at: Option<usize>) -> Self {
        let text = |name| {
            headers
                .get(name)
                .and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok())
        };
        AnswerMeta {
            status,
            retry_after: text(RETRY_AFTER).and_then(|value| parse_retry_after(value, SystemTime::now())),
            location: text(LOCATION).map(str::to_owned),
            rate_limit: RateLimit::from_headers(headers),
            truncated_at,
        }
    }
}

/// Reads at most `limit` bytes of `response`'s body and rebuilds it from memory (with an empty body when it was
/// cut and `keep_cut` is false). Returns the cut, if any.
///
/// A declared `Content-Length` over the limit is not read at all. A connection that fails mid-body fails here, as
/// a transport error of the attempt.
async fn buffered(
    mut response: reqwest::Response,
    limit: usize,
    keep_cut: bool,
) -> reqwest::Result<(reqwest::Response, Option<usize>)> {
    let status = response.status();
    let mut headers = std::mem::take(response.headers_mut());
    headers.remove(CONTENT_LENGTH);
    let declared = response.content_length();
    let mut truncated_at = declared.filter(|&length| length > limit as u64).map(|_| limit);
    // A declared length within the cap sizes the buffer once.
    let mut body = Vec::with_capacity(declared.filter(|_| truncated_at.is_none()).unwrap_or(0) as usize);
    if truncated_at.is_none() {
        while let Some(chunk) = response.chunk().await? {
            let room = limit - body.len();
            let take = chunk.len().min(room);
            // Doubling, as `Vec` would, but never past the cap: the buffer holds at most `limit` bytes.
            if body.capacity() - body.len() < take {
                let target = (body.capacity() * 2).max(body.len() + take).min(limit);
                body.reserve_exact(target - body.len());
            }
            body.extend_from_slice(&chunk[..take]);
            if take < chunk.len() {
                truncated_at = Some(limit);
                break;
            }
        }
    }
    if truncated_at.is_some() && !keep_cut {
        body = Vec::new();
    }
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.headers_mut() = headers;
    Ok((reqwest::Response::from(rebuilt), truncated_at))
}

fn prepare(request: &reqwest::Request) -> PreparedRequest {
    PreparedRequest {
        method: request.method().to_string(),
        url: request.url().to_string(),
        headers: request
            .headers()
            .iter()
            .map(|(name, value)| {
                let shown = if value.is_sensitive() {
                    "[REDACTED]".to_owned()
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                (name.to_string(), shown)
            })
            .collect(),
        body: request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prepared_request_renders_as_a_pasteable_curl_command() {
        let request = PreparedRequest {
            method: "PATCH".to_owned(),
            url: "https://public-api.etoro.com/api/v1/x".to_owned(),
            headers: vec![
                ("x-api-key".to_owned(), "[REDACTED]".to_owned()),
                ("x-note".to_owned(), "it's".to_owned()),
            ],
            body: r#"{"a":"b'c"}"#.to_owned(),
        };
        assert_eq!(
            request.to_string(),
            "curl -X PATCH 'https://public-api.etoro.com/api/v1/x' \\\n  -H 'x-api-key: [REDACTED]' \\\n  \
             -H 'x-note: it'\\''s' \\\n  --data-raw '{\"a\":\"b'\\''c\"}'"
        );
    }
}
