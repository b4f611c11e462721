//! One update: scopes, an IP allow-list and an expiry 30 days out.
//!
//! `cargo run -p etoro-client-examples --example update`
//!
//! It starts its own local mock of eToro (`etoro-mock`), so it runs anywhere; in a service, build the client
//! from the environment instead: `ClientBuilder::from_env()?.build()?` (`ETORO_API_KEY` + `ETORO_USER_KEY`, or
//! `ETORO_ACCESS_TOKEN`; `ETORO_BASE_URL` optional).

use std::time::Duration;

use etoro_client::{scope, Client, TokenUpdate, Uuid};
use etoro_mock::{MockConfig, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let portfolio: Uuid = "3fa85f64-5717-4562-b3fc-2c963f66afa6".parse()?;
    let token: Uuid = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f".parse()?;
    let update = TokenUpdate::new()
        .scope_names([scope::TRADE_REAL_READ])
        .ips_whitelist(["203.0.113.7".parse()?])
        .expires_in(Duration::from_secs(30 * 86_400));

    // The mock holds only the README's portfolio and token, as eToro holds only yours: another id would be a 404.
    let mock = MockServer::start("127.0.0.1:0".parse()?, MockConfig::example()).await?;
    let client = Client::builder()
        .base_url(mock.base_url())
        .api_keys("example-api-key", "example-user-key")
        .build()?;

    let done = client.update_user_token(portfolio, token, update).await?;
    println!(
        "updated {} (request id {}, {} attempt(s))",
        done.token, done.request_id, done.attempts
    );
    if let Some(quota) = &done.rate_limit {
        println!("quota left this window: {:?}", quota.remaining);
    }
    Ok(())
}
