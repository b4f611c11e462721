//! An operation's responses: success statuses, error bodies and the headers the client reads.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{json_schema, Ctx, Direction, Op, Severity};
use crate::upstream::refs;

impl<'a> Ctx<'a, '_> {
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

    pub(super) fn responses(&mut self, old: &Op<'a>, new: &Op<'a>) -> Result<(), String> {
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
}
