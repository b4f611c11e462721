//! The mock is held to the spec: every answer it gives is a status the spec documents for the operation, with a
//! body that validates against the schema the spec gives that status (checked by `jsonschema`, not by us).

use std::collections::HashSet;

use etoro_client::{Client, RetryPolicy, TokenUpdate};
use etoro_mock::{Faults, MockConfig, MockServer};
use serde_json::Value;

use crate::support::*;

const OPERATION: &str = "/api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}";

fn spec() -> Value {
    let path = xtask::workspace_root().join(xtask::codegen::SPEC_PATH);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The JSON schema of the body documented for `status`, with `$ref`s to components resolved (one level deep is
/// all this spec uses), or `None` when the status has no body.
fn response_schema(spec: &Value, status: u16) -> Option<Value> {
    let response = &spec["paths"][OPERATION]["patch"]["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "the mock answered {status}, which the spec does not document"
    );
    let schema = &response["content"]["application/json"]["schema"];
    let reference = schema["$ref"].as_str()?;
    let name = reference.trim_start_matches("#/components/schemas/");
    Some(spec["components"]["schemas"][name].clone())
}

async fn send_raw(server: &MockServer, headers: &[(&str, &str)], body: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .patch(format!("{}{}", server.base_url(), update_path()))
        .header("content-type", "application/json")
        .body(body.to_owned());
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
    // (mock configuration, request headers, request body, the status the mock must answer)
    type Case<'a> = (MockConfig, &'a [(&'a str, &'a str)], &'a str, u16);
    let cases: Vec<Case> = vec![
        (MockConfig::default(), &keys, r#"{"ipsWhitelist":["203.0.113.7"]}"#, 204),
        (MockConfig::default(), &keys, "{}", 400),
        (MockConfig::default(), &keys, r#"{"scopeIds":[999]}"#, 400),
        (MockConfig::default(), &keys, r#"{"ipsWhitelist":[]}"#, 400),
        (
            MockConfig::default(),
            &keys[2..],
            r#"{"ipsWhitelist":["203.0.113.7"]}"#,
            401,
        ),
        (missing, &keys, r#"{"ipsWhitelist":["203.0.113.7"]}"#, 404),
        (limited, &keys, r#"{"ipsWhitelist":["203.0.113.7"]}"#, 429),
        (failing, &keys, r#"{"ipsWhitelist":["203.0.113.7"]}"#, 500),
    ];
    for (config, headers, body, expected) in cases {
        let server = MockServer::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
        let response = send_raw(&server, headers, body).await;
        let status = response.status().as_u16();
        assert_eq!(status, expected, "{body}");
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.bytes().await.unwrap();
        match response_schema(&spec, status) {
            None => assert!(bytes.is_empty(), "{status} has no documented body"),
            Some(schema) => {
                assert!(
                    content_type.unwrap_or_default().starts_with("application/json"),
                    "{status}"
                );
                let answer: Value = serde_json::from_slice(&bytes).unwrap();
                let validator = jsonschema::draft4::new(&schema).unwrap();
                let errors: Vec<String> = validator.iter_errors(&answer).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{status} {answer}: {errors:?}");
                assert!(
                    answer["errorCode"].is_string() && answer["errorMessage"].is_string(),
                    "{answer}"
                );
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
    assert_eq!(err.error_code(), Some("NotFound"));

    #[allow(deprecated)]
    let refused = client
        .update_user_token(portfolio(), portfolio(), TokenUpdate::scope_ids([999]))
        .await
        .unwrap_err();
    assert_eq!(refused.error_code(), Some("ScopeIdNotAllowed"));
}
