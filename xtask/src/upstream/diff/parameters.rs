//! An operation's parameters: removed, renamed, retyped or newly required ones.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Ctx, Direction, Op, Severity};
use crate::upstream::refs;
use crate::upstream::shape::{self, Schema};

struct Param<'a> {
    label: String,
    required: bool,
    deprecated: bool,
    schema: Option<&'a Value>,
}

impl<'a> Ctx<'a, '_> {
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

    pub(super) fn parameters(&mut self, old: &Op<'a>, new: &Op<'a>) -> Result<(), String> {
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
}
