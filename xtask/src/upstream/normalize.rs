//! Turning an eToro document into facts only: the agent-portfolio operations, everything they reference, and no
//! prose. The same function prepares both sides of a diff, so the comparison never sees documentation text.
//!
//! What is kept: paths, methods, `operationId`, operation `tags` (names only), parameters, request bodies,
//! responses (statuses, headers, media types, schemas), `deprecated`, `security` (per operation and top-level),
//! security schemes (OAuth2 scope names, with their descriptions emptied), `servers` (URLs), and every JSON Schema
//! keyword that constrains a value.
//!
//! What is dropped, as documentation: `description`, `summary`, `example`, `examples`, `title`, `externalDocs`,
//! `termsOfService`, `contact`, `license`, top-level `tags`, path-item `servers`, and every `x-` extension (eToro's
//! are documentation tooling). Two fields OpenAPI 3.0 requires stay, emptied or ours: a response's `description`
//! is `""`, and `info.title` is [`SNAPSHOT_TITLE`]. Path-level parameters are copied into each operation (an
//! operation's own parameter of the same name and location wins), so that each operation stands alone.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::refs::{self, DATA_KEYS};

/// The HTTP methods an OpenAPI 3.0 path item may hold.
pub const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The snapshot's `info.title` (OpenAPI requires one; eToro's is not copied).
pub const SNAPSHOT_TITLE: &str = "eToro agent-portfolio operations: facts-only snapshot";

/// The extension on each snapshot operation that records the eToro release it was last imported from.
pub const SEEN_IN: &str = "x-upstream-version";

/// Keys dropped as documentation wherever they are a keyword.
const PROSE_KEYS: &[&str] = &[
    "description",
    "summary",
    "example",
    "examples",
    "title",
    "externalDocs",
    "termsOfService",
    "contact",
    "license",
];

/// Keys whose object values map names chosen by the author (properties, headers, media types, ...) to OpenAPI
/// objects: the names are kept whatever they are, only the objects are cleaned.
pub const NAMED_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "paths",
    "content",
    "headers",
    "schemas",
    "parameters",
    "securitySchemes",
    "requestBodies",
    "links",
    "callbacks",
    "encoding",
    "variables",
    "definitions",
    "$defs",
    "dependentSchemas",
];

/// Whether `path` is one of eToro's agent-portfolio paths: `/api/v<N>/agent-portfolios` and below.
pub fn is_agent_portfolio_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/v") else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    match rest[digits..].strip_prefix("/agent-portfolios") {
        Some(tail) => tail.is_empty() || tail.starts_with('/'),
        None => false,
    }
}

/// How many operations `document` holds, on any path: eToro's per-operation pages hold exactly one.
pub fn operation_count(document: &Value) -> usize {
    document
        .get("paths")
        .and_then(Value::as_object)
        .map(|paths| {
            paths
                .values()
                .map(|item| METHODS.iter().filter(|method| item.get(**method).is_some()).count())
                .sum()
        })
        .unwrap_or(0)
}

/// The document's `info.version` (checked present by `source::check_openapi`).
pub fn version_of(document: &Value) -> &str {
    document
        .pointer("/info/version")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The facts-only form of `document` (already checked by `source::check_openapi`): its agent-portfolio
/// operations, each marked with the document's version, and the components they need.
pub fn normalize(document: &Value) -> Result<Value, String> {
    let version = version_of(document).to_owned();
    let mut paths = Map::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        if !is_agent_portfolio_path(path) {
            continue;
        }
        let shared = item
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut operations = Map::new();
        for method in METHODS {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            let mut operation = operation.clone();
            merge_parameters(document, &shared, &mut operation)
                .map_err(|reason| format!("{} {path}: {reason}", method.to_uppercase()))?;
            let Value::Object(mut operation) = strip(&operation) else {
                return Err(format!("`paths.{path}.{method}` must be an object"));
            };
            operation.insert(SEEN_IN.to_owned(), Value::String(version.clone()));
            operations.insert((*method).to_owned(), Value::Object(operation));
        }
        if !operations.is_empty() {
            paths.insert(path.clone(), Value::Object(operations));
        }
    }
    if paths.is_empty() {
        return Err("the document has no agent-portfolio operation (no path under /api/v<N>/agent-portfolios)".into());
    }
    let components = document.get("components").map(strip_components).unwrap_or_default();
    let servers = document.get("servers").map(strip);
    let security = document.get("security").cloned();
    let openapi = document["openapi"].as_str().unwrap_or("3.0.1");
    assemble(openapi, &version, servers, security, paths, &components)
}

