//! One attempt on the wire: what the wrapper asks of it (its timeout, the most bytes of a success body to read)
//! and what its answer said (the status, which progenitor drops when an error body is not JSON; `Retry-After`;
//! `Location`; the `RateLimit-*` headers; whether the body was cut).
//!
//! Who sets what: `call::once` runs the generated future inside [`run`], which sets the slot; the `exec` hook
//! reads the asked limits with [`asked`], reads the body with [`read_capped`] and fills the answer in with
//! [`note`]; [`run`] hands the answer back with the result. Outside [`run`] (someone driving the generated client
//! directly) there is no slot: the client's own timeout and the default cap apply, and nothing is noted.

use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, CONTENT_LENGTH, LOCATION, RETRY_AFTER};
use reqwest::StatusCode;

use crate::rate_limit::{parse_retry_after, RateLimit};

/// The most bytes of an error body the client reads; the rest is discarded.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// The most bytes of a success body a client reads unless told otherwise
/// ([`crate::ClientBuilder::max_response_bytes`]): a listing of thousands of tokens fits with room to spare.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// What the wrapper asks of one attempt, and what `exec` saw of its answer.
#[derive(Debug, Default)]
struct AttemptMeta {
    /// The attempt's timeout; `None` leaves the client's own.
    timeout: Option<Duration>,
    /// The most bytes of a success body to read.
    max_body: usize,
    /// Filled in by `exec`, through [`note`].
    answer: Option<AnswerMeta>,
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

tokio::task_local! {
    /// The slot of the attempt running in this task (see the module's doc, and `wire`'s for why a task-local).
    static ATTEMPT: RefCell<AttemptMeta>;
}

/// Runs one attempt (`attempt`, the generated future) under `timeout`, reading at most `max_body` bytes of a
/// success body; returns its result and what `exec` saw of the answer (`None` when nothing was answered).
pub(crate) async fn run<T>(
    attempt: impl Future<Output = T>,
    timeout: Duration,
    max_body: usize,
) -> (T, Option<AnswerMeta>) {
    let meta = AttemptMeta {
        timeout: Some(timeout),
        max_body,
        answer: None,
    };
    ATTEMPT
        .scope(RefCell::new(meta), async move {
            let result = attempt.await;
            let answer = ATTEMPT.with(|meta| meta.borrow_mut().answer.take());
            (result, answer)
        })
        .await
}

/// What the running attempt asks: its timeout (`None`: the client's own) and the most bytes of a success body.
pub(crate) fn asked() -> (Option<Duration>, usize) {
    ATTEMPT
        .try_with(|meta| {
            let meta = meta.borrow();
            (meta.timeout, meta.max_body)
        })
        .unwrap_or((None, DEFAULT_MAX_RESPONSE_BYTES))
}

/// Notes what the running attempt's answer said, for [`run`] to hand back (nothing outside [`run`]).
pub(crate) fn note(status: StatusCode, headers: &HeaderMap, truncated_at: Option<usize>) {
    let _ = ATTEMPT.try_with(|meta| {
        meta.borrow_mut().answer = Some(AnswerMeta::read(status, headers, truncated_at));
    });
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

/// Reads the whole answer into memory with a cap, so that a hostile or broken server cannot make the client
/// buffer without bound, and a connection cut mid-body fails the attempt here, where it is retried. Returns the
/// answer rebuilt from memory and the cut, if any.
///
/// A success body over `max_body` is an error whatever it holds: it is dropped at once rather than handed on. An
/// error body is cut at [`MAX_ERROR_BODY`] and kept, for the message's snippet. An answer without a body (every
/// update's 204) has nothing to read or cap: it goes on as it came, which spares rebuilding it (measured by
/// `cargo xtask bench`: several microseconds a request).
pub(crate) async fn read_capped(
    response: reqwest::Response,
    max_body: usize,
) -> reqwest::Result<(reqwest::Response, Option<usize>)> {
    let status = response.status();
    if status == StatusCode::NO_CONTENT || response.content_length() == Some(0) {
        return Ok((response, None));
    }
    if status.is_success() {
        buffered(response, max_body, false).await
    } else {
        buffered(response, MAX_ERROR_BODY, true).await
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
