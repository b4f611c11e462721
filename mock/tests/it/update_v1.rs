//! The v1 update's body: JSON of the request schema, the rules the spec states in prose, the allowed scope ids.

use etoro_mock::MockConfig;
use reqwest::StatusCode;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn body_must_be_json_of_the_request_type() {
    let server = start(MockConfig::default()).await;
    let c = client();

    // A JSON body without the JSON content type.
    let response = patch(&c, &server).body(r#"{"scopeIds":[200]}"#).send().await.unwrap();
    let message = expect_error(response, StatusCode::BAD_REQUEST, "ValidationFailed").await;
    assert!(message.contains("Content-Type"), "{message}");

    // A parameter on the content type is fine.
    let response = patch(&c, &server)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"scopeIds":[200]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    for (body, mentions) in [
        (json!({"scopeIds": [200], "extra": 1}), "unknown field `extra`"),
        (json!({"ipsWhitelist": ["300.1.1.1"]}), "ipsWhitelist/0: \"300.1.1.1\""),
        (json!({"ipsWhitelist": ["::1"]}), "(format: ipv4)"),
        (json!({"expiresAt": "tomorrow"}), "expiresAt: \"tomorrow\""),
        (json!({"expiresAt": "2030-01-01T00:00:00"}), "(format: date-time)"),
        (json!({"scopeNames": ["etoro-public: trade"]}), "scopeNames/0"),
        (json!({"scopeNames": ["etoro-public: trade"]}), "(pattern)"),
        (json!({"scopeNames": [""]}), "(minLength)"),
        (
            json!({"scopeIds": ["200"]}),
            "scopeIds/0: \"200\" is not of type \"integer\" (type)",
        ),
        (json!({"scopeIds": [2_147_483_648_i64]}), "(format: int32)"),
    ] {
        let (status, code, message) = body_error(&server, body.clone()).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "ValidationFailed"),
            "{body}"
        );
        assert!(message.contains(mentions), "{body}: {message}");
    }

    let response = patch(&c, &server)
        .header("content-type", "application/json")
        .body("")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "ValidationFailed").await;
    server.shutdown().await;
}

#[tokio::test]
async fn update_rules() {
    let server = start(MockConfig::default()).await;
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let cases = [
        (json!({}), "NoChangesDetected", "At least one field must be provided"),
        // The request schemas have no nullable field: null is not "leave it as it is".
        (
            json!({"scopeIds": null}),
            "ValidationFailed",
            "scopeIds: null is not of type \"array\" (type)",
        ),
        (
            json!({"expiresAt": null}),
            "ValidationFailed",
            "expiresAt: null is not of type \"string\" (type)",
        ),
        (
            json!({"scopeIds": [200], "scopeNames": ["etoro-public:real:read"]}),
            "ValidationFailed",
            "Provide either scopeNames or scopeIds, not both",
        ),
        (
            json!({"scopeIds": []}),
            "ValidationFailed",
            "scopeIds must not be empty (minItems)",
        ),
        (
            json!({"scopeNames": []}),
            "ValidationFailed",
            "scopeNames must not be empty (minItems)",
        ),
        (
            json!({"ipsWhitelist": []}),
            "ValidationFailed",
            "ipsWhitelist must not be empty (minItems)",
        ),
        (
            json!({"scopeIds": [200, 200]}),
            "ValidationFailed",
            "scopeIds must not contain duplicates (uniqueItems)",
        ),
        (
            json!({"scopeNames": ["etoro-public:real:read", "etoro-public:real:read"]}),
            "ValidationFailed",
            "scopeNames must not contain duplicates (uniqueItems)",
        ),
        (
            json!({"ipsWhitelist": ["1.2.3.4", "1.2.3.4"]}),
            "ValidationFailed",
            "ipsWhitelist must not contain duplicates (uniqueItems)",
        ),
        (
            json!({"scopeIds": [200, 999]}),
            "ScopeIdNotAllowed",
            "ScopeIds contains values not in the allowed set",
        ),
        (
            json!({"expiresAt": past}),
            "ValidationFailed",
            "expiresAt must be in the future",
        ),
    ];
    for (body, code, message) in cases {
        let got = body_error(&server, body.clone()).await;
        assert_eq!(got, refusal(StatusCode::BAD_REQUEST, code, message), "{body}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn allowed_scopes_come_from_the_config() {
    let config = MockConfig {
        allowed_scope_ids: [7].into_iter().collect(),
        allowed_scope_names: vec!["custom:scope".to_owned()],
        ..MockConfig::default()
    };
    let server = start(config).await;
    assert_eq!(
        body_error(&server, json!({"scopeIds": [200]})).await.1,
        "ScopeIdNotAllowed"
    );
    let c = client();
    for body in [json!({"scopeIds": [7]}), json!({"scopeNames": ["custom:scope"]})] {
        assert_eq!(
            patch(&c, &server).json(&body).send().await.unwrap().status(),
            StatusCode::NO_CONTENT
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn v1_accepts_any_well_formed_scope_name() {
    let server = start(MockConfig::default()).await;
    let response = patch(&client(), &server)
        .json(&json!({"scopeNames": ["etoro-public:everything"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    server.shutdown().await;
}