/// Copies the path item's `parameters` into the operation, unless the operation defines one with the same name
/// and location.
fn merge_parameters(document: &Value, shared: &[Value], operation: &mut Value) -> Result<(), String> {
    if shared.is_empty() {
        return Ok(());
    }
    let own = operation
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut own_keys = BTreeSet::new();
    for parameter in &own {
        own_keys.insert(parameter_key(document, parameter)?);
    }
    let mut merged = Vec::new();
    for parameter in shared {
        if !own_keys.contains(&parameter_key(document, parameter)?) {
            merged.push(parameter.clone());
        }
    }
    merged.extend(own);
    operation["parameters"] = Value::Array(merged);
    Ok(())
}

/// A parameter's identity: its location and name (header names are case-insensitive).
pub fn parameter_key(document: &Value, parameter: &Value) -> Result<(String, String), String> {
    let (parameter, _) = refs::resolve(document, parameter)?;
    let location = parameter
        .get("in")
        .and_then(Value::as_str)
        .ok_or("a parameter has no `in`")?;
    let name = parameter
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a parameter has no `name`")?;
    let name = if location == "header" {
        name.to_ascii_lowercase()
    } else {
        name.to_owned()
    };
    Ok((location.to_owned(), name))
}

/// Builds a snapshot-shaped document from cleaned `paths` and the cleaned `components` they may reference,
/// keeping only the components that are reachable, and checks the result is valid OpenAPI 3.0.
pub fn assemble(
    openapi: &str,
    version: &str,
    servers: Option<Value>,
    security: Option<Value>,
    paths: Map<String, Value>,
    components: &Map<String, Value>,
) -> Result<Value, String> {
    let mut roots = BTreeSet::new();
    let paths = Value::Object(paths);
    refs::collect(&paths, &mut roots);
    let mut scheme_names = BTreeSet::new();
    scheme_names_in(security.as_ref(), &mut scheme_names);
    for item in paths.as_object().into_iter().flatten().map(|(_, item)| item) {
        for operation in item.as_object().into_iter().flatten().map(|(_, op)| op) {
            scheme_names_in(operation.get("security"), &mut scheme_names);
        }
    }
    let lookup_doc = serde_json::json!({ "components": components });
    for name in &scheme_names {
        let reference = refs::ComponentRef {
            kind: "securitySchemes".to_owned(),
            name: name.clone(),
        };
        if refs::lookup(&lookup_doc, &reference).is_none() {
            return Err(format!(
                "a security requirement names the scheme {name:?}, which components.securitySchemes does not define"
            ));
        }
        roots.insert(reference.to_ref());
    }
    let mut kept = Map::new();
    for reference in refs::transitive(&lookup_doc, roots)? {
        let value = refs::lookup(&lookup_doc, &reference).cloned().unwrap_or_default();
        kept.entry(reference.kind.clone())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .map(|kind| kind.insert(reference.name.clone(), value));
    }

    let mut out = Map::new();
    out.insert("openapi".into(), Value::String(openapi.to_owned()));
    out.insert(
        "info".into(),
        serde_json::json!({ "title": SNAPSHOT_TITLE, "version": version }),
    );
    if let Some(servers) = servers {
        out.insert("servers".into(), servers);
    }
    if let Some(security) = security {
        out.insert("security".into(), security);
    }
    out.insert("paths".into(), paths);
    if !kept.is_empty() {
        out.insert("components".into(), Value::Object(kept));
    }
    let out = Value::Object(out);
    serde_json::from_value::<openapiv3::OpenAPI>(out.clone())
        .map_err(|err| format!("the agent-portfolio part is not a valid OpenAPI 3.0 document: {err}"))?;
    Ok(out)
}

