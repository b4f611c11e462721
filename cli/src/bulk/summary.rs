//! The end of a bulk run: what happened to every line, the exit code, and how to resume.

use std::ffi::OsString;
use std::time::Duration;

use serde_json::json;

use super::interrupt::Signal;
use super::progress::short_duration;
use crate::exit::Exit;

/// Why a run stopped starting lines before the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// A signal (Ctrl-C, SIGTERM).
    Signal(Signal),
    /// The journal or standard output could not be written.
    LocalIo,
    /// eToro holds every request back for longer than a line's `--deadline` (a 429's wait, a used-up window):
    /// waiting would outlive the deadline of every line behind it.
    Quota,
}

/// What happened to every line of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Updated (204).
    pub updated: u64,
    /// Refused by eToro (4xx other than a rate limit).
    pub refused: u64,
    /// Failed after retries (5xx, network, timeout, a rate limit past the deadline).
    pub failed: u64,
    /// Invalid: not sent.
    pub invalid: u64,
    /// Already done, according to the journal: not sent.
    pub skipped: u64,
    /// Not sent because the run stopped (a signal, a local I/O failure, a quota pause past the deadline).
    pub not_sent: u64,
    /// With `--dry-run`: the lines that would be sent.
    pub would_send: Option<u64>,
    /// For `apply`: the lines already in their desired state, and those naming a token the listing does not
    /// have (refused, not sent).
    pub desired: Option<Desired>,
    /// From the start of the run to its summary.
    pub elapsed: Duration,
    /// The highest exit code of all lines (and 5 for a local I/O failure).
    pub exit: Exit,
    /// Why the run stopped early, if it did.
    pub stopped: Option<Stop>,
    /// With [`super::Options::track_updated`]: the (portfolio, token) of every line updated, in completion
    /// order (`edit` reads these tokens again to find writes by someone else).
    pub updated_tokens: Vec<(uuid::Uuid, uuid::Uuid)>,
}

/// What `apply` decided before sending: lines with nothing to change, and lines naming a missing token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// Already as desired: not sent.
    pub unchanged: u64,
    /// The token is not in the listing: not sent (exit 3).
    pub missing: u64,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            updated: 0,
            refused: 0,
            failed: 0,
            invalid: 0,
            skipped: 0,
            not_sent: 0,
            would_send: None,
            desired: None,
            elapsed: Duration::ZERO,
            exit: Exit::Success,
            stopped: None,
            updated_tokens: Vec::new(),
        }
    }
}

impl Summary {
    /// The process's exit code: 128 + the signal's number after a signal, else [`Summary::exit`].
    pub fn exit_code(&self) -> i32 {
        match self.stopped {
            Some(Stop::Signal(signal)) => signal.exit_code(),
            _ => self.exit as i32,
        }
    }

    /// The summary as one JSON object: `{"summary": {...}}`.
    pub fn to_json(&self) -> String {
        let mut counts = match self.would_send {
            Some(would_send) => json!({
                "dryRun": true, "wouldSend": would_send, "skipped": self.skipped, "invalid": self.invalid,
            }),
            None => json!({
                "updated": self.updated, "refused": self.refused, "failed": self.failed, "invalid": self.invalid,
                "skipped": self.skipped, "notSent": self.not_sent,
            }),
        };
        if let Some(desired) = self.desired {
            counts["unchanged"] = json!(desired.unchanged);
            counts["missing"] = json!(desired.missing);
        }
        counts["elapsedSeconds"] = json!((self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0);
        counts["exitCode"] = json!(self.exit_code());
        match self.stopped {
            Some(Stop::Signal(signal)) => counts["interrupted"] = json!(signal.name()),
            Some(Stop::Quota) => counts["stoppedForQuota"] = json!(true),
            _ => {}
        }
        json!({ "summary": counts }).to_string()
    }

    /// The summary as one line of text.
    pub fn to_text(&self) -> String {
        let elapsed = short_duration(self.elapsed);
        if let Some(would_send) = self.would_send {
            return format!(
                "dry run: {would_send} line(s) would be sent, {} skipped (already done per the journal), {} refused \
                 (invalid); nothing was sent",
                self.skipped, self.invalid
            );
        }
        let how = match self.stopped {
            Some(Stop::Signal(signal)) => format!("interrupted ({}) after {elapsed}", signal.name()),
            Some(Stop::LocalIo) => format!("stopped by a local I/O failure after {elapsed}"),
            Some(Stop::Quota) => format!("stopped after {elapsed}: eToro's quota pause outlasts --deadline"),
            None => format!("done in {elapsed}"),
        };
        let desired = self.desired.map_or_else(String::new, |desired| {
            format!(
                ", {} unchanged (already as desired), {} missing (not in the listing)",
                desired.unchanged, desired.missing
            )
        });
        format!(
            "{how}: {} updated, {} refused, {} failed, {} invalid, {} skipped (already done), {} not sent{desired}",
            self.updated, self.refused, self.failed, self.invalid, self.skipped, self.not_sent
        )
    }
}

/// The command line that started this process, ready to paste into a POSIX shell. Credentials never appear in
/// it: they come from the environment only.
pub fn this_command() -> String {
    let mut args = std::env::args_os();
    // The program as the user would type it: its name, not the full path of the binary.
    let program = args
        .next()
        .and_then(|arg| std::path::Path::new(&arg).file_name().map(|name| name.to_owned()))
        .unwrap_or_else(|| OsString::from("etoro-token"));
    std::iter::once(program)
        .chain(args)
        .map(|arg| shell_quote(&arg.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` as one POSIX shell word.
fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("tokens.jsonl"), "tokens.jsonl");
        assert_eq!(
            shell_quote("--base-url=http://127.0.0.1:8080"),
            "--base-url=http://127.0.0.1:8080"
        );
        assert_eq!(shell_quote("my file"), "'my file'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn the_exit_code_of_a_signal_wins() {
        let summary = Summary {
            exit: Exit::Refused,
            stopped: Some(Stop::Signal(Signal::Terminate)),
            ..Summary::default()
        };
        assert_eq!(summary.exit_code(), 143);
        assert!(summary.to_text().starts_with("interrupted (SIGTERM)"));
        let json: serde_json::Value = serde_json::from_str(&summary.to_json()).unwrap();
        assert_eq!(json["summary"]["interrupted"], "SIGTERM");
        assert_eq!(json["summary"]["exitCode"], 143);
        let io = Summary {
            exit: Exit::LocalIo,
            stopped: Some(Stop::LocalIo),
            ..Summary::default()
        };
        assert_eq!(io.exit_code(), 5);
    }
}
