//! How a result becomes an exit code, a line for people and an object for scripts.

use std::process::ExitCode;

use etoro_client::{Error, Updated};
use serde_json::{json, Value};

/// The documented exit codes, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: updated (or, for `scopes`, listed).
    Success = 0,
    /// 2: invalid input or usage; nothing was sent.
    Invalid = 2,
    /// 3: the API refused (4xx other than 429).
    Refused = 3,
    /// 4: failure after retries (429, 5xx, network, timeout, redirect).
    Failed = 4,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// The exit code an error deserves.
pub fn exit_for(err: &Error) -> Exit {
    if err.is_invalid_input() {
        return Exit::Invalid;
    }
    match err.status() {
        Some(status) if status.is_client_error() && status.as_u16() != 429 => Exit::Refused,
        _ => Exit::Failed,
    }
}

/// The short outcome name used in `--json` output and the journal.
pub fn outcome_name(err: &Error) -> &'static str {
    match exit_for(err) {
        Exit::Success => "updated",
        Exit::Invalid => "invalid",
        Exit::Refused => "refused",
        Exit::Failed => "failed",
    }
}

/// A success as JSON.
pub fn updated_json(updated: &Updated) -> Value {
    json!({
        "outcome": "updated",
        "requestId": updated.request_id,
        "status": updated.status.as_u16(),
        "attempts": updated.attempts,
    })
}

/// A failure as JSON: the outcome, the message, and what eToro said when it answered.
pub fn error_json(err: &Error) -> Value {
    let mut object = json!({
        "outcome": outcome_name(err),
        "error": err.to_string(),
    });
    if let Some(status) = err.status() {
        object["status"] = json!(status.as_u16());
    }
    if let Some(request_id) = err.request_id() {
        object["requestId"] = json!(request_id);
    }
    if let Error::Api(api) = err {
        object["errorCode"] = json!(api.error_code);
        object["errorMessage"] = json!(api.error_message);
        object["attempts"] = json!(api.attempts);
    }
    if let Error::InvalidInput(invalid) = err {
        object["field"] = json!(invalid.field);
    }
    object
}