fn scheme_names_in(security: Option<&Value>, into: &mut BTreeSet<String>) {
    for requirement in security.and_then(Value::as_array).into_iter().flatten() {
        into.extend(
            requirement
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, _)| name.clone()),
        );
    }
}

/// Cleans every component (responses get their required empty `description`).
pub fn strip_components(components: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (kind, entries) in components.as_object().into_iter().flatten() {
        if PROSE_KEYS.contains(&kind.as_str()) || kind.starts_with("x-") {
            continue;
        }
        let Some(entries) = entries.as_object() else {
            continue;
        };
        let cleaned = entries
            .iter()
            .map(|(name, value)| {
                let value = if kind == "responses" {
                    strip_response(value)
                } else {
                    strip(value)
                };
                (name.clone(), value)
            })
            .collect();
        out.insert(kind.clone(), Value::Object(cleaned));
    }
    out
}

/// `value` without documentation keys, read as an OpenAPI object (or array of them).
pub fn strip(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(strip_object(map)),
        Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
        other => other.clone(),
    }
}

fn strip_object(map: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        if PROSE_KEYS.contains(&key.as_str()) || key.starts_with("x-") {
            continue;
        }
        let cleaned = match (key.as_str(), value) {
            (key, value) if DATA_KEYS.contains(&key) => value.clone(),
            // OAuth2 flows: the scope names are facts, their descriptions prose (and required, so emptied).
            ("scopes", Value::Object(scopes)) => Value::Object(
                scopes
                    .keys()
                    .map(|name| (name.clone(), Value::String(String::new())))
                    .collect(),
            ),
            ("responses", Value::Object(responses)) => Value::Object(
                responses
                    .iter()
                    .map(|(status, response)| (status.clone(), strip_response(response)))
                    .collect(),
            ),
            (key, Value::Object(entries)) if NAMED_MAPS.contains(&key) => Value::Object(
                entries
                    .iter()
                    .map(|(name, entry)| (name.clone(), strip(entry)))
                    .collect(),
            ),
            (_, value) => strip(value),
        };
        out.insert(key.clone(), cleaned);
    }
    out
}

/// A response object keeps the `description` OpenAPI 3.0 requires, emptied.
fn strip_response(response: &Value) -> Value {
    let mut cleaned = strip(response);
    if let Value::Object(map) = &mut cleaned {
        if !map.contains_key("$ref") {
            map.insert("description".into(), Value::String(String::new()));
        }
    }
    cleaned
}

/// The deterministic text of a snapshot: keys sorted at every level, two-space indentation, a trailing newline.
pub fn render(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(document)).unwrap_or_default();
    text.push('\n');
    text
}

