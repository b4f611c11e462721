//! The mock is held to the spec: every answer it gives is a status the spec documents for the operation, with a
//! body that validates against the schema the spec gives that status (checked by `jsonschema`, not by us), and
//! with the documented headers well-formed. Every documented status of every operation is answered at least once.

use std::collections::{BTreeSet, HashSet};

use etoro_client::TokenUpdate;
use etoro_mock::{Faults, MockConfig, MockServer};
use serde_json::Value;

use crate::support::*;

const TOKEN_V1: &str = "/api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}";
const TOKEN_V2: &str = "/api/v2/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}";
const CREATE: &str = "/api/v2/agent-portfolios/{agentPortfolioId}/user-tokens";
const LIST: &str = "/api/v1/agent-portfolios";
const SCOPES: &str = "/api/v2/agent-portfolios/user-tokens/scopes";

fn spec() -> Value {
    let path = xtask::workspace_root().join(xtask::codegen::SPEC_PATH);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// OpenAPI 3.0's `nullable: true` is not JSON Schema: say it the draft 4 way, `type: [T, "null"]`.
fn nullable_as_json_schema(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(kind)) = map.get("type").cloned() {
                    map.insert("type".to_owned(), serde_json::json!([kind, "null"]));
                }
            }
            map.values_mut().for_each(nullable_as_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_as_json_schema),
        _ => {}
    }
}

/// The documented response for `status` of `method` on `path`.
fn documented<'a>(spec: &'a Value, path: &str, method: &str, status: u16) -> &'a Value {
    let response = &spec["paths"][path][method]["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "the mock answered {status} to {method} {path}, which the spec does not document"
    );
    response
}

/// The JSON schema of the body documented for `status` of `method` on `path`, with the spec's components attached
/// so its `$ref`s resolve, or `None` when the status has no body.
fn response_schema(spec: &Value, path: &str, method: &str, status: u16) -> Option<Value> {
    let mut schema = documented(spec, path, method, status)["content"]["application/json"]["schema"].clone();
    if schema.is_null() {
        return None;
    }
    let mut components = spec["components"].clone();
    nullable_as_json_schema(&mut components);
    schema["components"] = components;
    Some(schema)
}

/// Checks the documented headers of the answer: each present one has its schema's type; with `all`, each must
/// be present.
fn check_headers(spec: &Value, path: &str, method: &str, response: &reqwest::Response, all: bool) {
    let status = response.status().as_u16();
    let Some(headers) = documented(spec, path, method, status)["headers"].as_object() else {
        return;
    };
    for (name, header) in headers {
        let reference = header["$ref"]
            .as_str()
            .unwrap()
            .trim_start_matches("#/components/headers/");
        let kind = spec["components"]["headers"][reference]["schema"]["type"]
            .as_str()
            .unwrap();
        match response.headers().get(name.as_str()) {
            None => assert!(!all, "{method} {path} {status} lacks {name}"),
            Some(value) => {
                let value = value.to_str().unwrap();
                match kind {
                    "integer" => assert!(value.parse::<u64>().is_ok(), "{name}: {value:?} is not an integer"),
                    "string" => assert!(!value.is_empty(), "{name} is empty"),
                    other => panic!("{name}: a header of type {other} is not checked here"),
                }
            }
        }
    }
}

