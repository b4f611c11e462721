//! What the workspace's integration tests share, in one place: the ids and credentials they send, clients
//! pointed at a local server, and the local servers themselves (wiremock with a loud catch-all, raw TCP, axum).
//!
//! The tests live in `tests/tests/`: `it/` (one binary with modules), `contract/` (Prism, run by `.ci/contract`),
//! and `tls.rs`, `proxy.rs` and `memory.rs` (binaries of their own: each changes something process-wide). Every
//! server here listens on 127.0.0.1 only.

mod clients;
mod servers;

pub use clients::{
    bearer_builder, bearer_client, closed_port_url, key_builder, key_client, raw_http, unreachable_client, update_err,
    update_ok,
};
pub use servers::{answering, error_answer, first_then, raw_server, read_request, server, start_mock};

use etoro_client::{TokenUpdate, Uuid};

/// The `x-api-key` every test client sends.
pub const API_KEY: &str = "test-api-key-5f2b9c";
/// The `x-user-key` every test client sends.
pub const USER_KEY: &str = "test-user-key-8d41e0";
/// The bearer token of the bearer-token clients.
pub const BEARER: &str = "test-bearer-token-c7a310";
/// The README's agent-portfolio (the spec's example), held by `etoro_mock::MockConfig::example()`.
pub const PORTFOLIO: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
/// The README's token of [`PORTFOLIO`].
pub const TOKEN: &str = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f";

/// [`PORTFOLIO`] as a `Uuid`.
pub fn portfolio() -> Uuid {
    PORTFOLIO.parse().unwrap()
}

/// [`TOKEN`] as a `Uuid`.
pub fn token() -> Uuid {
    TOKEN.parse().unwrap()
}

/// The path the v1 update of [`PORTFOLIO`]/[`TOKEN`] must go to.
pub fn update_path() -> String {
    format!("/api/v1/agent-portfolios/{PORTFOLIO}/user-tokens/{TOKEN}")
}

/// The update the tests of transport and retries send when its content does not matter: one IP allow-listed.
pub fn ip_update() -> TokenUpdate {
    TokenUpdate::new().ips_whitelist([std::net::Ipv4Addr::new(203, 0, 113, 7)])
}
