//! Comparing two JSON Schemas by structure, never by name: references are followed, `allOf` parts are merged, and
//! what differs is listed property by property, together with how the client's own spec uses each place.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::refs;

/// How deep a comparison goes before it stops (eToro's schemas nest four levels).
const MAX_DEPTH: usize = 48;

/// Validation keywords compared as a whole: a change in any of them is one [`Delta::Constraints`].
const CONSTRAINT_KEYS: &[&str] = &[
    "enum",
    "const",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "additionalProperties",
    "readOnly",
    "writeOnly",
];

/// One difference between the old and the new schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    /// The type (or an existing format) changed.
    Retyped {
        /// The old type, e.g. `string/uuid`.
        from: String,
        /// The new type.
        to: String,
    },
    /// A format appeared where there was none.
    FormatAdded(String),
    /// The format went away.
    FormatRemoved(String),
    /// `nullable: true` appeared.
    NullableAdded,
    /// `nullable: true` went away.
    NullableRemoved,
    /// `deprecated: true` appeared.
    DeprecatedAdded,
    /// Validation keywords (enum, pattern, bounds, `additionalProperties`, ...) changed.
    Constraints {
        /// The old keywords, as compact JSON.
        from: String,
        /// The new keywords.
        to: String,
    },
    /// A property appeared.
    PropertyAdded {
        /// Whether the new schema requires it.
        required: bool,
    },
    /// A property went away (and no new property of the same shape took its place).
    PropertyRemoved,
    /// A property went away and exactly one new property of the same shape appeared.
    Renamed {
        /// The new property name.
        to: String,
    },
    /// A property became required.
    BecameRequired,
    /// A property stopped being required.
    BecameOptional,
}

/// How the client's own spec uses the place a [`Delta`] is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Use {
    /// The client's spec has this place: the client sends it (requests) or reads it (responses).
    pub used: bool,
    /// The client's spec marks it required (the client always sends it, or relies on it being there).
    pub required: bool,
    /// The client's spec allows null there.
    pub nullable: bool,
}

/// A difference, where it is (`scopeNames`, `agentPortfolios[].userTokens[].expiresAt`; empty for the root) and
/// how the client uses that place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The place, as a property path.
    pub at: String,
    /// What changed there.
    pub delta: Delta,
    /// How the client's spec uses the place.
    pub usage: Use,
}

/// A schema in its document, so references can be followed.
#[derive(Clone, Copy)]
pub struct Schema<'a> {
    /// The document that holds the schema's references.
    pub doc: &'a Value,
    /// The schema (or a reference to one).
    pub value: &'a Value,
}

/// A schema with references followed and `allOf` merged.
#[derive(Default)]
struct View<'a> {
    ty: Option<String>,
    format: Option<String>,
    nullable: bool,
    deprecated: bool,
    properties: BTreeMap<String, &'a Value>,
    required: BTreeSet<String>,
    items: Option<&'a Value>,
    constraints: Map<String, Value>,
    alternatives: Vec<&'a Value>,
    name: Option<String>,
}

fn view<'a>(doc: &'a Value, value: &'a Value, depth: usize) -> Result<View<'a>, String> {
    let (schema, name) = refs::resolve(doc, value)?;
    let mut view = View {
        name,
        ..View::default()
    };
    let Some(map) = schema.as_object() else {
        return Ok(view);
    };
    if depth < MAX_DEPTH {
        for part in map.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            let part = self::view(doc, part, depth + 1)?;
            view.ty = view.ty.or(part.ty);
            view.format = view.format.or(part.format);
            view.nullable |= part.nullable;
            view.properties.extend(part.properties);
            view.required.extend(part.required);
            view.items = view.items.or(part.items);
            view.constraints.extend(part.constraints);
            view.alternatives.extend(part.alternatives);
        }
    }
    if let Some(ty) = map.get("type").and_then(Value::as_str) {
        view.ty = Some(ty.to_owned());
    }
    if let Some(format) = map.get("format").and_then(Value::as_str) {
        view.format = Some(format.to_owned());
    }
    view.nullable |= map.get("nullable") == Some(&Value::Bool(true));
    view.deprecated = map.get("deprecated") == Some(&Value::Bool(true));
    for (name, property) in map.get("properties").and_then(Value::as_object).into_iter().flatten() {
        view.properties.insert(name.clone(), property);
    }
    view.required.extend(
        map.get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned),
    );
    if let Some(items) = map.get("items") {
        view.items = Some(items);
    }
    for key in CONSTRAINT_KEYS {
        if let Some(value) = map.get(*key) {
            view.constraints.insert((*key).to_owned(), value.clone());
        }
    }
    for key in ["oneOf", "anyOf"] {
        view.alternatives
            .extend(map.get(key).and_then(Value::as_array).into_iter().flatten());
    }
    if view.ty.is_none() {
        if !view.properties.is_empty() {
            view.ty = Some("object".to_owned());
        } else if view.items.is_some() {
            view.ty = Some("array".to_owned());
        }
    }
    Ok(view)
}

