//! Clients pointed at a local server: the wrapper's (key pair or bearer token, no retries unless a test adds
//! them) and a plain reqwest one for requests written by hand.

use etoro_client::{Client, ClientBuilder, Error, RetryPolicy, TokenUpdate, Updated};

use crate::{portfolio, token, API_KEY, BEARER, USER_KEY};

/// A builder for `base_url` with the key pair and without retries: tests add what they test.
pub fn key_builder(base_url: impl Into<String>) -> ClientBuilder {
    Client::builder()
        .base_url(base_url)
        .api_keys(API_KEY, USER_KEY)
        .retry(RetryPolicy::none())
}

/// A builder for `base_url` with the bearer token and without retries.
pub fn bearer_builder(base_url: impl Into<String>) -> ClientBuilder {
    Client::builder()
        .base_url(base_url)
        .bearer_token(BEARER)
        .retry(RetryPolicy::none())
}

/// A key-pair client for `base_url` without retries (the retry tests build their own).
pub fn key_client(base_url: impl Into<String>) -> Client {
    key_builder(base_url).build().expect("valid test client")
}

/// A bearer-token client for `base_url` without retries.
pub fn bearer_client(base_url: impl Into<String>) -> Client {
    bearer_builder(base_url).build().expect("valid test client")
}

/// The URL of a loopback port where nothing listens (bound, then closed at once): a request to it fails as a
/// transport error, so a refusal that is not one proves nothing left the process.
pub fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// A key-pair client pointed at [`closed_port_url`]: anything it sends fails as a transport error.
pub fn unreachable_client() -> Client {
    key_client(closed_port_url())
}

/// The error of `update` of [`PORTFOLIO`](crate::PORTFOLIO)/[`TOKEN`](crate::TOKEN) through `client`; panics if it
/// succeeds.
pub async fn update_err(client: &Client, update: TokenUpdate) -> Error {
    client
        .update_user_token(portfolio(), token(), update)
        .await
        .expect_err("the update fails")
}

/// The outcome of `update` of [`PORTFOLIO`](crate::PORTFOLIO)/[`TOKEN`](crate::TOKEN) through `client`; panics with
/// the error if it fails.
pub async fn update_ok(client: &Client, update: TokenUpdate) -> Updated {
    client
        .update_user_token(portfolio(), token(), update)
        .await
        .unwrap_or_else(|err| panic!("the update fails: {err}"))
}

/// A plain reqwest client, for requests written by hand (not the wrapper's).
///
/// With etoro-client's `rustls` feature on, reqwest has no crypto provider of its own (`rustls-no-provider`): the
/// process must install one before reqwest builds a client. A second install is refused, harmlessly.
pub fn raw_http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
