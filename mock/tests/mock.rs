//! The mock, checked through real HTTP requests on loopback.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use etoro_mock::{Faults, MockConfig, MockServer};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

const PORTFOLIO: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
const TOKEN: &str = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f";
const REQUEST_ID: &str = "7e9a201e-089e-44b8-a998-66a08d2d2ecc";

async fn start(config: MockConfig) -> MockServer {
    MockServer::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("mock starts")
}

fn client() -> Client {
    // In `cargo test --workspace`, etoro-client's `rustls` feature reaches this reqwest (feature unification):
    // reqwest then needs a process-wide crypto provider. A second install is refused, harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // No proxy: a proxy from the environment must not intercept loopback traffic.
    Client::builder().no_proxy().build().unwrap()
}

fn url(server: &MockServer, portfolio: &str, token: &str) -> String {
    format!(
        "{}/api/v1/agent-portfolios/{portfolio}/user-tokens/{token}",
        server.base_url()
    )
}

fn url_v2(server: &MockServer, portfolio: &str, token: &str) -> String {
    format!(
        "{}/api/v2/agent-portfolios/{portfolio}/user-tokens/{token}",
        server.base_url()
    )
}

fn scopes_url(server: &MockServer) -> String {
    format!("{}/api/v2/agent-portfolios/user-tokens/scopes", server.base_url())
}

/// A PATCH that passes every check except what the test changes afterwards (JSON body left to the caller).
fn patch(client: &Client, server: &MockServer) -> RequestBuilder {
    client
        .patch(url(server, PORTFOLIO, TOKEN))
        .header("x-api-key", "secret-api-key")
        .header("x-user-key", "secret-user-key")
        .header("x-request-id", REQUEST_ID)
}

/// A PATCH with a valid body.
fn valid(client: &Client, server: &MockServer) -> RequestBuilder {
    patch(client, server).json(&json!({ "scopeIds": [211, 212] }))
}

/// A v2 PATCH that passes every check except what the test changes afterwards (JSON body left to the caller).
fn patch_v2(client: &Client, server: &MockServer) -> RequestBuilder {
    client
        .patch(url_v2(server, PORTFOLIO, TOKEN))
        .header("x-api-key", "secret-api-key")
        .header("x-user-key", "secret-user-key")
        .header("x-request-id", REQUEST_ID)
}

/// A GET of the allowed scopes that passes every check.
fn get_scopes(client: &Client, server: &MockServer) -> RequestBuilder {
    client
        .get(scopes_url(server))
        .bearer_auth("oauth-token")
        .header("x-request-id", REQUEST_ID)
}

/// Checks status, content type and errorCode of an error answer; returns its errorMessage.
async fn expect_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], code, "{body}");
    body["errorMessage"]
        .as_str()
        .expect("errorMessage is a string")
        .to_owned()
}

async fn body_error(server: &MockServer, body: Value) -> (StatusCode, String, String) {
    error_of(patch(&client(), server).json(&body)).await
}

async fn body_error_v2(server: &MockServer, body: Value) -> (StatusCode, String, String) {
    error_of(patch_v2(&client(), server).json(&body)).await
}

