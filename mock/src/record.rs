//! The record of every request that reached the server, for tests to inspect, and the request log.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::log::{RequestLog, SECRET_HEADERS};
use crate::reset::ResetMarker;

/// The largest body the mock reads; eToro's bodies are a few hundred bytes, and this is axum's own default.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// One request as the server received it, and the status it answered.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The HTTP method, e.g. `PATCH`.
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// Every header in arrival order, names in lower case. Values are kept verbatim, secrets included, so that
    /// tests can check what was sent; the `Debug` output redacts them.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The status answered; 0 while the request is still being handled or when its connection was reset.
    pub status: u16,
}

impl RecordedRequest {
    /// What the record counts this request as, against [`crate::MockConfig::record_bytes_limit`]: its body,
    /// headers, method and path, plus the fixed size of the record itself.
    pub fn size(&self) -> usize {
        std::mem::size_of::<RecordedRequest>()
            + self.method.len()
            + self.path.len()
            + self.body.len()
            + self
                .headers
                .iter()
                .map(|(n, v)| std::mem::size_of::<(String, String)>() + n.len() + v.len())
                .sum::<usize>()
    }

    /// The value of the first header called `name` (case-insensitive), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for RecordedRequest {
    // By hand so that a failing `assert_eq!` or a stray `dbg!` cannot print a credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let shown = if SECRET_HEADERS.iter().any(|s| n.eq_ignore_ascii_case(s)) {
                    "<redacted>"
                } else {
                    v
                };
                (n.as_str(), shown)
            })
            .collect();
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("status", &self.status)
            .finish()
    }
}

/// The latest recorded requests (at most `limit` of them and `byte_limit` bytes), how many arrived in all, and
/// the request log, if any.
#[derive(Debug)]
pub(crate) struct Recorder {
    limit: usize,
    byte_limit: usize,
    log: Mutex<Log>,
    file: Option<RequestLog>,
}

#[derive(Debug, Default)]
struct Log {
    /// Requests that arrived before the oldest one kept.
    dropped: usize,
    kept: VecDeque<RecordedRequest>,
    /// The sum of [`RecordedRequest::size`] over `kept`.
    bytes: usize,
}

impl Recorder {
    pub(crate) fn new(limit: usize, byte_limit: usize, file: Option<RequestLog>) -> Self {
        Recorder {
            limit,
            byte_limit,
            log: Mutex::new(Log::default()),
            file,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        // A panic elsewhere while holding the lock leaves a consistent log; keep recording rather than cascade.
        self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a request on arrival and returns its sequence number, so that its status can be filled in later.
    /// The oldest records go first, until both limits hold again; a request bigger than the byte limit on its
    /// own is counted but not kept.
    fn push(&self, request: RecordedRequest) -> usize {
        let mut log = self.lock();
        let sequence = log.dropped + log.kept.len();
        log.bytes += request.size();
        log.kept.push_back(request);
        while log.kept.len() > self.limit || (log.bytes > self.byte_limit && !log.kept.is_empty()) {
            if let Some(oldest) = log.kept.pop_front() {
                log.bytes -= oldest.size();
            }
            log.dropped += 1;
        }
        sequence
    }

    pub(crate) fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn set_status(&self, sequence: usize, status: u16) {
        let mut log = self.lock();
        let Some(index) = sequence.checked_sub(log.dropped) else {
            return;
        };
        if let Some(request) = log.kept.get_mut(index) {
            request.status = status;
        }
    }

    pub(crate) fn count(&self) -> usize {
        let log = self.lock();
        log.dropped + log.kept.len()
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        self.lock().kept.iter().cloned().collect()
    }
}

/// Middleware that records every request, on any route, before anything else looks at it.
///
/// Recording happens on arrival (not on answer) so that `request_count` already counts a request that is
/// sleeping through the latency fault. The request log's line is written once the status is known.
pub(crate) async fn record(State(recorder): State<Arc<Recorder>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, BODY_LIMIT).await;
    // Only with a log: a copy of what its line needs (the body is reference-counted, not copied).
    let for_log = recorder.file.as_ref().map(|_| {
        (
            parts.method.clone(),
            parts.uri.path().to_owned(),
            parts.headers.clone(),
            body.as_ref().ok().cloned().unwrap_or_default(),
        )
    });
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.as_ref().map(|b| b.to_vec()).unwrap_or_default(),
        status: 0,
    };
    let index = recorder.push(recorded);

    let response = match body {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err(err) => ApiError::validation(format!("could not read the request body: {err}")).into_response(),
    };
    let status = if response.extensions().get::<ResetMarker>().is_none() {
        let status = response.status().as_u16();
        recorder.set_status(index, status);
        Some(status)
    } else {
        None
    };
    if let (Some(file), Some((method, path, headers, body))) = (&recorder.file, for_log) {
        file.write(method.as_str(), &path, &headers, &body, status);
    }
    response
}
