//! An operation's request body: made required, gone, or its schema changed.

use serde_json::Value;

use super::{json_schema, Ctx, Direction, Op, Severity};
use crate::upstream::refs;

struct Body<'a> {
    required: bool,
    json: Option<&'a Value>,
}

impl<'a> Ctx<'a, '_> {
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

    pub(super) fn request_body(&mut self, old: &Op<'a>, new: &Op<'a>) -> Result<(), String> {
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
}
