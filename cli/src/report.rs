//! One result as a JSON object: `--json` output, and one journal record. Every outcome has the same fields
//! (absent facts are left out, not `null`).

use chrono::{DateTime, Utc};
use etoro_client::{Error, Updated};
use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::exit::{exit_for, Exit};
use crate::output;

/// One result.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report<'a> {
    /// The line of a bulk file.
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
    /// The bulk line as given, written verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<&'a RawValue>,
}

impl<'a> Report<'a> {
    /// A success.
    pub fn updated(updated: &Updated) -> Self {
        Report {
            outcome: "updated",
            portfolio: Some(updated.portfolio),
            token: Some(updated.token),
            request_id: Some(updated.request_id),
            status: Some(updated.status.as_u16()),
            attempts: Some(updated.attempts),
            ..Report::default()
        }
    }

    /// A failure: the outcome, the message, what eToro said when it answered, and which token it was about.
    pub fn failed(err: &'a Error) -> Self {
        let call = err.call();
        let mut report = Report {
            outcome: outcome_of(err),
            portfolio: call.and_then(|call| call.portfolio),
            token: call.and_then(|call| call.token),
            request_id: err.request_id(),
            status: err.status().map(|status| status.as_u16()),
            attempts: call.map(|call| call.attempts),
            error_code: err.code(),
            error_message: err.message(),
            error: Some(err.to_string()),
            ..Report::default()
        };
        if let Error::InvalidInput(invalid) = err {
            report.field = Some(&invalid.field);
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

/// The `outcome` word of an error.
pub fn outcome_of(err: &Error) -> &'static str {
    match exit_for(err) {
        Exit::Invalid => "invalid",
        Exit::Refused => "refused",
        _ => "failed",
    }
}
/// Reports a failed call: a JSON report on stdout with `--json`, else one escaped line on stderr. Returns the exit
/// code it deserves (or 5 when stdout cannot be written).
pub fn report_error(err: &etoro_client::Error, as_json: bool) -> Exit {
    let printed = if as_json {
        output::line(&Report::failed(err).to_json())
    } else {
        output::note(&format!("error: {err}"));
        Ok(())
    };
    exit_for(err).max(printed.err().unwrap_or(Exit::Success))
}
