//! The v2 update (scope names from the allowed list) and the allowed-scopes lookup.

use etoro_mock::MockConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::support::*;

#[tokio::test]
async fn v2_valid_update_answers_204() {
    let server = start(MockConfig::default()).await;
    let future = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let c = client();
    for body in [
        json!({
            "scopeNames": ["etoro-public:trade.real:read", "etoro-public:trade.real:write"],
            "ipsWhitelist": ["192.168.1.1"],
            "expiresAt": future,
        }),
        json!({"ipsWhitelist": ["10.0.0.1"]}),
    ] {
        let response = patch_v2(&c, &server).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{body}");
        assert!(response.bytes().await.unwrap().is_empty());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn v2_refuses_scope_ids() {
    let server = start(MockConfig::default()).await;
    for body in [
        json!({"scopeIds": [200]}),
        json!({"scopeIds": [200], "scopeNames": ["etoro-public:trade.real:read"]}),
    ] {
        let (status, code, message) = body_error_v2(&server, body.clone()).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "ValidationFailed"),
            "{body}"
        );
        assert!(message.contains("scopeIds is not supported in v2"), "{body}: {message}");
    }
    // Other unknown fields are refused too, without the v2 hint.
    let (status, code, message) = body_error_v2(&server, json!({"extra": 1})).await;
    assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "ValidationFailed"));
    assert!(
        message.contains("unknown field") && !message.contains("v2"),
        "{message}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn v2_update_rules() {
    let server = start(MockConfig::default()).await;
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let cases = [
        (
            json!({}),
            StatusCode::BAD_REQUEST,
            "NoChangesDetected",
            "At least one field must be provided",
        ),
        (
            json!({"scopeNames": null}),
            StatusCode::BAD_REQUEST,
            "ValidationFailed",
            "scopeNames: null is not of type \"array\" (type)",
        ),
        (
            json!({"ipsWhitelist": null}),
            StatusCode::BAD_REQUEST,
            "ValidationFailed",
            "ipsWhitelist: null is not of type \"array\" (type)",
        ),
        (
            json!({"scopeNames": []}),
            StatusCode::BAD_REQUEST,
            "ValidationFailed",
            "scopeNames must not be empty (minItems)",
        ),
        (
            json!({"scopeNames": ["etoro-public:trade.real:read", "etoro-public:trade.real:read"]}),
            StatusCode::BAD_REQUEST,
            "ValidationFailed",
            "scopeNames must not contain duplicates (uniqueItems)",
        ),
        (
            json!({"ipsWhitelist": []}),
            StatusCode::BAD_REQUEST,
            "ValidationFailed",
            "ipsWhitelist must not be empty (minItems)",
        ),
        (
            json!({"scopeNames": ["etoro-public:trade.real:read", "etoro-public:everything"]}),
            StatusCode::FORBIDDEN,
            "ScopeNameNotAllowed",
            "Scope name not allowed",
        ),
        (
            json!({"expiresAt": past}),
            StatusCode::BAD_REQUEST,
            "ValidationFailed",
            "expiresAt must be in the future",
        ),
    ];
    for (body, status, code, message) in cases {
        let got = body_error_v2(&server, body.clone()).await;
        assert_eq!(got, refusal(status, code, message), "{body}");
    }
    // The 403 keeps the error shape.
    let response = patch_v2(&client(), &server)
        .json(&json!({"scopeNames": ["etoro-public:everything"]}))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::FORBIDDEN, "ScopeNameNotAllowed").await;
    server.shutdown().await;
}

#[tokio::test]
async fn v2_runs_the_shared_checks() {
    let server = start(MockConfig::default()).await;
    let c = client();
    let body = json!({"scopeNames": ["etoro-public:trade.real:read"]});

    let response = c
        .patch(url_v2(&server, PORTFOLIO, TOKEN))
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "Unauthorized").await;

    let response = c
        .patch(url_v2(&server, PORTFOLIO, TOKEN))
        .bearer_auth("t")
        .json(&body)
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::BAD_REQUEST, "ValidationFailed").await;
    assert_eq!(message, "x-request-id must be a UUID");

    let response = c
        .patch(url_v2(&server, "nope", TOKEN))
        .bearer_auth("t")
        .header("x-request-id", REQUEST_ID)
        .json(&body)
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::BAD_REQUEST, "ValidationFailed").await;
    assert!(message.contains("agentPortfolioId"), "{message}");

    let response = patch_v2(&c, &server)
        .body(r#"{"scopeNames":["etoro-public:trade.real:read"]}"#)
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::BAD_REQUEST, "ValidationFailed").await;
    assert!(message.contains("Content-Type"), "{message}");
    server.shutdown().await;
}

#[tokio::test]
async fn scopes_answer_the_configured_list_in_order() {
    let server = start(MockConfig::default()).await;
    let response = get_scopes(&client(), &server).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    let expected: Vec<Value> = MockConfig::default()
        .allowed_scope_names
        .iter()
        .map(|name| json!({ "name": name }))
        .collect();
    assert_eq!(body, json!({ "scopes": expected }));
    server.shutdown().await;

    let config = MockConfig {
        allowed_scope_names: vec!["custom:b".to_owned(), "custom:a".to_owned()],
        ..MockConfig::default()
    };
    let server = start(config).await;
    let c = client();
    let response = get_scopes(&c, &server)
        .header("x-request-id", REQUEST_ID)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let names: Vec<&str> = body["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["custom:b", "custom:a"]);
    // The v2 update allows exactly that list.
    for (name, status) in [
        ("custom:a", StatusCode::NO_CONTENT),
        ("etoro-public:trade.real:read", StatusCode::FORBIDDEN),
    ] {
        let response = patch_v2(&c, &server)
            .json(&json!({ "scopeNames": [name] }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{name}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn scopes_need_auth_and_a_request_id() {
    let server = start(MockConfig::default()).await;
    let c = client();
    for request in [
        c.get(scopes_url(&server)).header("x-request-id", REQUEST_ID),
        c.get(scopes_url(&server))
            .header("x-request-id", REQUEST_ID)
            .bearer_auth(""),
        c.get(scopes_url(&server))
            .header("x-request-id", REQUEST_ID)
            .header("x-api-key", "a"),
    ] {
        let message = expect_error(request.send().await.unwrap(), StatusCode::UNAUTHORIZED, "Unauthorized").await;
        assert_eq!(message, "Unauthorized");
    }
    let response = c
        .get(scopes_url(&server))
        .header("x-api-key", "a")
        .header("x-user-key", "u")
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::BAD_REQUEST, "ValidationFailed").await;
    assert!(message.starts_with("x-request-id must be a UUID"), "{message}");
    server.shutdown().await;
}
