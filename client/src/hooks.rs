//! What happens to every request and response on the wire: the generated client's `ClientHooks`.
//!
//! - `pre` adds the authentication headers: the only place a secret is put on a request.
//! - `exec` sends the request, notes what the wrapper needs to report an error well (the status, which
//!   progenitor drops when an error body is not JSON; `Retry-After`; `Location`), and caps error bodies so a
//!   hostile or broken server cannot make the client buffer megabytes of HTML.

use std::cell::RefCell;

use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::{CONTENT_LENGTH, LOCATION, RETRY_AFTER};
use reqwest::StatusCode;

use crate::auth::Auth;
use crate::generated::Client as GeneratedClient;

/// The most bytes of an error body the client reads; the rest is discarded.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// What `exec` saw of the answer to one attempt.
#[derive(Debug, Default)]
pub(crate) struct AttemptMeta {
    pub(crate) status: Option<StatusCode>,
    pub(crate) retry_after: Option<String>,
    pub(crate) location: Option<String>,
}

/// A request as it would go on the wire, with sensitive header values (the credentials) redacted.
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

    async fn exec(&self, request: reqwest::Request, _info: &OperationInfo) -> reqwest::Result<reqwest::Response> {
        if DRY_RUN.try_with(|_| ()).is_ok() {
            let prepared = prepare(&request);
            DRY_RUN.with(|slot| *slot.borrow_mut() = Some(prepared));
            let mut answer = http::Response::new(Vec::new());
            *answer.status_mut() = StatusCode::NO_CONTENT;
            return Ok(reqwest::Response::from(answer));
        }
        let response = self.client.execute(request).await?;
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok())
                .map(str::to_owned)
        };
        let (retry_after, location) = (header(RETRY_AFTER), header(LOCATION));
        // Outside the wrapper (someone driving the generated client directly) there is no slot, and nothing to note.
        let _ = ATTEMPT.try_with(|meta| {
            *meta.borrow_mut() = AttemptMeta {
                status: Some(status),
                retry_after,
                location,
            };
        });
        if status.is_success() {
            Ok(response)
        } else {
            capped(response).await
        }
    }
}

/// Rebuilds `response` with at most [`MAX_ERROR_BODY`] bytes of its body.
async fn capped(mut response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
    let status = response.status();
    let mut headers = std::mem::take(response.headers_mut());
    headers.remove(CONTENT_LENGTH);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_ERROR_BODY - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == MAX_ERROR_BODY {
            break;
        }
    }
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.headers_mut() = headers;
    Ok(reqwest::Response::from(rebuilt))
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
