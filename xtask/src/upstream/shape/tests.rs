//! The shape comparison on small documents.

use serde_json::json;

use super::*;

fn doc(schemas: Value) -> Value {
    json!({ "components": { "schemas": schemas } })
}

/// The shape of the schema `name` in `doc`.
fn shape_named(doc: &Value, name: &str) -> Value {
    let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
    shape(Schema { doc, value: &reference }).unwrap()
}

fn compare_named(old: &Value, new: &Value, ours: Option<&Value>, name: &str) -> Vec<Found> {
    let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
    let named = |doc| Schema { doc, value: &reference };
    compare(named(old), named(new), ours.map(named)).unwrap()
}

#[test]
fn shapes_ignore_names_and_documentation() {
    let a = doc(json!({"E": {"type": "object", "description": "x", "properties": {"code": {"type": "string"}}}}));
    let b = doc(
        json!({"Other_E": {"properties": {"code": {"$ref": "#/components/schemas/S"}}}, "S": {"type": "string", "title": "t"}}),
    );
    let shape_a = shape_named(&a, "E");
    let shape_b = shape_named(&b, "Other_E");
    assert_eq!(shape_a, shape_b);
}

#[test]
fn recursive_schemas_terminate_and_compare_by_structure() {
    let a = doc(json!({"Node": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Node"}}}}));
    let b =
        doc(json!({"Renamed": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Renamed"}}}}));
    let shape_a = shape_named(&a, "Node");
    let shape_b = shape_named(&b, "Renamed");
    assert_eq!(shape_a, shape_b);
    assert!(compare_named(&a, &a, None, "Node").is_empty());
}

#[test]
fn renames_removals_additions_and_retypes_are_told_apart() {
    let old = doc(json!({"B": {"type": "object", "properties": {
        "keep": {"type": "string"}, "old": {"type": "array", "items": {"type": "string"}}, "gone": {"type": "boolean"}, "n": {"type": "integer"}}}}));
    let new = doc(json!({"B": {"type": "object", "required": ["must"], "properties": {
        "keep": {"type": "string"}, "new": {"type": "array", "items": {"type": "string"}}, "must": {"type": "integer", "format": "int64"},
        "n": {"type": "string"}}}}));
    let ours =
        doc(json!({"B": {"type": "object", "properties": {"old": {"type": "array"}, "n": {"type": "integer"}}}}));
    let found = compare_named(&old, &new, Some(&ours), "B");
    let summary: Vec<(String, Delta, bool)> = found.into_iter().map(|f| (f.at, f.delta, f.usage.used)).collect();
    assert_eq!(
        summary,
        vec![
            ("gone".into(), Delta::PropertyRemoved, false),
            ("old".into(), Delta::Renamed { to: "new".into() }, true),
            ("must".into(), Delta::PropertyAdded { required: true }, false),
            (
                "n".into(),
                Delta::Retyped {
                    from: "integer".into(),
                    to: "string".into()
                },
                true
            ),
        ]
    );
}

#[test]
fn nested_items_nullability_formats_and_constraints_are_reported_with_their_place() {
    let old = doc(
        json!({"R": {"properties": {"list": {"type": "array", "items": {"type": "object", "properties": {
        "at": {"type": "string"}, "id": {"type": "integer", "format": "int32"}, "tag": {"type": "string"}}}}}}}),
    );
    let new = doc(
        json!({"R": {"properties": {"list": {"type": "array", "items": {"type": "object", "properties": {
        "at": {"type": "string", "format": "date-time", "nullable": true}, "id": {"type": "integer", "format": "int64"},
        "tag": {"type": "string", "enum": ["a"], "deprecated": true}}}}}}}),
    );
    let found = compare_named(&old, &new, None, "R");
    let summary: Vec<(&str, &Delta)> = found.iter().map(|f| (f.at.as_str(), &f.delta)).collect();
    assert_eq!(
        summary,
        vec![
            ("list[].at", &Delta::FormatAdded("date-time".into())),
            ("list[].at", &Delta::NullableAdded),
            (
                "list[].id",
                &Delta::Retyped {
                    from: "integer/int32".into(),
                    to: "integer/int64".into()
                }
            ),
            ("list[].tag", &Delta::DeprecatedAdded),
            (
                "list[].tag",
                &Delta::Constraints {
                    from: "{}".into(),
                    to: "{\"enum\":[\"a\"]}".into()
                }
            ),
        ]
    );
}

#[test]
fn all_of_parts_are_merged() {
    let old = doc(json!({"A": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}}));
    let new = doc(json!({"A": {"allOf": [
        {"$ref": "#/components/schemas/Base"}, {"properties": {"b": {"type": "integer"}}}]},
        "Base": {"type": "object", "properties": {"a": {"type": "string"}}}}));
    assert!(compare_named(&old, &new, None, "A").is_empty());
}
