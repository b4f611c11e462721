//! `upstream import` and the committed snapshot it made.

use std::collections::BTreeSet;
use std::fs;

use serde_json::{json, Value};
use xtask::upstream::normalize::{is_agent_portfolio_path, NAMED_MAPS, SEEN_IN, SNAPSHOT_TITLE};
use xtask::upstream::refs;
use xtask::upstream::snapshot::SNAPSHOT_PATH;

use crate::support::*;

/// Keys whose values map author-chosen names to objects: the names may be anything, even `description`. The
/// normalizer's list, and the two maps it handles by themselves (status codes to responses, scope names to their
/// descriptions, whose descriptions it blanks).
fn is_named_map(key: &str) -> bool {
    NAMED_MAPS.contains(&key) || ["responses", "scopes"].contains(&key)
}

/// Every documentation key at a keyword position, as a JSON path, except the two OpenAPI requires (a response's
/// empty `description`, our own `info.title`).
fn prose_in(value: &Value, at: &str, named_map: bool, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            // OAuth2 scope names are facts; their descriptions must be empty.
            if named_map && at.ends_with("/scopes") {
                found.extend(
                    map.iter()
                        .filter(|(_, text)| *text != "")
                        .map(|(name, _)| format!("{at}/{name}")),
                );
            }
            for (key, child) in map {
                let here = format!("{at}/{key}");
                if !named_map {
                    let allowed = (key == "description" && child == "" && at.contains("/responses/"))
                        || (here == "/info/title" && child == SNAPSHOT_TITLE);
                    let documentation = ["description", "summary", "example", "examples", "title", "externalDocs"]
                        .contains(&key.as_str())
                        || (key.starts_with("x-") && key != SEEN_IN);
                    if documentation && !allowed {
                        found.push(here.clone());
                    }
                    if ["enum", "default", "required", "security"].contains(&key.as_str()) {
                        continue;
                    }
                }
                let child_is_map = !named_map && is_named_map(key);
                prose_in(child, &here, child_is_map, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| prose_in(item, at, false, found)),
        _ => {}
    }
}

fn assert_facts_only(document: &Value) {
    let mut found = Vec::new();
    prose_in(document, "", false, &mut found);
    assert!(found.is_empty(), "prose left at {found:?}");
}

/// The snapshot dressed up the way a published document is: prose everywhere, extensions, tags with
/// descriptions, operations outside the agent-portfolio API and components only they use. The strings are ours.
fn published_form_of(snapshot: &Value) -> Value {
    let mut document = snapshot.clone();
    document["info"] = json!({"title": "Some API", "description": "Long text.", "version": "v1.244.0",
        "contact": {"name": "someone"}, "x-logo": {"url": "/logo.png"}});
    document["tags"] = json!([{"name": "Agent Portfolios", "description": "Tag text."}]);
    document["servers"][0]["description"] = json!("Server text.");
    document["externalDocs"] = json!({"url": "/docs"});
    for_each_operation(&mut document, |_, _, operation| {
        operation.as_object_mut().unwrap().remove(SEEN_IN);
        operation["summary"] = json!("Summary text.");
        operation["description"] = json!("Operation text.");
        operation["x-code-samples"] = json!([{"lang": "curl", "source": "curl ..."}]);
        for parameter in operation["parameters"].as_array_mut().into_iter().flatten() {
            parameter["description"] = json!("Parameter text.");
            parameter["schema"]["example"] = json!("3fa85f64-5717-4562-b3fc-2c963f66afa6");
        }
        for (_, response) in operation["responses"].as_object_mut().unwrap() {
            response["description"] = json!("Response text.");
            if let Some(media) = response.pointer_mut("/content/application~1json") {
                media["example"] = json!({"errorCode": "Code", "errorMessage": "Message."});
                media["examples"] = json!({"One": {"summary": "s", "value": {}}});
            }
        }
    });
    for (_, schema) in document["components"]["schemas"].as_object_mut().unwrap() {
        schema["description"] = json!("Schema text.");
        schema["title"] = json!("Schema title");
        for (_, property) in schema["properties"].as_object_mut().into_iter().flatten() {
            property["description"] = json!("Property text.");
            property["example"] = json!("value");
        }
    }
    document["components"]["schemas"]["OnlyTrading"] = json!({"type": "object"});
    document["paths"]["/api/v1/trading/orders"] = json!({"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/OnlyTrading"}}}},
                        "responses": {"200": {"description": "Trading text."}}}});
    document
}

