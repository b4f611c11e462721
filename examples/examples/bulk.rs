//! Many updates at once with one shared client: `buffer_unordered` over the calls, one pacer for eToro's quota.
//!
//! `cargo run -p etoro-client-examples --example bulk`

use futures::stream::{self, StreamExt};

use etoro_client::{Client, Pacer, TokenUpdate, Uuid};
use etoro_mock::{MockConfig, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The mock's open world accepts any token id, so 50 made-up ones will do.
    let mock = MockServer::start("127.0.0.1:0".parse()?, MockConfig::default()).await?;
    // Against eToro, pace to the documented quota: `Pacer::default()` (60 a minute per user key). The local
    // mock has no quota.
    let client = Client::builder()
        .base_url(mock.base_url())
        .api_keys("example-api-key", "example-user-key")
        .pacer(Pacer::unlimited())
        .build()?;

    let portfolio: Uuid = "3fa85f64-5717-4562-b3fc-2c963f66afa6".parse()?;
    let tokens: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
    let update = TokenUpdate::new().ips_whitelist(["203.0.113.7".parse()?]);

    // Each call is a future: `buffer_unordered` runs 8 at a time over the one client (and its one pacer).
    let results: Vec<_> = stream::iter(&tokens)
        .map(|&token| client.update_user_token(portfolio, token, update.clone()))
        .buffer_unordered(8)
        .collect()
        .await;

    let failed: Vec<_> = results.iter().filter_map(|result| result.as_ref().err()).collect();
    for err in &failed {
        eprintln!("failed: {err}");
    }
    println!("{} updated, {} failed", results.len() - failed.len(), failed.len());
    Ok(())
}
