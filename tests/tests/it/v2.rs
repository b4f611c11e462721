//! API v2: one builder call switches the update endpoint; the allowed-scopes lookup and its opt-in check.

use std::net::Ipv4Addr;
use std::time::Duration;

use etoro_client::{ApiVersion, Error, TokenUpdate};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const SCOPES_PATH: &str = "/api/v2/agent-portfolios/user-tokens/scopes";

fn v2_path() -> String {
    format!("/api/v2/agent-portfolios/{PORTFOLIO}/user-tokens/{TOKEN}")
}

fn v2_client(server: &MockServer) -> etoro_client::ClientBuilder {
    key_builder(server.uri()).api_version(ApiVersion::V2)
}

async fn serve_scopes(server: &MockServer, names: &[&str], expected_calls: u64) {
    let scopes: Vec<_> = names.iter().map(|name| json!({ "name": name })).collect();
    Mock::given(method("GET"))
        .and(path(SCOPES_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "scopes": scopes })))
        .expect(expected_calls)
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_same_update_goes_to_the_v2_endpoint_with_one_builder_call() {
    let server = server().await;
    Mock::given(method("PATCH"))
        .and(path(v2_path()))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let update = TokenUpdate::new()
        .scope_names(["etoro-public:trade.real:read"])
        .ips_whitelist([Ipv4Addr::LOCALHOST]);

    let client = v2_client(&server).build().unwrap();
    assert_eq!(client.api_version(), ApiVersion::V2);
    let updated = update_ok(&client, update).await;

    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        request.headers["x-request-id"].to_str().unwrap(),
        updated.request_id.to_string()
    );
    assert_eq!(request.headers["x-api-key"].to_str().unwrap(), API_KEY);
    assert_eq!(
        request.body_json::<serde_json::Value>().unwrap(),
        json!({ "scopeNames": ["etoro-public:trade.real:read"], "ipsWhitelist": ["127.0.0.1"] })
    );
}

#[tokio::test]
#[allow(deprecated)]
async fn deprecated_scope_ids_are_refused_locally_with_v2() {
    let server = server().await;
    let err = update_err(
        &v2_client(&server).build().unwrap(),
        TokenUpdate::new().scope_ids([200]),
    )
    .await;

    let Error::InvalidInput(invalid) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(invalid.field, "scopeIds");
    assert!(invalid.rule.contains("v2"), "{invalid}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn v2_forbidden_scope_name_is_an_api_error() {
    let server = server().await;
    Mock::given(method("PATCH"))
        .and(path(v2_path()))
        .respond_with(error_answer(403, "ScopeNameNotAllowed", "Scope name not allowed"))
        .mount(&server)
        .await;

    let err = v2_client(&server)
        .build()
        .unwrap()
        .update_user_token(
            portfolio(),
            token(),
            TokenUpdate::new().scope_names(["etoro-public:admin"]),
        )
        .await
        .unwrap_err();

    assert_eq!(err.status().unwrap().as_u16(), 403);
    assert_eq!(err.code(), Some("ScopeNameNotAllowed"));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn allowed_scopes_returns_the_names() {
    let server = server().await;
    serve_scopes(
        &server,
        &["etoro-public:trade.real:read", "etoro-public:trade.demo:read"],
        1,
    )
    .await;

    let names = key_client(server.uri()).allowed_scopes().await.unwrap();

    assert_eq!(names, ["etoro-public:trade.real:read", "etoro-public:trade.demo:read"]);
    let request = &server.received_requests().await.unwrap()[0];
    assert!(request.headers.contains_key("x-request-id"));
    assert_eq!(request.headers["x-user-key"].to_str().unwrap(), USER_KEY);
}

#[tokio::test]
async fn allowed_scopes_errors_are_typed() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(SCOPES_PATH))
        .respond_with(error_answer(401, "Unauthorized", "Unauthorized"))
        .mount(&server)
        .await;
    let err = key_client(server.uri()).allowed_scopes().await.unwrap_err();
    assert!(err.is_unauthorized());
}

#[tokio::test]
async fn the_opt_in_check_refuses_unknown_names_locally_and_names_the_allowed_ones() {
    let server = server().await;
    serve_scopes(
        &server,
        &["etoro-public:trade.real:read", "etoro-public:trade.real:write"],
        1,
    )
    .await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = v2_client(&server)
        .check_scopes(Duration::from_secs(300))
        .build()
        .unwrap();

    let err = client
        .update_user_token(
            portfolio(),
            token(),
            TokenUpdate::new().scope_names(["etoro-public:trade.real:read", "x:y"]),
        )
        .await
        .unwrap_err();
    let Error::InvalidInput(invalid) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(invalid.field, "scopeNames[1]");
    assert!(invalid.rule.contains("etoro-public:trade.real:write"), "{invalid}");

    // A known name passes, and the list is not fetched again within its lifetime.
    client
        .update_user_token(
            portfolio(),
            token(),
            TokenUpdate::new().scope_names(["etoro-public:trade.real:write"]),
        )
        .await
        .unwrap();
    let patches = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PATCH")
        .count();
    assert_eq!(patches, 1, "the refused update was never sent");
}

#[tokio::test]
async fn the_cached_list_expires() {
    let server = server().await;
    serve_scopes(&server, &["a:b"], 2).await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let client = v2_client(&server)
        .check_scopes(Duration::from_millis(200))
        .build()
        .unwrap();
    let update = || TokenUpdate::new().scope_names(["a:b"]);

    update_ok(&client, update()).await;
    update_ok(&client, update()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    update_ok(&client, update()).await;
    // `expect(2)` on the scopes mock: fetched once, reused, fetched again after the TTL.
}

#[tokio::test]
async fn without_the_opt_in_no_lookup_is_made() {
    let server = server().await;
    serve_scopes(&server, &["a:b"], 0).await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    update_ok(
        &v2_client(&server).build().unwrap(),
        TokenUpdate::new().scope_names(["anything:goes"]),
    )
    .await;
}