#[test]
fn the_committed_snapshot_holds_facts_only() {
    let snapshot = snapshot();
    assert_facts_only(&snapshot);
    assert_eq!(
        snapshot["info"],
        json!({"title": SNAPSHOT_TITLE, "version": "v1.244.0"})
    );
}

#[test]
fn the_prose_check_itself_finds_prose() {
    let mut found = Vec::new();
    prose_in(&published_form_of(&snapshot()), "", false, &mut found);
    assert!(found.contains(&"/info/description".to_owned()), "{found:?}");
    assert!(found.iter().any(|at| at.ends_with("/summary")), "{found:?}");
    assert!(found.iter().any(|at| at.ends_with("/x-code-samples")), "{found:?}");
    let mut found = Vec::new();
    let scheme = json!({"components": {"securitySchemes": {"OAuth2": {"type": "oauth2", "flows": {"implicit": {
        "authorizationUrl": "/a", "scopes": {"s:read": "Reads.", "s:write": ""}}}}}}});
    prose_in(&scheme, "", false, &mut found);
    assert_eq!(
        found,
        ["/components/securitySchemes/OAuth2/flows/implicit/scopes/s:read"]
    );
}

#[test]
fn the_committed_snapshot_has_only_agent_portfolio_paths_and_every_ref_resolves() {
    let snapshot = snapshot();
    let paths: Vec<&String> = snapshot["paths"].as_object().unwrap().keys().collect();
    assert_eq!(paths.len(), 8);
    assert!(paths.iter().all(|path| is_agent_portfolio_path(path)), "{paths:?}");
    let mut references = BTreeSet::new();
    refs::collect(&snapshot, &mut references);
    assert!(references.len() > 10);
    for reference in &references {
        let parsed = refs::parse(reference).unwrap();
        assert!(
            refs::lookup(&snapshot, &parsed).is_some(),
            "{reference} does not resolve"
        );
    }
    // And nothing is kept that no operation needs.
    let reachable = refs::transitive(&snapshot, references).unwrap();
    let defined = snapshot["components"]["schemas"].as_object().unwrap().len();
    assert_eq!(reachable.len(), defined);
}

#[test]
fn the_committed_snapshot_is_valid_openapi_3_0_and_import_keeps_it_byte_for_byte() {
    let snapshot = snapshot();
    serde_json::from_value::<openapiv3::OpenAPI>(snapshot.clone()).unwrap();
    let committed = fs::read_to_string(xtask::workspace_root().join(SNAPSHOT_PATH)).unwrap();
    assert!(committed.ends_with("}\n"));
    let tree = tree();
    let path = tree.path().join(SNAPSHOT_PATH);
    let output = upstream(tree.path(), &["import", path.to_str().unwrap()]);
    assert_exit(&output, 0, "already up to date with v1.244.0");
    assert_eq!(fs::read_to_string(&path).unwrap(), committed);
}

