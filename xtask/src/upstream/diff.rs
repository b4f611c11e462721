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

use super::refs;
use super::shape::{self, Delta, Found, Schema};
use super::snapshot::{self, Kind};
use super::usage::{op_key, ClientUsage, OpKey};

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

type Requirement = BTreeMap<String, BTreeSet<String>>;

struct Param<'a> {
    label: String,
    required: bool,
    deprecated: bool,
    schema: Option<&'a Value>,
}

struct Body<'a> {
    required: bool,
    json: Option<&'a Value>,
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

    // ----- security ----------------------------------------------------------------------------------------------

    fn requirements(doc: &Value, op: &Value) -> Vec<Requirement> {
        let list = op.get("security").or_else(|| doc.get("security"));
        let parsed: Vec<Requirement> = list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(|requirement| {
                requirement
                    .iter()
                    .map(|(scheme, scopes)| {
                        let scopes = scopes
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect();
                        (scheme.clone(), scopes)
                    })
                    .collect()
            })
            .collect();
        if parsed.is_empty() {
            // No security requirement: anything is accepted, as with one empty requirement.
            vec![Requirement::new()]
        } else {
            parsed
        }
    }

    fn describe_requirements(requirements: &[Requirement]) -> String {
        requirements
            .iter()
            .map(|requirement| {
                if requirement.is_empty() {
                    return "none".to_owned();
                }
                requirement
                    .iter()
                    .map(|(scheme, scopes)| {
                        if scopes.is_empty() {
                            scheme.clone()
                        } else {
                            format!("{scheme}[{}]", scopes.iter().cloned().collect::<Vec<_>>().join(", "))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect::<Vec<_>>()
            .join(" or ")
    }

    fn security(&mut self, old: &Op<'a>, new: &Op<'a>) {
        let before = Self::requirements(self.old_doc, old.value);
        let after = Self::requirements(self.new_doc, new.value);
        // Credentials that met an old requirement still pass if some new requirement asks for no more than it:
        // every scheme of the new one is in the old one, with no scope the old one lacked.
        let still_met = |old_requirement: &Requirement| {
            after.iter().any(|new_requirement| {
                new_requirement.iter().all(|(scheme, scopes)| {
                    old_requirement
                        .get(scheme)
                        .is_some_and(|old_scopes| scopes.is_subset(old_scopes))
                })
            })
        };
        let lost: Vec<Requirement> = before
            .iter()
            .filter(|requirement| !still_met(requirement))
            .cloned()
            .collect();
        if !lost.is_empty() {
            let message = if before.iter().all(Requirement::is_empty) {
                format!(
                    "now requires {} (before: no security requirement); credentials without it are refused",
                    Self::describe_requirements(&after)
                )
            } else {
                format!(
                    "now requires {} (before: {}); credentials that met {} may lack it",
                    Self::describe_requirements(&after),
                    Self::describe_requirements(&before),
                    Self::describe_requirements(&lost),
                )
            };
            self.push(Severity::Breaking, "security", message);
        } else if before != after {
            self.push(
                Severity::Ok,
                "security",
                format!(
                    "accepts {} (before: {})",
                    Self::describe_requirements(&after),
                    Self::describe_requirements(&before)
                ),
            );
        }
        // A scheme used on both sides must still be the same kind of credential in the same place.
        let schemes = |requirements: &[Requirement]| -> BTreeSet<String> {
            requirements
                .iter()
                .flat_map(|requirement| requirement.keys().cloned())
                .collect()
        };
        for name in schemes(&before).intersection(&schemes(&after)) {
            let fields = |doc: &Value| -> Vec<Option<Value>> {
                let scheme = doc.pointer(&format!(
                    "/components/securitySchemes/{}",
                    name.replace('~', "~0").replace('/', "~1")
                ));
                ["type", "in", "name", "scheme"]
                    .iter()
                    .map(|field| scheme.and_then(|scheme| scheme.get(*field)).cloned())
                    .collect()
            };
            if fields(self.old_doc) != fields(self.new_doc) {
                self.push(
                    Severity::Breaking,
                    "security",
                    format!("the security scheme {name} changed its type, location or header name"),
                );
            }
        }
    }

    // ----- parameters --------------------------------------------------------------------------------------------

    /// An operation's parameters by identity: (location, name), with header names in lower case and path parameters
    /// by their position in the path (a renamed path parameter is the same URL).
    fn parameters_of(
        doc: &'a Value,
        op: &'a Value,
        path: &str,
    ) -> Result<BTreeMap<(String, String), Param<'a>>, String> {
        let template: Vec<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        let mut out = BTreeMap::new();
        for parameter in op.get("parameters").and_then(Value::as_array).into_iter().flatten() {
            let (parameter, _) = refs::resolve(doc, parameter)?;
            let location = parameter.get("in").and_then(Value::as_str).unwrap_or_default();
            let name = parameter.get("name").and_then(Value::as_str).unwrap_or_default();
            let key = match location {
                "path" => match template.iter().position(|candidate| *candidate == name) {
                    Some(position) => format!("#{position}"),
                    None => name.to_owned(),
                },
                "header" => name.to_ascii_lowercase(),
                _ => name.to_owned(),
            };
            let label = if location == "path" {
                format!("path {{{name}}}")
            } else {
                format!("{location} {name}")
            };
            out.insert(
                (location.to_owned(), key),
                Param {
                    label,
                    required: parameter.get("required") == Some(&Value::Bool(true)),
                    deprecated: parameter.get("deprecated") == Some(&Value::Bool(true)),
                    schema: parameter.get("schema"),
                },
            );
        }
        Ok(out)
    }

    fn parameters(&mut self, old: &Op<'a>, new: &Op<'a>) -> Result<(), String> {
        let before = Self::parameters_of(self.old_doc, old.value, &old.path)?;
        let after = Self::parameters_of(self.new_doc, new.value, &new.path)?;
        let ours = match self.ours {
            Some((path, op)) => Self::parameters_of(self.client.spec(), op, path)?,
            None => BTreeMap::new(),
        };
        // What the client sends: its spec's parameters, and its credentials' headers.
        let sends = |key: &(String, String)| -> Option<bool> {
            if let Some(param) = ours.get(key) {
                return Some(param.required || key.0 == "path");
            }
            (key.0 == "header" && self.client.credential_headers().contains(&key.1)).then_some(true)
        };
        for (key, param) in &before {
            if !after.contains_key(key) {
                let (severity, why) = match sends(key) {
                    Some(_) => (Severity::Warning, "; the client still sends it"),
                    None => (Severity::Ok, ""),
                };
                self.push(severity, "parameter", format!("{} removed{why}", param.label));
            }
        }
        for (key, param) in &after {
            let newly_required = match before.get(key) {
                None => param.required,
                Some(old) => param.required && !old.required,
            };
            let what = if before.contains_key(key) {
                "is now required"
            } else if param.required {
                "new, required"
            } else {
                "new, optional"
            };
            if newly_required {
                match sends(key) {
                    Some(true) => self.push(
                        Severity::Ok,
                        "parameter",
                        format!("{} {what}; the client always sends it", param.label),
                    ),
                    _ => self.push(
                        Severity::Breaking,
                        "parameter",
                        format!("{} {what}; the client does not always send it", param.label),
                    ),
                }
            } else if !before.contains_key(key) {
                self.push(Severity::Ok, "parameter", format!("{} {what}", param.label));
            }
            let Some(old) = before.get(key) else {
                continue;
            };
            if old.label != param.label {
                self.push(
                    Severity::Ok,
                    "parameter",
                    format!("{} renamed to {} (same place in the URL)", old.label, param.label),
                );
            }
            if !old.deprecated && param.deprecated {
                let severity = if sends(key).is_some() {
                    Severity::Warning
                } else {
                    Severity::Ok
                };
                self.push(severity, "deprecation", format!("{} is now deprecated", param.label));
            }
            if let (Some(old_schema), Some(new_schema)) = (old.schema, param.schema) {
                let ours_schema = ours.get(key).and_then(|ours| ours.schema);
                let found = shape::compare(
                    Schema {
                        doc: self.old_doc,
                        value: old_schema,
                    },
                    Schema {
                        doc: self.new_doc,
                        value: new_schema,
                    },
                    ours_schema.map(|value| Schema {
                        doc: self.client.spec(),
                        value,
                    }),
                )?;
                // A credential header is sent even though the client's spec does not list it as a parameter.
                let sent = sends(key).is_some();
                for mut item in found {
                    item.usage.used |= sent;
                    self.report(&item, Direction::Request, &param.label, "parameter");
                }
            }
        }
        Ok(())
    }

    // ----- request body ------------------------------------------------------------------------------------------

    fn body_of(doc: &'a Value, op: &'a Value) -> Result<Option<Body<'a>>, String> {
        let Some(body) = op.get("requestBody") else {
            return Ok(None);
        };
        let (body, _) = refs::resolve(doc, body)?;
        Ok(Some(Body {
            required: body.get("required") == Some(&Value::Bool(true)),
            json: json_schema(body),
        }))
    }

    fn request_body(&mut self, old: &Op<'a>, new: &Op<'a>) -> Result<(), String> {
        let ours = match self.ours {
            Some((_, op)) => Self::body_of(self.client.spec(), op)?,
            None => None,
        };
        match (
            Self::body_of(self.old_doc, old.value)?,
            Self::body_of(self.new_doc, new.value)?,
        ) {
            (None, None) => {}
            (Some(_), None) => {
                let severity = if ours.is_some() {
                    Severity::Breaking
                } else {
                    Severity::Ok
                };
                self.push(
                    severity,
                    "request-body",
                    "the request body is no longer accepted".to_owned(),
                );
            }
            (None, Some(body)) => {
                let severity = if body.required && ours.is_none() {
                    Severity::Breaking
                } else {
                    Severity::Ok
                };
                let which = if body.required { "required" } else { "optional" };
                self.push(severity, "request-body", format!("new {which} request body"));
            }
            (Some(before), Some(after)) => match (before.json, after.json) {
                (Some(_), None) => {
                    let severity = if ours.is_some() {
                        Severity::Breaking
                    } else {
                        Severity::Ok
                    };
                    self.push(
                        severity,
                        "request-body",
                        "the request body is no longer JSON".to_owned(),
                    );
                }
                (Some(old_schema), Some(new_schema)) => {
                    let ours_schema = ours.and_then(|ours| ours.json);
                    self.schemas(
                        old_schema,
                        new_schema,
                        ours_schema,
                        Direction::Request,
                        "request body",
                        "request-body",
                    )?;
                }
                _ => {}
            },
        }
        Ok(())
    }

    // ----- responses ---------------------------------------------------------------------------------------------

    fn responses_of(doc: &'a Value, op: &'a Value) -> Result<BTreeMap<String, &'a Value>, String> {
        let mut out = BTreeMap::new();
        for (status, response) in op.get("responses").and_then(Value::as_object).into_iter().flatten() {
            out.insert(status.clone(), refs::resolve(doc, response)?.0);
        }
        Ok(out)
    }

    fn header_names(doc: &Value, response: &Value) -> Result<BTreeMap<String, String>, String> {
        let mut out = BTreeMap::new();
        for (name, header) in response.get("headers").and_then(Value::as_object).into_iter().flatten() {
            refs::resolve(doc, header)?;
            out.insert(name.to_ascii_lowercase(), name.clone());
        }
        Ok(out)
    }

    fn responses(&mut self, old: &Op<'a>, new: &Op<'a>) -> Result<(), String> {
        let before = Self::responses_of(self.old_doc, old.value)?;
        let after = Self::responses_of(self.new_doc, new.value)?;
        let ours = match self.ours {
            Some((_, op)) => Self::responses_of(self.client.spec(), op)?,
            None => BTreeMap::new(),
        };
        let is_success = |status: &String| status.starts_with('2');

        let old_success: BTreeSet<&String> = before.keys().filter(|s| is_success(s)).collect();
        let new_success: BTreeSet<&String> = after.keys().filter(|s| is_success(s)).collect();
        if old_success != new_success {
            let list = |set: &BTreeSet<&String>| set.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            let gone = old_success.difference(&new_success).count() > 0;
            let severity = if gone { Severity::Breaking } else { Severity::Warning };
            self.push(
                severity,
                "response",
                format!("success status {} → {}", list(&old_success), list(&new_success)),
            );
        }

        // The error body the client knew for this operation: what a new error status is compared with.
        let old_error_body = before
            .iter()
            .filter(|(status, _)| !is_success(status))
            .find_map(|(_, response)| json_schema(response));
        let ours_error_body = ours
            .iter()
            .filter(|(status, _)| !is_success(status))
            .find_map(|(_, r)| json_schema(r));

        let mut added_headers: Vec<String> = Vec::new();
        for (status, response) in &after {
            let direction = if is_success(status) {
                Direction::Success
            } else {
                Direction::Error
            };
            let ours_body = ours.get(status).and_then(|r| json_schema(r)).or(match direction {
                Direction::Error => ours_error_body,
                _ => None,
            });
            let Some(old_response) = before.get(status) else {
                if direction == Direction::Error {
                    self.push(Severity::Ok, "response", format!("new error status {status}"));
                    if let (Some(old_schema), Some(new_schema)) = (old_error_body, json_schema(response)) {
                        let place = format!("response {status} (new)");
                        self.schemas(old_schema, new_schema, ours_body, direction, &place, "response")?;
                    }
                }
                continue;
            };
            let old_headers = Self::header_names(self.old_doc, old_response)?;
            let new_headers = Self::header_names(self.new_doc, response)?;
            let new_names: Vec<&str> = new_headers
                .iter()
                .filter(|(lower, _)| !old_headers.contains_key(*lower))
                .map(|(_, name)| name.as_str())
                .collect();
            if !new_names.is_empty() {
                added_headers.push(format!("{status}: {}", new_names.join(", ")));
            }
            let ours_headers = match ours.get(status) {
                Some(r) => Self::header_names(self.client.spec(), r)?,
                None => BTreeMap::new(),
            };
            for (lower, name) in &old_headers {
                if !new_headers.contains_key(lower) {
                    let severity = if ours_headers.contains_key(lower) {
                        Severity::Warning
                    } else {
                        Severity::Ok
                    };
                    self.push(
                        severity,
                        "response",
                        format!("response {status}: header {name} no longer documented"),
                    );
                }
            }
            match (json_schema(old_response), json_schema(response)) {
                (Some(_), None) => {
                    let severity = match (direction, ours_body) {
                        (Direction::Success, Some(_)) => Severity::Breaking,
                        (_, Some(_)) => Severity::Warning,
                        _ => Severity::Ok,
                    };
                    self.push(
                        severity,
                        "response",
                        format!("response {status}: no longer a JSON body"),
                    );
                }
                (None, Some(_)) => self.push(
                    Severity::Ok,
                    "response",
                    format!("response {status}: now documents a JSON body"),
                ),
                (Some(old_schema), Some(new_schema)) => {
                    self.schemas(
                        old_schema,
                        new_schema,
                        ours_body,
                        direction,
                        &format!("response {status}"),
                        "response",
                    )?;
                }
                (None, None) => {}
            }
        }
        for status in before
            .keys()
            .filter(|status| !is_success(status) && !after.contains_key(*status))
        {
            self.push(
                Severity::Ok,
                "response",
                format!("error status {status} no longer documented"),
            );
        }
        if !added_headers.is_empty() {
            self.push(
                Severity::Ok,
                "response",
                format!("new response headers: {}", added_headers.join("; ")),
            );
        }
        Ok(())
    }

    // ----- schemas -----------------------------------------------------------------------------------------------

    fn schemas(
        &mut self,
        old: &'a Value,
        new: &'a Value,
        ours: Option<&'a Value>,
        direction: Direction,
        place: &str,
        kind: &'static str,
    ) -> Result<(), String> {
        let old_schema = Schema {
            doc: self.old_doc,
            value: old,
        };
        let new_schema = Schema {
            doc: self.new_doc,
            value: new,
        };
        let found = shape::compare(
            old_schema,
            new_schema,
            ours.map(|value| Schema {
                doc: self.client.spec(),
                value,
            }),
        )?;
        if found.is_empty() {
            if let (Some(a), Some(b)) = (shape::name_of(old_schema), shape::name_of(new_schema)) {
                if a != b {
                    self.renames.entry((a, b)).or_default().push(place.to_owned());
                }
            }
        }
        let place = if place.starts_with("response ") {
            format!("{place} body")
        } else {
            place.to_owned()
        };
        for item in &found {
            self.report(item, direction, &place, kind);
        }
        Ok(())
    }

    fn report(&mut self, found: &Found, direction: Direction, place: &str, kind: &'static str) {
        let (severity, why) = judge(found, direction);
        let at = if found.at.is_empty() {
            String::new()
        } else {
            format!(" `{}`", found.at)
        };
        let what = match &found.delta {
            Delta::Retyped { from, to } => format!("{at} retyped {from} → {to}"),
            Delta::FormatAdded(format) => format!("{at} now has format {format}"),
            Delta::FormatRemoved(format) => format!("{at} no longer has format {format}"),
            Delta::NullableAdded => format!("{at} may now be null"),
            Delta::NullableRemoved => format!("{at} may no longer be null"),
            Delta::DeprecatedAdded => format!("{at} is now deprecated"),
            Delta::Constraints { from, to } => format!("{at} constraints {} → {}", clip(from), clip(to)),
            Delta::PropertyAdded { required: true } => format!(" new required property `{}`", found.at),
            Delta::PropertyAdded { required: false } => format!(" new optional property `{}`", found.at),
            Delta::PropertyRemoved => format!(" property `{}` removed", found.at),
            Delta::Renamed { to } => format!(" property `{}` renamed to `{to}` (same shape)", found.at),
            Delta::BecameRequired => format!(" property `{}` is now required", found.at),
            Delta::BecameOptional => format!(" property `{}` is now optional", found.at),
        };
        let kind = if matches!(found.delta, Delta::DeprecatedAdded) {
            "deprecation"
        } else {
            kind
        };
        self.push(severity, kind, format!("{place}:{what}{why}"));
    }
}

/// How a schema difference affects the client, and the reason shown with it.
fn judge(found: &Found, direction: Direction) -> (Severity, &'static str) {
    use Severity::{Breaking, Ok, Warning};
    let usage = found.usage;
    match direction {
        Direction::Request => match &found.delta {
            Delta::Retyped { .. } | Delta::PropertyRemoved | Delta::Renamed { .. } if usage.used => {
                (Breaking, "; the client sends it")
            }
            Delta::PropertyAdded { required: true } | Delta::BecameRequired if !(usage.used && usage.required) => {
                (Breaking, "; the client does not always send it")
            }
            Delta::FormatAdded(_) | Delta::Constraints { .. } | Delta::DeprecatedAdded if usage.used => {
                (Warning, "; the client sends it")
            }
            _ => (Ok, ""),
        },
        Direction::Success | Direction::Error => match &found.delta {
            Delta::Retyped { .. } if usage.used => (Breaking, "; the client reads it"),
            Delta::NullableAdded if usage.used && !usage.nullable => {
                (Breaking, "; the client's spec does not allow null there")
            }
            Delta::PropertyRemoved | Delta::Renamed { .. }
                if usage.used && (usage.required || direction == Direction::Error) =>
            {
                (Breaking, "; the client reads it")
            }
            Delta::PropertyRemoved | Delta::Renamed { .. } if usage.used => {
                (Warning, "; the client reads it when present")
            }
            Delta::BecameOptional if usage.used && usage.required => (Breaking, "; the client relies on it"),
            Delta::FormatAdded(_) | Delta::FormatRemoved(_) | Delta::DeprecatedAdded if usage.used => {
                (Warning, "; the client reads it")
            }
            _ => (Ok, ""),
        },
    }
}

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
