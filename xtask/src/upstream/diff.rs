//! Comparing a newer eToro document with the snapshot, operation by operation, and judging each change against
//! what this client calls and sends (its own spec).
//!
//! Breaking (for an operation the client calls): the operation is gone or moved; a request property or parameter
//! the client sends is removed, renamed or retyped; a new required parameter or body property the client does not
//! send; a success status the client expects is gone; a security requirement that credentials accepted before may
//! not meet (a new OAuth2 scope, or any requirement where there was none); an error body of another shape; a
//! response property the client relies on removed, retyped or made nullable.
//! Warnings: deprecations, a new format or constraint on what the client sends, a new success status.
//! Everything else, and every change to an operation the client does not call, is reported as ok.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::snapshot::{self, Kind};
use super::usage::{op_key, ClientUsage, OpKey};

mod body;
mod parameters;
mod responses;
mod schemas;
mod security;

/// How much a change matters to this client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The client breaks, or may break, against the new document.
    Breaking,
    /// Worth a look; the client still works.
    Warning,
    /// Nothing to do.
    Ok,
}

impl Severity {
    /// Breaking when `breaks`, else ok.
    fn breaking_if(breaks: bool) -> Severity {
        if breaks {
            Severity::Breaking
        } else {
            Severity::Ok
        }
    }

    /// The word printed for people.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Breaking => "BREAKING",
            Severity::Warning => "warning",
            Severity::Ok => "ok",
        }
    }

    /// The word in `--json` output.
    pub fn key(self) -> &'static str {
        match self {
            Severity::Breaking => "breaking",
            Severity::Warning => "warning",
            Severity::Ok => "ok",
        }
    }
}

/// One change, on one operation (or `(document)` for document-wide facts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `METHOD /path`.
    pub operation: String,
    /// Whether this client calls the operation.
    pub called: bool,
    /// How much it matters.
    pub severity: Severity,
    /// A stable category: `operation`, `security`, `parameter`, `request-body`, `response`, `deprecation`, ...
    pub kind: &'static str,
    /// What changed, for people.
    pub message: String,
}

struct Op<'a> {
    method: String,
    path: String,
    value: &'a Value,
}

impl Op<'_> {
    fn label(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }
}

fn index(document: &Value) -> BTreeMap<OpKey, Op<'_>> {
    snapshot::operations(document)
        .into_iter()
        .map(|(method, path, value)| (op_key(&method, &path), Op { method, path, value }))
        .collect()
}

/// Compares the normalized `new` document with the snapshot. A page compares only the operations it holds.
pub fn diff(snapshot: &Value, new: &Value, kind: Kind, client: &ClientUsage) -> Result<Vec<Change>, String> {
    let old_ops = index(snapshot);
    let new_ops = index(new);
    let mut keys: Vec<&OpKey> = match kind {
        Kind::Document => old_ops
            .keys()
            .chain(new_ops.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        Kind::Page => new_ops.keys().collect(),
    };
    keys.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));

    let mut changes = Vec::new();
    if kind == Kind::Document {
        servers(new, client, &mut changes);
    }
    for key in keys {
        let called = client.calls(key);
        match (old_ops.get(key), new_ops.get(key)) {
            (Some(old), Some(new_op)) => {
                let mut ctx = Ctx {
                    old_doc: snapshot,
                    new_doc: new,
                    client,
                    ours: client.operation(key),
                    called,
                    operation: new_op.label(),
                    renames: BTreeMap::new(),
                    out: &mut changes,
                };
                ctx.operation(old, new_op)?;
            }
            (Some(old), None) => {
                let operation_id = old.value.get("operationId").and_then(Value::as_str);
                let moved = new_ops
                    .iter()
                    .find(|(other, op)| {
                        !old_ops.contains_key(*other)
                            && operation_id.is_some()
                            && op.value.get("operationId").and_then(Value::as_str) == operation_id
                    })
                    .map(|(_, op)| op.label());
                let (severity, message) = match (&moved, called) {
                    (Some(to), true) => (
                        Severity::Breaking,
                        format!("moved to {to}; the client calls the old one"),
                    ),
                    (Some(to), false) => (Severity::Ok, format!("moved to {to}")),
                    (None, true) => (
                        Severity::Breaking,
                        "no longer published; the client calls it".to_owned(),
                    ),
                    (None, false) => (Severity::Ok, "no longer published".to_owned()),
                };
                changes.push(Change {
                    operation: old.label(),
                    called,
                    severity,
                    kind: "operation",
                    message,
                });
            }
            (None, Some(new_op)) => {
                let message = if called {
                    "newly published; the client already calls it"
                } else {
                    "new operation"
                };
                changes.push(Change {
                    operation: new_op.label(),
                    called,
                    severity: Severity::Ok,
                    kind: "operation",
                    message: message.to_owned(),
                });
            }
            (None, None) => {}
        }
    }
    Ok(changes)
}

