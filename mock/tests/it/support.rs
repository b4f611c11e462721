//! What the mock's tests share: the ids and credentials, a plain reqwest client, the spec's paths, requests
//! written by hand from the spec (no client types), and readers of the answers.

use etoro_mock::{Faults, MockConfig, MockServer};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// The README's agent-portfolio: held by [`MockConfig::example`].
pub const PORTFOLIO: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
/// The README's token of [`PORTFOLIO`].
pub const TOKEN: &str = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f";
/// The request id of the requests that do not need a fresh one.
pub const REQUEST_ID: &str = "7e9a201e-089e-44b8-a998-66a08d2d2ecc";
/// The key pair. Both hold "secret", so a test can look for that word where no credential may show.
pub const API_KEY: &str = "secret-api-key-31f0";
pub const USER_KEY: &str = "secret-user-key-77ab";

/// A mock on an ephemeral loopback port.
pub async fn start(config: MockConfig) -> MockServer {
    MockServer::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("mock starts")
}

/// The open world with these faults.
pub fn with_faults(faults: Faults) -> MockConfig {
    MockConfig {
        faults,
        ..MockConfig::default()
    }
}

pub fn client() -> Client {
    // In `cargo test --workspace`, etoro-client's `rustls` feature reaches this reqwest (feature unification):
    // reqwest then needs a process-wide crypto provider. A second install is refused, harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // No proxy: a proxy from the environment must not intercept loopback traffic.
    Client::builder().no_proxy().build().unwrap()
}

/// The path of a token, in API `version` 1 (update, revoke) or 2 (update).
pub fn token_path(version: u8, portfolio: &str, token: &str) -> String {
    format!("/api/v{version}/agent-portfolios/{portfolio}/user-tokens/{token}")
}

pub fn url(server: &MockServer, portfolio: &str, token: &str) -> String {
    format!("{}{}", server.base_url(), token_path(1, portfolio, token))
}

pub fn url_v2(server: &MockServer, portfolio: &str, token: &str) -> String {
    format!("{}{}", server.base_url(), token_path(2, portfolio, token))
}

pub fn scopes_url(server: &MockServer) -> String {
    format!("{}/api/v2/agent-portfolios/user-tokens/scopes", server.base_url())
}

/// A v1 PATCH of [`PORTFOLIO`]/[`TOKEN`] that passes every check except what the test changes afterwards (JSON
/// body left to the caller).
pub fn patch(client: &Client, server: &MockServer) -> RequestBuilder {
    keys(client.patch(url(server, PORTFOLIO, TOKEN))).header("x-request-id", REQUEST_ID)
}

/// A v1 PATCH with a valid body.
pub fn valid(client: &Client, server: &MockServer) -> RequestBuilder {
    patch(client, server).json(&json!({ "scopeIds": [211, 212] }))
}

/// A v2 PATCH that passes every check except what the test changes afterwards (JSON body left to the caller).
pub fn patch_v2(client: &Client, server: &MockServer) -> RequestBuilder {
    keys(client.patch(url_v2(server, PORTFOLIO, TOKEN))).header("x-request-id", REQUEST_ID)
}

/// A GET of the allowed scopes that passes every check.
pub fn get_scopes(client: &Client, server: &MockServer) -> RequestBuilder {
    client
        .get(scopes_url(server))
        .bearer_auth("oauth-token")
        .header("x-request-id", REQUEST_ID)
}

/// Adds the key pair to a request (the `auth` of [`list_response`] for the usual credential).
pub fn keys(request: RequestBuilder) -> RequestBuilder {
    request.header("x-api-key", API_KEY).header("x-user-key", USER_KEY)
}

/// `method` on `path` with the key pair and a fresh request id, from a fresh client.
pub fn call(server: &MockServer, method: Method, path: &str) -> RequestBuilder {
    keys(client().request(method, format!("{}{path}", server.base_url())))
        .header("x-request-id", Uuid::new_v4().to_string())
}

/// Sends a PATCH of `portfolio`/`token` in API `version` with `body`, through [`call`].
pub async fn update(server: &MockServer, version: u8, portfolio: &str, token: &str, body: Value) -> Response {
    call(server, Method::PATCH, &token_path(version, portfolio, token))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Sends a create in `portfolio` with `body`, through [`call`].
pub async fn create(server: &MockServer, portfolio: &str, body: Value) -> Response {
    let path = format!("/api/v2/agent-portfolios/{portfolio}/user-tokens");
    call(server, Method::POST, &path).json(&body).send().await.unwrap()
}

/// Sends a revoke of `portfolio`/`token`, through [`call`].
pub async fn revoke(server: &MockServer, portfolio: &str, token: &str) -> Response {
    call(server, Method::DELETE, &token_path(1, portfolio, token))
        .send()
        .await
        .unwrap()
}

/// The listing, which must answer 200.
pub async fn list(server: &MockServer) -> Value {
    let response = call(server, Method::GET, "/api/v1/agent-portfolios")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The answer to a listing with a fresh request id and the credentials `auth` adds.
pub async fn list_response(server: &MockServer, auth: impl FnOnce(RequestBuilder) -> RequestBuilder) -> Response {
    let request = client()
        .get(format!("{}/api/v1/agent-portfolios", server.base_url()))
        .header("x-request-id", Uuid::new_v4().to_string());
    auth(request).send().await.unwrap()
}

/// The listed token `token` of portfolio `portfolio`, or `Value::Null`.
pub fn listed(list: &Value, portfolio: &str, token: &str) -> Value {
    list["agentPortfolios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["agentPortfolioId"] == portfolio)
        .and_then(|p| {
            p["userTokens"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["userTokenId"] == token)
        })
        .cloned()
        .unwrap_or(Value::Null)
}

/// Checks status, content type and errorCode of an error answer; returns its errorMessage.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], code, "{body}");
    body["errorMessage"]
        .as_str()
        .expect("errorMessage is a string")
        .to_owned()
}

/// Status, errorCode and errorMessage of an answer (a missing string reads as empty, and fails the comparison).
pub async fn error_of(response: Response) -> (StatusCode, String, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["errorCode"].as_str().unwrap_or_default().to_owned(),
        body["errorMessage"].as_str().unwrap_or_default().to_owned(),
    )
}

/// [`error_of`] the answer to a v1 [`patch`] with `body`.
pub async fn body_error(server: &MockServer, body: Value) -> (StatusCode, String, String) {
    error_of(patch(&client(), server).json(&body).send().await.unwrap()).await
}

/// [`error_of`] the answer to a v2 [`patch_v2`] with `body`.
pub async fn body_error_v2(server: &MockServer, body: Value) -> (StatusCode, String, String) {
    error_of(patch_v2(&client(), server).json(&body).send().await.unwrap()).await
}

/// The same, as a tuple to compare whole: `(status, code, message)`.
pub fn refusal(status: StatusCode, code: &str, message: &str) -> (StatusCode, String, String) {
    (status, code.to_owned(), message.to_owned())
}

/// A header's value as text, if the answer has it.
pub fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// An expiry 30 days from now, in RFC 3339.
pub fn future() -> String {
    (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339()
}