fn type_label(view: &View) -> String {
    let ty = view.ty.as_deref().unwrap_or("any");
    match &view.format {
        Some(format) => format!("{ty}/{format}"),
        None => ty.to_owned(),
    }
}

/// The structure of a schema, independent of component names and documentation: types, formats, nullability,
/// properties with their shapes, required names, item shapes, alternatives. Recursion is written by depth, so two
/// recursive schemas with different names still compare equal.
pub fn shape(schema: Schema) -> Result<Value, String> {
    shape_at(schema.doc, schema.value, &mut Vec::new())
}

fn shape_at(doc: &Value, value: &Value, stack: &mut Vec<String>) -> Result<Value, String> {
    let view = view(doc, value, 0)?;
    if let Some(name) = &view.name {
        if let Some(position) = stack.iter().position(|seen| seen == name) {
            return Ok(serde_json::json!({ "recursive": stack.len() - position }));
        }
    }
    if stack.len() >= MAX_DEPTH {
        return Ok(Value::String("(too deep)".to_owned()));
    }
    stack.push(view.name.clone().unwrap_or_default());
    let mut out = Map::new();
    out.insert("type".into(), Value::String(type_label(&view)));
    if view.nullable {
        out.insert("nullable".into(), Value::Bool(true));
    }
    if !view.properties.is_empty() {
        let mut properties = Map::new();
        for (name, property) in &view.properties {
            properties.insert(name.clone(), shape_at(doc, property, stack)?);
        }
        out.insert("properties".into(), Value::Object(properties));
        out.insert(
            "required".into(),
            view.required.iter().cloned().map(Value::String).collect(),
        );
    }
    if let Some(items) = view.items {
        out.insert("items".into(), shape_at(doc, items, stack)?);
    }
    if !view.alternatives.is_empty() {
        let alternatives = view
            .alternatives
            .iter()
            .map(|alternative| shape_at(doc, alternative, stack))
            .collect::<Result<_, _>>()?;
        out.insert("alternatives".into(), Value::Array(alternatives));
    }
    stack.pop();
    Ok(Value::Object(out))
}

/// The name of the component `schema` refers to, if it is a reference.
pub fn name_of(schema: Schema) -> Option<String> {
    refs::resolve(schema.doc, schema.value).ok().and_then(|(_, name)| name)
}

/// Everything that differs between `old` and `new`, with how `ours` (the client's spec at the same place, if it
/// has one) uses each place.
pub fn compare(old: Schema, new: Schema, ours: Option<Schema>) -> Result<Vec<Found>, String> {
    let mut found = Vec::new();
    let usage = Use {
        used: ours.is_some(),
        required: ours.is_some(),
        nullable: false,
    };
    let mut comparison = Comparison {
        old_doc: old.doc,
        new_doc: new.doc,
        ours_doc: ours.map(|schema| schema.doc),
        stack: Vec::new(),
        found: &mut found,
    };
    comparison.node(
        old.value,
        new.value,
        ours.map(|schema| schema.value),
        usage,
        String::new(),
    )?;
    Ok(found)
}

struct Comparison<'a, 'f> {
    old_doc: &'a Value,
    new_doc: &'a Value,
    ours_doc: Option<&'a Value>,
    stack: Vec<(Option<String>, Option<String>)>,
    found: &'f mut Vec<Found>,
}