/// The servers the client's spec names must still be listed (when the new document lists any).
fn servers(new: &Value, client: &ClientUsage, out: &mut Vec<Change>) {
    let Some(listed) = new.get("servers").and_then(Value::as_array) else {
        return;
    };
    let listed: Vec<&str> = listed
        .iter()
        .filter_map(|server| server.get("url").and_then(Value::as_str))
        .collect();
    for url in client.server_urls() {
        if !listed
            .iter()
            .any(|other| other.trim_end_matches('/') == url.trim_end_matches('/'))
        {
            out.push(Change {
                operation: "(document)".to_owned(),
                called: true,
                severity: Severity::Breaking,
                kind: "servers",
                message: format!("the server {url} is no longer listed (now: {})", listed.join(", ")),
            });
        }
    }
}

struct Ctx<'a, 'o> {
    old_doc: &'a Value,
    new_doc: &'a Value,
    client: &'a ClientUsage,
    ours: Option<(&'a str, &'a Value)>,
    called: bool,
    operation: String,
    /// Schemas renamed with the same shape, and where: reported once per operation, not once per status.
    renames: BTreeMap<(String, String), Vec<String>>,
    out: &'o mut Vec<Change>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Success,
    Error,
}

impl<'a> Ctx<'a, '_> {
    fn push(&mut self, severity: Severity, kind: &'static str, message: String) {
        // Nothing about an operation this client never calls can break it.
        let severity = if self.called { severity } else { Severity::Ok };
        self.out.push(Change {
            operation: self.operation.clone(),
            called: self.called,
            severity,
            kind,
            message,
        });
    }

    fn operation(&mut self, old: &Op<'a>, new: &Op<'a>) -> Result<(), String> {
        let old_id = old.value.get("operationId").and_then(Value::as_str);
        let new_id = new.value.get("operationId").and_then(Value::as_str);
        if let (Some(a), Some(b)) = (old_id, new_id) {
            if a != b {
                self.push(
                    Severity::Ok,
                    "operation",
                    format!("operationId {a} → {b} (not sent on the wire)"),
                );
            }
        }
        let deprecated = |op: &Op| op.value.get("deprecated") == Some(&Value::Bool(true));
        match (deprecated(old), deprecated(new)) {
            (false, true) => self.push(
                Severity::Warning,
                "deprecation",
                "the operation is now deprecated".to_owned(),
            ),
            (true, false) => self.push(
                Severity::Ok,
                "deprecation",
                "the operation is no longer deprecated".to_owned(),
            ),
            _ => {}
        }
        self.security(old, new);
        self.parameters(old, new)?;
        self.request_body(old, new)?;
        self.responses(old, new)?;
        for ((from, to), places) in std::mem::take(&mut self.renames) {
            let places = if places.iter().all(|place| place.starts_with("response ")) {
                let statuses: Vec<&str> = places
                    .iter()
                    .map(|place| place.trim_start_matches("response "))
                    .collect();
                format!(
                    "{} {}",
                    if statuses.len() == 1 { "response" } else { "responses" },
                    statuses.join(", ")
                )
            } else {
                places.join(", ")
            };
            self.push(
                Severity::Ok,
                "schema",
                format!("{places}: schema {from} renamed to {to}, same shape"),
            );
        }
        Ok(())
    }
}

/// `text` cut to 120 characters, for a constraint shown in a message.
fn clip(text: &str) -> String {
    const MAX: usize = 120;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

/// The JSON schema of a request body or response: `application/json`, or else the first media type that is JSON.
fn json_schema(holder: &Value) -> Option<&Value> {
    let content = holder.get("content")?.as_object()?;
    content
        .get("application/json")
        .or_else(|| {
            content
                .iter()
                .find(|(media, _)| media.contains("json"))
                .map(|(_, value)| value)
        })?
        .get("schema")
}
