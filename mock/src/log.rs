//! The request log ([`crate::MockConfig::log`]): one JSON line per request received, appended to a file.
//!
//! Each line holds the time, method, path, status answered (`null` for a dropped connection), the headers with
//! credentials redacted, and the body: as JSON when it is JSON, else as a lossily decoded string; a body over
//! [`BODY_LOG_LIMIT`] bytes is cut (and `bodyTruncated` set). Lines are written with one `write` each on a file
//! opened for appending, so concurrent requests never interleave within a line.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use axum::http::HeaderMap;
use chrono::{SecondsFormat, Utc};
use serde::Serialize;

/// The most body bytes a log line carries.
pub(crate) const BODY_LOG_LIMIT: usize = 16 * 1024;

/// Headers whose values are credentials: never written.
pub(crate) const SECRET_HEADERS: [&str; 3] = ["authorization", "x-api-key", "x-user-key"];

const REDACTED: &str = "[REDACTED]";

#[derive(Debug)]
pub(crate) struct RequestLog {
    file: File,
}

/// One line.
#[derive(Serialize)]
struct Line<'a> {
    time: String,
    method: &'a str,
    path: &'a str,
    status: Option<u16>,
    headers: serde_json::Map<String, serde_json::Value>,
    body: Body<'a>,
    #[serde(rename = "bodyTruncated", skip_serializing_if = "std::ops::Not::not")]
    body_truncated: bool,
}

/// Parsed rather than copied as raw text, so that a pretty-printed body cannot break the line.
#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Json(serde_json::Value),
    Text(std::borrow::Cow<'a, str>),
}

impl RequestLog {
    /// Opens `path` for appending, creating it with mode 0600 (on Unix) so that other users cannot read it.
    pub(crate) fn open(path: &Path) -> io::Result<RequestLog> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        Ok(RequestLog { file })
    }

    /// Appends the line of one request. A failed write is not the client's problem: it is dropped.
    pub(crate) fn write(&self, method: &str, path: &str, headers: &HeaderMap, body: &[u8], status: Option<u16>) {
        let mut line = line(method, path, headers, body, status);
        line.push(b'\n');
        // `&File` writes without a lock; with O_APPEND each `write` lands whole at the end of the file.
        let _ = (&self.file).write_all(&line);
    }
}

fn line(method: &str, path: &str, headers: &HeaderMap, body: &[u8], status: Option<u16>) -> Vec<u8> {
    let mut shown = serde_json::Map::new();
    for (name, value) in headers {
        let value = if SECRET_HEADERS.contains(&name.as_str()) {
            REDACTED.to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        match shown.get_mut(name.as_str()) {
            // A repeated header: its values joined, as HTTP allows for most headers.
            Some(serde_json::Value::String(earlier)) => {
                earlier.push_str(", ");
                earlier.push_str(&value);
            }
            _ => {
                shown.insert(name.as_str().to_owned(), serde_json::Value::String(value));
            }
        }
    }
    let truncated = body.len() > BODY_LOG_LIMIT;
    let kept = &body[..body.len().min(BODY_LOG_LIMIT)];
    let json = if truncated {
        None
    } else {
        serde_json::from_slice::<serde_json::Value>(kept).ok()
    };
    let line = Line {
        time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        method,
        path,
        status,
        headers: shown,
        body: match json {
            Some(value) => Body::Json(value),
            None => Body::Text(String::from_utf8_lossy(kept)),
        },
        body_truncated: truncated,
    };
    serde_json::to_vec(&line).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::{json, Value};

    use super::*;

    fn headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("secret-api"));
        headers.insert("x-user-key", HeaderValue::from_static("secret-user"));
        headers.insert("authorization", HeaderValue::from_static("Bearer secret-bearer"));
        headers.insert("x-request-id", HeaderValue::from_static("id-1"));
        headers.append("accept", HeaderValue::from_static("a"));
        headers.append("accept", HeaderValue::from_static("b"));
        headers
    }

    fn parsed(body: &[u8], status: Option<u16>) -> Value {
        serde_json::from_slice(&line("PATCH", "/p", &headers(), body, status)).unwrap()
    }

    #[test]
    fn credentials_are_redacted_and_the_rest_kept() {
        let line = parsed(br#"{"scopeIds":[200]}"#, Some(204));
        let text = line.to_string();
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(line["headers"]["x-api-key"], REDACTED);
        assert_eq!(line["headers"]["authorization"], REDACTED);
        assert_eq!(line["headers"]["x-request-id"], "id-1");
        assert_eq!(line["headers"]["accept"], "a, b");
        assert_eq!(line["body"], json!({"scopeIds": [200]}));
        assert_eq!(
            (line["method"].as_str(), line["path"].as_str(), line["status"].as_u64()),
            (Some("PATCH"), Some("/p"), Some(204))
        );
        assert!(line.get("bodyTruncated").is_none());
    }

    #[test]
    fn other_bodies_are_strings_and_big_ones_are_cut() {
        assert_eq!(parsed(b"not json \x1b[31m", None)["body"], "not json \u{1b}[31m");
        assert_eq!(parsed(b"\xff\xfe", None)["body"], "\u{fffd}\u{fffd}");
        assert_eq!(parsed(b"", None)["status"], Value::Null);
        let big = vec![b'a'; BODY_LOG_LIMIT * 3];
        let line = parsed(&big, Some(400));
        assert_eq!(line["body"].as_str().unwrap().len(), BODY_LOG_LIMIT);
        assert_eq!(line["bodyTruncated"], true);
    }

    #[test]
    fn a_line_is_one_line() {
        let line = line("GET", "/a\nb", &headers(), b"{\n\"a\": \"x\ny\"\n}", Some(200));
        assert!(!line.contains(&b'\n'));
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_appended_to() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.jsonl");
        std::fs::write(&path, "earlier\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let log = RequestLog::open(&path).unwrap();
        log.write("GET", "/x", &headers(), b"", Some(200));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("earlier\n") && text.lines().count() == 2, "{text}");
        let fresh = dir.path().join("new.jsonl");
        RequestLog::open(&fresh).unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
