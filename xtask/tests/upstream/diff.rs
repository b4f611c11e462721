//! `upstream diff`: which changes break this client.

use serde_json::{json, Value};

use crate::support::*;

/// `diff --json` on the snapshot as `edit` leaves it: checks the exit status and every message on `operation`
/// (`(METHOD, path)`), and returns the report for what else a test checks.
fn judged(edit: impl FnOnce(&mut Value), code: i32, operation: (&str, &str), expected: &[&str]) -> Value {
    let tree = tree();
    let mut document = snapshot();
    edit(&mut document);
    let (actual, report) = diff_json(tree.path(), &document);
    assert_eq!(actual, code, "{report}");
    assert_eq!(
        messages_on(&report, &op(operation.0, operation.1)),
        expected,
        "{report}"
    );
    report
}

#[test]
fn an_operation_moved_elsewhere_is_reported_as_moved() {
    judged(
        |document| {
        let operation = document["paths"][V1_PATH]
            .as_object_mut()
            .unwrap()
            .remove("patch")
            .unwrap();
        document["paths"]["/api/v3/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}"] =
            json!({"patch": operation});
        },
        1,
        ("PATCH", V1_PATH),
        &["breaking: moved to PATCH /api/v3/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}; the client calls the old one"]
    );
}

#[test]
fn an_operation_the_client_does_not_call_may_go() {
    let tree = tree();
    let mut document = snapshot();
    document["paths"][LIST_PATH].as_object_mut().unwrap().remove("post");
    let (code, report) = diff_json(tree.path(), &document);
    assert_eq!(code, 0);
    assert_eq!(
        changes_of(&report, "ok"),
        [(op("POST", LIST_PATH), "operation".to_owned())]
    );
    assert_eq!(report["changes"][0]["called"], false);
}

#[test]
fn a_new_required_scope_on_the_v2_patch_breaks() {
    let tree = tree();
    let mut document = snapshot();
    document["components"]["securitySchemes"] = json!({"OAuth2": {"type": "oauth2", "flows": {"clientCredentials": {
        "tokenUrl": "/t", "scopes": {"etoro-public:agent-portfolio:write": ""}}}}});
    document["paths"][V2_PATH]["patch"]["security"] = json!([{"OAuth2": ["etoro-public:agent-portfolio:write"]}]);

    let (code, report) = diff_json(tree.path(), &document);

    assert_eq!(code, 1);
    assert_eq!(
        changes_of(&report, "breaking"),
        [(op("PATCH", V2_PATH), "security".to_owned())]
    );
    let message = report["changes"][0]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "now requires OAuth2[etoro-public:agent-portfolio:write] (before: no security requirement); credentials \
         without it are refused"
    );
}

#[test]
fn security_that_only_widens_is_not_breaking_and_a_narrower_scope_set_is() {
    let tree = tree();
    let scheme = json!({"OAuth2": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/t", "scopes": {"a": "", "b": ""}}}}});
    let mut base = snapshot();
    base["components"]["securitySchemes"] = scheme;
    base["paths"][V2_PATH]["patch"]["security"] = json!([{"OAuth2": ["a"]}]);
    // Make the edited document the snapshot, then compare against it.
    std::fs::write(
        tree.path().join(xtask::upstream::snapshot::SNAPSHOT_PATH),
        xtask::upstream::normalize::render(&base),
    )
    .unwrap();

    let mut wider = base.clone();
    wider["paths"][V2_PATH]["patch"]["security"] = json!([{"OAuth2": ["a"]}, {"OAuth2": ["b"]}]);
    let (code, report) = diff_json(tree.path(), &wider);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        changes_of(&report, "ok"),
        [(op("PATCH", V2_PATH), "security".to_owned())]
    );

    let mut narrower = base.clone();
    narrower["paths"][V2_PATH]["patch"]["security"] = json!([{"OAuth2": ["a", "b"]}]);
    let (code, report) = diff_json(tree.path(), &narrower);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        changes_of(&report, "breaking"),
        [(op("PATCH", V2_PATH), "security".to_owned())]
    );

    // Top-level security applies where an operation has none of its own.
    let mut top_level = base.clone();
    top_level["security"] = json!([{"OAuth2": ["b"]}]);
    let (code, report) = diff_json(tree.path(), &top_level);
    assert_eq!(code, 1, "{report}");
    assert!(
        changes_of(&report, "breaking").contains(&(op("GET", LIST_PATH), "security".to_owned())),
        "{report}"
    );
    assert!(!changes_of(&report, "breaking")
        .iter()
        .any(|(operation, _)| operation == &op("PATCH", V2_PATH)));
}

