//! The mock is held to the spec: every answer it gives is a status the spec documents for the operation, with a
//! body that validates against the schema the spec gives that status (checked by `jsonschema`, not by us).

use std::collections::HashSet;

use etoro_client::{Client, RetryPolicy, TokenUpdate};
use etoro_mock::{Faults, MockConfig, MockServer};
use serde_json::Value;

use crate::support::*;

const V1: &str = "/api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}";
const V2: &str = "/api/v2/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}";
const SCOPES: &str = "/api/v2/agent-portfolios/user-tokens/scopes";

fn spec() -> Value {
    let path = xtask::workspace_root().join(xtask::codegen::SPEC_PATH);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The JSON schema of the body documented for `status` of `method` on `path`, with the spec's components attached
/// so its `$ref`s resolve, or `None` when the status has no body.
fn response_schema(spec: &Value, path: &str, method: &str, status: u16) -> Option<Value> {
    let response = &spec["paths"][path][method]["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "the mock answered {status} to {method} {path}, which the spec does not document"
    );
    let mut schema = response["content"]["application/json"]["schema"].clone();
    if schema.is_null() {
        return None;
    }
    schema["components"] = spec["components"].clone();
    Some(schema)
}

/// A PATCH of `operation` (an update path of the spec) with this body, or a GET of the scopes path.
async fn send_raw(server: &MockServer, operation: &str, headers: &[(&str, &str)], body: &str) -> reqwest::Response {
    let path = operation
        .replace("{agentPortfolioId}", PORTFOLIO)
        .replace("{userTokenId}", TOKEN);
    let url = format!("{}{path}", server.base_url());
    let client = reqwest::Client::new();
    let mut request = if operation == SCOPES {
        client.get(url)
    } else {
        client
            .patch(url)
            .header("content-type", "application/json")
            .body(body.to_owned())
    };
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_mock_answer_matches_the_spec() {
    let spec = spec();
    let missing = MockConfig {
        missing: HashSet::from([token()]),
        ..MockConfig::default()
    };
    let limited = MockConfig {
        faults: Faults {
            rate_limit_every: Some(1),
            ..Faults::default()
        },
        ..MockConfig::default()
    };
    let failing = MockConfig {
        faults: Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
        ..MockConfig::default()
    };
    let request_id = "7e9a201e-089e-44b8-a998-66a08d2d2ecc";
    let keys = [
        ("x-api-key", API_KEY),
        ("x-user-key", USER_KEY),
        ("x-request-id", request_id),
    ];
    let ip = r#"{"ipsWhitelist":["203.0.113.7"]}"#;
    // (operation, mock configuration, request headers, request body, the status the mock must answer)
    type Case<'a> = (&'a str, MockConfig, &'a [(&'a str, &'a str)], &'a str, u16);
    let cases: Vec<Case> = vec![
        (V1, MockConfig::default(), &keys, ip, 204),
        (V1, MockConfig::default(), &keys, "{}", 400),
        (V1, MockConfig::default(), &keys, r#"{"scopeIds":[999]}"#, 400),
        (V1, MockConfig::default(), &keys, r#"{"ipsWhitelist":[]}"#, 400),
        (V1, MockConfig::default(), &keys[2..], ip, 401),
        (V1, missing.clone(), &keys, ip, 404),
        (V1, limited.clone(), &keys, ip, 429),
        (V1, failing.clone(), &keys, ip, 500),
        (V2, MockConfig::default(), &keys, ip, 204),
        (V2, MockConfig::default(), &keys, "{}", 400),
        (V2, MockConfig::default(), &keys[2..], ip, 401),
        (V2, MockConfig::default(), &keys, r#"{"scopeNames":["x:y"]}"#, 403),
        (V2, missing, &keys, ip, 404),
        (V2, limited.clone(), &keys, ip, 429),
        (V2, failing.clone(), &keys, ip, 500),
        (SCOPES, MockConfig::default(), &keys, "", 200),
        (SCOPES, MockConfig::default(), &keys[2..], "", 401),
        (SCOPES, limited, &keys, "", 429),
        (SCOPES, failing, &keys, "", 500),
    ];
    for (operation, config, headers, body, expected) in cases {
        let server = MockServer::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
        let response = send_raw(&server, operation, headers, body).await;
        let status = response.status().as_u16();
        assert_eq!(status, expected, "{operation} {body}");
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.bytes().await.unwrap();
        let method = if operation == SCOPES { "get" } else { "patch" };
        match response_schema(&spec, operation, method, status) {
            None => assert!(bytes.is_empty(), "{operation} {status} has no documented body"),
            Some(schema) => {
                assert!(
                    content_type.unwrap_or_default().starts_with("application/json"),
                    "{status}"
                );
                let answer: Value = serde_json::from_slice(&bytes).unwrap();
                let validator = jsonschema::draft4::new(&schema).unwrap();
                let errors: Vec<String> = validator.iter_errors(&answer).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{operation} {status} {answer}: {errors:?}");
                if status >= 400 {
                    assert!(
                        answer["errorCode"].is_string() && answer["errorMessage"].is_string(),
                        "{answer}"
                    );
                } else {
                    assert!(!answer["scopes"].as_array().unwrap().is_empty(), "{answer}");
                }
            }
        }
    }
}

#[tokio::test]
async fn the_wrapper_and_the_mock_agree_on_the_documented_error_codes() {
    let missing = MockConfig {
        missing: HashSet::from([token()]),
        ..MockConfig::default()
    };
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), missing)
        .await
        .unwrap();
    let client = Client::builder()
        .base_url(server.base_url())
        .api_keys(API_KEY, USER_KEY)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client
        .update_user_token(
            portfolio(),
            token(),
            TokenUpdate::new().ips_whitelist(["203.0.113.7".parse().unwrap()]),
        )
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.code(), Some("NotFound"));

    #[allow(deprecated)]
    let refused = client
        .update_user_token(portfolio(), portfolio(), TokenUpdate::new().scope_ids([999]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("ScopeIdNotAllowed"));
}
