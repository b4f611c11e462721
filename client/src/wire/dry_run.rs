//! A dry run: the request an operation would send, captured instead of sent.
//!
//! Who sets what: `call::dry_run` runs the generated future inside [`capture`], which opens the slot; the `exec`
//! hook asks [`intercept`], which, inside [`capture`], records the finished request and answers 204 itself.
//! Capturing at `exec`, after the generated code and the `pre` hook ran, is what makes the record exact (the
//! credentials included, redacted).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;

use reqwest::StatusCode;

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
    /// Open during a dry run (see the module's doc, and `wire`'s for why a task-local).
    static DRY_RUN: RefCell<Option<PreparedRequest>>;
}

/// Runs `attempt` (the generated future) as a dry run: nothing is sent. Returns its result and the request it
/// would have sent (`None` when the generated code built none).
pub(crate) async fn capture<T>(attempt: impl Future<Output = T>) -> (T, Option<PreparedRequest>) {
    DRY_RUN
        .scope(RefCell::new(None), async move {
            let result = attempt.await;
            (result, DRY_RUN.with(RefCell::take))
        })
        .await
}

/// Inside [`capture`]: records `request` and returns the answer to give in its place (an empty 204). Outside:
/// `None`, and the request is sent.
pub(crate) fn intercept(request: &reqwest::Request) -> Option<reqwest::Response> {
    DRY_RUN
        .try_with(|slot| {
            *slot.borrow_mut() = Some(prepare(request));
        })
        .ok()?;
    let mut answer = http::Response::new(Vec::new());
    *answer.status_mut() = StatusCode::NO_CONTENT;
    Some(reqwest::Response::from(answer))
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
