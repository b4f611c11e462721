//! What the examples share: where to send requests.
//!
//! With `ETORO_BASE_URL` set, the examples talk to that server with the credentials in `ETORO_API_KEY` and
//! `ETORO_USER_KEY`; without it, each starts the local mock (`etoro-mock`) on 127.0.0.1 and uses dummy keys, so
//! `cargo run -p etoro-client-examples --example update` works on a fresh machine.

use etoro_client::{Client, ClientBuilder};
use etoro_mock::{MockConfig, MockServer};

/// The README's agent-portfolio, which the mock holds.
pub const PORTFOLIO: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
/// The README's user token, which the mock holds.
pub const TOKEN: &str = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f";

/// A client builder pointed at the target, and the mock serving it (keep it alive while the client is used).
pub async fn target() -> Result<(ClientBuilder, Option<MockServer>), Box<dyn std::error::Error>> {
    if let Ok(base_url) = std::env::var("ETORO_BASE_URL") {
        let api_key = std::env::var("ETORO_API_KEY")?;
        let user_key = std::env::var("ETORO_USER_KEY")?;
        return Ok((Client::builder().base_url(base_url).api_keys(api_key, user_key), None));
    }
    let mock = MockServer::start("127.0.0.1:0".parse()?, MockConfig::default()).await?;
    let builder = Client::builder()
        .base_url(mock.base_url())
        .api_keys("example-api-key", "example-user-key");
    Ok((builder, Some(mock)))
}
