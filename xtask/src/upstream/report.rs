//! Printing a diff: one line per change for people, one JSON object for machines.

use serde_json::json;

use super::diff::{Change, Severity};
use super::snapshot::Kind;
use super::text::sanitize;

/// The outcome of `cargo xtask upstream diff`.
#[derive(Debug)]
pub struct DiffReport {
    /// The snapshot's `info.version`.
    pub snapshot_version: String,
    /// The input, as it may be shown.
    pub source: String,
    /// The input's `info.version`.
    pub version: String,
    /// Whole document or page.
    pub kind: Kind,
    /// Every change, in operation order.
    pub changes: Vec<Change>,
}

impl DiffReport {
    /// How many changes have `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.changes.iter().filter(|change| change.severity == severity).count()
    }

    /// Whether any change breaks the client.
    pub fn breaks(&self) -> bool {
        self.count(Severity::Breaking) > 0
    }
}

/// One line per change: severity, operation, what changed (stdout). Text from the document is sanitized.
pub fn human(report: &DiffReport) -> String {
    let mut out = String::new();
    for change in &report.changes {
        let note = if change.called {
            ""
        } else {
            " (not called by this client)"
        };
        out.push_str(&format!(
            "{:<8}  {}  {}{note}\n",
            change.severity.label(),
            sanitize(&change.operation),
            sanitize(&change.message)
        ));
    }
    out
}

/// The closing summary (stderr).
pub fn summary(report: &DiffReport) -> String {
    let changes = if report.changes.is_empty() {
        "no changes".to_owned()
    } else {
        format!(
            "{} breaking, {} warning(s), {} ok",
            report.count(Severity::Breaking),
            report.count(Severity::Warning),
            report.count(Severity::Ok)
        )
    };
    format!(
        "upstream diff: snapshot {} vs {} ({} {}): {changes}",
        sanitize(&report.snapshot_version),
        sanitize(&report.source),
        report.kind.label(),
        sanitize(&report.version),
    )
}

/// The whole report as one JSON object on one line (stdout with `--json`).
pub fn json(report: &DiffReport) -> String {
    let changes: Vec<_> = report
        .changes
        .iter()
        .map(|change| {
            json!({
                "operation": change.operation,
                "called": change.called,
                "severity": change.severity.key(),
                "kind": change.kind,
                "message": change.message,
            })
        })
        .collect();
    json!({
        "snapshot": { "version": report.snapshot_version },
        "input": { "source": report.source, "version": report.version, "kind": report.kind.label() },
        "breaking": report.breaks(),
        "counts": {
            "breaking": report.count(Severity::Breaking),
            "warning": report.count(Severity::Warning),
            "ok": report.count(Severity::Ok),
        },
        "changes": changes,
    })
    .to_string()
}