impl<'a> Comparison<'a, '_> {
    fn push(&mut self, at: &str, delta: Delta, usage: Use) {
        self.found.push(Found {
            at: at.to_owned(),
            delta,
            usage,
        });
    }

    fn node(
        &mut self,
        old: &'a Value,
        new: &'a Value,
        ours: Option<&'a Value>,
        usage: Use,
        at: String,
    ) -> Result<(), String> {
        let old_view = view(self.old_doc, old, 0)?;
        let new_view = view(self.new_doc, new, 0)?;
        let ours_view = match (ours, self.ours_doc) {
            (Some(ours), Some(doc)) => Some(view(doc, ours, 0)?),
            _ => None,
        };
        let pair = (old_view.name.clone(), new_view.name.clone());
        if (pair.0.is_some() || pair.1.is_some()) && self.stack.contains(&pair) || self.stack.len() >= MAX_DEPTH {
            return Ok(());
        }
        let usage = Use {
            nullable: ours_view.as_ref().is_some_and(|ours| ours.nullable),
            ..usage
        };

        // Another type, or another format of the same type, is another value on the wire.
        let format_changed = matches!((&old_view.format, &new_view.format), (Some(a), Some(b)) if a != b);
        if old_view.ty != new_view.ty || format_changed {
            self.push(
                &at,
                Delta::Retyped {
                    from: type_label(&old_view),
                    to: type_label(&new_view),
                },
                usage,
            );
            return Ok(());
        }
        match (&old_view.format, &new_view.format) {
            (None, Some(b)) => self.push(&at, Delta::FormatAdded(b.clone()), usage),
            (Some(a), None) => self.push(&at, Delta::FormatRemoved(a.clone()), usage),
            _ => {}
        }
        match (old_view.nullable, new_view.nullable) {
            (false, true) => self.push(&at, Delta::NullableAdded, usage),
            (true, false) => self.push(&at, Delta::NullableRemoved, usage),
            _ => {}
        }
        if !old_view.deprecated && new_view.deprecated {
            self.push(&at, Delta::DeprecatedAdded, usage);
        }
        if old_view.constraints != new_view.constraints {
            let compact = |map: &Map<String, Value>| Value::Object(map.clone()).to_string();
            self.push(
                &at,
                Delta::Constraints {
                    from: compact(&old_view.constraints),
                    to: compact(&new_view.constraints),
                },
                usage,
            );
        }
        let old_alternatives = self.alternatives(self.old_doc, &old_view)?;
        let new_alternatives = self.alternatives(self.new_doc, &new_view)?;
        if old_alternatives != new_alternatives {
            self.push(
                &at,
                Delta::Retyped {
                    from: "alternatives (oneOf/anyOf) as before".into(),
                    to: "different alternatives".into(),
                },
                usage,
            );
        }

        self.stack.push(pair);
        self.properties(&old_view, &new_view, ours_view.as_ref(), &at)?;
        if let (Some(old_items), Some(new_items)) = (old_view.items, new_view.items) {
            let ours_items = ours_view.as_ref().and_then(|ours| ours.items);
            let items_usage = Use {
                used: usage.used,
                required: usage.used,
                nullable: false,
            };
            self.node(old_items, new_items, ours_items, items_usage, format!("{at}[]"))?;
        }
        self.stack.pop();
        Ok(())
    }

    fn alternatives(&self, doc: &Value, view: &View) -> Result<Vec<Value>, String> {
        view.alternatives
            .iter()
            .map(|alternative| {
                shape(Schema {
                    doc,
                    value: alternative,
                })
            })
            .collect()
    }

    fn properties(&mut self, old: &View<'a>, new: &View<'a>, ours: Option<&View<'a>>, at: &str) -> Result<(), String> {
        let child = |name: &str| {
            if at.is_empty() {
                name.to_owned()
            } else {
                format!("{at}.{name}")
            }
        };
        let usage_of = |name: &str| match ours.and_then(|ours| ours.properties.get(name).map(|_| ours)) {
            Some(ours) => Use {
                used: true,
                required: ours.required.contains(name),
                nullable: false,
            },
            None => Use::default(),
        };
        let removed: Vec<&String> = old
            .properties
            .keys()
            .filter(|name| !new.properties.contains_key(*name))
            .collect();
        let added: Vec<&String> = new
            .properties
            .keys()
            .filter(|name| !old.properties.contains_key(*name))
            .collect();

        // A rename is one removed and one added property of the same shape, matched only when unambiguous.
        let old_shapes: Vec<Value> = removed
            .iter()
            .map(|name| {
                shape(Schema {
                    doc: self.old_doc,
                    value: old.properties[*name],
                })
            })
            .collect::<Result<_, _>>()?;
        let new_shapes: Vec<Value> = added
            .iter()
            .map(|name| {
                shape(Schema {
                    doc: self.new_doc,
                    value: new.properties[*name],
                })
            })
            .collect::<Result<_, _>>()?;
        let mut renamed_to = BTreeMap::new();
        for (i, old_shape) in old_shapes.iter().enumerate() {
            let matches: Vec<usize> = (0..added.len()).filter(|j| &new_shapes[*j] == old_shape).collect();
            if let [j] = matches[..] {
                if old_shapes.iter().filter(|other| *other == &new_shapes[j]).count() == 1 {
                    renamed_to.insert(i, j);
                }
            }
        }
        for (i, name) in removed.iter().enumerate() {
            let delta = match renamed_to.get(&i) {
                Some(j) => Delta::Renamed { to: added[*j].clone() },
                None => Delta::PropertyRemoved,
            };
            self.push(&child(name), delta, usage_of(name));
        }
        let renamed_targets: BTreeSet<usize> = renamed_to.values().copied().collect();
        for (j, name) in added.iter().enumerate() {
            if !renamed_targets.contains(&j) {
                self.push(
                    &child(name),
                    Delta::PropertyAdded {
                        required: new.required.contains(*name),
                    },
                    usage_of(name),
                );
            }
        }
        for (name, old_property) in &old.properties {
            let Some(new_property) = new.properties.get(name) else {
                continue;
            };
            let usage = usage_of(name);
            match (old.required.contains(name), new.required.contains(name)) {
                (false, true) => self.push(&child(name), Delta::BecameRequired, usage),
                (true, false) => self.push(&child(name), Delta::BecameOptional, usage),
                _ => {}
            }
            let ours_property = ours.and_then(|ours| ours.properties.get(name).copied());
            self.node(old_property, new_property, ours_property, usage, child(name))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
