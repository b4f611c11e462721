//! How a result becomes an exit code, a line for people and a JSON object for scripts and the journal.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use etoro_client::{Error, PreparedRequest, Updated};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use uuid::Uuid;

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

/// One result as JSON: `--json` output, and one journal record. Absent facts are left out, not `null`.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// `updated`, `invalid`, `refused` or `failed`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portfolio: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<&'a str>,
    /// The field at fault, for invalid input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// The bulk line as given, written verbatim: a resumed run compares it to skip what succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<&'a RawValue>,
}

impl<'a> Report<'a> {
    /// A success.
    pub fn updated(updated: &Updated) -> Self {
        Report {
            outcome: "updated",
            request_id: Some(updated.request_id),
            status: Some(updated.status.as_u16()),
            attempts: Some(updated.attempts),
            ..Report::default()
        }
    }

    /// A failure: the outcome, the message, and what eToro said when it answered.
    pub fn failed(err: &'a Error) -> Self {
        let mut report = Report {
            outcome: match exit_for(err) {
                Exit::Success => "updated",
                Exit::Invalid => "invalid",
                Exit::Refused => "refused",
                Exit::Failed => "failed",
            },
            request_id: err.request_id(),
            status: err.status().map(|status| status.as_u16()),
            error: Some(err.to_string()),
            ..Report::default()
        };
        match err {
            Error::Api(api) => {
                report.error_code = api.error_code.as_deref();
                report.error_message = api.error_message.as_deref();
                report.attempts = Some(api.call.attempts);
            }
            Error::InvalidInput(invalid) => report.field = Some(&invalid.field),
            _ => {}
        }
        report
    }

    /// A line of a bulk file that was not valid.
    pub fn invalid_line(line: u64, message: String) -> Self {
        Report {
            line: Some(line),
            outcome: "invalid",
            error: Some(message),
            at: Some(Utc::now()),
            ..Report::default()
        }
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report always serializes")
    }
}

/// Prints a dry-run request: as a JSON object, or as HTTP/1.1-style text.
pub fn print_prepared(request: &PreparedRequest, json: bool) {
    if json {
        let headers: Map<String, Value> = request
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::String(request.body.clone()));
        println!(
            "{}",
            json!({ "dryRun": true, "method": request.method, "url": request.url, "headers": headers, "body": body })
        );
    } else {
        println!("{} {}", request.method, request.url);
        for (name, value) in &request.headers {
            println!("{name}: {value}");
        }
        println!();
        println!("{}", request.body);
    }
}
