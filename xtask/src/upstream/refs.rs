//! Local `$ref`s (`#/components/<kind>/<name>`): parsing, resolving and collecting them.
//!
//! Only references into `components` are read: that is what eToro publishes, and it keeps "everything an operation
//! references" a set of named components that the snapshot can hold.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Keys whose values are data (example-like values, lists of names), never OpenAPI objects: nothing under them is
/// a reference.
pub const DATA_KEYS: &[&str] = &["enum", "default", "const", "required", "security", "mapping"];

/// How many references may be followed in a row before the chain counts as a cycle.
const MAX_HOPS: usize = 32;

/// A parsed `#/components/<kind>/<name>` reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ComponentRef {
    /// The component kind: `schemas`, `parameters`, `headers`, ...
    pub kind: String,
    /// The component's name, JSON-pointer escapes undone.
    pub name: String,
}

impl ComponentRef {
    /// The reference as written in a document.
    pub fn to_ref(&self) -> String {
        format!("#/components/{}/{}", escape(&self.kind), escape(&self.name))
    }
}

/// Parses a `$ref` value, or says why it is not one this tool reads.
pub fn parse(reference: &str) -> Result<ComponentRef, String> {
    let unsupported = || {
        format!("unsupported $ref {reference:?}: only local references of the form #/components/<kind>/<name> are read")
    };
    let rest = reference.strip_prefix("#/components/").ok_or_else(unsupported)?;
    let mut parts = rest.split('/');
    let (Some(kind), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(unsupported());
    };
    if kind.is_empty() || name.is_empty() {
        return Err(unsupported());
    }
    Ok(ComponentRef {
        kind: unescape(kind),
        name: unescape(name),
    })
}

fn unescape(part: &str) -> String {
    part.replace("~1", "/").replace("~0", "~")
}

fn escape(part: &str) -> String {
    part.replace('~', "~0").replace('/', "~1")
}

/// The `$ref` of `value`, when it is a reference object.
pub fn ref_of(value: &Value) -> Option<&str> {
    value.get("$ref").and_then(Value::as_str)
}

/// Looks up the component `reference` points at in `doc`.
pub fn lookup<'a>(doc: &'a Value, reference: &ComponentRef) -> Option<&'a Value> {
    doc.get("components")?.get(&reference.kind)?.get(&reference.name)
}

/// Follows `value`'s reference chain in `doc` to the object it names; returns it with the name of the last
/// component followed. A value that is not a reference is returned as it is.
pub fn resolve<'a>(doc: &'a Value, value: &'a Value) -> Result<(&'a Value, Option<String>), String> {
    let mut current = value;
    let mut name = None;
    for _ in 0..MAX_HOPS {
        let Some(reference) = ref_of(current) else {
            return Ok((current, name));
        };
        let parsed = parse(reference)?;
        current = lookup(doc, &parsed).ok_or_else(|| format!("$ref {reference:?} does not resolve"))?;
        name = Some(parsed.name);
    }
    Err(format!(
        "$ref chain starting at {:?} is a cycle",
        ref_of(value).unwrap_or_default()
    ))
}

/// Every component reference under `value` (skipping [`DATA_KEYS`]), added to `into`.
pub fn collect(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => collect_map(map, into),
        Value::Array(items) => items.iter().for_each(|item| collect(item, into)),
        _ => {}
    }
}

fn collect_map(map: &Map<String, Value>, into: &mut BTreeSet<String>) {
    for (key, value) in map {
        if key == "$ref" {
            if let Value::String(reference) = value {
                into.insert(reference.clone());
            }
        } else if !DATA_KEYS.contains(&key.as_str()) {
            collect(value, into);
        }
    }
}

/// The components reachable from `roots` (and from each other) in `doc`, or the first reference that is
/// unsupported or does not resolve.
pub fn transitive(doc: &Value, roots: BTreeSet<String>) -> Result<BTreeSet<ComponentRef>, String> {
    let mut seen = BTreeSet::new();
    let mut pending: Vec<String> = roots.into_iter().collect();
    while let Some(reference) = pending.pop() {
        let parsed = parse(&reference)?;
        if seen.contains(&parsed) {
            continue;
        }
        let target = lookup(doc, &parsed).ok_or_else(|| format!("$ref {reference:?} does not resolve"))?;
        let mut inner = BTreeSet::new();
        collect(target, &mut inner);
        pending.extend(inner);
        seen.insert(parsed);
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_component_refs_and_undoes_pointer_escapes() {
        let parsed = parse("#/components/schemas/a~1b~0c").unwrap();
        assert_eq!((parsed.kind.as_str(), parsed.name.as_str()), ("schemas", "a/b~c"));
        assert_eq!(parsed.to_ref(), "#/components/schemas/a~1b~0c");
    }

    #[test]
    fn refuses_refs_it_cannot_hold() {
        for bad in [
            "other.json#/x",
            "#/paths/~1a/get",
            "#/components/schemas",
            "#/components/schemas/a/b",
            "#/components//x",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("unsupported $ref"), "{bad}: {err}");
        }
    }

    #[test]
    fn resolve_follows_chains_and_detects_cycles() {
        let doc = json!({"components": {"schemas": {
            "A": {"$ref": "#/components/schemas/B"},
            "B": {"type": "string"},
            "C": {"$ref": "#/components/schemas/D"},
            "D": {"$ref": "#/components/schemas/C"},
        }}});
        let start = json!({"$ref": "#/components/schemas/A"});
        let (target, name) = resolve(&doc, &start).unwrap();
        assert_eq!((target, name.as_deref()), (&json!({"type": "string"}), Some("B")));
        let cycle = json!({"$ref": "#/components/schemas/C"});
        assert!(resolve(&doc, &cycle).unwrap_err().contains("cycle"));
        let missing = json!({"$ref": "#/components/schemas/Nope"});
        assert!(resolve(&doc, &missing).unwrap_err().contains("does not resolve"));
    }

    #[test]
    fn transitive_follows_references_inside_components_but_not_data() {
        let doc = json!({"components": {"schemas": {
            "A": {"properties": {"b": {"$ref": "#/components/schemas/B"}}},
            "B": {"items": {"$ref": "#/components/schemas/A"}, "default": {"$ref": "not a reference"}},
            "Unused": {"type": "string"},
        }}});
        let found = transitive(&doc, BTreeSet::from(["#/components/schemas/A".to_owned()])).unwrap();
        let names: Vec<_> = found.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
    }
}