#[test]
fn rate_limit_response_headers_are_not_breaking() {
    judged(
        |document| {
            let patch = &mut document["paths"][V2_PATH]["patch"]["responses"];
            patch["204"]["headers"] = json!({"RateLimit-Limit": {"schema": {"type": "integer"}}, "RateLimit-Remaining": {"schema": {"type": "integer"}}});
            patch["429"]["headers"] = json!({"Retry-After": {"schema": {"type": "integer"}}});
        },
        0,
        ("PATCH", V2_PATH),
        &["ok: new response headers: 204: RateLimit-Limit, RateLimit-Remaining; 429: Retry-After"],
    );
}

#[test]
fn the_error_schema_renamed_with_the_same_shape_is_not_breaking() {
    let tree = tree();
    let document = rename_schema(&snapshot(), "ErrorResponse", "AgentPortfolioApi_ErrorResponse");
    let (code, report) = diff_json(tree.path(), &document);
    assert_eq!(code, 0, "{report}");
    assert!(changes_of(&report, "breaking").is_empty());
    let messages = messages_on(&report, &op("PATCH", V1_PATH));
    assert_eq!(
        messages,
        ["ok: responses 400, 401, 404, 429, 500: schema ErrorResponse renamed to AgentPortfolioApi_ErrorResponse, same shape"]
    );
}

#[test]
fn an_error_body_of_another_shape_breaks_whatever_its_name() {
    let tree = tree();
    let mut document = rename_schema(&snapshot(), "ErrorResponse", "Problem");
    document["components"]["schemas"]["Problem"] = json!({"type": "object", "properties": {
        "code": {"type": "string"}, "errorMessage": {"type": "string"}}});
    let (code, report) = diff_json(tree.path(), &document);
    assert_eq!(code, 1);
    let messages = messages_on(&report, &op("PATCH", V2_PATH));
    assert!(
        messages.contains(
            &"breaking: response 404 body: property `errorCode` renamed to `code` (same shape); the client reads it"
                .to_owned()
        ),
        "{messages:?}"
    );
}

#[test]
fn a_renamed_request_property_breaks() {
    judged(
        |document| {
            let properties = document["components"]["schemas"]["UpdateUserTokenV2Request"]["properties"]
                .as_object_mut()
                .unwrap();
            let scope_names = properties.remove("scopeNames").unwrap();
            properties.insert("scopes".into(), scope_names);
        },
        1,
        ("PATCH", V2_PATH),
        &["breaking: request body: property `scopeNames` renamed to `scopes` (same shape); the client sends it"],
    );
}

#[test]
fn a_retyped_or_removed_request_property_breaks_only_when_the_client_sends_it() {
    let report = judged(
        |document| {
            document["components"]["schemas"]["UpdateUserTokenV2Request"]["properties"]["expiresAt"] =
                json!({"type": "integer"});
            // The v1 create operation is not the client's: the same change there is fine.
            document["components"]["schemas"]["CreateUserTokenRequest"]["properties"]["expiresAt"] =
                json!({"type": "integer"});
        },
        1,
        ("PATCH", V2_PATH),
        &["breaking: request body: `expiresAt` retyped string/date-time → integer; the client sends it"],
    );
    assert_eq!(
        changes_of(&report, "breaking"),
        [(op("PATCH", V2_PATH), "request-body".to_owned())]
    );
}

#[test]
fn a_new_optional_property_is_not_breaking() {
    judged(
        |document| {
            document["components"]["schemas"]["UpdateUserTokenRequest"]["properties"]["label"] =
                json!({"type": "string"});
        },
        0,
        ("PATCH", V1_PATH),
        &["ok: request body: new optional property `label`"],
    );
}

#[test]
fn a_new_required_body_property_breaks() {
    judged(
        |document| {
            let schema = &mut document["components"]["schemas"]["UpdateUserTokenRequest"];
            schema["properties"]["reason"] = json!({"type": "string"});
            schema["required"] = json!(["reason"]);
        },
        1,
        ("PATCH", V1_PATH),
        &["breaking: request body: new required property `reason`; the client does not always send it"],
    );
}

