//! An operation's security requirements: a change that credentials accepted before may not meet.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Ctx, Op, Severity};

/// One alternative of a `security` list: scheme name to the scopes it needs.
type Requirement = BTreeMap<String, BTreeSet<String>>;

impl<'a> Ctx<'a, '_> {
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

    pub(super) fn security(&mut self, old: &Op<'a>, new: &Op<'a>) {
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
}