/// `value` with every object's keys in sorted order, whatever map type serde_json was built with.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|key| (key.clone(), sorted(&map[key]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agent_portfolio_paths_are_recognised() {
        for yes in [
            "/api/v1/agent-portfolios",
            "/api/v2/agent-portfolios/{id}/user-tokens",
            "/api/v10/agent-portfolios/",
        ] {
            assert!(is_agent_portfolio_path(yes), "{yes}");
        }
        for no in [
            "/api/v1/agent-portfoliosx",
            "/api/v/agent-portfolios",
            "/api/v1/trading",
            "/agent-portfolios",
            "/api/vx1/agent-portfolios",
        ] {
            assert!(!is_agent_portfolio_path(no), "{no}");
        }
    }

    #[test]
    fn names_chosen_by_authors_survive_while_keywords_go() {
        let schema = json!({
            "type": "object",
            "title": "T",
            "description": "D",
            "x-internal": true,
            "example": {"description": "E"},
            "required": ["description", "title"],
            "enum": [{"description": "kept: data"}],
            "properties": {
                "description": {"type": "string", "description": "the property's own doc"},
                "x-custom": {"type": "integer", "example": 3},
            },
        });
        assert_eq!(
            strip(&schema),
            json!({
                "type": "object",
                "required": ["description", "title"],
                "enum": [{"description": "kept: data"}],
                "properties": {"description": {"type": "string"}, "x-custom": {"type": "integer"}},
            })
        );
    }

    #[test]
    fn responses_keep_an_empty_description_and_scopes_lose_theirs() {
        let operation = json!({
            "summary": "S",
            "responses": {"204": {"description": "Done", "headers": {"x-rate": {"schema": {"type": "integer"}, "description": "h"}}}},
            "security": [{"OAuth2": ["a"]}],
        });
        assert_eq!(
            strip(&operation),
            json!({
                "responses": {"204": {"description": "", "headers": {"x-rate": {"schema": {"type": "integer"}}}}},
                "security": [{"OAuth2": ["a"]}],
            })
        );
        let scheme = json!({"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/t", "scopes": {"s:read": "Read things."}}}});
        assert_eq!(
            strip(&scheme)["flows"]["clientCredentials"]["scopes"],
            json!({"s:read": ""})
        );
    }

    #[test]
    fn path_level_parameters_are_copied_into_each_operation() {
        let document = json!({
            "openapi": "3.0.1",
            "info": {"version": "v1"},
            "paths": {"/api/v1/agent-portfolios/{id}": {
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                ],
                "get": {"parameters": [{"name": "x-trace", "in": "header", "required": true, "schema": {"type": "integer"}}],
                        "responses": {"200": {"description": "ok"}}},
            }},
        });
        let normalized = normalize(&document).unwrap();
        let parameters = &normalized["paths"]["/api/v1/agent-portfolios/{id}"]["get"]["parameters"];
        assert_eq!(parameters.as_array().unwrap().len(), 2);
        assert_eq!(parameters[0]["name"], "id");
        assert_eq!(
            parameters[1]["schema"]["type"], "integer",
            "the operation's own parameter wins"
        );
        assert!(normalized["paths"]["/api/v1/agent-portfolios/{id}"]
            .get("parameters")
            .is_none());
    }

    #[test]
    fn undefined_security_schemes_and_dangling_refs_are_errors() {
        let base = |operation: Value| json!({"openapi": "3.0.1", "info": {"version": "v1"}, "paths": {"/api/v1/agent-portfolios": {"get": operation}}});
        let err = normalize(&base(
            json!({"security": [{"Nope": []}], "responses": {"200": {"description": ""}}}),
        ))
        .unwrap_err();
        assert!(err.contains("\"Nope\""), "{err}");
        let err = normalize(&base(
            json!({"responses": {"200": {"$ref": "#/components/responses/Gone"}}}),
        ))
        .unwrap_err();
        assert!(err.contains("does not resolve"), "{err}");
        let err =
            normalize(&json!({"openapi": "3.0.1", "info": {"version": "v1"}, "paths": {"/other": {}}})).unwrap_err();
        assert!(err.contains("no agent-portfolio operation"), "{err}");
    }

    #[test]
    fn render_sorts_keys_and_ends_with_a_newline() {
        let text = render(&json!({"b": 1, "a": {"d": [{"z": 1, "y": 2}], "c": null}}));
        assert_eq!(text, "{\n  \"a\": {\n    \"c\": null,\n    \"d\": [\n      {\n        \"y\": 2,\n        \"z\": 1\n      }\n    ]\n  },\n  \"b\": 1\n}\n");
    }
}
