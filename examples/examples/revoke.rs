//! Revoke a token. Revoking is idempotent: a revoke whose answer was lost can be sent again, and a 404 then
//! means the token is gone.
//!
//! `cargo run -p etoro-client-examples --example revoke`

use etoro_client::{Client, Uuid};
use etoro_mock::{MockConfig, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let portfolio: Uuid = "3fa85f64-5717-4562-b3fc-2c963f66afa6".parse()?;
    let token: Uuid = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f".parse()?;

    // The mock holds the README's portfolio and token and, as eToro, nothing else: once revoked, the token is gone.
    let mock = MockServer::start("127.0.0.1:0".parse()?, MockConfig::example()).await?;
    let client = Client::builder()
        .base_url(mock.base_url())
        .api_keys("example-api-key", "example-user-key")
        .build()?;

    // See the request first (credentials redacted), then send it.
    println!("{}", client.revoke_user_token(portfolio, token).dry_run().await?);
    let revoked = client.revoke_user_token(portfolio, token).await?;
    println!("revoked {} (request id {})", revoked.token, revoked.request_id);

    // Again: the token is gone, so eToro answers 404.
    match client.revoke_user_token(portfolio, token).await {
        Err(err) if err.is_not_found() => println!("already gone: {err}"),
        other => return Err(format!("expected 404, got {other:?}").into()),
    }
    Ok(())
}