/// One request of `operation` (a path of the spec and a method) with these headers and body.
async fn send_raw(
    server: &MockServer,
    (path, method): (&str, &str),
    token: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> reqwest::Response {
    let url = format!(
        "{}{}",
        server.base_url(),
        path.replace("{agentPortfolioId}", PORTFOLIO)
            .replace("{userTokenId}", token)
    );
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut request = crate::support::raw_http().request(method, url);
    if !body.is_empty() {
        request = request.header("content-type", "application/json").body(body.to_owned());
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_mock_answer_matches_the_spec() {
    let spec = spec();
    // The CLI's world: the README's portfolio and token, nothing else.
    let closed = MockConfig::example();
    let missing = MockConfig {
        missing: HashSet::from([token()]),
        ..closed.clone()
    };
    let gone = MockConfig {
        missing: HashSet::from([portfolio()]),
        ..closed.clone()
    };
    let quota = MockConfig {
        quota: Some("2/60s".parse().unwrap()),
        ..closed.clone()
    };
    let limited = MockConfig {
        faults: Faults {
            rate_limit_every: Some(1),
            ..Faults::default()
        },
        ..closed.clone()
    };
    let failing = MockConfig {
        faults: Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
        ..closed.clone()
    };
    let full = MockConfig {
        max_tokens_per_portfolio: 1,
        ..closed.clone()
    };
    let request_id = "7e9a201e-089e-44b8-a998-66a08d2d2ecc";
    let keys = [
        ("x-api-key", API_KEY),
        ("x-user-key", USER_KEY),
        ("x-request-id", request_id),
    ];
    let no_auth = &keys[2..];
    let no_id = &keys[..2];
    let unknown = "7c1d3d43-7a53-4c6e-9d0e-1f5b8a2c4e6f";
    let ip = r#"{"ipsWhitelist":["203.0.113.7"]}"#;
    let new = r#"{"userTokenName":"new-token","scopeNames":["etoro-public:trade.real:read"]}"#;
    let list = (LIST, "get");
    let update_v1 = (TOKEN_V1, "patch");
    let revoke = (TOKEN_V1, "delete");
    let update_v2 = (TOKEN_V2, "patch");
    let create = (CREATE, "post");
    let scopes = (SCOPES, "get");
    // (operation, mock configuration, token id in the path, request headers, request body, requests sent
    // before it, the status the mock must answer)
    type Case<'a> = (
        (&'a str, &'a str),
        &'a MockConfig,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a str,
        usize,
        u16,
    );
    let cases: Vec<Case> = vec![
        (list, &closed, TOKEN, &keys, "", 0, 200),
        (list, &closed, TOKEN, no_auth, "", 0, 401),
        // A missing request id is a 400, which our spec documents for the lookups too (eToro's does not list it).
        (list, &closed, TOKEN, no_id, "", 0, 400),
        (list, &quota, TOKEN, &keys, "", 0, 200),
        (list, &quota, TOKEN, &keys, "", 2, 429),
        (list, &limited, TOKEN, &keys, "", 0, 429),
        (list, &failing, TOKEN, &keys, "", 0, 500),
        (update_v1, &closed, TOKEN, &keys, ip, 0, 204),
        (update_v1, &quota, TOKEN, &keys, ip, 0, 204),
        (update_v1, &closed, TOKEN, &keys, "{}", 0, 400),
        (update_v1, &closed, TOKEN, &keys, r#"{"scopeIds":[999]}"#, 0, 400),
        (update_v1, &closed, TOKEN, &keys, r#"{"ipsWhitelist":null}"#, 0, 400),
        (update_v1, &closed, TOKEN, no_id, ip, 0, 400),
        (update_v1, &closed, TOKEN, no_auth, ip, 0, 401),
        (update_v1, &missing, TOKEN, &keys, ip, 0, 404),
        (update_v1, &closed, unknown, &keys, ip, 0, 404),
        (update_v1, &quota, TOKEN, &keys, ip, 2, 429),
        (update_v1, &limited, TOKEN, &keys, ip, 0, 429),
        (update_v1, &failing, TOKEN, &keys, ip, 0, 500),
        (revoke, &closed, TOKEN, &keys, "", 0, 204),
        (revoke, &quota, TOKEN, &keys, "", 0, 204),
        (revoke, &closed, "not-a-uuid", &keys, "", 0, 400),
        (revoke, &closed, TOKEN, no_auth, "", 0, 401),
        (revoke, &closed, unknown, &keys, "", 0, 404),
        (revoke, &quota, TOKEN, &keys, "", 2, 429),
        (revoke, &limited, TOKEN, &keys, "", 0, 429),
        (revoke, &failing, TOKEN, &keys, "", 0, 500),
        (update_v2, &closed, TOKEN, &keys, ip, 0, 204),
        (update_v2, &closed, TOKEN, &keys, "{}", 0, 400),
        (update_v2, &closed, TOKEN, &keys, r#"{"scopeIds":[200]}"#, 0, 400),
        (update_v2, &closed, TOKEN, no_auth, ip, 0, 401),
        (update_v2, &closed, TOKEN, &keys, r#"{"scopeNames":["x:y"]}"#, 0, 403),
        (update_v2, &missing, TOKEN, &keys, ip, 0, 404),
        (update_v2, &quota, TOKEN, &keys, ip, 2, 429),
        (update_v2, &limited, TOKEN, &keys, ip, 0, 429),
        (update_v2, &failing, TOKEN, &keys, ip, 0, 500),
        (create, &closed, TOKEN, &keys, new, 0, 201),
        (create, &quota, TOKEN, &keys, new, 0, 201),
        (create, &closed, TOKEN, &keys, r#"{"userTokenName":"t"}"#, 0, 400),
        (
            create,
            &closed,
            TOKEN,
            &keys,
            r#"{"userTokenName":"t","scopeNames":["a:b"],"ipsWhitelist":["::1"]}"#,
            0,
            400,
        ),
        (
            create,
            &closed,
            TOKEN,
            &keys,
            r#"{"userTokenName":"t","scopeNames":null}"#,
            0,
            400,
        ),
        (create, &closed, TOKEN, no_auth, new, 0, 401),
        (
            create,
            &closed,
            TOKEN,
            &keys,
            r#"{"userTokenName":"t","scopeNames":["x:y"]}"#,
            0,
            403,
        ),
        (create, &gone, TOKEN, &keys, new, 0, 404),
        (
            create,
            &closed,
            TOKEN,
            &keys,
            r#"{"userTokenName":"readme-token","scopeNames":["etoro-public:trade.real:read"]}"#,
            0,
            409,
        ),
        (create, &full, TOKEN, &keys, new, 0, 429),
        (create, &quota, TOKEN, &keys, new, 2, 429),
        (create, &limited, TOKEN, &keys, new, 0, 429),
        (create, &failing, TOKEN, &keys, new, 0, 500),
        (scopes, &closed, TOKEN, &keys, "", 0, 200),
        (scopes, &quota, TOKEN, &keys, "", 0, 200),
        (scopes, &closed, TOKEN, no_auth, "", 0, 401),
        (scopes, &closed, TOKEN, no_id, "", 0, 400),
        (scopes, &quota, TOKEN, &keys, "", 2, 429),
        (scopes, &limited, TOKEN, &keys, "", 0, 429),
        (scopes, &failing, TOKEN, &keys, "", 0, 500),
    ];
    let mut answered = BTreeSet::new();
    for (operation, config, token, headers, body, before, expected) in cases {
        let (path, method) = operation;
        let server = start_mock(config.clone()).await;
        for _ in 0..before {
            send_raw(&server, (LIST, "get"), TOKEN, &keys, "").await;
        }
        let response = send_raw(&server, operation, token, headers, body).await;
        let status = response.status().as_u16();
        assert_eq!(status, expected, "{method} {path} {body}");
        answered.insert((path, method, status));
        check_headers(&spec, path, method, &response, config.quota.is_some());
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.bytes().await.unwrap();
        match response_schema(&spec, path, method, status) {
            None => assert!(bytes.is_empty(), "{method} {path} {status} has no documented body"),
            Some(schema) => {
                assert!(
                    content_type.unwrap_or_default().starts_with("application/json"),
                    "{status}"
                );
                let answer: Value = serde_json::from_slice(&bytes).unwrap();
                let validator = jsonschema::draft4::options()
                    .should_validate_formats(true)
                    // Draft 4 has no `uuid` format; the spec's ids are UUIDs in their hyphenated form.
                    .with_format("uuid", |s: &str| s.len() == 36 && uuid::Uuid::try_parse(s).is_ok())
                    .build(&schema)
                    .unwrap();
                let errors: Vec<String> = validator.iter_errors(&answer).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{method} {path} {status} {answer}: {errors:?}");
                if status >= 400 {
                    assert!(
                        answer["errorCode"].is_string() && answer["errorMessage"].is_string(),
                        "{answer}"
                    );
                } else {
                    // Not just schema-valid but filled in: an empty object would pass the schema too.
                    let filled = match operation {
                        (LIST, _) => answer["agentPortfolios"][0]["userTokens"][0]["userTokenId"].is_string(),
                        (SCOPES, _) => !answer["scopes"].as_array().unwrap().is_empty(),
                        _ => answer["userToken"].is_string() && answer["userTokenId"].is_string(),
                    };
                    assert!(filled, "{method} {path}: {answer}");
                }
            }
        }
        server.shutdown().await;
    }

    let documented: BTreeSet<(&str, &str, u16)> = [LIST, TOKEN_V1, TOKEN_V2, CREATE, SCOPES]
        .into_iter()
        .flat_map(|path| {
            let operations = spec["paths"][path].as_object().unwrap();
            operations
                .iter()
                .flat_map(move |(method, operation)| {
                    operation["responses"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .map(move |status| (path, method.as_str(), status.parse::<u16>().unwrap()))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let untested: Vec<_> = documented.difference(&answered).collect();
    assert!(untested.is_empty(), "documented but never answered here: {untested:?}");
}

#[tokio::test]
async fn the_wrapper_and_the_mock_agree_on_the_documented_error_codes() {
    let missing = MockConfig {
        missing: HashSet::from([token()]),
        ..MockConfig::default()
    };
    let server = start_mock(missing).await;
    let client = key_client(server.base_url());
    let err = update_err(
        &client,
        TokenUpdate::new().ips_whitelist(["203.0.113.7".parse().unwrap()]),
    )
    .await;
    assert!(err.is_not_found());
    assert_eq!(err.code(), Some("NotFound"));

    #[allow(deprecated)]
    let refused = client
        .update_user_token(portfolio(), portfolio(), TokenUpdate::new().scope_ids([999]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("ScopeIdNotAllowed"));
}

#[tokio::test]
async fn what_the_wrapper_sends_the_mock_accepts_and_stores() {
    let server = start_mock(MockConfig::example()).await;
    let client = key_client(server.base_url());
    let at = chrono::Utc::now() + chrono::Duration::days(7);
    let update = TokenUpdate::new()
        .scope_names(["etoro-public:trade.demo:read"])
        .ips_whitelist(["203.0.113.7".parse().unwrap()])
        .expires_at(at);
    update_ok(&client, update).await;
    let stored = server.token(portfolio(), token()).unwrap();
    assert_eq!(
        stored.scope_names,
        Some(vec!["etoro-public:trade.demo:read".to_owned()])
    );
    assert_eq!(stored.ips_whitelist, Some(vec!["203.0.113.7".parse().unwrap()]));
    // The wire carries the instant to the second or finer; the mock keeps what it read.
    assert!((stored.expires_at.unwrap() - at).num_milliseconds().abs() < 1000);
}