#[test]
fn a_new_required_parameter_breaks_unless_the_client_always_sends_it() {
    judged(
        |document| {
            let parameters = document["paths"][V2_PATH]["patch"]["parameters"]
                .as_array_mut()
                .unwrap();
            parameters
                .push(json!({"name": "x-tenant", "in": "header", "required": true, "schema": {"type": "string"}}));
        },
        1,
        ("PATCH", V2_PATH),
        &["breaking: header x-tenant new, required; the client does not always send it"],
    );
}

#[test]
fn a_changed_success_status_breaks() {
    judged(
        |document| {
            let responses = document["paths"][V2_PATH]["patch"]["responses"]
                .as_object_mut()
                .unwrap();
            let no_content = responses.remove("204").unwrap();
            responses.insert("200".into(), no_content);
        },
        1,
        ("PATCH", V2_PATH),
        &["breaking: success status 204 → 200"],
    );
}

#[test]
fn a_response_field_that_may_now_be_null_breaks_only_where_the_client_forbids_null() {
    judged(
        |document| {
        let item = &mut document["components"]["schemas"]["AgentPortfolioUserTokenItem"]["properties"];
        // The client's spec already allows null for `expiresAt` (eToro: "does not expire"), not for `createdAt`.
        item["expiresAt"]["nullable"] = json!(true);
        item["createdAt"]["nullable"] = json!(true);
        },
        1,
        ("GET", LIST_PATH),
        &[
            "breaking: response 200 body: `agentPortfolios[].userTokens[].createdAt` may now be null; the client's spec does not allow null there",
            "ok: response 200 body: `agentPortfolios[].userTokens[].expiresAt` may now be null",
        ]
    );
}