#[test]
fn import_drops_prose_and_other_apis_and_is_deterministic() {
    let published = published_form_of(&snapshot());
    let committed = fs::read(xtask::workspace_root().join(SNAPSHOT_PATH)).unwrap();
    let mut outputs = Vec::new();
    for round in 0..2 {
        let tree = tree();
        fs::remove_file(tree.path().join(SNAPSHOT_PATH)).unwrap();
        let input = write(tree.path(), "published.json", &published);
        let output = upstream(tree.path(), &["import", input.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "round {round}: {}", stderr(&output));
        outputs.push(fs::read(tree.path().join(SNAPSHOT_PATH)).unwrap());
    }
    assert_eq!(outputs[0], outputs[1], "importing twice gives the same bytes");
    assert_eq!(
        outputs[0], committed,
        "the published form imports to exactly the committed snapshot"
    );

    // The same document as YAML, with its keys in another order, gives the same bytes too.
    let tree = tree();
    let yaml = tree.path().join("published.yaml");
    fs::write(&yaml, serde_norway::to_string(&published).unwrap()).unwrap();
    let output = upstream(tree.path(), &["import", yaml.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(fs::read(tree.path().join(SNAPSHOT_PATH)).unwrap(), committed);
}

#[test]
fn a_newer_whole_document_replaces_the_snapshot() {
    let tree = tree();
    let input = write(tree.path(), "v1.355.0.json", &v1_355_removals(&snapshot()));
    let output = upstream(tree.path(), &["import", input.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let updated: Value = serde_json::from_slice(&fs::read(tree.path().join(SNAPSHOT_PATH)).unwrap()).unwrap();
    assert_eq!(updated["info"]["version"], "v1.355.0");
    assert!(updated["paths"][V1_PATH].get("patch").is_none());
    assert!(updated["components"]["schemas"].get("UpdateUserTokenRequest").is_none());
    assert_eq!(updated["paths"][V2_PATH]["patch"][SEEN_IN], "v1.355.0");

    // After the review, the moved snapshot has nothing left to report about the same document.
    let output = upstream(tree.path(), &["diff", input.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn a_page_replaces_only_its_operation_and_records_its_version() {
    let tree = tree();
    let newer = v1_279(&snapshot());
    let input = write(tree.path(), "page.json", &page(&newer, V2_PATH, "patch"));
    let output = upstream(tree.path(), &["import", input.to_str().unwrap()]);
    assert_exit(&output, 0, "v1.279.0 (page, 1 agent-portfolio operation)");

    let updated: Value = serde_json::from_slice(&fs::read(tree.path().join(SNAPSHOT_PATH)).unwrap()).unwrap();
    assert_eq!(updated["info"]["version"], "v1.244.0", "the last whole document");
    assert_eq!(updated["paths"][V2_PATH]["patch"][SEEN_IN], "v1.279.0");
    assert_eq!(
        updated["paths"][V2_PATH]["patch"]["security"],
        json!([{"OAuth2": ["etoro-public:agent-portfolio:write"]}])
    );
    assert_eq!(updated["paths"][V1_PATH]["patch"][SEEN_IN], "v1.244.0");
    assert_eq!(
        updated["paths"].as_object().unwrap().len(),
        8,
        "no operation is dropped"
    );
    let schemas = updated["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("AgentPortfolioApi_ErrorResponse") && schemas.contains_key("ErrorResponse"));
    assert!(updated["components"]["securitySchemes"].get("OAuth2").is_some());
    assert_facts_only(&updated);

    // The same page again is no longer news, and an older one is refused.
    let (code, report) = diff_json(tree.path(), &page(&newer, V2_PATH, "patch"));
    assert_eq!((code, report["changes"].clone()), (0, json!([])));
    let mut older = page(&snapshot(), V2_PATH, "patch");
    older["info"]["version"] = json!("v1.250.0");
    let input = write(tree.path(), "older.json", &older);
    let output = upstream(tree.path(), &["import", input.to_str().unwrap()]);
    assert_exit(&output, 2, "older than the snapshot's PATCH");
}

#[test]
fn an_older_whole_document_or_a_page_without_a_snapshot_is_refused() {
    let tree = tree();
    let mut older = snapshot();
    older["info"]["version"] = json!("v1.200.0");
    let input = write(tree.path(), "older.json", &older);
    let before = fs::read(tree.path().join(SNAPSHOT_PATH)).unwrap();
    let output = upstream(tree.path(), &["import", input.to_str().unwrap()]);
    assert_exit(&output, 2, "\"v1.200.0\", older than the snapshot (\"v1.244.0\")");
    assert_eq!(
        fs::read(tree.path().join(SNAPSHOT_PATH)).unwrap(),
        before,
        "nothing written"
    );

    fs::remove_file(tree.path().join(SNAPSHOT_PATH)).unwrap();
    let input = write(tree.path(), "page.json", &page(&snapshot(), V2_PATH, "patch"));
    let output = upstream(tree.path(), &["import", input.to_str().unwrap()]);
    assert_exit(&output, 2, "import a whole document first");
    assert!(!tree.path().join(SNAPSHOT_PATH).exists());
}

#[test]
fn concurrent_imports_leave_one_whole_snapshot() {
    let tree = tree();
    let first = write(tree.path(), "a.json", &v1_279(&snapshot()));
    let second = write(tree.path(), "b.json", &v1_355_removals(&snapshot()));
    let expected: Vec<Vec<u8>> = [&first, &second]
        .iter()
        .map(|input| {
            let single = crate::support::tree();
            assert!(upstream(single.path(), &["import", input.to_str().unwrap()])
                .status
                .success());
            fs::read(single.path().join(SNAPSHOT_PATH)).unwrap()
        })
        .collect();
    let handles: Vec<_> = [first, second]
        .into_iter()
        .map(|input| {
            let root = tree.path().to_path_buf();
            std::thread::spawn(move || upstream(&root, &["import", input.to_str().unwrap()]))
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let result = fs::read(tree.path().join(SNAPSHOT_PATH)).unwrap();
    assert!(
        expected.contains(&result),
        "the snapshot is one import's result, not a mix"
    );
    let leftovers: Vec<_> = fs::read_dir(tree.path().join("openapi/upstream"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}