/// Status, errorCode and errorMessage of the answer to `request`.
async fn error_of(request: RequestBuilder) -> (StatusCode, String, String) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["errorCode"].as_str().unwrap().to_owned(),
        body["errorMessage"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn valid_update_answers_204_with_either_kind_of_auth() {
    let server = start(MockConfig::default()).await;
    let response = valid(&client(), &server).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());

    let future = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let response = client()
        .patch(url(&server, PORTFOLIO, TOKEN))
        .bearer_auth("oauth-token")
        .header("x-request-id", Uuid::new_v4().to_string())
        .json(&json!({
            "scopeNames": ["etoro-public:trade.real:read", "etoro-public:real:write"],
            "ipsWhitelist": ["192.168.1.1", "10.0.0.1"],
            "expiresAt": future,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_answer_404_with_an_error_body() {
    let server = start(MockConfig::default()).await;
    let response = client()
        .get(format!("{}/nowhere", server.base_url()))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::NOT_FOUND, "NotFound").await;
    assert_eq!(message, "no such route: GET /nowhere");

    // A path of the spec without the spec's method segment is no route either.
    let response = client()
        .get(format!("{}/api/v1/agent-portfolios/{PORTFOLIO}", server.base_url()))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "NotFound").await;
    server.shutdown().await;
}

#[tokio::test]
async fn other_methods_on_the_spec_paths_answer_405_with_allow() {
    let server = start(MockConfig::default()).await;
    let c = client();
    let base = server.base_url();
    let cases = [
        (c.put(url(&server, PORTFOLIO, TOKEN)), "PATCH, DELETE"),
        (c.get(url(&server, PORTFOLIO, TOKEN)), "PATCH, DELETE"),
        (c.patch(scopes_url(&server)), "GET"),
        (c.get(url_v2(&server, PORTFOLIO, TOKEN)), "PATCH"),
        (c.delete(url_v2(&server, PORTFOLIO, TOKEN)), "PATCH"),
        (
            c.get(format!("{base}/api/v2/agent-portfolios/{PORTFOLIO}/user-tokens")),
            "POST",
        ),
        (c.post(format!("{base}/api/v1/agent-portfolios")), "GET"),
        (
            c.request(reqwest::Method::OPTIONS, format!("{base}/api/v1/agent-portfolios")),
            "GET",
        ),
    ];
    for (request, allow) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()["allow"], allow);
        let message = expect_error(response, StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed").await;
        assert!(message.ends_with(&format!("allowed: {allow}")), "{message}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn auth_needs_exactly_one_complete_kind() {
    let server = start(MockConfig::default()).await;
    let c = client();
    let base = || {
        c.patch(url(&server, PORTFOLIO, TOKEN))
            .header("x-request-id", REQUEST_ID)
            .json(&json!({"scopeIds": [200]}))
    };
    let refused = [
        base(),
        base().header("x-api-key", "a"),
        base().header("x-user-key", "u"),
        base().header("x-api-key", "").header("x-user-key", "u"),
        base().bearer_auth(""),
        base().basic_auth("user", Some("password")),
        base()
            .header("x-api-key", "a")
            .header("x-user-key", "u")
            .bearer_auth("t"),
    ];
    for request in refused {
        let message = expect_error(request.send().await.unwrap(), StatusCode::UNAUTHORIZED, "Unauthorized").await;
        assert_eq!(message, "Unauthorized");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn checks_run_in_order() {
    let server = start(MockConfig::default()).await;
    // No auth, no request id, bad ids, bad body: auth is reported first.
    let response = client()
        .patch(url(&server, "x", "y"))
        .body("nonsense")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "Unauthorized").await;
    // Then the request id, before the path ids.
    let response = client()
        .patch(url(&server, "x", "y"))
        .bearer_auth("t")
        .body("nonsense")
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::BAD_REQUEST, "ValidationFailed").await;
    assert_eq!(message, "x-request-id must be a UUID");
    server.shutdown().await;
}

#[tokio::test]
async fn request_id_must_be_a_uuid() {
    let server = start(MockConfig::default()).await;
    let c = client();
    let base = || {
        c.patch(url(&server, PORTFOLIO, TOKEN))
            .header("x-api-key", "a")
            .header("x-user-key", "u")
            .json(&json!({"scopeIds": [200]}))
    };
    for request in [
        base(),
        base().header("x-request-id", "not-a-uuid"),
        base().header("x-request-id", ""),
    ] {
        let message = expect_error(
            request.send().await.unwrap(),
            StatusCode::BAD_REQUEST,
            "ValidationFailed",
        )
        .await;
        assert_eq!(message, "x-request-id must be a UUID");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn path_ids_must_be_uuids() {
    let server = start(MockConfig::default()).await;
    let c = client();
    for (portfolio, token, named) in [("nope", TOKEN, "agentPortfolioId"), (PORTFOLIO, "12345", "userTokenId")] {
        let response = c
            .patch(url(&server, portfolio, token))
            .header("x-api-key", "a")
            .header("x-user-key", "u")
            .header("x-request-id", REQUEST_ID)
            .json(&json!({"scopeIds": [200]}))
            .send()
            .await
            .unwrap();
        let message = expect_error(response, StatusCode::BAD_REQUEST, "ValidationFailed").await;
        assert!(message.contains(named), "{message}");
    }
    server.shutdown().await;
}

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
        assert_eq!(
            got,
            (StatusCode::BAD_REQUEST, code.to_owned(), message.to_owned()),
            "{body}"
        );
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
        assert_eq!(got, (status, code.to_owned(), message.to_owned()), "{body}");
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

#[tokio::test]
async fn faults_share_one_counter_across_the_endpoints() {
    let faults = Faults {
        rate_limit_every: Some(2),
        ..Faults::default()
    };
    let server = start(MockConfig {
        faults,
        ..MockConfig::default()
    })
    .await;
    let c = client();
    let v2_body = json!({"scopeNames": ["etoro-public:trade.real:read"]});
    let requests = [
        valid(&c, &server),
        get_scopes(&c, &server),
        patch_v2(&c, &server).json(&v2_body),
        valid(&c, &server),
        get_scopes(&c, &server),
        patch_v2(&c, &server).json(&v2_body),
    ];
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [204, 429, 204, 429, 200, 429]);
    server.shutdown().await;
}

#[tokio::test]
async fn faults_apply_to_the_v2_routes() {
    let faults = Faults {
        error_rate: 1.0,
        ..Faults::default()
    };
    let server = start(MockConfig {
        faults,
        ..MockConfig::default()
    })
    .await;
    let c = client();
    for request in [
        get_scopes(&c, &server),
        patch_v2(&c, &server).json(&json!({"ipsWhitelist": ["10.0.0.1"]})),
        // Before auth, as for v1.
        c.get(scopes_url(&server)),
    ] {
        let message = expect_error(
            request.send().await.unwrap(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "UnhandledException",
        )
        .await;
        assert_eq!(message, "Global Error");
    }
    server.shutdown().await;

    let faults = Faults {
        reset_every: Some(1),
        ..Faults::default()
    };
    let server = start(MockConfig {
        faults,
        ..MockConfig::default()
    })
    .await;
    let err = get_scopes(&c, &server)
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(err.status().is_none(), "{err:?}");
    let err = patch_v2(&c, &server)
        .json(&json!({"ipsWhitelist": ["10.0.0.1"]}))
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(err.status().is_none(), "{err:?}");
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [0, 0]);
    server.shutdown().await;
}

#[tokio::test]
async fn missing_ids_answer_404_in_v1_and_v2() {
    let gone_portfolio = Uuid::new_v4();
    let gone_token = Uuid::new_v4();
    let config = MockConfig {
        missing: [gone_portfolio, gone_token].into_iter().collect(),
        ..MockConfig::default()
    };
    let server = start(config).await;
    let c = client();
    type UrlOf = fn(&MockServer, &str, &str) -> String;
    let versions: [(UrlOf, Value); 2] = [
        (url, json!({"scopeIds": [200]})),
        (url_v2, json!({"scopeNames": ["etoro-public:trade.demo:read"]})),
    ];
    for (url_of, body) in &versions {
        for (portfolio, token, expected) in [
            (
                gone_portfolio.to_string(),
                TOKEN.to_owned(),
                "Agent-portfolio not found",
            ),
            (PORTFOLIO.to_owned(), gone_token.to_string(), "User token not found"),
            (
                gone_portfolio.to_string(),
                gone_token.to_string(),
                "Agent-portfolio not found",
            ),
        ] {
            let response = c
                .patch(url_of(&server, &portfolio, &token))
                .bearer_auth("t")
                .header("x-request-id", REQUEST_ID)
                .json(body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                expect_error(response, StatusCode::NOT_FOUND, "NotFound").await,
                expected
            );
        }
    }
    // An invalid body is reported before a missing id.
    let response = c
        .patch(url(&server, &gone_portfolio.to_string(), TOKEN))
        .bearer_auth("t")
        .header("x-request-id", REQUEST_ID)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "NoChangesDetected").await;
    server.shutdown().await;
}

#[tokio::test]
async fn rate_limit_every_nth_with_retry_after() {
    let faults = Faults {
        rate_limit_every: Some(2),
        retry_after: Duration::from_secs(3),
        ..Faults::default()
    };
    let server = start(MockConfig {
        faults,
        ..MockConfig::default()
    })
    .await;
    let c = client();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = valid(&c, &server).send().await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(response.headers()["retry-after"], "3");
            let message = expect_error(response, StatusCode::TOO_MANY_REQUESTS, "TooManyRequests").await;
            assert_eq!(message, "Too many requests");
        }
    }
    assert_eq!(statuses, [204, 429, 204, 429]);
    server.shutdown().await;
}

#[tokio::test]
async fn faults_come_before_auth() {
    let faults = Faults {
        error_rate: 1.0,
        ..Faults::default()
    };
    let server = start(MockConfig {
        faults,
        ..MockConfig::default()
    })
    .await;
    let c = client();
    let message = expect_error(
        valid(&c, &server).send().await.unwrap(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "UnhandledException",
    )
    .await;
    assert_eq!(message, "Global Error");
    // Even an unauthenticated request gets the fault: the server is failing, not checking.
    let response = c.patch(url(&server, PORTFOLIO, TOKEN)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    server.shutdown().await;
}

#[tokio::test]
async fn reset_every_nth_is_a_transport_error() {
    let faults = Faults {
        reset_every: Some(2),
        ..Faults::default()
    };
    let server = start(MockConfig {
        faults,
        ..MockConfig::default()
    })
    .await;
    let c = client();
    assert_eq!(
        valid(&c, &server).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    // The second request reuses the pooled connection, which the server then drops.
    let err = valid(&c, &server).send().await.expect_err("the connection is dropped");
    assert!(err.status().is_none() && err.is_request(), "{err:?}");
    // The client recovers on a new connection.
    assert_eq!(
        valid(&c, &server).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );

    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [204, 0, 204], "a reset request is recorded with status 0");
    server.shutdown().await;
}

#[tokio::test]
async fn reset_of_an_embedded_router_is_a_transport_error_too() {
    let faults = Faults {
        reset_every: Some(1),
        ..Faults::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        axum::serve(
            listener,
            etoro_mock::router(MockConfig {
                faults,
                ..MockConfig::default()
            })
            .unwrap(),
        )
        .into_future(),
    );
    let response = client()
        .patch(format!(
            "http://{addr}/api/v1/agent-portfolios/{PORTFOLIO}/user-tokens/{TOKEN}"
        ))
        .bearer_auth("t")
        .header("x-request-id", REQUEST_ID)
        .json(&json!({"scopeIds": [200]}))
        .send()
        .await;
    // Either the head never arrives, or the body breaks off: never a complete answer.
    match response {
        Err(err) => assert!(err.status().is_none(), "{err:?}"),
        Ok(response) => assert!(response.bytes().await.is_err()),
    }
    server.abort();
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let faults = Faults {
        latency: Duration::from_millis(200),
        ..Faults::default()
    };
    let server = start(MockConfig {
        faults,
        ..MockConfig::default()
    })
    .await;
    let c = client();
    let started = Instant::now();
    assert_eq!(
        valid(&c, &server).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn latency_does_not_serialise_requests() {
    let faults = Faults {
        latency: Duration::from_millis(300),
        ..Faults::default()
    };
    let server = start(MockConfig {
        faults,
        ..MockConfig::default()
    })
    .await;
    let c = client();
    let started = Instant::now();
    let (a, b) = tokio::join!(valid(&c, &server).send(), valid(&c, &server).send());
    assert_eq!(
        (a.unwrap().status(), b.unwrap().status()),
        (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT)
    );
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn records_every_request() {
    let server = start(MockConfig::default()).await;
    assert_eq!(server.request_count(), 0);
    let c = client();
    valid(&c, &server).send().await.unwrap();
    c.get(format!("{}/health", server.base_url())).send().await.unwrap();
    c.patch(url(&server, PORTFOLIO, TOKEN)).send().await.unwrap();
    assert_eq!(server.request_count(), 3);

    let requests = server.requests();
    let first = &requests[0];
    assert_eq!(first.method, "PATCH");
    assert_eq!(
        first.path,
        format!("/api/v1/agent-portfolios/{PORTFOLIO}/user-tokens/{TOKEN}")
    );
    assert_eq!(first.header("X-Request-Id"), Some(REQUEST_ID));
    assert_eq!(first.header("x-api-key"), Some("secret-api-key"));
    assert_eq!(first.header("x-user-key"), Some("secret-user-key"));
    assert_eq!(
        serde_json::from_slice::<Value>(&first.body).unwrap(),
        json!({"scopeIds": [211, 212]})
    );
    assert_eq!(first.status, 204);
    assert_eq!(
        (
            requests[1].method.as_str(),
            requests[1].path.as_str(),
            requests[1].status
        ),
        ("GET", "/health", 404)
    );
    assert_eq!(requests[2].status, 401);

    // Secrets stay out of Debug output.
    let shown = format!("{first:?}");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains(REQUEST_ID));
    server.shutdown().await;
}

#[tokio::test]
async fn request_count_includes_requests_still_waiting() {
    let faults = Faults {
        latency: Duration::from_millis(300),
        ..Faults::default()
    };
    let server = start(MockConfig {
        faults,
        ..MockConfig::default()
    })
    .await;
    let c = client();
    let pending = tokio::spawn(valid(&c, &server).send());
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.request_count() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.request_count(), 1);
    assert_eq!(server.requests()[0].status, 0, "not answered yet");
    assert_eq!(pending.await.unwrap().unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(server.requests()[0].status, 204);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let server = start(MockConfig::default()).await;
    let base_url = server.base_url();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
    assert_eq!(
        server.addr().port(),
        base_url.rsplit(':').next().unwrap().parse::<u16>().unwrap()
    );
    let c = client();
    valid(&c, &server).send().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("shutdown is prompt");
    let err = c
        .get(format!("{base_url}/"))
        .send()
        .await
        .expect_err("nothing listens any more");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
}

#[tokio::test]
async fn the_record_is_bounded_but_the_count_is_not() {
    let config = MockConfig {
        record_limit: 3,
        ..MockConfig::default()
    };
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
    let client = client();
    for i in 0..5 {
        client
            .get(format!("{}/nowhere/{i}", server.base_url()))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(server.request_count(), 5);
    let kept: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        kept,
        ["/nowhere/2", "/nowhere/3", "/nowhere/4"],
        "the latest three are kept"
    );
    assert!(
        server.requests().iter().all(|r| r.status == 404),
        "statuses land on the kept records"
    );
}