#[test]
fn a_one_operation_page_compares_only_that_operation() {
    let tree = tree();
    let unchanged = page(&snapshot(), V2_PATH, "patch");
    let (code, report) = diff_json(tree.path(), &unchanged);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["input"]["kind"], "page");
    assert_eq!(
        report["changes"],
        json!([]),
        "the other nine operations are not reported as removed"
    );

    let mut changed = unchanged.clone();
    changed["paths"][V2_PATH]["patch"]["deprecated"] = json!(true);
    let (code, report) = diff_json(tree.path(), &changed);
    assert_eq!(code, 0);
    assert_eq!(
        changes_of(&report, "warning"),
        [(op("PATCH", V2_PATH), "deprecation".to_owned())]
    );
    assert_eq!(report["changes"].as_array().unwrap().len(), 1);

    // `--whole` says the single operation is all there is: the others are then gone.
    let path = write(tree.path(), "page.json", &unchanged);
    let output = upstream(tree.path(), &["diff", path.to_str().unwrap(), "--whole", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(report["changes"].as_array().unwrap().len(), 9);
}

#[test]
fn a_page_takes_its_top_level_security_for_its_operation() {
    let tree = tree();
    let mut document = page(&snapshot(), V2_PATH, "patch");
    document["components"]["securitySchemes"] =
        json!({"OAuth2": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/t", "scopes": {"s": ""}}}}});
    document["security"] = json!([{"OAuth2": ["s"]}]);
    let (code, report) = diff_json(tree.path(), &document);
    assert_eq!(code, 1);
    assert_eq!(
        changes_of(&report, "breaking"),
        [(op("PATCH", V2_PATH), "security".to_owned())]
    );
}

#[test]
fn the_v1_279_changes_break_only_through_the_new_scope_on_the_v2_patch() {
    let tree = tree();
    let (code, report) = diff_json(tree.path(), &v1_279(&snapshot()));
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        changes_of(&report, "breaking"),
        [(op("PATCH", V2_PATH), "security".to_owned())]
    );
    assert!(changes_of(&report, "warning").is_empty(), "{report}");
    // The rest is reported, as ok: the v1 create-token scopes (not called), headers, the renamed error schema.
    let create = messages_on(&report, &op("POST", V1_CREATE_PATH));
    assert!(
        create.iter().any(|m| m.starts_with(
            "ok: now requires OAuth2[etoro-public:real:write] or OAuth2[etoro-public:agent-portfolio:write]"
        )),
        "{create:?}"
    );
    let revoke = messages_on(&report, &op("DELETE", V1_PATH));
    assert!(revoke.contains(&"ok: new error status 429".to_owned()), "{revoke:?}");
    assert!(
        revoke
            .iter()
            .any(|m| m.starts_with("ok: new response headers: 204: RateLimit-Limit")),
        "{revoke:?}"
    );
    let renamed = "ok: responses 400, 401, 404, 429 (new), 500: schema ErrorResponse renamed to \
                   AgentPortfolioApi_ErrorResponse, same shape";
    assert!(revoke.contains(&renamed.to_owned()), "{revoke:?}");
}

#[test]
fn the_v1_355_removals_break_through_the_v1_patch_alone() {
    let tree = tree();
    let (code, report) = diff_json(tree.path(), &v1_355_removals(&snapshot()));
    assert_eq!(code, 1);
    assert_eq!(
        changes_of(&report, "breaking"),
        [(op("PATCH", V1_PATH), "operation".to_owned())]
    );
    assert_eq!(
        messages_on(&report, &op("PATCH", V1_PATH)),
        ["breaking: no longer published; the client calls it"]
    );
    let mut ok = changes_of(&report, "ok");
    ok.sort();
    assert_eq!(
        ok,
        [
            (op("POST", LIST_PATH), "operation".to_owned()),
            (op("POST", V1_CREATE_PATH), "operation".to_owned())
        ]
    );
}

#[test]
fn smaller_changes_to_what_the_client_sends_are_warnings_or_ok() {
    let tree = tree();
    let mut document = snapshot();
    document["components"]["schemas"]["UpdateUserTokenV2Request"]["properties"]["scopeNames"]["maxItems"] = json!(10);
    let operation = document["paths"][V2_PATH]
        .as_object_mut()
        .unwrap()
        .remove("patch")
        .unwrap();
    let mut operation_text = operation.to_string().replace("\"agentPortfolioId\"", "\"portfolioId\"");
    // eToro stops documenting the request id header.
    let mut edited: Value = serde_json::from_str(&operation_text).unwrap();
    edited["parameters"]
        .as_array_mut()
        .unwrap()
        .retain(|parameter| parameter["name"] != "x-request-id");
    operation_text = edited.to_string();
    let renamed_path = V2_PATH.replace("{agentPortfolioId}", "{portfolioId}");
    document["paths"].as_object_mut().unwrap().remove(V2_PATH);
    document["paths"][&renamed_path] = json!({"patch": serde_json::from_str::<Value>(&operation_text).unwrap()});

    let (code, report) = diff_json(tree.path(), &document);

    assert_eq!(code, 0, "{report}");
    assert_eq!(
        messages_on(&report, &op("PATCH", &renamed_path)),
        [
            "warning: header x-request-id removed; the client still sends it",
            "ok: path {agentPortfolioId} renamed to path {portfolioId} (same place in the URL)",
            "warning: request body: `scopeNames` constraints {} → {\"maxItems\":10}; the client sends it",
        ]
    );
}

#[test]
fn a_credential_scheme_that_moves_its_header_breaks() {
    let tree = tree();
    let mut base = snapshot();
    base["components"]["securitySchemes"] = json!({"ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}});
    base["security"] = json!([{"ApiKey": []}]);
    std::fs::write(
        tree.path().join(xtask::upstream::snapshot::SNAPSHOT_PATH),
        xtask::upstream::normalize::render(&base),
    )
    .unwrap();
    let mut moved = base.clone();
    moved["components"]["securitySchemes"]["ApiKey"]["name"] = json!("x-key");
    let (code, report) = diff_json(tree.path(), &moved);
    assert_eq!(code, 1);
    assert!(
        messages_on(&report, &op("PATCH", V2_PATH))
            .contains(&"breaking: the security scheme ApiKey changed its type, location or header name".to_owned()),
        "{report}"
    );
}

#[test]
fn a_server_the_client_uses_that_is_no_longer_listed_breaks() {
    let tree = tree();
    let mut document = snapshot();
    document["servers"] = json!([{"url": "https://api.example.com"}]);
    let (code, report) = diff_json(tree.path(), &document);
    assert_eq!(code, 1);
    assert_eq!(
        changes_of(&report, "breaking"),
        [("(document)".to_owned(), "servers".to_owned())]
    );
    assert_eq!(
        report["changes"][0]["message"],
        "the server https://public-api.etoro.com is no longer listed (now: https://api.example.com)"
    );
}
