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
            (Some(_), None) => self.body_lost(ours.is_some(), "no longer accepted"),
            (None, Some(body)) => {
                let severity = Severity::breaking_if(body.required && ours.is_none());
                let which = if body.required { "required" } else { "optional" };
                self.push(severity, "request-body", format!("new {which} request body"));
            }
            (Some(before), Some(after)) => match (before.json, after.json) {
                (Some(_), None) => self.body_lost(ours.is_some(), "no longer JSON"),
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

    /// The request body, which the client sends when `sent`, is `what` (no longer accepted, or no longer JSON).
    fn body_lost(&mut self, sent: bool, what: &str) {
        self.push(
            Severity::breaking_if(sent),
            "request-body",
            format!("the request body is {what}"),
        );
    }
}
