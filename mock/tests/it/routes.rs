//! Routing and the checks every operation shares: the routes and methods, authentication, `x-request-id`,
//! path ids, in that order, and the ids that do not exist.

use etoro_mock::{MockConfig, MockServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use super::support::*;

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
